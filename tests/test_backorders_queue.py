"""Backorders (PRODUCT.md §12), the queue: what arrives at HQ (a receipt, a count correction that finds pieces) goes to
the SKU's waiting lines in the receipt's transaction — orders moved up by a channel manager first (earlier moves
first), then the oldest approval, then the order id — with an allocation, its move and the audit entry."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.inventory.models import HqStockMove
from portal.orders.models import Order
from portal.platform.timeutil import freeze
from tests.backorders_helpers import adjust, check_invariants, expect, expected_rows, lines, move_up, waiting

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def shop(world):
    world.region("EAST")
    for code in ("SH-1", "SH-2", "SH-3", "SH-4"):
        world.dealer(code, "EAST")
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.user("channel_manager", username="cm")
    world.stock("FLT-1", 1, "SH")  # the warehouse exists
    return world


def placed(world, dealer: str, quantity: int, minutes: int, sku: str = "OIL-1") -> str:
    with freeze(T0 + dt.timedelta(minutes=minutes)):
        return world.order(dealer, [(sku, quantity)])


def test_a_receipt_serves_the_oldest_approval_first_in_its_transaction(world, shop):
    late = placed(world, "SH-1", 5, minutes=30)
    early = placed(world, "SH-2", 4, minutes=10)  # placed after, but approved earlier (the clock says so)
    middle = placed(world, "SH-3", 3, minutes=20)
    assert waiting(world, "OIL-1") == {late: 5, early: 4, middle: 3}
    world.stock("OIL-1", 8, "SH")
    assert waiting(world, "OIL-1") == {late: 4}  # early 4, middle 3, then 1 of late's 5
    assert lines(world, early)["OIL-1"][1:3] == (4, 0) and lines(world, middle)["OIL-1"][1:3] == (3, 0)
    check_invariants(world)


def test_fifo_by_approval_time_and_the_order_id_on_a_tie(world, shop):
    first = placed(world, "SH-1", 2, minutes=5)
    tie_a = placed(world, "SH-2", 3, minutes=10)
    tie_b = placed(world, "SH-3", 3, minutes=10)  # same moment: the lower order id first
    world.stock("OIL-1", 6, "TJ")
    assert lines(world, first)["OIL-1"][1:3] == (2, 0)
    assert lines(world, tie_a)["OIL-1"][1:3] == (3, 0)
    assert lines(world, tie_b)["OIL-1"][1:3] == (1, 2)
    assert world.count(HqStockMove, kind="allocation") == 3
    entry = world.get(AuditEntry, action="stock.receive", object_key="TJ/OIL-1")
    assert entry["after"]["allocated"] == {first: 2, tie_a: 3, tie_b: 1}
    check_invariants(world)


def test_an_order_moved_up_goes_before_every_order_never_moved_up(world, shop):
    first = placed(world, "SH-1", 4, minutes=5)
    second = placed(world, "SH-2", 4, minutes=10)
    third = placed(world, "SH-3", 4, minutes=15)
    fourth = placed(world, "SH-4", 4, minutes=20)
    with freeze(T0 + dt.timedelta(hours=1)):
        move_up(world, fourth, "cm")
    with freeze(T0 + dt.timedelta(hours=2)):
        move_up(world, third, "cm")  # moved later: after the fourth, before the others
    assert world.get(Order, number=fourth)["moved_up_at"] == T0 + dt.timedelta(hours=1)
    entry = world.get(AuditEntry, action="order.move_up", object_key=third)
    assert entry["actor"] == "cm" and entry["after"]["backordered"] == {"OIL-1": 4}
    world.stock("OIL-1", 10, "SH")
    assert waiting(world, "OIL-1") == {first: 2, second: 4}
    assert lines(world, fourth)["OIL-1"][2] == 0 and lines(world, third)["OIL-1"][2] == 0
    check_invariants(world)


def test_moving_up_again_keeps_the_place(world, shop):
    order = placed(world, "SH-1", 4, minutes=5)
    with freeze(T0 + dt.timedelta(hours=1)):
        move_up(world, order, "cm")
    with freeze(T0 + dt.timedelta(hours=3)):
        move_up(world, order, "cm")
    assert world.get(Order, number=order)["moved_up_at"] == T0 + dt.timedelta(hours=1)
    assert world.count(AuditEntry, action="order.move_up") == 1


def test_a_count_correction_that_finds_pieces_serves_the_queue(world, shop):
    order = placed(world, "SH-1", 3, minutes=5, sku="FLT-1")  # 1 in SH already: 1 allocated, 2 waiting
    assert lines(world, order)["FLT-1"][1:3] == (1, 2)
    adjust(world, "FLT-1", 5)
    assert lines(world, order)["FLT-1"][1:3] == (3, 0)
    entry = world.get(AuditEntry, action="stock.adjust", object_key="SH/FLT-1")
    assert entry["after"]["allocated"] == {order: 2}
    check_invariants(world)


def test_a_receipt_fills_the_earliest_open_expected_receipts_of_its_warehouse_and_sku(world, shop):
    day = dt.date(2026, 3, 10)
    with freeze(T0):
        later = expect(world, "OIL-1", 5, day + dt.timedelta(days=7), "SH")
        sooner = expect(world, "OIL-1", 4, day, "SH")
        elsewhere = expect(world, "OIL-1", 9, day, "TJ")
        world.stock("OIL-1", 6, "SH")
    assert expected_rows(world) == {
        later: (5, 2, "open"),
        sooner: (4, 4, "received"),
        elsewhere: (9, 0, "open"),  # another warehouse's: untouched
    }
    entry = world.get(AuditEntry, action="stock.receive", object_key="SH/OIL-1")
    assert entry["after"]["expected"] == {str(sooner): 4, str(later): 2}
    check_invariants(world)
