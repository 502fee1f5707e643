"""Creating and keeping sub-dealers (§16): `POST /api/v1/dealers` with `parent_code` makes a sub-dealer of an active
distributor in the caller's scope that itself buys from HQ (one level deep), in the distributor's region; the
distributor is fixed afterwards; a sub-dealer stays in its distributor's region and moves with it; it has no account
manager at HQ. Every refusal is a 422 on the field at fault with nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.dealers import services
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.platform.errors import Invalid
from portal.platform.tenancy import Scope

BODY = {"name": "杭州二级店", "tier": "C", "channel_type": "chain"}


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("DIST-1", "SH")
    world.dealer("DIST-2", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.dealer("OFF-1", "SH", status="suspended")
    return world.auth(world.user("channel_manager", username="cm.zhou"))


def _entries(world, action: str, key: str) -> list[dict]:
    def read():
        rows = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.object_key == key).order_by(AuditEntry.id)
        ).scalars()
        return [{"before": e.before, "after": e.after, "actor": e.actor} for e in rows]

    return world.run(read)


def test_a_sub_dealer_is_created_under_its_distributor_in_its_region(client, world, channel):
    resp = client.post("/api/v1/dealers", json={"code": "SUB-1B", "parent_code": "dist-1", **BODY}, headers=channel)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["parent_code"], body["level"], body["region_code"]) == ("DIST-1", 2, "SH")
    # the distributor's own region may be named too
    resp = client.post("/api/v1/dealers", json={"code": "SUB-1C", "parent_code": "DIST-1", "region_code": "SH", **BODY},
                       headers=channel)  # fmt: skip
    assert resp.status_code == 201 and resp.get_json()["parent_code"] == "DIST-1"
    parent_id = world.get(Dealer, code="DIST-1")["id"]
    assert world.get(Dealer, code="SUB-1C")["parent_id"] == parent_id


def test_the_creation_is_audited_with_the_distributor(client, world, channel):
    client.post("/api/v1/dealers", json={"code": "SUB-1B", "parent_code": "DIST-1", **BODY}, headers=channel)
    [entry] = _entries(world, "dealer.create", "SUB-1B")
    assert entry["actor"] == "cm.zhou"
    assert entry["after"]["parent_code"] == "DIST-1" and entry["after"]["region_code"] == "SH"
    client.post("/api/v1/dealers", json={"code": "HZ-1", "region_code": "SH", **BODY}, headers=channel)
    [entry] = _entries(world, "dealer.create", "HZ-1")
    assert "parent_code" not in entry["after"]  # a dealer of HQ's is audited as before


@pytest.mark.parametrize(
    "extra,fields,words",
    [
        ({"parent_code": "SUB-1A"}, {"parent_code"}, "SUB-1A is itself a sub-dealer of DIST-1: sub-dealers go one "
                                                     "level deep only."),
        ({"parent_code": "DIST-1", "region_code": "NORTH"}, {"parent_code", "region_code"},
         "A sub-dealer is in its distributor's region: DIST-1 is in SH, not in NORTH."),
        ({"parent_code": "DIST-1", "region_code": "EAST"}, {"parent_code", "region_code"}, "DIST-1 is in SH"),
        ({"parent_code": "NOPE"}, {"parent_code"}, "Unknown dealer NOPE."),
        ({"parent_code": "OFF-1"}, {"parent_code"}, "OFF-1 is suspended"),
        ({"parent_code": "DIST-1", "region_code": "NOWHERE"}, {"region_code"}, "Unknown region NOWHERE."),
        ({"parent_code": "DIST-1", "account_manager": "cm.zhou"}, {"account_manager"}, "no account manager at HQ"),
        ({}, {"region_code"}, "Required"),
        ({"parent_code": None}, {"region_code"}, "Required"),
    ],
)
def test_refusals_name_the_field_and_write_nothing(client, world, channel, extra, fields, words):
    before = world.snapshot()
    resp = client.post("/api/v1/dealers", json={"code": "SUB-X", **BODY, **extra}, headers=channel)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert set(error["fields"]) == fields
    assert all(any(words in m for m in error["fields"][f]) for f in fields), error
    assert world.snapshot() == before


def test_a_parent_outside_the_callers_scope_is_answered_as_an_unknown_one(app, world, channel):
    """The service looks the distributor up in the caller's scope (HQ, who creates dealers, sees every one; a
    narrower scope is refused with the words of an unknown code, so it tells nothing)."""
    world.user("region_manager", region="EAST", username="rm.east")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        actor = db.session.execute(select(User).filter_by(username="rm.east")).unique().scalar_one()
        scope = Scope.for_principal(actor)
        for code in ("DIST-2", "NOPE-9"):
            with pytest.raises(Invalid) as refused:
                services.create_dealer(actor, {"code": "SUB-X", "parent_code": code, **BODY}, scope)
            assert refused.value.fields == {"parent_code": [f"Unknown dealer {code}."]}
        db.session.rollback()
    assert world.get(Dealer, code="SUB-X") is None


def test_the_distributor_is_fixed_after_creation(client, world, channel):
    for code, parent in (("SUB-1A", "DIST-2"), ("SUB-1A", None), ("DIST-2", "DIST-1"), ("DIST-1", "DIST-1")):
        resp = client.patch(f"/api/v1/dealers/{code}", json={"parent_code": parent}, headers=channel)
        assert resp.status_code == 422, (code, parent)
        assert resp.get_json()["error"]["fields"] == {
            "parent_code": ["A dealer's distributor is set when it is created and cannot change."]}
    # naming the distributor it already has changes nothing and is accepted
    resp = client.patch("/api/v1/dealers/SUB-1A", json={"parent_code": "dist-1", "tier": "A"}, headers=channel)
    assert resp.status_code == 200 and resp.get_json()["parent_code"] == "DIST-1"
    resp = client.patch("/api/v1/dealers/DIST-2", json={"parent_code": None, "tier": "A"}, headers=channel)
    assert resp.status_code == 200 and resp.get_json()["parent_code"] is None
    assert world.get(Dealer, code="SUB-1A")["parent_id"] == world.get(Dealer, code="DIST-1")["id"]
    assert world.get(Dealer, code="DIST-2")["parent_id"] is None


def test_a_sub_dealer_stays_in_its_distributors_region_and_moves_with_it(client, world, channel):
    resp = client.patch("/api/v1/dealers/SUB-1A", json={"region_code": "NORTH"}, headers=channel)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {
        "region_code": ["A sub-dealer stays in its distributor's region (SH): move DIST-1 instead."]}
    assert client.patch("/api/v1/dealers/SUB-1A", json={"region_code": "SH"}, headers=channel).status_code == 200

    resp = client.patch("/api/v1/dealers/DIST-1", json={"region_code": "NORTH"}, headers=channel)
    assert resp.status_code == 200
    got = client.get("/api/v1/dealers/SUB-1A", headers=channel).get_json()
    assert got["region_code"] == "NORTH" and got["parent_code"] == "DIST-1"
    [moved] = _entries(world, "dealer.update", "SUB-1A")
    assert moved["before"] == {"region_code": "SH"} and moved["after"] == {"region_code": "NORTH"}


def test_a_sub_dealer_has_no_account_manager_at_hq(client, world, channel):
    resp = client.put("/api/v1/dealers/SUB-1A/account-manager", json={"username": "cm.zhou"}, headers=channel)
    assert resp.status_code == 422 and "account_manager" in resp.get_json()["error"]["fields"]
    assert client.put("/api/v1/dealers/SUB-1A/account-manager", json={"username": None},
                      headers=channel).status_code == 200  # fmt: skip
    assert client.put("/api/v1/dealers/DIST-1/account-manager", json={"username": "cm.zhou"},
                      headers=channel).status_code == 200  # fmt: skip


def test_a_distributor_may_be_suspended_and_keeps_its_sub_dealers(client, world, channel):
    resp = client.patch("/api/v1/dealers/DIST-1", json={"status": "suspended"}, headers=channel)
    assert resp.status_code == 200 and resp.get_json()["status"] == "suspended"
    sub = client.get("/api/v1/dealers/SUB-1A", headers=channel).get_json()
    assert sub["parent_code"] == "DIST-1" and sub["status"] == "active"
    # but it takes no new one while suspended
    resp = client.post("/api/v1/dealers", json={"code": "SUB-1B", "parent_code": "DIST-1", **BODY}, headers=channel)
    assert resp.status_code == 422 and world.get(Dealer, code="SUB-1B") is None


def test_only_hq_creates_sub_dealers(client, world, channel):
    for role, attach in (("dealer_admin", {"dealer": "DIST-1"}), ("region_manager", {"region": "EAST"}),
                         ("finance", {})):  # fmt: skip
        auth = world.auth(world.user(role, **attach))
        resp = client.post("/api/v1/dealers", json={"code": "SUB-X", "parent_code": "DIST-1", **BODY}, headers=auth)
        assert resp.status_code == 403, role
    assert world.get(Dealer, code="SUB-X") is None
