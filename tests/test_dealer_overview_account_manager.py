"""A dealer's account manager: a channel manager, or a region manager of the dealer's region (or one above it), set on
the dealer edit form or with PATCH /api/v1/dealers/{dealer}; shown on the overview."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import Dealer, User
from tests.conftest import login, page_csrf


@pytest.fixture
def people(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("SH-001", "SH")
    return {
        "cm": world.user("channel_manager", username="cm.zhou"),
        "hq": world.user("hq_admin", username="hq.admin"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "finance": world.user("finance", username="fin.lin"),
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
    }


def manager_of(world, code: str) -> str | None:
    def read():
        dealer = Dealer.query.filter_by(code=code).one()
        return dealer.account_manager.username if dealer.account_manager else None

    return world.run(read)


def test_the_api_sets_checks_and_clears_it(client, world, people):
    auth = world.auth(people["cm"])
    resp = client.patch("/api/v1/dealers/SH-001", json={"account_manager": "rm.east"}, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["account_manager"] == "rm.east"
    assert manager_of(world, "SH-001") == "rm.east"
    for wrong in ("fin.lin", "rm.north", "sh001.admin", "nobody"):
        resp = client.patch("/api/v1/dealers/SH-001", json={"account_manager": wrong}, headers=auth)
        assert resp.status_code == 422 and "account_manager" in resp.get_json()["error"]["fields"], wrong
        assert manager_of(world, "SH-001") == "rm.east"
    assert client.patch("/api/v1/dealers/SH-001", json={"account_manager": None}, headers=auth).status_code == 200
    assert manager_of(world, "SH-001") is None
    changes = world.run(lambda: [(e.before, e.after) for e in AuditEntry.query.filter_by(action="dealer.update")])
    assert ({"account_manager": None}, {"account_manager": "rm.east"}) in changes


def test_an_inactive_user_cannot_be_the_manager(client, world, people):
    world.run(lambda: User.query.filter_by(username="rm.east").update({"active": False}))
    resp = client.patch("/api/v1/dealers/SH-001", json={"account_manager": "rm.east"}, headers=world.auth(people["cm"]))
    assert resp.status_code == 422


def test_moving_the_dealer_out_of_its_managers_region_clears_it(client, world, people):
    world.account_manager("SH-001", "rm.east")
    resp = client.patch("/api/v1/dealers/SH-001", json={"region_code": "NORTH"}, headers=world.auth(people["cm"]))
    assert resp.status_code == 200 and resp.get_json()["account_manager"] is None
    world.account_manager("SH-001", "cm.zhou")  # a channel manager looks after dealers anywhere
    resp = client.patch("/api/v1/dealers/SH-001", json={"region_code": "SH"}, headers=world.auth(people["cm"]))
    assert resp.get_json()["account_manager"] == "cm.zhou"


def test_the_edit_form_offers_the_right_people_and_saves(client, world, people):
    login(client, people["cm"])
    form = client.get("/dealers/SH-001/edit").get_data(as_text=True)
    assert 'value="cm.zhou"' in form and 'value="rm.east"' in form
    assert 'value="rm.north"' not in form and 'value="fin.lin"' not in form
    csrf = page_csrf(client, "/dealers/SH-001/edit")
    data = {
        "csrf_token": csrf,
        "code": "SH-001",
        "name": "上海一号",
        "region_code": "SH",
        "tier": "B",
        "channel_type": "4s_store",
        "payment_terms_days": "30",
        "status": "active",
        "account_manager": "rm.east",
    }
    assert client.post("/dealers/SH-001/edit", data=data).status_code == 302
    assert manager_of(world, "SH-001") == "rm.east"
    refused = client.post("/dealers/SH-001/edit", data={**data, "account_manager": "rm.north"})
    assert refused.status_code == 422 and manager_of(world, "SH-001") == "rm.east"
    page = client.get("/dealers/SH-001").get_data(as_text=True)
    assert "data-account-manager>rm.east<" in page


def test_the_dealer_sees_who_looks_after_it_but_cannot_change_it(client, world, people):
    world.account_manager("SH-001", "cm.zhou")
    login(client, people["admin"])
    page = client.get("/dealers/SH-001").get_data(as_text=True)
    assert "data-account-manager>cm.zhou<" in page
    assert client.get("/dealers/SH-001/edit").status_code == 403
    resp = client.patch("/api/v1/dealers/SH-001", json={"account_manager": None}, headers=world.auth(people["admin"]))
    assert resp.status_code == 403 and manager_of(world, "SH-001") == "cm.zhou"
