"""Shipments of one order at the same moment (PostgreSQL: the order row is locked first): a piece never ships twice,
each shipment is invoiced once, and twins with the same Idempotency-Key make one shipment."""

from __future__ import annotations

import threading

import pytest

from portal.credit.models import LedgerEntry
from portal.shipping.models import Shipment

pytestmark = pytest.mark.postgres


@pytest.fixture
def stock_order(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("OIL-1", list_price="10.00")
    world.stock("OIL-1", 100)
    world.credit_limit("SH-1", "1000000")
    world.user("channel_manager", username="cm")
    return {"order": world.order("SH-1", [("OIL-1", 7)]), "hq": world.auth("cm")}


def _parallel(app, path: str, requests: list[tuple[dict, dict]]) -> list[int]:
    barrier = threading.Barrier(len(requests))
    codes: list = [None] * len(requests)

    def send(i):
        client = app.test_client()
        body, headers = requests[i]
        barrier.wait(timeout=20)
        codes[i] = client.post(path, json=body, headers=headers).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_two_shipments_that_only_one_fits(app, world, stock_order):
    body = {"lines": [{"sku": "OIL-1", "quantity": 5}]}  # 7 ordered: one of the two fits
    codes = _parallel(app, f"/api/v1/orders/{stock_order['order']}/shipments", [(body, stock_order["hq"])] * 2)
    assert sorted(codes) == [201, 422]  # the second one saw the first one's 5 and found only 2 left
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1


def test_twins_with_one_key_make_one_shipment(app, world, stock_order):
    body = {"lines": [{"sku": "OIL-1", "quantity": 2}]}
    headers = dict(stock_order["hq"], **{"Idempotency-Key": "twin"})
    codes = _parallel(app, f"/api/v1/orders/{stock_order['order']}/shipments", [(body, headers)] * 4)
    assert codes == [201] * 4
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1
