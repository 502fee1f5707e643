"""Twenty sub-dealer orders racing against its credit limit with its distributor (PRODUCT.md §16): the same gate,
atomic and race-free — exactly the orders that fit are approved, the rest go to credit review, and the exposure
never exceeds the limit, whether the sub-dealer's users or its distributor's (on its behalf) place them. PostgreSQL:
the sub-dealer's credit row is locked for each check (SELECT … FOR UPDATE)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.credit import services as credit
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.orders.models import Order

pytestmark = pytest.mark.postgres

RACERS = 20
FITS = 7  # 7 × 1,000 within the 7,500 limit; the 8th would exceed it


def test_racing_sub_dealer_orders_never_exceed_its_credit_with_its_distributor(app, world, is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    world.region("EAST")
    world.dealer("DIST-1", "EAST")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.credit_limit("DIST-1", "1000.00")  # the distributor's own credit with HQ: untouched by its sales
    world.credit_limit("SUB-1A", "7500.00")
    world.product("UNIT", list_price="1000.00", tax_rate="0")  # gross 1,000 per order
    placers = [world.auth(world.user("dealer_staff", dealer="SUB-1A")),
               world.auth(world.user("dealer_staff", dealer="DIST-1"))]  # fmt: skip
    barrier = threading.Barrier(RACERS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def submit(i):
        client = app.test_client()
        body = {"lines": [{"sku": "UNIT", "quantity": 1}]}
        if i % 2:  # every other one placed by the distributor on the sub-dealer's behalf (代客下单)
            body["dealer_code"] = "SUB-1A"
        barrier.wait(timeout=30)
        resp = client.post("/api/v1/orders", json=body, headers=placers[i % 2])
        with lock:
            results.append((resp.status_code, resp.get_json() or {}))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [code for code, _ in results] == [201] * RACERS, results
    assert {(o["dealer_code"], o["seller_code"]) for _, o in results} == {("SUB-1A", "DIST-1")}
    statuses = sorted(o["status"] for _, o in results)
    assert statuses.count("approved") == FITS and statuses.count("credit_review") == RACERS - FITS
    with app.app_context():
        approved = db.session.execute(select(func.sum(Order.gross)).where(Order.status == "approved")).scalar_one()
        assert Decimal(approved) == Decimal("7000.00")
        sub = db.session.execute(select(Dealer).filter_by(code="SUB-1A")).unique().scalar_one()
        dist = db.session.execute(select(Dealer).filter_by(code="DIST-1")).unique().scalar_one()
        summary = credit.credit_summary(sub)
        assert summary["exposure"] == Decimal("7000.00") <= summary["credit_limit"]  # never above the limit
        assert summary["available"] == Decimal("500.00")
        assert credit.credit_summary(dist)["exposure"] == Decimal("0.00")  # its sales are not its purchases
        # each order saw the credit the orders before it left: the approved ones, in order, 7,500 down to 1,500
        seen = sorted(db.session.execute(
            select(Order.available_at_submit).where(Order.status == "approved")).scalars(), reverse=True)  # fmt: skip
        assert seen == [Decimal(7500 - 1000 * k) for k in range(FITS)]
        db.session.remove()
