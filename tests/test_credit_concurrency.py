"""Payments posted in parallel for one dealer (PostgreSQL): correct applications, nothing lost or doubled."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.credit.models import Application, LedgerEntry
from portal.extensions import db

pytestmark = pytest.mark.postgres


def test_parallel_payments_apply_once_each(app, world, is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    world.region("EAST")
    dealer = world.dealer("SH-1", "EAST")
    for i in range(10):
        world.invoice(dealer, f"FP-{i}", "100.00", issued_on=dt.date(2026, 1, 1) + dt.timedelta(days=i))
    headers = world.auth(world.user("finance"))
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def pay(n):
        client = app.test_client()
        barrier.wait(timeout=10)
        for k in range(3):
            resp = client.post(
                "/api/v1/payments",
                json={"dealer_code": dealer, "amount": "70.00", "received_on": "2026-02-01", "reference": f"T{n}-{k}"},
                headers=headers,
            )
            statuses.append(resp.status_code)

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [201] * 18
    with app.app_context():
        applied = db.session.execute(select(func.sum(Application.amount))).scalar_one()
        assert applied == Decimal("1000.00")  # 18 × 70 = 1260 paid; all 1000 invoiced is settled, once
        per_invoice = db.session.execute(
            select(LedgerEntry.number, func.sum(Application.amount))
            .join(Application, Application.invoice_id == LedgerEntry.id)
            .group_by(LedgerEntry.number)
        ).all()
        assert all(total == Decimal("100.00") for _n, total in per_invoice) and len(per_invoice) == 10
        per_payment = db.session.execute(
            select(Application.credit_id, func.sum(Application.amount)).group_by(Application.credit_id)
        ).all()
        assert all(Decimal(0) < total <= Decimal("70.00") for _c, total in per_payment)
        db.session.remove()
