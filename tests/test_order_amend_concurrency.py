"""Amendments under concurrency (PRODUCT.md §12, §3): amendments of one order up and down, racing new orders of the
same dealer, a receipt of the SKU and a shipment of another of its orders, never leave the dealer's approved exposure
above its limit, never deadlock (one lock order: the dealer's credit row, the order's row, HQ stock), and leave every
open stock line with quantity = allocated + backordered + shipped. PostgreSQL only: SQLite serialises writers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.catalog.models import Product
from portal.credit import services as credit
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory import hq
from portal.orders import services as orders
from portal.orders.models import OPEN_FOR_CREDIT, Order
from portal.shipping import services as shipping
from tests.backorders_helpers import check_invariants
from tests.concurrency import together

pytestmark = pytest.mark.postgres

LIMIT = Decimal("5000.00")


@pytest.fixture
def dealer(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", str(LIMIT))
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.user("channel_manager", username="cm")
    world.product("UNIT", list_price="1000.00", tax_rate="0")  # 1,000.00 a piece, no tax
    world.stock("UNIT", 3, "SH")
    first = world.order("SH-1", [("UNIT", 1)])  # approved: holds 1
    shipped = world.order("SH-1", [("UNIT", 1)])  # approved: holds 1, shipped in the race
    return {"first": first, "shipped": shipped}


def _user(name):
    return db.session.query(User).filter_by(username=name).one()


def _amend(number, quantity):
    def run():
        order = db.session.query(Order).filter_by(number=number).one()
        return orders.amend(_user("sh1"), order, [{"sku": "UNIT", "quantity": quantity}]).status

    return run


def _place():
    dealer = db.session.query(Dealer).filter_by(code="SH-1").one()
    return orders.place_order(_user("sh1"), dealer, [{"sku": "UNIT", "quantity": 1}])[0].status


def _receive():
    product = db.session.query(Product).filter_by(sku="UNIT").one()
    return hq.receive(_user("cm"), hq.warehouse_by_code("SH"), product, 2).id


def _ship(number):
    def run():
        order = db.session.query(Order).filter_by(number=number).one()
        return shipping.ship(_user("cm"), order, lines=[{"sku": "UNIT", "quantity": 1}])[0].number

    return run


@pytest.mark.parametrize("attempt", range(3))
def test_amendments_racing_new_orders_a_receipt_and_a_shipment(app, world, dealer, attempt):
    outcome = together(
        app,
        [_amend(dealer["first"], 3), _amend(dealer["first"], 2), _amend(dealer["first"], 4), _place, _place,
         _receive, _ship(dealer["shipped"])],
    )  # fmt: skip
    assert not [r for r in outcome if isinstance(r, Exception)], outcome

    def read():
        approved = db.session.execute(
            select(func.coalesce(func.sum(Order.gross), 0)).where(Order.status.in_(OPEN_FOR_CREDIT))
        ).scalar_one()
        summary = credit.credit_summary(db.session.query(Dealer).filter_by(code="SH-1").one())
        return Decimal(approved), summary["exposure"]

    approved, exposure = world.run(read)
    assert approved <= LIMIT  # open orders never above the limit (no temporary increase here)
    assert exposure <= LIMIT  # with the shipped one invoiced
    check_invariants(world)


def test_an_amendment_waits_for_a_concurrent_order_and_then_sees_it(app, world, dealer):
    # 2,000.00 used: an amendment to 4 (+3,000.00) and a new order of 1 cannot both fit in 5,000.00 ...
    outcome = together(app, [_amend(dealer["first"], 4), _place])
    assert not [r for r in outcome if isinstance(r, Exception)], outcome
    assert sorted(outcome) == ["approved", "credit_review"]  # ... so exactly one of them waits for review
