"""Batches for the same units at the same moment (PostgreSQL: the units are locked FOR UPDATE in id order, the orders
after them; the unique event_id with ON CONFLICT DO NOTHING answers a concurrent twin as a duplicate)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from portal.orders.models import Order
from portal.production.models import StageEvent, Unit

pytestmark = pytest.mark.postgres

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
STAGES = ["body", "paint", "assembly", "inspection", "completed"]


@pytest.fixture
def line(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    world.credit_limit("SH-1", "1000000")
    order = world.order("SH-1", [("CAR-1", 2)])
    return {
        "order": order,
        "serials": world.serials(order),
        "mes": {"Authorization": f"Bearer {world.integration_token('production')}"},
    }


def _parallel(app, bodies: list[dict], headers: dict) -> list:
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def send(i):
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post("/api/v1/production/events", json=bodies[i], headers=headers)
        results[i] = (resp.status_code, resp.get_json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def ev(event_id, serial, stage, hours):
    return {
        "event_id": event_id,
        "serial": serial,
        "stage": stage,
        "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat(),
    }


def test_parallel_batches_never_lose_the_furthest_stage(app, world, line):
    a, _b = line["serials"]
    for rnd in range(5):
        bodies = [{"events": [ev(f"r{rnd}-{i}", a, stage, 10 * rnd + i)]} for i, stage in enumerate(STAGES[:4])]
        results = _parallel(app, bodies, line["mes"])
        assert [code for code, _ in results] == [200] * 4, results
        assert world.get(Unit, serial=a)["stage"] == "inspection"
        assert world.get(Unit, serial=a)["stage_at"] == T0 + dt.timedelta(hours=10 * rnd + 3)
    assert world.count(StageEvent) == 20


def test_the_same_event_twice_at_once_is_stored_once(app, world, line):
    a, _b = line["serials"]
    results = _parallel(app, [{"events": [ev("twin", a, "body", 1)]}] * 6, line["mes"])
    assert [code for code, _ in results] == [200] * 6
    statuses = sorted(body["results"][0]["status"] for _, body in results)
    assert statuses == ["accepted"] + ["duplicate"] * 5
    assert world.count(StageEvent) == 1


def test_the_last_two_units_completed_at_once_make_the_order_built(app, world, line):
    a, b = line["serials"]
    results = _parallel(
        app, [{"events": [ev("ca", a, "completed", 5)]}, {"events": [ev("cb", b, "completed", 5)]}], line["mes"]
    )
    assert [code for code, _ in results] == [200, 200]
    assert world.get(Order, number=line["order"])["status"] == "built"
