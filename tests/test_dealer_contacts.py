"""A dealer's contacts by role: added, changed and removed from the overview and the API, audited, validated.

HQ's administrators and channel managers and the dealer's own dealer_admin change them; everyone who sees the dealer
reads them. Bad input is refused whole with the reason per field and nothing is written.
"""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import DealerContact
from tests.conftest import login, page_csrf


@pytest.fixture
def people(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.dealer("SH-001", "SH")
    world.dealer("SH-002", "SH")
    return {
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
        "staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff"),
        "neighbour": world.user("dealer_admin", dealer="SH-002", username="sh002.admin"),
        "cm": world.user("channel_manager", username="cm.zhou"),
        "hq": world.user("hq_admin", username="hq.admin"),
        "finance": world.user("finance", username="fin.lin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
    }


CONTACT = {"role": "purchasing", "name": "王伟", "phone": "138 0013 8000", "email": "wang.wei@dealer.example.cn"}


@pytest.mark.parametrize("who", ["admin", "cm", "hq"])
def test_create_list_change_remove_through_the_api(client, world, people, who):
    auth = world.auth(people[who])
    created = client.post("/api/v1/dealers/SH-001/contacts", json=CONTACT, headers=auth)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {k: body[k] for k in CONTACT} == CONTACT and body["created_by"] == people[who]
    listed = client.get("/api/v1/dealers/SH-001/contacts", headers=world.auth(people["staff"])).get_json()
    assert [c["name"] for c in listed] == ["王伟"]  # everyone who sees the dealer reads them
    changed = client.patch(
        f"/api/v1/dealers/SH-001/contacts/{body['id']}", json={"role": "finance", "email": None}, headers=auth
    )
    assert changed.status_code == 200 and changed.get_json()["role"] == "finance"
    assert changed.get_json()["email"] is None and changed.get_json()["phone"] == CONTACT["phone"]
    assert client.delete(f"/api/v1/dealers/SH-001/contacts/{body['id']}", headers=auth).status_code == 200
    assert world.count(DealerContact) == 0
    actions = [
        a for (a,) in world.run(lambda: AuditEntry.query.with_entities(AuditEntry.action).order_by(AuditEntry.id).all())
    ]
    assert actions == ["dealer.contact.add", "dealer.contact.update", "dealer.contact.remove"]


def test_contacts_are_listed_by_role(client, world, people):
    for role, name in (("finance", "林静"), ("owner", "张强"), ("sales", "李娜"), ("purchasing", "王伟")):
        world.contact("SH-001", role, name)
    listed = client.get("/api/v1/dealers/SH-001/contacts", headers=world.auth(people["admin"])).get_json()
    assert [c["role"] for c in listed] == ["owner", "purchasing", "finance", "sales"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CONTACT, "role": "boss"}, "role"),
        ({**CONTACT, "name": ""}, "name"),
        ({**CONTACT, "name": "x" * 121}, "name"),
        ({**CONTACT, "phone": "call me"}, "phone"),
        ({**CONTACT, "email": "not-an-email"}, "email"),
        ({"role": "owner", "name": "张强", "phone": None, "email": None}, "phone"),  # no way to reach them
        ({**CONTACT, "fax": "021"}, "fax"),
        ({"name": "张强", "phone": "13800138000"}, "role"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_written(client, world, people, body, field):
    auth = world.auth(people["cm"])
    before = world.snapshot()
    resp = client.post("/api/v1/dealers/SH-001/contacts", json=body, headers=auth)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert world.snapshot() == before


def test_a_change_that_leaves_no_way_to_reach_them_is_refused(client, world, people):
    contact = world.contact("SH-001", "owner", "张强", phone="13800138000")
    auth = world.auth(people["admin"])
    resp = client.patch(f"/api/v1/dealers/SH-001/contacts/{contact}", json={"phone": None}, headers=auth)
    assert resp.status_code == 422 and "phone" in resp.get_json()["error"]["fields"]
    assert world.get(DealerContact, id=contact)["phone"] == "13800138000"


@pytest.mark.parametrize("who", ["staff", "finance", "rm"])
def test_other_roles_read_but_do_not_change(client, world, people, who):
    contact = world.contact("SH-001")
    auth = world.auth(people[who])
    assert client.get("/api/v1/dealers/SH-001/contacts", headers=auth).status_code == 200
    before = world.snapshot()
    assert client.post("/api/v1/dealers/SH-001/contacts", json=CONTACT, headers=auth).status_code == 403
    assert (
        client.patch(f"/api/v1/dealers/SH-001/contacts/{contact}", json={"name": "x"}, headers=auth).status_code == 403
    )
    assert client.delete(f"/api/v1/dealers/SH-001/contacts/{contact}", headers=auth).status_code == 403
    assert world.snapshot() == before


def test_another_dealers_contacts_are_404(client, world, people):
    theirs = world.contact("SH-002", "owner", "赵敏")
    auth = world.auth(people["admin"])
    before = world.snapshot()
    for method, url in (
        ("GET", "/api/v1/dealers/SH-002/contacts"),
        ("POST", "/api/v1/dealers/SH-002/contacts"),
        ("PATCH", f"/api/v1/dealers/SH-002/contacts/{theirs}"),
        ("DELETE", f"/api/v1/dealers/SH-002/contacts/{theirs}"),
        # its own dealer's path with the neighbour's contact id: not found either
        ("PATCH", f"/api/v1/dealers/SH-001/contacts/{theirs}"),
        ("DELETE", f"/api/v1/dealers/SH-001/contacts/{theirs}"),
    ):
        resp = client.open(url, method=method, json=CONTACT if method in ("POST", "PATCH") else None, headers=auth)
        assert resp.status_code == 404, (method, url)
        assert "赵敏" not in resp.get_data(as_text=True)
    assert world.snapshot() == before


def test_the_overview_adds_changes_and_removes_contacts(client, world, people):
    login(client, people["admin"])
    csrf = page_csrf(client, "/dealers/SH-001")
    bad = client.post(
        "/dealers/SH-001/contacts",
        data={
            "csrf_token": csrf,
            "contact-role": "owner",
            "contact-name": "张强",
            "contact-phone": "",
            "contact-email": "",
        },
    )
    assert bad.status_code == 422 and "Give a phone number or an e-mail address" in bad.get_data(as_text=True)
    assert world.count(DealerContact) == 0
    good = client.post(
        "/dealers/SH-001/contacts",
        data={"csrf_token": csrf, "contact-role": "owner", "contact-name": "张强", "contact-phone": "13900000001"},
    )
    assert good.status_code == 302 and good.headers["Location"].endswith("/dealers/SH-001#contacts")
    contact = world.get(DealerContact, name="张强")
    assert contact["role"] == "owner" and contact["created_by"] == people["admin"]
    page = client.get("/dealers/SH-001").get_data(as_text=True)
    assert "张强" in page and f"/dealers/SH-001/contacts/{contact['id']}/edit" in page
    edit = client.get(f"/dealers/SH-001/contacts/{contact['id']}/edit")
    assert edit.status_code == 200 and "13900000001" in edit.get_data(as_text=True)
    saved = client.post(
        f"/dealers/SH-001/contacts/{contact['id']}/edit",
        data={"csrf_token": csrf, "role": "general_manager", "name": "张强", "phone": "13900000002"},
    )
    assert saved.status_code == 302 and world.get(DealerContact, id=contact["id"])["phone"] == "13900000002"
    removed = client.post(f"/dealers/SH-001/contacts/{contact['id']}/delete", data={"csrf_token": csrf})
    assert removed.status_code == 302 and world.count(DealerContact) == 0


def test_the_overview_refuses_writers_without_the_right(client, world, people):
    contact = world.contact("SH-001")
    login(client, people["staff"])
    csrf = page_csrf(client, "/dealers/SH-001")
    before = world.snapshot()
    data = {"csrf_token": csrf, "contact-role": "owner", "contact-name": "张强", "contact-phone": "13900000001"}
    assert client.post("/dealers/SH-001/contacts", data=data).status_code == 403
    assert client.post(f"/dealers/SH-001/contacts/{contact}/delete", data={"csrf_token": csrf}).status_code == 403
    assert client.get(f"/dealers/SH-001/contacts/{contact}/edit").status_code == 403
    assert world.snapshot() == before
