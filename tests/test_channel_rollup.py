"""The channel roll-up (`ChannelMonthly`, per dealer, category and month) stays exact: late rows land in their month
in the writer's transaction, a product moving to another category takes its history along, a rebuild from the rows
gives the same table, and the reports read from it give what the per-product path gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.analytics import reports
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory.models import ChannelMonthly
from portal.inventory.sums import channel_drift, rebuild_channel
from portal.platform.tenancy import Scope
from portal.platform.timeutil import freeze

TODAY = dt.date(2026, 6, 20)
NOW = dt.datetime(2026, 6, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def yard(world):
    world.region("CN")
    world.region("EA", parent="CN")
    world.dealer("R-1", "EA")
    world.dealer("R-2", "EA")
    world.product("OIL", category="parts", list_price="100.00")
    world.product("TYRE", category="parts", list_price="400.00")
    world.product("MAT", category="accessories", list_price="50.00")
    for dealer in ("R-1", "R-2"):
        for sku in ("OIL", "TYRE", "MAT"):
            world.dealer_receipt(dealer, sku, 500, on=dt.date(2026, 1, 2))
    with freeze(NOW):
        world.sell("R-1", [_line(dt.date(2026, 2, 10), "OIL", 3, "110.00"),
                           _line(dt.date(2026, 3, 5), "MAT", 2, "55.00")])
        world.sell("R-2", [_line(dt.date(2026, 3, 15), "TYRE", 4, "420.00")])
    return world


def _line(day: dt.date, sku: str, quantity: int, price: str) -> dict:
    return {"sold_on": day, "sku": sku, "quantity": quantity, "unit_price": Decimal(price)}


def _rows(world) -> dict:
    def read():
        return {
            (r.dealer_id, r.category, r.month): (r.sell_through_qty, r.sell_through_amount, r.moved)
            for r in db.session.query(ChannelMonthly)
        }

    return world.run(read)


def test_a_late_line_lands_in_its_own_month_in_the_writers_transaction(yard):
    before = _rows(yard)
    with freeze(NOW):
        yard.sell("R-1", [_line(dt.date(2026, 2, 27), "TYRE", 1, "399.99")])
    after = _rows(yard)
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    assert len(changed) == 1
    (key, (old, new)), = changed.items()
    assert key[1:] == ("parts", dt.date(2026, 2, 1))
    assert new == (old[0] + 1, old[1] + Decimal("399.99"), old[2])
    assert yard.run(channel_drift) == []


def test_receipts_and_adjustments_count_in_the_month_they_move(yard):
    yard.dealer_receipt("R-2", "MAT", 7, on=dt.date(2026, 4, 30))
    rows = _rows(yard)
    r2 = yard.get(Dealer, code="R-2")["id"]
    assert rows[(r2, "accessories", dt.date(2026, 4, 1))] == (0, Decimal("0.00"), 7)
    assert yard.run(channel_drift) == []


def test_a_product_moving_to_another_category_takes_its_history_along(yard):
    from portal.catalog import services
    from portal.catalog.models import Product

    def flow_by_category():
        with freeze(NOW):
            result = reports.channel_flow(Scope("hq"), dt.date(2026, 1, 1), dt.date(2026, 5, 31), ["category"])
        return {r["category"]: (r["sell_through_qty"], r["ending_stock"]) for r in result["rows"]}

    before = yard.run(flow_by_category)
    assert before == {"parts": (7, 2000 - 7), "accessories": (2, 1000 - 2)}
    yard.run(lambda: services.update_product(None, db.session.query(Product).filter_by(sku="TYRE").one(),
                                             {"category": "tyres"}))  # fmt: skip
    assert yard.run(channel_drift) == []
    assert yard.run(flow_by_category) == {"parts": (3, 1000 - 3), "tyres": (4, 1000 - 4), "accessories": (2, 998)}


def test_a_rebuild_from_the_rows_gives_the_same_table(yard):
    kept = _rows(yard)
    assert yard.run(rebuild_channel) == len([k for k, v in kept.items() if any(v)])
    assert {k: v for k, v in _rows(yard).items() if any(v)} == {k: v for k, v in kept.items() if any(v)}


@pytest.mark.parametrize(
    "period",
    [(dt.date(2026, 1, 1), dt.date(2026, 5, 31)),  # whole months
     (dt.date(2026, 2, 11), dt.date(2026, 3, 14)),  # partial at both edges: direct and complement reads
     (dt.date(2026, 3, 1), TODAY),  # up to today: the current month as the roll-up less nothing
     (dt.date(2026, 3, 6), dt.date(2026, 3, 20))],  # inside one month
)  # fmt: skip
def test_the_roll_up_path_equals_the_per_product_path(yard, period):
    """category × month from the roll-up vs product × month (the per-product sums and the rows) summed by category."""

    def both():
        with freeze(NOW):
            coarse = reports.channel_flow(Scope("hq"), *period, ["category", "month"])
            fine = reports.channel_flow(Scope("hq"), *period, ["category", "product", "month"])
        return coarse, fine

    coarse, fine = yard.run(both)
    measures = ("sell_in_qty", "sell_in_amount", "sell_through_qty", "sell_through_amount", "opening_stock",
                "ending_stock")  # fmt: skip
    summed: dict = {}
    for r in fine["rows"]:
        acc = summed.setdefault((r["category"], r["month"]), dict.fromkeys(measures, 0))
        for m in measures:
            acc[m] += r[m]
    got = {(r["category"], r["month"]): {m: r[m] for m in measures} for r in coarse["rows"]}
    assert got == summed
    assert coarse["totals"]["ending_stock"] == fine["totals"]["ending_stock"]
