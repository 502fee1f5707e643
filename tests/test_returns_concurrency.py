"""Receiving a return is clicked several times at once (PRODUCT.md §13): the return's row is locked, so exactly one
receipt posts a credit note and puts the goods back into HQ stock; the others answer 409 with nothing written. Runs
on both databases (PostgreSQL: SELECT … FOR UPDATE; SQLite: the write lock at BEGIN)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import HqStockMove
from portal.returns.models import Return, SellInCorrection
from tests.test_returns import shop  # noqa: F401 (the fixture: a received shipment of SH-1)


def test_concurrent_receipts_credit_once(app, world, shop):  # noqa: F811
    client = app.test_client()
    admin, cm = world.auth("sh.admin"), world.auth("cm")
    body = {"shipment_number": shop["shipment"], "lines": [{"sku": "OIL-1", "quantity": 4}], "reason": "quality"}
    number = client.post("/api/v1/returns", json=body, headers=admin).get_json()["number"]
    assert client.post(f"/api/v1/returns/{number}/approve", json={}, headers=cm).status_code == 200
    assert client.post(f"/api/v1/returns/{number}/ship-back", json={}, headers=admin).status_code == 200

    n = 5
    barrier = threading.Barrier(n)
    codes: list[int] = []
    lock = threading.Lock()
    receipt = {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 3, "scrapped": 1}]}

    def click():
        c = app.test_client()
        barrier.wait(timeout=20)
        resp = c.post(f"/api/v1/returns/{number}/receive", json=receipt, headers=cm)
        with lock:
            codes.append(resp.status_code)

    threads = [threading.Thread(target=click) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * (n - 1), codes
    with app.app_context():
        notes = db.session.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.type == "credit_note")
        ).scalar_one()
        back = db.session.execute(select(func.sum(HqStockMove.on_hand_delta)).where(HqStockMove.kind == "return"))
        corrections = db.session.execute(select(func.sum(SellInCorrection.quantity))).scalar_one()
        status = db.session.execute(select(Return.status).where(Return.number == number)).scalar_one()
        assert (notes, back.scalar_one(), corrections, status) == (1, 3, -4, "received")
        db.session.remove()
