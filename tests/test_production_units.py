"""Approving a build-to-order line creates one unit per piece, each with a unique valid VIN (PRODUCT.md §4)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.orders.models import Order
from portal.platform.timeutil import freeze
from portal.production.models import Unit
from portal.production.vin import is_valid_vin

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def ch(world):
    world.region("EAST", approval_limit="10000000")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("CAR-2", list_price="200000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="100.00")
    world.credit_limit("SH-1", "1000000")
    return {"staff": world.user("dealer_staff", dealer="SH-1")}


def test_an_order_approved_at_placement_gets_one_unit_per_piece(world, ch):
    with freeze(T0):
        number = world.order("SH-1", [("CAR-1", 2), ("OIL-1", 10), ("CAR-2", 1)], username=ch["staff"])
    assert world.get(Order, number=number)["status"] == "approved"
    serials = world.serials(number)
    assert len(serials) == 3 and len(set(serials)) == 3
    assert all(is_valid_vin(s) and s.startswith("LDP") for s in serials)
    units = [world.get(Unit, serial=s) for s in serials]
    assert [u["sku"] for u in units] == ["CAR-1", "CAR-1", "CAR-2"]
    order_id = world.get(Order, number=number)["id"]
    assert {(u["order_id"], u["stage"], u["stage_at"], u["created_at"], u["line"]) for u in units} == {
        (order_id, "scheduled", T0, T0, None)
    }
    assert units[0]["order_line_id"] != units[2]["order_line_id"]


def test_an_order_in_credit_review_gets_its_units_when_an_approver_approves_it(world, ch):
    number = world.order("SH-1", [("CAR-2", 6)], username=ch["staff"])  # 1,356,000 gross > 1,000,000
    assert world.get(Order, number=number)["status"] == "credit_review"
    assert world.serials(number) == []
    world.approve(number, world.user("finance"))
    assert world.get(Order, number=number)["status"] == "approved"
    serials = world.serials(number)
    assert len(serials) == 6 and all(is_valid_vin(s) for s in serials)


def test_a_rejected_order_and_a_stock_order_get_no_units(world, ch):
    stock = world.order("SH-1", [("OIL-1", 50)], username=ch["staff"])
    assert world.get(Order, number=stock)["status"] == "approved" and world.serials(stock) == []
    big = world.order("SH-1", [("CAR-2", 6)], username=ch["staff"])
    assert world.count(Unit) == 0 and world.get(Order, number=big)["status"] == "credit_review"


def test_vins_stay_unique_across_orders_and_the_wmi_is_configurable(world, ch):
    first = world.order("SH-1", [("CAR-1", 3)], username=ch["staff"])
    world.app.config["PORTAL_VIN_WMI"] = "LFV"
    try:
        second = world.order("SH-1", [("CAR-1", 3)], username=ch["staff"])
    finally:
        world.app.config["PORTAL_VIN_WMI"] = "LDP"
    serials = world.serials(first) + world.serials(second)
    assert len(set(serials)) == 6 and all(is_valid_vin(s) for s in serials)
    assert all(s.startswith("LFV") for s in world.serials(second))


def test_a_large_order_is_inserted_in_few_statements(app, world, ch):
    """20 vehicles: the units are one INSERT, not one round trip each (the orders benchmark places many)."""
    from sqlalchemy import event

    from portal.extensions import db

    world.credit_limit("SH-1", "100000000")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        number = world.order("SH-1", [("CAR-1", 20)], username=ch["staff"])
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(world.serials(number)) == 20
    assert sum(1 for s in statements if s.lstrip().upper().startswith("INSERT INTO UNITS")) == 1
