"""Backorders (PRODUCT.md §12) and shipping: a shipment takes the line's allocated goods first; a backordered line
ships what it holds and waits for the rest; what a line takes from free stock beyond its allocation comes off its
backorder, so it never waits for more than is left to ship, and a line shipped in full waits for nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.extensions import db
from portal.inventory.models import HqStock, HqStockMove, Warehouse
from portal.orders.models import Order
from tests.backorders_helpers import check_invariants, lines, set_lead_time


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "1000000")
    world.product("OIL-1", list_price="10.00")
    set_lead_time(world, "OIL-1", 10)
    return {"cm": world.auth(world.user("channel_manager", username="cm"))}


def ship(client, headers, order, quantity):
    return client.post(f"/api/v1/orders/{order}/shipments", json={"lines": [{"sku": "OIL-1", "quantity": quantity}]},
                       headers=headers)  # fmt: skip


def test_a_backordered_line_ships_what_it_holds_then_the_rest_once_it_arrives(client, world, shop):
    world.stock("OIL-1", 4, "SH")
    order = world.order("SH-1", [("OIL-1", 10)])
    assert ship(client, shop["cm"], order, 4).status_code == 201
    quantity, held, back, promised = lines(world, order)["OIL-1"]
    assert (quantity, held, back) == (10, 0, 6) and promised is not None
    check_invariants(world)
    refused = ship(client, shop["cm"], order, 1)  # nothing allocated, nothing free
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "stock_short"
    world.stock("OIL-1", 6, "TJ")  # allocated to the backorder on arrival
    assert lines(world, order)["OIL-1"] == (10, 6, 0, None)
    assert ship(client, shop["cm"], order, 6).status_code == 201
    assert lines(world, order)["OIL-1"] == (10, 0, 0, None)
    assert world.get(Order, number=order)["status"] == "shipped"
    check_invariants(world)


def _free_stock_behind_the_queues_back(world, quantity: int) -> None:
    """Stock that arrived without going through the queue (as data migrated from before backorders): a receipt move
    and its row, written directly."""
    from portal.catalog.models import Product

    def make():
        product = db.session.query(Product).filter_by(sku="OIL-1").one()
        warehouse = Warehouse(code="OLD", name="旧仓", active=True)
        db.session.add(warehouse)
        db.session.flush()
        db.session.add(HqStock(warehouse_id=warehouse.id, product_id=product.id, on_hand=quantity, allocated=0))
        db.session.add(HqStockMove(warehouse_id=warehouse.id, product_id=product.id, kind="receipt",
                                   on_hand_delta=quantity, allocated_delta=0, moved_on=dt.date(2026, 1, 5),
                                   created_by="migration"))  # fmt: skip

    world.run(make)


def test_what_a_line_takes_from_free_stock_comes_off_its_backorder(client, world, shop):
    order = world.order("SH-1", [("OIL-1", 5)])  # nothing in stock: 5 waiting
    assert lines(world, order)["OIL-1"][1:3] == (0, 5)
    _free_stock_behind_the_queues_back(world, 7)
    assert ship(client, shop["cm"], order, 3).status_code == 201  # 3 from free stock: 2 left to wait for
    # ... and the queue is served from what is still free in the same transaction: the 2 are allocated
    assert lines(world, order)["OIL-1"] == (5, 2, 0, None)
    check_invariants(world)
    assert ship(client, shop["cm"], order, 2).status_code == 201
    assert lines(world, order)["OIL-1"] == (5, 0, 0, None)  # shipped in full: waits for nothing
    assert world.get(Order, number=order)["status"] == "shipped"
