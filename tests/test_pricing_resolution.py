"""Price resolution, every tie-break of PRODUCT.md §2, and money per line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.catalog import pricing
from portal.catalog.models import Product
from portal.dealers.models import Dealer
from portal.extensions import db

ON = dt.date(2026, 6, 15)


@pytest.fixture
def setup(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("SH", parent="EAST")
    world.dealer("SH-1", "SH", tier="A")
    world.product("CAR-1", list_price="100000.00", category="vehicles")
    world.product("OIL-1", list_price="99.99", category="parts")


def price(app, sku="CAR-1", qty=1, on=ON, dealer="SH-1"):
    with app.app_context():
        d = db.session.query(Dealer).filter_by(code=dealer).one()
        p = db.session.query(Product).filter_by(sku=sku).one()
        r = pricing.resolve(d, p, qty, on)
        # what an order uses: only the rules that can apply to the product, read without ORM objects
        assert pricing.resolve_with(pricing.candidates_for(d, on, [p]), p, qty) == r
        return r.unit_price, (r.rule or {}).get("price_list")


def test_no_rule_means_the_list_price(app, setup):
    assert price(app) == (Decimal("100000.00"), None)


def test_more_specific_scope_wins_over_priority_and_price(app, world, setup):
    world.price_list("all", [{"sku": "CAR-1", "unit_price": "80000"}], priority=99, name="all")
    world.price_list("tier:A", [{"sku": "CAR-1", "unit_price": "95000"}], name="tier")
    assert price(app)[1] == "tier"
    world.price_list("region:EAST", [{"sku": "CAR-1", "unit_price": "96000"}], name="east")
    assert price(app)[1] == "east"
    world.price_list("region:SH", [{"sku": "CAR-1", "unit_price": "97000"}], name="sh")
    assert price(app)[1] == "sh"  # a deeper region beats its parent
    world.price_list("dealer:SH-1", [{"sku": "CAR-1", "unit_price": "98000"}], name="dealer")
    assert price(app) == (Decimal("98000.00"), "dealer")


def test_same_scope_highest_priority_then_lowest_price(app, world, setup):
    world.price_list("tier:A", [{"sku": "CAR-1", "unit_price": "90000"}], priority=1, name="p1")
    world.price_list("tier:A", [{"sku": "CAR-1", "unit_price": "93000"}], priority=5, name="p5")
    assert price(app) == (Decimal("93000.00"), "p5")
    world.price_list("tier:A", [{"category": "vehicles", "discount_pct": "8"}], priority=5, name="p5-discount")
    assert price(app) == (Decimal("92000.00"), "p5-discount")  # same priority: the lower price


def test_min_qty_applies_from_the_threshold(app, world, setup):
    world.price_list("all", [{"sku": "OIL-1", "min_qty": 10, "unit_price": "80.00"}], name="volume")
    assert price(app, "OIL-1", 9) == (Decimal("99.99"), None)
    assert price(app, "OIL-1", 10) == (Decimal("80.00"), "volume")


def test_validity_windows_are_inclusive_and_may_be_open(app, world, setup):
    world.price_list("all", [{"sku": "CAR-1", "unit_price": "70000"}], valid_from=dt.date(2026, 6, 1),
                     valid_to=dt.date(2026, 6, 30), name="june")
    world.price_list("all", [{"sku": "CAR-1", "unit_price": "75000"}], valid_from=dt.date(2026, 7, 1), name="open")
    assert price(app, on=dt.date(2026, 5, 31)) == (Decimal("100000.00"), None)
    assert price(app, on=dt.date(2026, 6, 1))[1] == "june"
    assert price(app, on=dt.date(2026, 6, 30))[1] == "june"
    assert price(app, on=dt.date(2026, 7, 1))[1] == "open"
    assert price(app, on=dt.date(2030, 1, 1))[1] == "open"


def test_scopes_that_do_not_cover_the_dealer_are_ignored(app, world, setup):
    world.region("NORTH", parent="HQ")
    world.dealer("BJ-1", "NORTH", tier="B")
    world.price_list("tier:B", [{"sku": "CAR-1", "unit_price": "1"}])
    world.price_list("region:NORTH", [{"sku": "CAR-1", "unit_price": "2"}])
    world.price_list("dealer:BJ-1", [{"sku": "CAR-1", "unit_price": "3"}])
    assert price(app) == (Decimal("100000.00"), None)


def test_discounts_round_half_up_per_unit(app, world, setup):
    world.price_list("all", [{"sku": "OIL-1", "discount_pct": "12.5"}])
    # 99.99 × 0.875 = 87.49125 → 87.49
    assert price(app, "OIL-1")[0] == Decimal("87.49")
    world.product("HALF-1", list_price="10.01")
    world.price_list("all", [{"sku": "HALF-1", "discount_pct": "50"}])
    assert price(app, "HALF-1")[0] == Decimal("5.01")  # 5.005 → 5.01, half up (never banker's 5.00)


def test_line_money_is_rounded_per_line():
    line = pricing.price_line(Decimal("33.33"), 3, Decimal("0.13"))
    assert line == {"net": Decimal("99.99"), "tax": Decimal("13.00"), "gross": Decimal("112.99")}
    line = pricing.price_line(Decimal("0.05"), 1, Decimal("0.13"))
    assert line["tax"] == Decimal("0.01")  # 0.0065 → 0.01, half up


def test_bad_price_lists_are_refused(app, world, setup, client):
    cm = world.auth(world.user("channel_manager"))
    for body, field in (
        ({"name": "x", "scope": "tier:Z", "priority": 0, "rules": [{"sku": "CAR-1", "unit_price": "1"}]}, "scope"),
        ({"name": "x", "scope": "all", "priority": 0, "rules": []}, "rules"),
        ({"name": "x", "scope": "all", "priority": 0, "rules": [{"sku": "CAR-1"}]}, "rules.0"),
        ({"name": "x", "scope": "all", "priority": 0,
          "rules": [{"sku": "CAR-1", "category": "parts", "unit_price": "1"}]}, "rules.0"),
        ({"name": "x", "scope": "all", "priority": 0, "rules": [{"sku": "NOPE", "unit_price": "1"}]}, "rules.0"),
        ({"name": "x", "scope": "all", "priority": 0, "valid_from": "2026-02-01", "valid_to": "2026-01-01",
          "rules": [{"sku": "CAR-1", "unit_price": "1"}]}, "valid_to"),
        # beyond the database's INTEGER: a 500 from the driver before (found by API fuzzing)
        ({"name": "x", "scope": "all", "priority": 10**12, "rules": [{"sku": "CAR-1", "unit_price": "1"}]},
         "priority"),
        ({"name": "x", "scope": "all", "priority": 1001, "rules": [{"sku": "CAR-1", "unit_price": "1"}]}, "priority"),
        ({"name": "x", "scope": "all", "priority": 0, "rules": [{"sku": "CAR-1", "unit_price": "1",
                                                                 "min_qty": 10**12}]}, "rules.0"),
    ):
        resp = client.post("/api/v1/price-lists", json=body, headers=cm)
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"], (body, resp.get_json())
    resp = client.post("/api/v1/price-lists", json={"name": "x", "scope": "all", "priority": 0,
                                                     "rules": [{"sku": "CAR-1", "discount_pct": "101"}]}, headers=cm)
    assert resp.status_code == 422
    created = client.post("/api/v1/price-lists", json={"name": "x", "scope": "all", "priority": 1000,
                                                        "rules": [{"sku": "CAR-1", "unit_price": "1"}]}, headers=cm)
    assert created.status_code == 201, created.get_json()
    resp = client.patch(f"/api/v1/price-lists/{created.get_json()['id']}", json={"priority": 2**40}, headers=cm)
    assert resp.status_code == 422 and "priority" in resp.get_json()["error"]["fields"]


def test_a_dealer_sees_its_prices_with_the_reason_and_no_one_elses(client, world, setup):
    world.region("NORTH", parent="HQ")
    world.dealer("BJ-1", "NORTH")
    world.price_list("dealer:SH-1", [{"sku": "CAR-1", "unit_price": "90000"}], name="特价")
    staff = world.auth(world.user("dealer_staff", dealer="SH-1"))
    body = client.get("/api/v1/dealers/SH-1/prices?sku=CAR-1", headers=staff).get_json()
    assert body["items"][0]["unit_price"] == "90000.00" and body["items"][0]["rule"]["price_list"] == "特价"
    assert client.get("/api/v1/dealers/BJ-1/prices", headers=staff).status_code == 404
    assert client.get("/api/v1/price-lists", headers=staff).status_code == 403
