"""Backorders under concurrent actions (PostgreSQL: one lock order — the order's row, then the SKU's HqStock rows, then
the waiting lines): receipts in two warehouses and a cancellation racing never allocate more than HQ holds and
never lose a backorder (quantity = allocated + backordered + shipped on every open stock line), and the queue ends
served in the same order whatever the interleaving; a receipt racing a shipment, an approval and a move-up of
waiting orders neither deadlocks nor loses anything."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.catalog.models import Product
from portal.dealers.models import User
from portal.extensions import db
from portal.inventory import backorders, hq
from portal.inventory.models import HqStock, StockAllocation
from portal.orders import services as orders
from portal.orders.models import Order
from portal.platform.timeutil import freeze
from portal.shipping import services as shipping
from tests.backorders_helpers import check_invariants, lines
from tests.concurrency import together

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def channel(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    for code in ("SH-1", "SH-2", "SH-3", "SH-4", "SH-5"):
        world.dealer(code, "EAST")
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00")
    world.user("channel_manager", username="cm")
    world.user("dealer_staff", dealer="SH-1", username="sh1.staff")
    world.stock("OIL-1", 4, "SH")
    world.stock("OIL-1", 1, "TJ")
    placed = {}
    for minutes, (code, quantity) in enumerate((("SH-1", 5), ("SH-2", 4), ("SH-3", 6), ("SH-4", 3))):
        with freeze(T0 + dt.timedelta(minutes=minutes)):
            placed[code] = world.order(code, [("OIL-1", quantity)])
    # SH-1 holds 5 (4 SH + 1 TJ); SH-2 waits 4, SH-3 waits 6, SH-4 waits 3
    return placed


def _actor():
    return db.session.query(User).filter_by(username="cm").one()


def _receive(code: str, quantity: int):
    def run():
        product = db.session.query(Product).filter_by(sku="OIL-1").one()
        return hq.receive(_actor(), hq.warehouse_by_code(code), product, quantity).id

    return run


def _totals(world):
    def read():
        on_hand, allocated = db.session.execute(select(func.sum(HqStock.on_hand), func.sum(HqStock.allocated))).one()
        allocs = db.session.execute(select(func.coalesce(func.sum(StockAllocation.quantity), 0))).scalar_one()
        return int(on_hand), int(allocated), int(allocs)

    return world.run(read)


@pytest.mark.parametrize("attempt", range(3))
def test_two_receipts_and_a_cancellation_racing(app, world, channel, attempt):
    world.stock("OIL-1", 2, "SH")  # SH-2 holds 2 and waits for 2: its cancellation frees 2 and ends a backorder

    def cancel():
        order = db.session.query(Order).filter_by(number=channel["SH-2"]).one()
        orders.cancel(_actor(), order, "race")

    outcome = together(app, [_receive("SH", 3), _receive("TJ", 3), cancel])
    assert not [r for r in outcome if isinstance(r, Exception)], outcome
    on_hand, allocated, allocs = _totals(world)
    assert (on_hand, allocated, allocs) == (13, 13, 13)  # everything went to the queue, nothing twice
    # SH-1 held 5; the 8 others go to SH-3 (6) then SH-4 (2 of 3), whatever came first
    assert lines(world, channel["SH-2"])["OIL-1"][1:] == (0, 0, None)
    assert lines(world, channel["SH-1"])["OIL-1"][1:3] == (5, 0)
    assert lines(world, channel["SH-3"])["OIL-1"][1:3] == (6, 0)
    assert lines(world, channel["SH-4"])["OIL-1"][1:3] == (2, 1)
    check_invariants(world)


@pytest.mark.parametrize("attempt", range(3))
def test_a_receipt_racing_a_shipment_an_approval_and_a_move_up(app, world, channel, attempt):
    world.stock("OIL-1", 2, "SH")  # SH-2 holds 2 and waits for 2
    assert lines(world, channel["SH-2"])["OIL-1"][1:3] == (2, 2)

    def ship():  # locks SH-2's row, then waits for the stock rows the receipt holds while it allocates to SH-2
        order = db.session.query(Order).filter_by(number=channel["SH-2"]).one()
        shipping.ship(_actor(), order, lines=[{"sku": "OIL-1", "quantity": 2}])

    def approve_new():
        from portal.dealers.models import Dealer

        dealer = db.session.query(Dealer).filter_by(code="SH-5").one()
        orders.place_order(None, dealer, [{"sku": "OIL-1", "quantity": 2}])

    def move_up():
        order = db.session.query(Order).filter_by(number=channel["SH-4"]).one()
        backorders.move_up(_actor(), order)

    outcome = together(app, [_receive("SH", 5), ship, approve_new, move_up])
    assert not [r for r in outcome if isinstance(r, Exception)], outcome
    on_hand, allocated, allocs = _totals(world)
    assert on_hand == 4 + 1 + 2 + 5 - 2 and allocated == allocs == on_hand  # all of it to the queue, once
    from portal.orders.models import OrderLine

    waiting = world.run(lambda: db.session.execute(select(func.sum(OrderLine.backordered))).scalar_one())
    assert waiting == (5 + 4 + 6 + 3 + 2) - 2 - on_hand  # demand less shipped less held: nothing lost
    check_invariants(world)
