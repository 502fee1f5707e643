"""Two sales of the dealer's last unit at the same moment: exactly one wins, the stock never goes negative.

Runs on both databases: PostgreSQL locks the dealer's row (SELECT … FOR NO KEY UPDATE) while the stock is checked and
the sale written; SQLite takes the write lock at BEGIN IMMEDIATE."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.inventory.models import DealerStockMove, SellThroughLine
from portal.platform.timeutil import freeze

NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
VIN = "LDP00000000000001"


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


def _race(app, calls: list[tuple[str, dict, dict]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    codes: list[int] = []
    lock = threading.Lock()

    def go(url, body, headers):
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post(url, json=body, headers=headers)
        with lock:
            codes.append(resp.status_code)

    threads = [threading.Thread(target=go, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(codes)


@pytest.fixture
def yard(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("OIL-1", list_price="30.00")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.dealer_receipt("SH-1", "OIL-1", 1, on=dt.date(2026, 3, 1))
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN)
    return {
        "a": world.auth(world.user("dealer_staff", dealer="SH-1")),
        "b": world.auth(world.user("dealer_admin", dealer="SH-1")),
    }


def _on_hand(app, sku):
    with app.app_context():
        held = db.session.execute(
            select(func.sum(DealerStockMove.quantity)).where(DealerStockMove.sku == sku)
        ).scalar_one()
        db.session.remove()
        return held


def test_two_sales_of_the_last_unit_one_wins(app, yard):
    sale = {"lines": [{"sold_on": "2026-06-01", "sku": "OIL-1", "quantity": 1, "unit_price": "35.00"}]}
    codes = _race(app, [("/api/v1/sell-through", sale, yard["a"]), ("/api/v1/sell-through", sale, yard["b"])])
    assert codes == [201, 422]
    assert _on_hand(app, "OIL-1") == 0


def test_two_sales_of_one_vin_and_a_write_off_one_wins(app, yard):
    sale = {"lines": [{"sold_on": "2026-06-01", "sku": "CAR-1", "serial": VIN, "quantity": 1, "unit_price": "1"}]}
    write_off = {"sku": "CAR-1", "serial": VIN, "delta": -1, "reason": "damaged"}
    codes = _race(app, [("/api/v1/sell-through", sale, yard["a"]), ("/api/v1/sell-through", sale, yard["b"]),
                        ("/api/v1/dealers/SH-1/stock/adjustments", write_off, yard["b"])])  # fmt: skip
    assert codes[0] == 201 and codes[1:] == [422, 422]
    assert _on_hand(app, "CAR-1") == 0
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SellThroughLine)).scalar_one() <= 1
        db.session.remove()
