"""The benchmark's baseline endpoint exists only when asked for, and inserts exactly one row."""

from __future__ import annotations

from portal.audit.models import AuditEntry


def test_absent_by_default(client, world):
    headers = world.auth(world.user("dealer_staff"))
    assert client.post("/api/v1/bench/baseline", json={"lines": []}, headers=headers).status_code == 404


def test_inserts_one_row_when_enabled(database_url, world):
    from tests.conftest import make_app

    app = make_app(database_url, PORTAL_BENCH_ENDPOINTS=True)
    headers = world.auth(world.user("dealer_staff"))
    resp = app.test_client().post("/api/v1/bench/baseline", json={"lines": [{"sku": "X", "quantity": 1}]},
                                  headers=headers)
    assert resp.status_code == 201
    assert world.count(AuditEntry, action="bench.baseline") == 1
