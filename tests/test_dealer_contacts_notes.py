"""Internal notes about a dealer: HQ and the dealer's region write and read them; dealers never see them, on the
page or through the API, and cannot tell from an answer whether there are any."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import DealerNote
from tests.conftest import login, page_csrf

SECRET = "老板准备转投竞品，注意回款"


@pytest.fixture
def people(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("SH-001", "SH")
    world.dealer("BJ-001", "NORTH")
    world.note("SH-001", SECRET)
    return {
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
        "staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "finance": world.user("finance", username="fin.lin"),
        "cm": world.user("channel_manager", username="cm.zhou"),
    }


@pytest.mark.parametrize("who", ["rm", "finance", "cm"])
def test_hq_and_the_region_add_and_read_notes(client, world, people, who):
    auth = world.auth(people[who])
    created = client.post("/api/v1/dealers/SH-001/notes", json={"body": "  电话回访：月底前付款  "}, headers=auth)
    assert created.status_code == 201
    assert created.get_json()["body"] == "电话回访：月底前付款" and created.get_json()["author"] == people[who]
    listed = client.get("/api/v1/dealers/SH-001/notes", headers=auth).get_json()
    assert [n["body"] for n in listed] == ["电话回访：月底前付款", SECRET]  # newest first
    assert world.count(AuditEntry, action="dealer.note.add") == 2


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {"body": "x" * 2001}, {}, {"body": "ok", "x": 1}])
def test_empty_or_too_long_notes_are_refused(client, world, people, body):
    auth = world.auth(people["rm"])
    before = world.snapshot()
    resp = client.post("/api/v1/dealers/SH-001/notes", json=body, headers=auth)
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"]
    assert world.snapshot() == before


@pytest.mark.parametrize("who", ["admin", "staff"])
def test_dealers_never_see_notes(client, world, people, who):
    auth = world.auth(people[who])
    before = world.snapshot()
    assert client.get("/api/v1/dealers/SH-001/notes", headers=auth).status_code == 403
    assert client.post("/api/v1/dealers/SH-001/notes", json={"body": "hi"}, headers=auth).status_code == 403
    overview = client.get("/api/v1/dealers/SH-001/overview", headers=auth)
    assert overview.status_code == 200 and overview.get_json()["notes"] is None
    assert SECRET not in overview.get_data(as_text=True)
    login(client, people[who])
    page = client.get("/dealers/SH-001").get_data(as_text=True)
    assert SECRET not in page and "data-notes" not in page and "/dealers/SH-001/notes" not in page
    csrf = page_csrf(client, "/dealers/SH-001")
    assert client.post("/dealers/SH-001/notes", data={"csrf_token": csrf, "note-body": "hi"}).status_code == 403
    assert world.snapshot() == before
    # the same answer whether the dealer has notes or not: nothing to learn from it
    world.run(lambda: DealerNote.query.delete())
    assert client.get("/api/v1/dealers/SH-001/notes", headers=auth).status_code == 403


def test_a_region_manager_outside_the_region_gets_404(client, world, people):
    auth = world.auth(people["rm_north"])
    for method in ("GET", "POST"):
        resp = client.open(
            "/api/v1/dealers/SH-001/notes",
            method=method,
            json={"body": "x"} if method == "POST" else None,
            headers=auth,
        )
        assert resp.status_code == 404 and SECRET not in resp.get_data(as_text=True)


def test_the_overview_adds_a_note(client, world, people):
    login(client, people["rm"])
    csrf = page_csrf(client, "/dealers/SH-001")
    assert client.post("/dealers/SH-001/notes", data={"csrf_token": csrf, "note-body": ""}).status_code == 422
    assert world.count(DealerNote) == 1
    resp = client.post("/dealers/SH-001/notes", data={"csrf_token": csrf, "note-body": "走访：新展厅已开业"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#notes")
    page = client.get("/dealers/SH-001").get_data(as_text=True)
    assert "走访：新展厅已开业" in page and SECRET in page and page.index("走访") < page.index(SECRET)
