"""Every state-changing action is in the audit log (who, when, what, before/after), read by hq_admin."""

from __future__ import annotations

from portal.audit.models import AuditEntry
from tests.conftest import login


def test_creating_and_changing_a_dealer_is_audited_with_before_and_after(client, world):
    world.region("EAST")
    cm_name = world.user("channel_manager", username="cm.zhou")
    cm = world.auth(cm_name)
    client.post(
        "/api/v1/dealers",
        json={"code": "SH-1", "name": "上海一号", "region_code": "EAST", "tier": "B", "channel_type": "chain"},
        headers=cm,
    )
    client.patch("/api/v1/dealers/SH-1", json={"tier": "A", "name": "上海一号"}, headers=cm)
    admin = world.auth(world.user("hq_admin"))
    items = client.get("/api/v1/audit?object_key=SH-1", headers=admin).get_json()["items"]
    assert [e["action"] for e in items] == ["dealer.update", "dealer.create"]
    update = items[0]
    assert update["actor"] == "cm.zhou"
    assert update["before"] == {"tier": "B"} and update["after"] == {"tier": "A"}  # only what changed
    assert items[1]["after"]["name"] == "上海一号"


def test_an_update_that_changes_nothing_leaves_no_entry(client, world):
    world.region("EAST")
    world.dealer("SH-1", "EAST", tier="B")
    cm = world.auth(world.user("channel_manager"))
    client.patch("/api/v1/dealers/SH-1", json={"tier": "B"}, headers=cm)
    assert world.count(AuditEntry) == 0


def test_passwords_never_reach_the_audit_log(client, world):
    admin = world.auth(world.user("hq_admin"))
    client.post(
        "/api/v1/users", json={"username": "fin.li", "password": "Secret-pass-77", "role": "finance"}, headers=admin
    )
    client.patch("/api/v1/users/fin.li", json={"password": "Other-secret-88"}, headers=admin)
    text = client.get("/api/v1/audit", headers=admin).get_data(as_text=True)
    assert "Secret-pass-77" not in text and "Other-secret-88" not in text
    assert '"password": "(reset)"' in text.replace('":"', '": "') or "(reset)" in text


def test_only_hq_admin_reads_the_audit_log(client, world):
    for role in ("channel_manager", "finance", "region_manager", "dealer_admin"):
        assert client.get("/api/v1/audit", headers=world.auth(world.user(role))).status_code == 403, role


def test_the_audit_page_filters_and_exports(client, world):
    world.region("EAST")
    cm = world.auth(world.user("channel_manager", username="cm.a"))
    for code in ("SH-1", "SH-2"):
        client.post(
            "/api/v1/dealers",
            json={"code": code, "name": code, "region_code": "EAST", "tier": "B", "channel_type": "chain"},
            headers=cm,
        )
    login(client, world.user("hq_admin"))
    page = client.get("/audit?object_key=SH-2").get_data(as_text=True)
    assert "SH-2" in page and "<strong>SH-1</strong>" not in page
    csv_text = client.get("/audit?action=dealer.&format=csv").get_data(as_text=True)
    assert csv_text.count("dealer.create") == 2


def test_the_csv_export_writes_before_and_after_as_json(client, world):
    import csv
    import io
    import json

    world.region("EAST")
    cm = world.auth(world.user("channel_manager"))
    body = {"code": "SH-9", "name": "上海九号", "region_code": "EAST", "tier": "B", "channel_type": "chain"}
    assert client.post("/api/v1/dealers", json=body, headers=cm).status_code == 201
    assert client.patch("/api/v1/dealers/SH-9", json={"tier": "A"}, headers=cm).status_code == 200
    login(client, world.user("hq_admin"))
    text = client.get("/audit?object_key=SH-9&format=csv").get_data(as_text=True)
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    update = rows["dealer.update"]
    before, after = json.loads(update["before"]), json.loads(update["after"])  # JSON, not Python dict text
    assert before["tier"] == "B" and after["tier"] == "A"
    assert "上海九号" in rows["dealer.create"]["after"]  # Chinese kept readable, not \\u escapes
