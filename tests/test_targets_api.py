"""PUT/GET /api/v1/targets and the split (PRODUCT.md §15): the all-or-nothing upsert (created, updated, unchanged;
audited), who may set what (rule 1), every bad input answered with its item's index and nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.targets.models import Target

D = Decimal


@pytest.fixture
def ch(world):
    return targets_channel(world)


def targets_channel(world) -> dict:
    """HQ ▸ EAST ▸ SH and HQ ▸ WEST; dealers E-1 (directly in EAST), SH-1 (in SH; a distributor with sub-dealer
    SH-1-A) and W-1 (WEST); products in categories parts and cars; users of every role that matters."""
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("SH", parent="EAST")
    world.region("WEST", parent="HQ")
    world.dealer("E-1", "EAST")
    world.dealer("SH-1", "SH")
    world.sub_dealer("SH-1", "SH-1-A")
    world.dealer("W-1", "WEST")
    world.product("P-PARTS", category="parts")
    world.product("P-CARS", category="cars")
    users = {
        "cm": world.user("channel_manager", username="cm"),
        "admin": world.user("hq_admin", username="admin"),
        "fin": world.user("finance", username="fin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_sh": world.user("region_manager", region="SH", username="rm.sh"),
        "dealer": world.user("dealer_admin", dealer="E-1", username="e1.admin"),
        "w_dealer": world.user("dealer_staff", dealer="W-1", username="w1.staff"),
    }
    return {k: world.auth(v) for k, v in users.items()}


def item(scope="region:EAST", period="2026-03", measure="sell_in_amount", amount="1000.00", **extra):
    return {"period": period, "scope": scope, "measure": measure, "amount": amount, **extra}


def put(client, headers, *items):
    return client.put("/api/v1/targets", json={"items": list(items)}, headers=headers)


def amounts(world) -> dict:
    def read():
        from portal.dealers.models import Dealer, Region
        from portal.extensions import db

        out = {}
        for t in db.session.query(Target):
            code = db.session.get(Region, t.region_id).code if t.region_id else db.session.get(Dealer, t.dealer_id).code
            out[(code, t.month.strftime("%Y-%m"), t.measure, t.category)] = t.amount
        return out

    return world.run(read)


def test_create_update_unchanged_counts_and_audit(client, world, ch):
    resp = put(client, ch["cm"], item(), item("dealer:E-1", amount=500), item(measure="sell_through_units",
               amount="40", category="cars"))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"created": 3, "updated": 0, "unchanged": 0}
    resp = put(client, ch["cm"], item(amount="1200.50"), item("dealer:E-1", amount="500.00"))
    assert resp.get_json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert amounts(world) == {
        ("EAST", "2026-03", "sell_in_amount", ""): D("1200.50"),
        ("E-1", "2026-03", "sell_in_amount", ""): D("500.00"),
        ("EAST", "2026-03", "sell_through_units", "cars"): D("40"),
    }
    entries = world.run(lambda: [(e.action, e.object_key, e.before, e.after, e.dealer_id is not None, e.actor)
                                 for e in AuditEntry.query.order_by(AuditEntry.id)])  # fmt: skip
    assert entries == [
        ("target.set", "region:EAST 2026-03 sell_in_amount", None, {"target": "1000.00"}, False, "cm"),
        ("target.set", "dealer:E-1 2026-03 sell_in_amount", None, {"target": "500.00"}, True, "cm"),
        ("target.set", "region:EAST 2026-03 sell_through_units cars", None, {"target": "40.00"}, False, "cm"),
        ("target.set", "region:EAST 2026-03 sell_in_amount", {"target": "1000.00"}, {"target": "1200.50"}, False, "cm"),
    ]


def test_codes_are_read_in_any_case_and_the_category_may_be_null_or_empty(client, world, ch):
    resp = put(client, ch["admin"], item("region:east", category=None), item("Dealer:e-1", category=""))
    assert resp.status_code == 200, resp.get_json()
    assert set(amounts(world)) == {("EAST", "2026-03", "sell_in_amount", ""), ("E-1", "2026-03", "sell_in_amount", "")}


def test_hq_sets_any_region_and_level_one_dealer_even_the_top_region(client, ch):
    resp = put(client, ch["cm"], item("region:HQ"), item("region:WEST"), item("region:SH"), item("dealer:W-1"),
               item("dealer:SH-1"))  # fmt: skip
    assert resp.get_json() == {"created": 5, "updated": 0, "unchanged": 0}


def test_region_manager_sets_regions_below_and_level_one_dealers_in_its_subtree(client, world, ch):
    resp = put(client, ch["rm"], item("region:SH"), item("dealer:E-1"), item("dealer:SH-1"))
    assert resp.get_json() == {"created": 3, "updated": 0, "unchanged": 0}


def test_region_manager_never_sets_its_own_region(client, world, ch):
    before = world.snapshot()
    resp = put(client, ch["rm"], item("region:EAST"))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"items.0.scope": ["Your own region's targets are set by HQ."]}
    resp = put(client, ch["rm_sh"], item("region:SH"), item("region:EAST"))  # its own, and the one above it
    fields = resp.get_json()["error"]["fields"]
    assert fields == {
        "items.0.scope": ["Your own region's targets are set by HQ."],
        "items.1.scope": ["Unknown region EAST."],
    }
    assert world.snapshot() == before


def test_outside_the_region_managers_reach_is_answered_like_an_unknown_code(client, world, ch):
    before = world.snapshot()
    foreign = put(client, ch["rm"], item("dealer:W-1"), item("region:WEST"))
    missing = put(client, ch["rm"], item("dealer:NO-SUCH"), item("region:NO-SUCH"))
    assert foreign.status_code == missing.status_code == 422
    assert foreign.get_json()["error"]["fields"] == {
        "items.0.scope": ["Unknown dealer W-1."],
        "items.1.scope": ["Unknown region WEST."],
    }
    assert missing.get_json()["error"]["fields"] == {
        "items.0.scope": ["Unknown dealer NO-SUCH."],
        "items.1.scope": ["Unknown region NO-SUCH."],
    }
    assert world.snapshot() == before


def test_sub_dealers_get_no_targets(client, world, ch):
    before = world.snapshot()
    resp = put(client, ch["cm"], item("dealer:SH-1-A"))
    assert resp.status_code == 422
    (message,) = resp.get_json()["error"]["fields"]["items.0.scope"]
    assert "sub-dealer" in message and "distributor" in message
    assert world.snapshot() == before


@pytest.mark.parametrize("who", ["dealer", "fin"])
def test_dealers_and_finance_may_not_set_targets(client, world, ch, who):
    before = world.snapshot()
    resp = put(client, ch[who], item("dealer:E-1"))
    assert resp.status_code == 403
    assert world.snapshot() == before


BAD = [
    (item(amount="-5.00"), "items.0.amount", "Must not be negative."),
    (item(amount=-5), "items.0.amount", "Must not be negative."),
    (item(measure="sell_out_amount"), "items.0.measure", "Unknown measure sell_out_amount"),
    (item(period="2026-13"), "items.0.period", "A month as YYYY-MM (01 to 12)."),
    (item(period="2026-00"), "items.0.period", "A month as YYYY-MM (01 to 12)."),
    (item(period="2026-3"), "items.0.period", "A month as YYYY-MM (01 to 12)."),
    (item(period="2026-03-01"), "items.0.period", "A month as YYYY-MM (01 to 12)."),
    (item(scope="EAST"), "items.0.scope", "A scope as region:<code> or dealer:<code>."),
    (item(scope="tier:A"), "items.0.scope", "A scope as region:<code> or dealer:<code>."),
    (item(category="boats"), "items.0.category", "Unknown category boats."),
    (item(measure="collections_amount", category="parts"), "items.0.category", "Collections have no category"),
    (item(measure="sell_through_units", amount="10.5"), "items.0.amount", "Sell-through units are whole pieces."),
    (item(amount="10.555"), "items.0.amount", "At most two decimal places."),
    (item(amount=10.5), "items.0.amount", "Send amounts as strings, not numbers."),
    (item(amount="1,000.00"), "items.0.amount", "Not a number."),
    (item(amount="1e3"), "items.0.amount", "Not a number."),
    (item(amount="1000000000000"), "items.0.amount", "Too large."),
]


@pytest.mark.parametrize(("bad", "key", "message"), BAD, ids=[b[1] + " " + b[2][:24] for b in BAD])
def test_bad_input_is_refused_with_its_index_and_nothing_is_written(client, world, ch, bad, key, message):
    put(client, ch["cm"], item(amount="700.00"))  # a target that must stay as it is
    before = world.snapshot()
    good = item("dealer:E-1")
    resp = put(client, ch["cm"], good, {**bad})
    assert resp.status_code == 422, resp.get_json()
    fields = resp.get_json()["error"]["fields"]
    key = key.replace("items.0", "items.1")
    assert list(fields) == [key], fields
    assert message in fields[key][0]
    assert world.snapshot() == before


def test_every_problem_of_a_body_is_answered_at_once(client, world, ch):
    before = world.snapshot()
    resp = put(client, ch["rm"], item("dealer:W-1", amount="-1"), item(period="2026-13", measure="x"),
               item("dealer:E-1"), item("dealer:E-1", amount="2"))  # fmt: skip
    fields = resp.get_json()["error"]["fields"]
    assert sorted(fields) == ["items.0.amount", "items.0.scope", "items.1.measure", "items.1.period",
                              "items.1.scope", "items.3.scope"]  # fmt: skip
    assert fields["items.3.scope"] == ["The same target as item 2."]
    assert world.snapshot() == before


def test_duplicates_count_codes_in_any_case_and_differ_by_category(client, world, ch):
    resp = put(client, ch["cm"], item(category="parts"), item("region:east", category="parts"))
    assert resp.get_json()["error"]["fields"] == {"items.1.scope": ["The same target as item 0."]}
    resp = put(client, ch["cm"], item(category="parts"), item(category="cars"), item())
    assert resp.get_json() == {"created": 3, "updated": 0, "unchanged": 0}


def test_body_shape_is_checked(client, ch):
    assert client.put("/api/v1/targets", json={"items": []}, headers=ch["cm"]).status_code == 422
    assert client.put("/api/v1/targets", json={"items": [{**item(), "extra": 1}]}, headers=ch["cm"]).status_code == 422
    missing = client.put("/api/v1/targets", json={"items": [{"period": "2026-01"}]}, headers=ch["cm"])
    assert missing.status_code == 422


def test_the_list_is_scoped(client, world, ch):
    put(
        client,
        ch["cm"],
        item("region:HQ"),
        item("region:EAST"),
        item("region:SH"),
        item("region:WEST"),
        item("dealer:E-1"),
        item("dealer:SH-1"),
        item("dealer:W-1"),
        item("dealer:W-1", period="2026-04"),
    )

    def scopes(headers, **query):
        resp = client.get("/api/v1/targets", query_string=query, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        return [(i["scope"], i["period"]) for i in resp.get_json()["items"]]

    assert len(scopes(ch["fin"])) == 8
    assert {s for s, _p in scopes(ch["rm"])} == {"region:EAST", "region:SH", "dealer:E-1", "dealer:SH-1"}
    assert scopes(ch["dealer"]) == [("dealer:E-1", "2026-03")]
    assert scopes(ch["w_dealer"], **{"from": "2026-04", "to": "2026-04"}) == [("dealer:W-1", "2026-04")]
    assert {s for s, _p in scopes(ch["cm"], scope="region:EAST")} == {"region:EAST", "region:SH", "dealer:E-1",
                                                                       "dealer:SH-1"}  # fmt: skip
    body = client.get("/api/v1/targets", headers=ch["dealer"]).get_json()
    assert body["items"][0]["amount"] == "1000.00" and body["total"] == 1


def test_list_filters_outside_the_scope_answer_like_unknown_ones(client, ch):
    foreign = client.get("/api/v1/targets", query_string={"scope": "dealer:W-1"}, headers=ch["dealer"])
    missing = client.get("/api/v1/targets", query_string={"scope": "dealer:NO-SUCH"}, headers=ch["dealer"])
    assert foreign.status_code == missing.status_code == 422
    assert foreign.get_json()["error"]["fields"] == {"scope": ["Unknown dealer W-1."]}
    bad = client.get("/api/v1/targets", query_string={"from": "2026-13"}, headers=ch["cm"])
    assert bad.status_code == 422 and "from" in bad.get_json()["error"]["fields"]
    bad = client.get("/api/v1/targets", query_string={"measure": "nope"}, headers=ch["cm"])
    assert bad.status_code == 422 and "measure" in bad.get_json()["error"]["fields"]


def test_split_sums_children_and_warns_where_they_differ(client, ch):
    put(client, ch["cm"], item("region:EAST", "2026-01", amount="1000"), item("region:EAST", "2026-02", amount="500"))
    put(
        client,
        ch["rm"],
        item("region:SH", "2026-01", amount="600"),
        item("dealer:E-1", "2026-01", amount="400"),
        item("region:SH", "2026-02", amount="100"),
        item("dealer:SH-1", "2026-02", amount="999"),
    )  # SH-1: not a child
    resp = client.get("/api/v1/targets/split", query_string={"year": 2026, "measure": "sell_in_amount"},
                      headers=ch["rm"])  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["region"] == "EAST" and body["own_editable"] is False
    assert [(c["scope"], c["editable"]) for c in body["children"]] == [("region:SH", True), ("dealer:E-1", True)]
    jan, feb, mar = body["months"][:3]
    assert (jan["own"], jan["children"], jan["sum"], jan["difference"], jan["warning"]) == (
        "1000.00",
        ["600.00", "400.00"],
        "1000.00",
        "0.00",
        False,
    )
    assert (feb["own"], feb["children"], feb["sum"], feb["difference"], feb["warning"]) == (
        "500.00",
        ["100.00", None],
        "100.00",
        "-400.00",
        True,
    )
    assert (mar["own"], mar["sum"], mar["difference"], mar["warning"]) == (None, "0.00", None, False)
    hq = client.get("/api/v1/targets/split", query_string={"year": 2026, "measure": "sell_in_amount"},
                    headers=ch["cm"]).get_json()  # fmt: skip
    assert hq["region"] == "HQ" and hq["own_editable"] is True
    assert [c["scope"] for c in hq["children"]] == ["region:EAST", "region:WEST"]
    assert hq["months"][0]["children"] == ["1000.00", None]


def test_split_of_a_region_outside_the_scope_is_unknown(client, ch):
    query = {"year": 2026, "measure": "sell_in_amount"}
    foreign = client.get("/api/v1/targets/split", query_string={**query, "region": "WEST"}, headers=ch["rm"])
    missing = client.get("/api/v1/targets/split", query_string={**query, "region": "NOPE"}, headers=ch["rm"])
    assert foreign.status_code == missing.status_code == 422
    assert foreign.get_json()["error"]["fields"] == {"region": ["Unknown region WEST."]}
    assert client.get("/api/v1/targets/split", query_string=query, headers=ch["dealer"]).status_code == 422
