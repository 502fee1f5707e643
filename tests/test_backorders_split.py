"""Backorders (PRODUCT.md §12), the split at approval: a stock line approved while HQ cannot cover it is split into
what is allocated and what is backordered, promised at today + the product's lead time when nothing is expected;
the order remembers when it was approved (the queue's order) and its exposure is its whole gross."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.orders.models import Order
from portal.platform.timeutil import freeze, today
from tests.backorders_helpers import check_invariants, lines, set_lead_time


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "1000000")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    set_lead_time(world, "OIL-1", 14)
    world.user("finance", username="fin")
    return world


def test_a_line_hq_cannot_cover_is_split_into_allocated_and_backordered(app, world, shop):
    world.stock("OIL-1", 6, "SH")
    world.stock("FLT-1", 10, "SH")
    moment = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    with freeze(moment):
        order = world.order("SH-1", [("OIL-1", 10), ("FLT-1", 4), ("CAR-1", 1)])
        day = today()
    assert world.get(Order, number=order)["approved_at"] == moment
    got = lines(world, order)
    assert got["OIL-1"] == (10, 6, 4, day + dt.timedelta(days=14))  # lead time 14 days, nothing expected
    assert got["FLT-1"] == (4, 4, 0, None)
    assert got["CAR-1"] == (1, 0, 0, None)  # built to order: never backordered
    entry = world.get(AuditEntry, action="stock.allocate", object_key=order)
    assert entry["after"] == {"allocated": {"OIL-1": 6, "FLT-1": 4}, "backorder": {"OIL-1": 4}}
    check_invariants(world)


def test_with_no_stock_at_all_the_whole_line_waits_promised_today_plus_lead_time(world, shop):
    set_lead_time(world, "FLT-1", 0)
    order = world.order("SH-1", [("FLT-1", 3)])
    assert lines(world, order)["FLT-1"] == (3, 0, 3, world.run(today))
    check_invariants(world)


def test_an_order_in_credit_review_waits_for_nothing_until_approved(world, shop):
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-2", "50.00")
    world.stock("OIL-1", 2, "SH")
    order = world.order("SH-2", [("OIL-1", 10)])  # 113.00 gross > 50.00: credit review
    assert world.get(Order, number=order)["approved_at"] is None
    assert lines(world, order)["OIL-1"] == (10, 0, 0, None)
    moment = dt.datetime(2026, 3, 3, 4, 0, tzinfo=dt.UTC)
    with freeze(moment):
        world.approve(order, "fin")
    assert world.get(Order, number=order)["approved_at"] == moment
    assert lines(world, order)["OIL-1"][1:3] == (2, 8)
    check_invariants(world)


def test_backordering_leaves_the_exposure_unchanged(client, world, shop):
    world.stock("OIL-1", 1, "SH")
    order = world.order("SH-1", [("OIL-1", 100)])  # 99 backordered
    gross = world.get(Order, number=order)["gross"]
    headers = world.auth(world.user("finance", username="fin2"))
    credit = client.get("/api/v1/dealers/SH-1/credit", headers=headers).get_json()
    assert Decimal(credit["open_orders"]) == gross == Decimal("1130.00")
    assert Decimal(credit["available"]) == Decimal("1000000.00") - gross
