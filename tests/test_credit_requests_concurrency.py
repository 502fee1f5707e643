"""A credit request approved while orders of the same dealer are submitted (PRODUCT.md §3, §14): the approval takes
the dealer's credit lock, so each order's credit check sees the increase whole or not at all, and the credit
invariant holds — the approved open orders never exceed the limit plus the increases in force. Runs on both databases
(PostgreSQL: SELECT … FOR UPDATE on the credit row; SQLite: the write lock at BEGIN)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

from sqlalchemy import func, select

from portal.credit.models import CreditIncrease, CreditRequest
from portal.extensions import db
from portal.orders.models import Order
from portal.platform.timeutil import today


def test_an_approval_racing_orders_keeps_the_credit_invariant(app, world):
    world.region("EAST", approval_limit="50000")
    world.dealer("SH-1", "EAST")
    world.product("UNIT", list_price="1000.00", tax_rate="0")  # gross 1,000 per order
    world.credit_limit("SH-1", "3000")
    staff = world.auth(world.user("dealer_staff", dealer="SH-1"))
    admin = world.auth(world.user("dealer_admin", dealer="SH-1"))
    rm = world.auth(world.user("region_manager", region="EAST"))
    body = {"amount": "2000.00", "valid_until": (today() + dt.timedelta(days=10)).isoformat(), "reason": "旺季"}
    request_id = app.test_client().post("/api/v1/credit-requests", json=body, headers=admin).get_json()["id"]

    n = 8
    barrier = threading.Barrier(n + 2)
    results: list = []
    lock = threading.Lock()

    def order():
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post("/api/v1/orders", json={"lines": [{"sku": "UNIT", "quantity": 1}]}, headers=staff)
        with lock:
            results.append(("order", resp.status_code, (resp.get_json() or {}).get("status")))

    def approve():
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post(f"/api/v1/credit-requests/{request_id}/approve", json={}, headers=rm)
        with lock:
            results.append(("approve", resp.status_code, (resp.get_json() or {}).get("status")))

    threads = [threading.Thread(target=order) for _ in range(n)] + [threading.Thread(target=approve)]
    threads.append(threading.Thread(target=approve))  # a second approval at the same moment: exactly one wins
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approvals = sorted(code for kind, code, _ in results if kind == "approve")
    assert approvals == [200, 409], results
    assert [code for kind, code, _ in results if kind == "order"] == [201] * n, results
    with app.app_context():
        total = select(func.coalesce(func.sum(Order.gross), 0)).where(Order.status == "approved")
        approved = Decimal(db.session.execute(total).scalar_one())
        increases = Decimal(db.session.execute(select(func.sum(CreditIncrease.amount))).scalar_one())
        assert increases == Decimal("2000.00")
        assert db.session.execute(select(func.count()).select_from(CreditIncrease)).scalar_one() == 1
        assert approved <= Decimal("3000.00") + increases  # never above the limit plus the increases in force
        assert approved >= Decimal("3000.00")  # the limit alone always fitted three
        assert db.session.execute(select(CreditRequest.status)).scalar_one() == "approved"
        db.session.remove()


def _race(app, request_id: int, moves: list[tuple[str, dict]]) -> dict:
    """Each (action, headers) posted to the request at the same moment; {action: status code}."""
    barrier = threading.Barrier(len(moves))
    results: dict = {}

    def act(action, headers):
        client = app.test_client()
        barrier.wait(timeout=20)
        results[action] = client.post(f"/api/v1/credit-requests/{request_id}/{action}", json={}, headers=headers)
        results[action] = results[action].status_code

    threads = [threading.Thread(target=act, args=move) for move in moves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_a_withdrawal_racing_an_approval_leaves_one_of_them(app, world):
    """The dealer withdraws while the region manager approves, at the same moment, several times over: each time
    exactly one answers 200 and the other 409, and an increase exists exactly when the request ends approved."""
    world.region("EAST", approval_limit="50000")
    world.dealer("SH-1", "EAST")
    admin = world.auth(world.user("dealer_admin", dealer="SH-1"))
    rm = world.auth(world.user("region_manager", region="EAST"))
    body = {"amount": "2000.00", "valid_until": (today() + dt.timedelta(days=10)).isoformat(), "reason": "旺季"}
    for _round in range(4):
        request_id = app.test_client().post("/api/v1/credit-requests", json=body, headers=admin).get_json()["id"]
        results = _race(app, request_id, [("approve", rm), ("withdraw", admin)])
        assert sorted(results.values()) == [200, 409], results
        with app.app_context():
            req = db.session.get(CreditRequest, request_id)
            status, increase_id = req.status, req.increase_id
            db.session.remove()
        winner = "approve" if results["approve"] == 200 else "withdraw"
        assert status == {"approve": "approved", "withdraw": "withdrawn"}[winner]
        assert (increase_id is not None) == (winner == "approve")
        assert world.count(CreditIncrease) == world.count(CreditRequest, status="approved")
