"""Backorders (PRODUCT.md §12), cancelling: a cancelled order waits for nothing any more, and what it held goes back
to the SKU's queue in the same transaction (oldest approval first); the promised dates of the others are replanned."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.inventory.models import HqStockMove
from portal.platform.timeutil import freeze
from tests.backorders_helpers import check_invariants, expect, lines, set_lead_time, waiting

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def shop(world):
    world.region("EAST")
    for code in ("SH-1", "SH-2", "SH-3"):
        world.dealer(code, "EAST")
        world.credit_limit(code, "1000000")
        world.user("dealer_staff", dealer=code, username=f"{code.lower()}.staff")
    world.product("OIL-1", list_price="10.00")
    set_lead_time(world, "OIL-1", 20)
    world.user("channel_manager", username="cm")
    return world


def test_a_cancelled_order_gives_back_what_it_held_to_the_queue(world, shop):
    with freeze(T0):
        world.stock("OIL-1", 6, "SH")
        first = world.order("SH-1", [("OIL-1", 4)])  # all 4 allocated
        second = world.order("SH-2", [("OIL-1", 5)])  # 2 allocated, 3 waiting
        third = world.order("SH-3", [("OIL-1", 3)])  # 3 waiting
    assert waiting(world, "OIL-1") == {second: 3, third: 3}
    with freeze(T0 + dt.timedelta(hours=1)):
        world.cancel(first, "sh-1.staff")
    assert lines(world, first)["OIL-1"] == (4, 0, 0, None)
    assert lines(world, second)["OIL-1"] == (5, 5, 0, None)  # 3 of the 4 given back
    assert lines(world, third)["OIL-1"] == (3, 1, 2, DAY + dt.timedelta(days=20))
    entry = world.get(AuditEntry, action="stock.release", object_key=first)
    assert entry["after"] == {"released": {"OIL-1": 4}, "allocated": {second: 3, third: 1}}
    kinds = world.run(lambda: sorted(k for (k,) in db.session.query(HqStockMove.kind)))
    assert kinds.count("release") == 1 and kinds.count("allocation") == 4
    check_invariants(world)


def test_a_cancelled_backorder_waits_no_more_and_the_next_ones_move_forward(world, shop):
    with freeze(T0):
        expect(world, "OIL-1", 5, DAY + dt.timedelta(days=7))
        first = world.order("SH-1", [("OIL-1", 5)])
        second = world.order("SH-2", [("OIL-1", 5)])
        assert lines(world, second)["OIL-1"][3] == DAY + dt.timedelta(days=20)
        world.cancel(first, "sh-1.staff")
        assert lines(world, first)["OIL-1"] == (5, 0, 0, None)
        assert lines(world, second)["OIL-1"] == (5, 0, 5, DAY + dt.timedelta(days=7))  # the expected 5 are its now
    assert waiting(world, "OIL-1") == {second: 5}
    check_invariants(world)


def test_cancelling_an_order_that_waited_for_everything_writes_no_move(world, shop):
    with freeze(T0):
        order = world.order("SH-1", [("OIL-1", 5)])
        world.cancel(order, "sh-1.staff")
    assert lines(world, order)["OIL-1"] == (5, 0, 0, None)
    assert world.count(HqStockMove) == 0
    assert world.count(AuditEntry, action="stock.release") == 0
    check_invariants(world)
