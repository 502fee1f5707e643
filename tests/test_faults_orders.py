"""Fault tests (issue 9): the database connection dropped in the middle of an order submission.

The request's own connection is cut while the order is written and its dealer's credit row is locked — on PostgreSQL
its backend is terminated from another connection (`pg_terminate_backend`), on SQLite the connection is closed under
the session — either just after the order, its lines and events were flushed (the approval hooks still to run) or at
the COMMIT itself. The client gets a 500 in the documented error shape, nothing of the order is stored (order, lines,
events, audit entry, stock allocation; the dealer's exposure is unchanged), the app keeps answering, and the same
request retried with its Idempotency-Key makes exactly one order.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.orders.models import Order, OrderEvent, OrderLine

KEY = "fault-order-1"


@pytest.fixture
def ch(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="99.99", category="parts")
    world.stock("OIL-1", 50)
    world.credit_limit("SH-1", "300000")
    return {
        "staff": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff")),
        "fin": world.auth(world.user("finance")),
    }


class ConnectionCutter:
    """Cuts the current request's database connection once, when armed (PostgreSQL: the backend is terminated by
    another connection and gone before the request goes on; SQLite: the DBAPI connection is closed)."""

    def __init__(self, app):
        self.app = app
        self.armed = False
        self.cut = 0
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.postgres = url.startswith("postgresql")
        self.side = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT") if self.postgres else None

    def __call__(self, session) -> None:
        if not self.armed or not any(isinstance(o, Order) for o in session.identity_map.values()):
            return
        self.armed = False
        self.cut += 1
        conn = session.connection()
        if not self.postgres:
            conn.connection.dbapi_connection.close()
            return
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with self.side.connect() as side:
            assert side.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(200):
                if side.execute(gone, {"pid": pid}).scalar():
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the backend did not go away")

    def close(self):
        if self.side is not None:
            self.side.dispose()


@pytest.fixture
def cutter(app):
    cut = ConnectionCutter(app)
    yield cut
    cut.close()


@pytest.fixture(params=["after_insert", "at_commit"])
def fault(request, cutter):
    """Where the connection is cut: after the order's flush (the approval's next statement meets a dead
    connection) or in `before_commit` (the COMMIT does)."""
    if request.param == "after_insert":
        from portal.orders.events import order_approved

        hook = lambda actor, order: cutter(db.session())  # noqa: E731
        order_approved.connect(hook, weak=False)
        yield cutter
        order_approved.disconnect(hook)
    else:
        event.listen(Session, "before_commit", cutter)
        yield cutter
        event.remove(Session, "before_commit", cutter)


def _order(client, headers):
    body = {"lines": [{"sku": "CAR-1", "quantity": 1}, {"sku": "OIL-1", "quantity": 3}]}
    return client.post("/api/v1/orders", json=body, headers=dict(headers, **{"Idempotency-Key": KEY}))


def _credit(client, ch):
    resp = client.get("/api/v1/dealers/SH-1/credit", headers=ch["fin"])
    assert resp.status_code == 200
    return {k: resp.get_json()[k] for k in ("open_orders", "available", "exposure") if k in resp.get_json()}


def _stored(world):
    return {
        "orders": world.count(Order),
        "lines": world.count(OrderLine),
        "events": world.count(OrderEvent),
        "audit": world.count(AuditEntry, action="order.submit"),
        "allocations": world.run(lambda: db.session.execute(text("SELECT count(*) FROM stock_allocations")).scalar()),
    }


def test_a_connection_cut_mid_order_stores_nothing_and_the_retry_makes_one_order(app, client, world, ch, fault):
    before_credit, before = _credit(client, ch), _stored(world)
    assert before == {"orders": 0, "lines": 0, "events": 0, "audit": 0, "allocations": 0}

    fault.armed = True
    resp = _order(client, ch["staff"])
    assert fault.cut == 1
    assert resp.status_code == 500, resp.get_data(as_text=True)
    assert resp.get_json()["error"] == {"code": "internal_error", "fields": {},
                                        "message": "An unexpected error occurred; it has been logged."}  # fmt: skip
    assert "Traceback" not in resp.get_data(as_text=True)

    assert _stored(world) == before  # no order, no line, no event, no audit entry, no allocation
    assert _credit(client, ch) == before_credit  # the exposure is unchanged (the app answers again at once)

    retry = _order(client, ch["staff"])
    assert retry.status_code == 201, retry.get_json()
    again = _order(client, ch["staff"])
    assert again.status_code == 201 and again.get_json()["number"] == retry.get_json()["number"]
    stored = _stored(world)
    assert stored["orders"] == 1 and stored["lines"] == 2 and stored["audit"] == 1
    assert stored["events"] == 2 and stored["allocations"] == 1  # submitted → approved; OIL-1 allocated once
    assert _credit(client, ch)["open_orders"] != before_credit["open_orders"]
