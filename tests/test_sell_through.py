"""Sell-through through the API: a batch is written whole or refused whole with every bad line; the stock may never
go negative on the day of a sale or any later day (back-dated sales included); VIN rules; floor prices; the monthly
sums equal the lines; one audit entry per batch; scoped reading."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove, SellThroughLine, SellThroughMonthly
from portal.inventory.sums import channel_drift, rebuild_channel
from portal.platform.timeutil import freeze

NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 2026-11-20 in Shanghai
VIN1, VIN2, VIN3 = "LDP00000000000001", "LDP00000000000002", "LDP00000000000003"


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.product("OIL-1", list_price="30.00")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True,
                  min_resale_price="102000.00")  # fmt: skip
    world.product("CAR-2", list_price="150000.00", category="vehicles", build_to_order=True)
    world.product("OLD-1", active=False)
    world.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 3, 1))
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN1)
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 6, 1), serial=VIN2)
    world.dealer_receipt("SH-2", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN3)
    return {
        "staff": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff")),
        "other": world.auth(world.user("dealer_staff", dealer="SH-2")),
        "hq": world.auth(world.user("channel_manager")),
        "region": world.auth(world.user("region_manager", region="EAST")),
    }


def oil(qty, day="2026-05-01", price="35.00", **extra):
    return {"sold_on": day, "sku": "OIL-1", "quantity": qty, "unit_price": price, **extra}


def car(vin, day="2026-07-01", price="120000.00", sku="CAR-1"):
    return {"sold_on": day, "sku": sku, "serial": vin, "quantity": 1, "unit_price": price}


def post(client, headers, lines):
    return client.post("/api/v1/sell-through", json={"lines": lines}, headers=headers)


def test_a_dealer_reports_sales_and_gets_the_lines_with_their_stock_moves(client, world, shop):
    resp = post(client, shop["staff"], [oil(4, city="上海", customer_type="business"), car(VIN1)])
    assert resp.status_code == 201, resp.get_json()
    lines = resp.get_json()["lines"]
    assert [(ln["sku"], ln["quantity"], ln["amount"], ln["dealer_code"]) for ln in lines] == [
        ("OIL-1", 4, "140.00", "SH-1"), ("CAR-1", 1, "120000.00", "SH-1")]  # fmt: skip
    assert lines[0]["city"] == "上海" and lines[0]["customer_type"] == "business" and lines[0]["source"] == "api"
    stored = world.get(SellThroughLine, id=lines[0]["id"])
    move = world.get(DealerStockMove, id=stored["stock_move_id"])
    assert move["kind"] == "sale" and move["quantity"] == -4 and move["moved_on"] == dt.date(2026, 5, 1)
    assert world.count(AuditEntry, action="sell_through.record") == 1
    stock = client.get("/api/v1/dealers/SH-1/stock", headers=shop["staff"]).get_json()
    assert {i["sku"]: i["on_hand"] for i in stock["items"]} == {"OIL-1": 6, "CAR-1": 1}
    assert [v["serial"] for v in stock["vins"]] == [VIN2]


def test_the_floor_price_of_the_day_is_kept_and_sales_below_it_are_marked(client, world, shop):
    lines = post(client, shop["staff"], [car(VIN1, price="101000.00"), car(VIN2, price="102000.00")]).get_json()
    assert [(ln["floor_price"], ln["below_floor"]) for ln in lines["lines"]] == [
        ("102000.00", True), ("102000.00", False)]  # fmt: skip
    oil_line = post(client, shop["staff"], [oil(1, price="0")]).get_json()["lines"][0]
    assert oil_line["floor_price"] is None and oil_line["below_floor"] is False


def test_a_bad_batch_is_refused_whole_with_every_bad_line(client, world, shop):
    before = world.snapshot()
    resp = post(client, shop["staff"], [
        oil(2),  # good
        oil(1, sku="NOPE"),
        {**oil(1), "sku": "OLD-1"},
        oil(1, day="2026-12-01"),  # future
        oil(1, day="2026-02-01"),  # before the first receipt
        car(VIN3),  # SH-2's VIN
        car(VIN1, sku="CAR-2"),  # wrong SKU for the VIN
        {**oil(1), "customer_type": "alien"},
    ])  # fmt: skip
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert "customer_type" in str(fields["lines"]["7"])  # the schema refuses the unknown customer type first
    resp = post(client, shop["staff"], [oil(2), {**oil(1), "sku": "NOPE"}, {**oil(1), "sku": "OLD-1"},
                                        oil(1, day="2026-12-01"), oil(1, day="2026-02-01"), car(VIN3),
                                        car(VIN1, sku="CAR-2"), car(VIN2, day="2026-05-01")])  # fmt: skip
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert sorted(fields) == ["lines.1.sku", "lines.2.sku", "lines.3.sold_on", "lines.4.sold_on", "lines.5.serial",
                              "lines.6.serial", "lines.7.sold_on"]  # fmt: skip
    assert "Unknown or inactive SKU NOPE" in fields["lines.1.sku"][0]
    assert "future" in fields["lines.3.sold_on"][0] and "first receipt" in fields["lines.4.sold_on"][0]
    assert "never received" in fields["lines.5.serial"][0] and "not a CAR-2" in fields["lines.6.serial"][0]
    assert "received on 2026-06-01" in fields["lines.7.sold_on"][0]
    assert world.snapshot() == before


def test_selling_more_than_the_dealer_holds_is_refused_counting_the_whole_batch(client, world, shop):
    resp = post(client, shop["staff"], [oil(6), oil(4, day="2026-06-01"), oil(1, day="2026-07-01")])
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert list(fields) == ["lines.2.quantity"] and "Only 0 of OIL-1" in fields["lines.2.quantity"][0]
    assert world.count(SellThroughLine) == 0
    assert post(client, shop["staff"], [oil(6), oil(4, day="2026-06-01")]).status_code == 201


def test_a_back_dated_sale_that_would_make_a_later_day_negative_is_refused(client, world, shop):
    # 10 received on 1 March; 8 sold on 1 July: 2 left from July on
    assert post(client, shop["staff"], [oil(8, day="2026-07-01")]).status_code == 201
    resp = post(client, shop["staff"], [oil(3, day="2026-04-01")])  # April holds 10, but July would be −1
    assert resp.status_code == 422
    message = resp.get_json()["error"]["fields"]["lines.0.quantity"][0]
    assert "Only 2 of OIL-1 in stock on 2026-04-01 and after" in message
    assert post(client, shop["staff"], [oil(2, day="2026-04-01")]).status_code == 201
    world.dealer_receipt("SH-1", "OIL-1", 5, on=dt.date(2026, 9, 1))  # later stock does not help the April sale
    assert post(client, shop["staff"], [oil(1, day="2026-04-01")]).status_code == 422
    assert post(client, shop["staff"], [oil(5, day="2026-09-01")]).status_code == 201


def test_a_vin_is_sold_once_and_only_by_its_own_dealer(client, world, shop):
    assert post(client, shop["staff"], [car(VIN1)]).status_code == 201
    again = post(client, shop["staff"], [car(VIN1, day="2026-08-01")])
    assert again.status_code == 422 and "sold already" in again.get_json()["error"]["fields"]["lines.0.serial"][0]
    twice = post(client, shop["staff"], [car(VIN2), car(VIN2)])
    assert twice.status_code == 422 and "twice" in twice.get_json()["error"]["fields"]["lines.1.serial"][0]
    many = post(client, shop["staff"], [{**car(VIN2), "quantity": 2}])
    assert "exactly one" in str(many.get_json()["error"]["fields"])
    no_vin = post(client, shop["staff"], [{"sold_on": "2026-07-01", "sku": "CAR-1", "quantity": 1, "unit_price": "1"}])
    assert "by its VIN" in no_vin.get_json()["error"]["fields"]["lines.0.serial"][0]


def test_money_is_never_a_float_and_quantities_are_whole(client, shop):
    resp = post(client, shop["staff"], [{**oil(1), "unit_price": 35.5}])
    assert resp.status_code == 422 and "strings" in str(resp.get_json()["error"]["fields"])
    assert post(client, shop["staff"], [{**oil(1), "unit_price": "35.555"}]).status_code == 422
    assert post(client, shop["staff"], [{**oil(1), "unit_price": "-1"}]).status_code == 422
    assert post(client, shop["staff"], [{**oil(1), "quantity": 1.5}]).status_code == 422
    assert post(client, shop["staff"], [oil(0)]).status_code == 422
    assert post(client, shop["staff"], [{**oil(1), "city": "x" * 61}]).status_code == 422


def test_only_dealer_users_report_sell_through(client, shop):
    assert post(client, shop["hq"], [oil(1)]).status_code == 403
    assert post(client, shop["region"], [oil(1)]).status_code == 403


def test_reading_sell_through_is_scoped_and_filtered(client, world, shop):
    world.sell("SH-1", [{"sold_on": dt.date(2026, 5, 1), "sku": "OIL-1", "quantity": 2, "unit_price": Decimal("30")},
                        {"sold_on": dt.date(2026, 8, 1), "sku": "CAR-1", "serial": VIN1, "quantity": 1,
                         "unit_price": Decimal("99000")}])  # fmt: skip
    world.sell("SH-2", [{"sold_on": dt.date(2026, 5, 1), "sku": "CAR-1", "serial": VIN3, "quantity": 1,
                         "unit_price": Decimal("110000")}])  # fmt: skip
    mine = client.get("/api/v1/sell-through", headers=shop["staff"]).get_json()
    assert mine["total"] == 2 and {i["dealer_code"] for i in mine["items"]} == {"SH-1"}
    assert client.get("/api/v1/sell-through?dealer=SH-2", headers=shop["staff"]).get_json()["total"] == 0
    hq = client.get("/api/v1/sell-through?from=2026-05-01&to=2026-05-31", headers=shop["hq"]).get_json()
    assert hq["total"] == 2 and {i["dealer_code"] for i in hq["items"]} == {"SH-1", "SH-2"}
    assert client.get("/api/v1/sell-through?sku=CAR-1&dealer=SH-1", headers=shop["hq"]).get_json()["total"] == 1
    page = client.get("/api/v1/sell-through?per_page=1&page=2", headers=shop["hq"]).get_json()
    assert page["page"] == 2 and page["per_page"] == 1 and len(page["items"]) == 1 and page["total"] == 3


def _monthly_equals_lines(world):
    def read():
        lines = db.session.query(SellThroughLine).all()
        sums = {}
        for ln in lines:
            key = (ln.dealer_id, ln.product_id, ln.sold_on.replace(day=1))
            acc = sums.setdefault(key, [0, 0, Decimal("0"), 0, 0, Decimal("0")])
            acc[0] += 1
            acc[1] += ln.quantity
            acc[2] += ln.amount
            if ln.below_floor:
                acc[3] += 1
                acc[4] += ln.quantity
                acc[5] += (ln.floor_price - ln.unit_price) * ln.quantity
        stored = {(m.dealer_id, m.product_id, m.month): [m.lines, m.quantity, m.amount, m.below_floor_lines,
                                                         m.below_floor_quantity, m.below_floor_gap]
                  for m in db.session.query(SellThroughMonthly)}  # fmt: skip
        return sums, stored

    sums, stored = world.run(read)
    assert stored == sums


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 240), st.integers(1, 4), st.integers(0, 60)),
                                 min_size=1, max_size=4), min_size=1, max_size=4))  # fmt: skip
def test_the_monthly_sums_equal_the_lines_whatever_the_order_of_arrival(world, batches):
    from portal.catalog.models import Product
    from portal.dealers.models import Dealer

    if not world.count(Dealer, code="M-1"):
        world.region("MR")
        world.dealer("M-1", "MR")
        world.product("M-OIL", list_price="30.00", min_resale_price="40.00")
        world.dealer_receipt("M-1", "M-OIL", 100_000, on=dt.date(2026, 1, 1))
    world.run(lambda: (db.session.query(SellThroughLine).delete(), db.session.query(SellThroughMonthly).delete(),
                       db.session.query(DealerStockMove).filter_by(kind="sale").delete(),
                       rebuild_channel()))  # fmt: skip (a fresh start for each example, the roll-up included)
    for batch in batches:
        world.sell("M-1", [{"sold_on": dt.date(2026, 1, 1) + dt.timedelta(days=d), "sku": "M-OIL", "quantity": q,
                            "unit_price": Decimal(p)} for d, q, p in batch])  # fmt: skip
    _monthly_equals_lines(world)
    assert world.run(channel_drift) == []
    assert world.count(Product, sku="M-OIL") == 1
