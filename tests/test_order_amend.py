"""Amendments (PRODUCT.md §12): before production starts (build-to-order) or anything ships (stock) an order's lines
may change — re-priced at the amendment date, the credit gate again on the new gross, HQ's allocations and
backorders and the build-to-order units following, the difference an order event; refused (409 not_amendable)
after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.orders.models import OrderLine
from portal.platform.errors import Conflict, Invalid
from portal.production.models import Unit
from tests.backorders_helpers import check_invariants, lines
from tests.ordering_helpers import amend, order_of, place, units_of


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "10000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    world.stock("OIL-1", 50, "SH")
    return world


def test_an_amendment_up_reprices_and_keeps_the_order_approved_when_it_fits(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 10}])
    assert order_of(world, number)["gross"] == Decimal("113.00")
    world.price_list("all", [{"sku": "OIL-1", "discount_pct": "10"}])  # today's price: 9.00
    status = amend(world, "sh1", number, [{"sku": "OIL-1", "quantity": 20}, {"sku": "FLT-1", "quantity": 1}])
    got = order_of(world, number)
    assert status == got["status"] == "approved"
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in got["lines"]] == [
        ("OIL-1", 20, Decimal("9.00")),
        ("FLT-1", 1, Decimal("20.00")),
    ]
    assert got["gross"] == Decimal("226.00")  # 180.00 + 23.40 tax, 20.00 + 2.60 tax
    assert got["events"][-1] == ("approved", "approved", "amended")
    entry = world.get(AuditEntry, action="order.amend", object_key=number)
    assert entry["before"]["lines"] == {"OIL-1": 10} and entry["after"]["lines"] == {"OIL-1": 20, "FLT-1": 1}
    assert entry["before"]["gross"] == "113.00" and entry["after"]["gross"] == "226.00"


def test_the_kept_line_keeps_its_allocation_and_a_decrease_gives_the_rest_back_to_the_queue(world, shop):
    first = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 40}])
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-2", "10000.00")
    second = place(world, None, "SH-2", [{"sku": "OIL-1", "quantity": 30}])  # 10 allocated, 20 backordered
    assert lines(world, second)["OIL-1"][1:3] == (10, 20)
    line_id = world.get(OrderLine, sku="OIL-1", quantity=40)["id"]
    amend(world, "sh1", first, [{"sku": "OIL-1", "quantity": 25}])
    assert lines(world, first)["OIL-1"][:3] == (25, 25, 0)
    assert world.get(OrderLine, id=line_id)["quantity"] == 25  # the same line: its allocations stayed with it
    assert lines(world, second)["OIL-1"][1:3] == (25, 5)  # the 15 given back went to the waiting order
    amend(world, "sh1", first, [{"sku": "OIL-1", "quantity": 35}])  # up again: waits for what it lacks
    assert lines(world, first)["OIL-1"][:3] == (35, 25, 10)
    check_invariants(world)


def test_a_removed_stock_line_gives_back_everything_it_held(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 30}, {"sku": "FLT-1", "quantity": 2}])
    amend(world, "sh1", number, [{"sku": "FLT-1", "quantity": 2}])
    assert set(lines(world, number)) == {"FLT-1"}
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-2", "10000.00")
    other = place(world, None, "SH-2", [{"sku": "OIL-1", "quantity": 50}])
    assert lines(world, other)["OIL-1"][1:3] == (50, 0)  # all 50 free again
    check_invariants(world)


def test_units_follow_the_build_to_order_lines(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 2}])
    assert len(units_of(world, number)) == 2
    amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 3}])
    assert len(units_of(world, number)) == 3
    amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 1}, {"sku": "OIL-1", "quantity": 1}])
    assert len(units_of(world, number)) == 1
    assert world.count(Unit) == 1


def test_an_amendment_beyond_available_credit_sends_the_order_to_credit_review(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 2}, {"sku": "OIL-1", "quantity": 5}])
    status = amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 9}, {"sku": "OIL-1", "quantity": 5}])
    got = order_of(world, number)
    assert status == got["status"] == "credit_review"  # 9 × 1130.00 = 10,170.00 > 10,000.00
    assert units_of(world, number) == []  # made again when it is approved
    assert lines(world, number)["OIL-1"][1:3] == (0, 0)  # holds and waits for nothing while in review
    world.user("finance", username="fin")
    world.approve(number, "fin")
    assert len(units_of(world, number)) == 9
    assert lines(world, number)["OIL-1"][1:3] == (5, 0)
    check_invariants(world)


def test_an_order_in_review_amended_down_to_fit_is_approved(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 9}])  # 10,170.00 > 10,000.00
    assert order_of(world, number)["status"] == "credit_review"
    assert amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 8}]) == "approved"  # 9,040.00
    assert len(units_of(world, number)) == 8


def test_an_approved_order_amended_down_stays_approved_even_when_the_dealer_is_now_over_its_limit(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 8}])  # 9,040.00 of 10,000.00
    world.invoice("SH-1", "5000.00")  # exposure now 14,040.00
    assert amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 7}]) == "approved"  # cannot raise exposure
    assert amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 8}]) == "credit_review"


def test_on_hold_an_increase_is_refused_and_nothing_is_written(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 5}])
    world.hold("SH-1")
    before = world.snapshot()
    with pytest.raises(Conflict) as caught:
        amend(world, "sh1", number, [{"sku": "OIL-1", "quantity": 6}])
    assert caught.value.code == "credit_hold"
    assert world.snapshot() == before
    assert amend(world, "sh1", number, [{"sku": "OIL-1", "quantity": 4}]) == "approved"


def test_refused_once_production_started(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1}])
    serial = world.serials(number)[0]
    world.mes_events([{"event_id": "e1", "serial": serial, "stage": "body", "occurred_at": dt.datetime.now(dt.UTC)}])
    assert order_of(world, number)["status"] == "in_production"
    with pytest.raises(Conflict) as caught:
        amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 2}])
    assert caught.value.code == "not_amendable"


def test_refused_once_anything_shipped(world, shop):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 10}])
    world.shipment(number, [("OIL-1", 4)])
    before = world.snapshot()
    with pytest.raises(Conflict) as caught:
        amend(world, "sh1", number, [{"sku": "OIL-1", "quantity": 12}])
    assert caught.value.code == "not_amendable"
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("lines_", "field"),
    [
        ([], "lines"),
        ([{"sku": "NOPE", "quantity": 1}], "lines.0.sku"),
        ([{"sku": "OIL-1", "quantity": 0}], "lines.0.quantity"),
    ],
)
def test_bad_amendments_are_refused_with_the_field_named_and_nothing_written(world, shop, lines_, field):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 5}])
    before = world.snapshot()
    with pytest.raises(Invalid) as caught:
        amend(world, "sh1", number, lines_)
    assert field in caught.value.fields
    assert world.snapshot() == before


def test_another_dealers_user_may_not_amend(world, shop):
    from portal.platform.errors import Forbidden

    world.dealer("SH-2", "EAST")
    world.user("dealer_admin", dealer="SH-2", username="sh2")
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 5}])
    with pytest.raises(Forbidden):
        amend(world, "sh2", number, [{"sku": "OIL-1", "quantity": 6}])


def test_a_line_kept_as_it_is_may_keep_an_option_or_a_product_withdrawn_since(world, shop):
    from portal.catalog.models import Product, ProductOption
    from portal.extensions import db
    from tests.ordering_helpers import option

    option(world, "CAR-1", "colour", "RED", "红", "Red", delta="100.00", default=True)
    red = {"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED"}}
    number = place(world, "sh1", "SH-1", [red, {"sku": "FLT-1", "quantity": 1}, {"sku": "OIL-1", "quantity": 1}])

    def withdraw():
        db.session.query(ProductOption).filter_by(code="RED").one().active = False
        db.session.query(Product).filter_by(sku="FLT-1").one().active = False

    world.run(withdraw)
    amend(world, "sh1", number, [{"sku": "CAR-1", "quantity": 1, "options": {"colour": "red"}},
                                 {"sku": "FLT-1", "quantity": 1}, {"sku": "OIL-1", "quantity": 4}])  # fmt: skip
    got = order_of(world, number)["lines"]
    assert [(ln["sku"], ln["quantity"], ln["options"]) for ln in got] == [
        ("CAR-1", 1, ["RED"]), ("FLT-1", 1, []), ("OIL-1", 4, [])
    ]  # fmt: skip
    assert got[0]["unit_price"] == Decimal("1100.00")  # the delta it was chosen with
    for more in ({"sku": "CAR-1", "quantity": 2, "options": {"colour": "RED"}}, {"sku": "FLT-1", "quantity": 2}):
        with pytest.raises(Invalid) as caught:  # more of what is withdrawn: refused
            amend(world, "sh1", number, [more, {"sku": "OIL-1", "quantity": 4}])
        assert "lines.0.quantity" in caught.value.fields
