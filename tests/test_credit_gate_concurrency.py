"""Simultaneous submissions never both pass a credit check that only one fits (PRODUCT.md §3).

Runs on both databases: PostgreSQL locks the dealer's credit row (SELECT … FOR UPDATE); SQLite takes the write
lock at BEGIN IMMEDIATE."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from portal.extensions import db
from portal.orders.models import Order


def test_only_the_orders_that_fit_are_approved(app, world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("UNIT", list_price="1000.00", tax_rate="0")  # gross 1,000 per order
    world.credit_limit("SH-1", "3000")  # fits exactly 3
    headers = world.auth(world.user("dealer_staff", dealer="SH-1"))
    n = 10
    barrier = threading.Barrier(n)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def submit():
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post("/api/v1/orders", json={"lines": [{"sku": "UNIT", "quantity": 1}]}, headers=headers)
        with lock:
            results.append((resp.status_code, (resp.get_json() or {}).get("status")))

    threads = [threading.Thread(target=submit) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [code for code, _ in results] == [201] * n, results
    statuses = sorted(status for _, status in results)
    assert statuses.count("approved") == 3 and statuses.count("credit_review") == n - 3
    with app.app_context():
        approved = db.session.execute(
            select(func.sum(Order.gross)).where(Order.status == "approved")).scalar_one()
        assert Decimal(approved) == Decimal("3000.00")  # exposure never above the limit
        db.session.remove()
