"""§16 price lists over the API: a distributor's admin keeps lists for its own sub-dealers (scope `all` or
`dealer:<one of them>`, `seller_code` its own), sees only its lists and changes only them; HQ keeps HQ's (never naming
a sub-dealer) and sees both levels without changing a distributor's; a distributor's rule below HQ's minimum resale
price is marked; sub-dealers are priced by their distributor's lists, as the spec says."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.catalog.models import PriceList
from portal.dealers.models import Dealer


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST", tier="A")
    world.dealer("DIST-2", "NORTH")
    world.dealer("HQD", "EAST")  # buys from HQ, has no sub-dealer
    world.sub_dealer("DIST-1", "SUB-1A", tier="A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    world.product("P-1", list_price="1000.00", category="parts", min_resale_price="900.00")
    world.product("P-2", list_price="500.00", category="parts")
    world.product("CAR-1", list_price="100000.00", category="vehicles", min_resale_price="95000.00")
    return {
        "dist1": world.auth(world.user("dealer_admin", dealer="DIST-1", username="dist1.admin")),
        "dist1_staff": world.auth(world.user("dealer_staff", dealer="DIST-1")),
        "dist2": world.auth(world.user("dealer_admin", dealer="DIST-2", username="dist2.admin")),
        "sub1a": world.auth(world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin")),
        "sub1a_staff": world.auth(world.user("dealer_staff", dealer="SUB-1A")),
        "cm": world.auth(world.user("channel_manager", username="cm")),
        "rm": world.auth(world.user("region_manager", region="EAST")),
    }


def _create(client, headers, scope, rules=None, name="list", **extra):
    rules = [{"sku": "P-1", "unit_price": "950.00"}] if rules is None else rules
    body = {"name": name, "scope": scope, "rules": rules, **extra}
    return client.post("/api/v1/price-lists", json=body, headers=headers)


def test_a_distributors_admin_keeps_lists_for_its_sub_dealers(client, world, ch):
    everyone = _create(client, ch["dist1"], "all", name="二级通用")
    assert everyone.status_code == 201, everyone.get_json()
    assert everyone.get_json()["seller_code"] == "DIST-1" and everyone.get_json()["scope"] == "all"
    one = _create(client, ch["dist1"], "dealer:SUB-1B", name="二级乙特价")
    assert one.status_code == 201 and one.get_json()["scope"] == "dealer:SUB-1B"
    dist_id = world.get(Dealer, code="DIST-1")["id"]
    assert world.get(PriceList, name="二级乙特价")["seller_id"] == dist_id
    audit = world.get(AuditEntry, action="price_list.create", object_key=str(one.get_json()["id"]))
    assert audit["actor"] == "dist1.admin" and audit["dealer_id"] == dist_id


@pytest.mark.parametrize("scope", ["tier:A", "region:EAST", "dealer:SUB-2A", "dealer:DIST-1", "dealer:HQD",
                                   "dealer:NOPE", "dealer:", "everyone"])  # fmt: skip
def test_a_distributors_list_covers_only_its_own_sub_dealers(client, world, ch, scope):
    before = world.snapshot()
    resp = _create(client, ch["dist1"], scope)
    assert resp.status_code == 422 and "scope" in resp.get_json()["error"]["fields"], resp.get_json()
    assert world.snapshot() == before


def test_hq_does_not_price_sub_dealers_and_its_lists_stay_hqs(client, world, ch):
    before = world.snapshot()
    refused = _create(client, ch["cm"], "dealer:SUB-1A")
    assert refused.status_code == 422 and "DIST-1" in refused.get_json()["error"]["fields"]["scope"][0]
    assert world.snapshot() == before
    hq = _create(client, ch["cm"], "tier:A", name="HQ A")
    assert hq.status_code == 201 and hq.get_json()["seller_code"] is None
    assert world.get(PriceList, name="HQ A")["seller_id"] is None
    assert _create(client, ch["cm"], "dealer:HQD").status_code == 201


def test_bad_rules_write_nothing(client, world, ch):
    before = world.snapshot()
    for rules in ([], [{"sku": "NOPE", "unit_price": "1"}], [{"sku": "P-1", "discount_pct": "120"}],
                  [{"sku": "P-1", "category": "parts", "unit_price": "1"}]):  # fmt: skip
        resp = _create(client, ch["dist1"], "all", rules=rules)
        assert resp.status_code == 422, rules
    assert world.snapshot() == before


def test_each_side_sees_and_changes_its_own_lists(client, world, ch):
    mine = _create(client, ch["dist1"], "all", name="DIST-1 list").get_json()["id"]
    theirs = _create(client, ch["dist2"], "dealer:SUB-2A", name="DIST-2 list").get_json()["id"]
    hq = _create(client, ch["cm"], "all", name="HQ list").get_json()["id"]

    def names(headers):
        return sorted(i["name"] for i in client.get("/api/v1/price-lists", headers=headers).get_json()["items"])

    assert names(ch["dist1"]) == ["DIST-1 list"]
    assert names(ch["dist2"]) == ["DIST-2 list"]
    assert names(ch["cm"]) == ["DIST-1 list", "DIST-2 list", "HQ list"]  # HQ sees both levels
    by_name = {i["name"]: i for i in client.get("/api/v1/price-lists", headers=ch["cm"]).get_json()["items"]}
    assert by_name["DIST-2 list"]["seller_code"] == "DIST-2" and by_name["HQ list"]["seller_code"] is None
    # another distributor's list and HQ's answer like missing ones
    for list_id in (theirs, hq, 987654):
        assert client.get(f"/api/v1/price-lists/{list_id}", headers=ch["dist1"]).status_code == 404
        assert client.patch(f"/api/v1/price-lists/{list_id}", json={"priority": 5},
                            headers=ch["dist1"]).status_code == 404  # fmt: skip
    # a sub-dealer keeps none and reads none; its distributor's staff and the region manager may not use the route
    assert client.get("/api/v1/price-lists", headers=ch["sub1a"]).status_code == 403
    assert client.get(f"/api/v1/price-lists/{mine}", headers=ch["sub1a"]).status_code == 404
    assert _create(client, ch["sub1a"], "all").status_code == 403
    for who in ("dist1_staff", "sub1a_staff", "rm"):
        assert client.get("/api/v1/price-lists", headers=ch[who]).status_code == 403
        assert client.get(f"/api/v1/price-lists/{mine}", headers=ch[who]).status_code == 403
    # HQ reads a distributor's list but does not change it
    before = world.snapshot()
    assert client.get(f"/api/v1/price-lists/{mine}", headers=ch["cm"]).get_json()["seller_code"] == "DIST-1"
    resp = client.patch(f"/api/v1/price-lists/{mine}", json={"priority": 5}, headers=ch["cm"])
    assert resp.status_code == 403 and "DIST-1" in resp.get_json()["error"]["message"]
    assert world.snapshot() == before
    # the distributor changes its own, within its sub-dealers
    ok = client.patch(f"/api/v1/price-lists/{mine}", json={"scope": "dealer:SUB-1A", "priority": 3},
                      headers=ch["dist1"])  # fmt: skip
    assert ok.status_code == 200 and ok.get_json()["scope"] == "dealer:SUB-1A" and ok.get_json()["priority"] == 3
    before = world.snapshot()
    bad = client.patch(f"/api/v1/price-lists/{mine}", json={"scope": "dealer:SUB-2A"}, headers=ch["dist1"])
    assert bad.status_code == 422 and world.snapshot() == before


def test_a_distributors_rules_below_hqs_floor_are_marked(client, world, ch):
    rules = [{"sku": "P-1", "unit_price": "850.00"},  # below P-1's floor of 900
             {"category": "parts", "discount_pct": "5"},  # P-1 at 950: above; P-2 has no floor
             {"category": "vehicles", "discount_pct": "10"},  # CAR-1 at 90,000 < 95,000
             {"sku": "CAR-1", "unit_price": "96000.00"}]  # fmt: skip
    body = _create(client, ch["dist1"], "all", rules=rules).get_json()
    marks = [(r["below_floor"], r["below_floor_skus"]) for r in body["rules"]]
    assert marks == [(True, ["P-1"]), (False, []), (True, ["CAR-1"]), (False, [])]
    listed = client.get("/api/v1/price-lists", headers=ch["dist1"]).get_json()["items"][0]
    assert [r["below_floor"] for r in listed["rules"]] == [True, False, True, False]
    # HQ's prices to its dealers are not resale prices: never marked
    hq = _create(client, ch["cm"], "all", rules=[{"sku": "P-1", "unit_price": "850.00"}]).get_json()
    assert hq["rules"][0]["below_floor"] is False


def _price(client, headers, code, sku="P-1"):
    body = client.get(f"/api/v1/dealers/{code}/prices?sku={sku}", headers=headers).get_json()
    return body["items"][0]["unit_price"], (body["items"][0]["rule"] or {}).get("price_list")


def test_sub_dealers_are_priced_by_their_distributors_lists(client, world, ch):
    _create(client, ch["cm"], "all", name="HQ all", rules=[{"sku": "P-1", "unit_price": "800.00"}])
    _create(client, ch["cm"], "tier:A", name="HQ tier A", rules=[{"sku": "P-1", "unit_price": "780.00"}])
    _create(client, ch["dist1"], "all", name="D1 all", rules=[{"sku": "P-1", "unit_price": "950.00"}])
    _create(client, ch["dist1"], "dealer:SUB-1B", name="D1 for 1B", rules=[{"sku": "P-1", "unit_price": "930.00"}])
    _create(client, ch["dist1"], "all", name="D1 later", priority=5, rules=[{"sku": "P-1", "unit_price": "940.00"}])
    assert _price(client, ch["sub1a"], "SUB-1A") == ("940.00", "D1 later")  # its distributor's, priority first
    assert _price(client, ch["dist1"], "SUB-1B") == ("930.00", "D1 for 1B")  # the more specific scope wins
    assert _price(client, ch["dist2"], "SUB-2A") == ("1000.00", None)  # DIST-2 keeps no list: the list price
    assert _price(client, ch["dist1"], "DIST-1") == ("780.00", "HQ tier A")  # HQ's lists price the distributor
    assert _price(client, ch["cm"], "HQD") == ("800.00", "HQ all")
    # a sub-dealer sees neither its distributor's prices with HQ nor a sibling's
    assert client.get("/api/v1/dealers/DIST-1/prices", headers=ch["sub1a"]).status_code == 404
    assert client.get("/api/v1/dealers/SUB-1B/prices", headers=ch["sub1a"]).status_code == 404
