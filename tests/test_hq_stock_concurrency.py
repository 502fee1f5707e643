"""HQ stock under concurrent actions (PostgreSQL: the HqStock rows are locked FOR UPDATE in a fixed order): two
approvals competing for the last units never allocate more than HQ holds, and two shipments never consume the same
units."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.inventory.models import HqStock, HqStockMove, StockAllocation
from portal.shipping.models import Shipment

pytestmark = pytest.mark.postgres


@pytest.fixture
def channel(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    for code in ("SH-1", "SH-2", "SH-3", "SH-4"):
        world.dealer(code, "EAST")
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00")
    world.user("channel_manager", username="cm")
    return {"cm": world.auth("cm")}


def _parallel(app, calls: list[tuple[str, dict, dict]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    codes: list = [None] * len(calls)

    def send(i):
        client = app.test_client()
        path, body, headers = calls[i]
        barrier.wait(timeout=20)
        codes[i] = client.post(path, json=body, headers=headers).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def _totals(world):
    def read():
        row = db.session.execute(select(func.sum(HqStock.on_hand), func.sum(HqStock.allocated))).one()
        allocs = db.session.execute(select(func.coalesce(func.sum(StockAllocation.quantity), 0))).scalar_one()
        moves = db.session.execute(
            select(func.sum(HqStockMove.on_hand_delta), func.sum(HqStockMove.allocated_delta))
        ).one()
        return int(row[0]), int(row[1]), int(allocs), (int(moves[0]), int(moves[1]))

    return world.run(read)


def test_two_approvals_competing_for_the_last_units_never_over_allocate(app, world, channel):
    world.stock("OIL-1", 6, "SH")
    world.stock("OIL-1", 2, "TJ")
    dealers = ["SH-1", "SH-2", "SH-3", "SH-4"]
    tokens = {d: world.auth(world.user("dealer_staff", dealer=d, username=f"{d.lower()}.staff")) for d in dealers}
    body = {"lines": [{"sku": "OIL-1", "quantity": 5}]}  # four orders of 5 for 8 pieces, placed (approved) at once
    codes = _parallel(app, [("/api/v1/orders", body, tokens[d]) for d in dealers])
    assert codes == [201] * 4
    on_hand, allocated, allocs, moves = _totals(world)
    assert (on_hand, allocated, allocs) == (8, 8, 8)  # all of it allocated, never more
    assert moves == (8, 8)


def test_two_approvers_approving_at_once_never_over_allocate(app, world, channel):
    world.user("finance", username="fin")
    for code in ("SH-1", "SH-2"):
        world.credit_limit(code, "10.00")  # 56.50 gross: both wait in credit review
    orders = [world.order(code, [("OIL-1", 5)]) for code in ("SH-1", "SH-2")]
    world.stock("OIL-1", 7, "SH")
    headers = [world.auth("cm"), world.auth("fin")]
    codes = _parallel(app, [(f"/api/v1/orders/{o}/approve", {}, h) for o, h in zip(orders, headers, strict=True)])
    assert codes == [200, 200]
    on_hand, allocated, allocs, moves = _totals(world)
    assert (on_hand, allocated, allocs) == (7, 7, 7) and moves == (7, 7)


def test_two_shipments_never_consume_the_same_units(app, world, channel):
    orders = [world.order(code, [("OIL-1", 5)]) for code in ("SH-1", "SH-2")]  # approved with nothing to allocate
    world.stock("OIL-1", 7, "SH")  # arrives afterwards: 5 allocated to the first backorder, 2 to the second (§12)
    body = {"lines": [{"sku": "OIL-1", "quantity": 5}]}
    codes = _parallel(app, [(f"/api/v1/orders/{o}/shipments", body, channel["cm"]) for o in orders])
    assert codes == [201, 422]  # the second holds only 2 of its 5
    assert world.count(Shipment) == 1
    on_hand, allocated, allocs, moves = _totals(world)
    assert (on_hand, allocated, allocs) == (2, 2, 2) and moves == (2, 2)
