"""Two requests racing to create the same dealer on PostgreSQL: exactly one wins, the other gets a clear
error, and nothing is half-written."""

from __future__ import annotations

import threading

import pytest

from portal.dealers.models import Dealer

pytestmark = pytest.mark.postgres


def test_racing_creates_of_one_code_store_one_dealer(app, world, is_postgres, monkeypatch):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    from portal.dealers import services

    world.region("EAST")
    headers = world.auth(world.user("channel_manager"))
    barrier = threading.Barrier(2)
    original = services.region_by_code

    def slow_region_by_code(*args, **kwargs):
        # both requests pass the uniqueness pre-check before either inserts
        region = original(*args, **kwargs)
        barrier.wait(timeout=5)
        return region

    monkeypatch.setattr(services, "region_by_code", slow_region_by_code)
    results: list[int] = []

    def create(name):
        resp = app.test_client().post(
            "/api/v1/dealers",
            json={"code": "SH-1", "name": name, "region_code": "EAST", "tier": "A", "channel_type": "chain"},
            headers=headers,
        )
        results.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=create, args=(n,)) for n in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(code for code, _ in results)
    assert statuses == [201, 409], results
    loser = next(body for code, body in results if code == 409)
    assert loser["error"]["code"] == "conflict"
    assert world.count(Dealer, code="SH-1") == 1
