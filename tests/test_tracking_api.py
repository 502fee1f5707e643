"""Tracking by order number or VIN (PRODUCT.md §4, §9.1): every stage with its time, the current stage, the ETA;
in scope only (another dealer's order or VIN answers 404, exactly like a missing one)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import freeze
from tests.conftest import login

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
STAGES = ["scheduled", "body", "paint", "assembly", "inspection", "completed", "shipped", "delivered"]


@pytest.fixture
def ch(world):
    world.region("EAST")
    world.region("NORTH")
    world.dealer("SH-1", "EAST", name="上海甲经销商")
    world.dealer("BJ-1", "NORTH")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)  # lead time 30 days
    world.product("OIL-1", list_price="100.00")
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("BJ-1", "10000000")
    with freeze(T0):
        order = world.order("SH-1", [("CAR-1", 2), ("OIL-1", 3)])
        stock = world.order("SH-1", [("OIL-1", 3)])
        other = world.order("BJ-1", [("CAR-1", 1)])
    mes = world.integration_token("production")
    return {
        "order": order,
        "stock": stock,
        "other": other,
        "serials": world.serials(order),
        "other_serial": world.serials(other)[0],
        "mes": {"Authorization": f"Bearer {mes}"},
        "sh": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh.staff")),
        "bj": world.auth(world.user("dealer_admin", dealer="BJ-1", username="bj.admin")),
        "rm_east": world.auth(world.user("region_manager", region="EAST")),
        "rm_north": world.auth(world.user("region_manager", region="NORTH", username="rm.north")),
        "hq": world.auth(world.user("channel_manager")),
    }


def at(hours):
    return T0 + dt.timedelta(hours=hours)


def iso(moment):
    return moment.isoformat()


def test_an_order_shows_every_unit_with_every_stage(client, world, ch):
    a, b = ch["serials"]
    with freeze(at(1)):
        world.mes_events([{"event_id": "e1", "serial": a, "stage": "body", "occurred_at": at(1), "line": "L1"}])
    with freeze(at(2)):
        resp = client.get(f"/api/v1/track/{ch['order']}", headers=ch["sh"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["order"] == ch["order"] and body["order_status"] == "in_production" and body["serial"] is None
    assert body["dealer_code"] == "SH-1" and body["units_total"] == 2
    assert [s["stage"] for s in body["stages"]] == STAGES
    ua, ub = body["units"]
    assert (ua["serial"], ua["sku"], ua["stage"], ua["line"]) == (a, "CAR-1", "body", "L1")
    assert [(s["stage"], s["at"], s["done"], s["current"]) for s in ua["stages"]] == [
        ("scheduled", iso(T0), True, False),
        ("body", iso(at(1)), True, True),
        *[(s, None, False, False) for s in STAGES[2:]],
    ]
    assert ub["stage"] == "scheduled" and ub["stages"][0]["current"] and ub["stages"][0]["at"] == iso(T0)
    # scheduled → body took 1 hour (unit a); the other 4 transitions have no history: the product's 30-day lead
    # time spread over the 5 transitions, 6 days each
    assert ua["eta"] == iso(at(1) + dt.timedelta(days=24))
    assert ub["eta"] == iso(T0 + dt.timedelta(hours=1, days=24))
    assert body["eta"] == ua["eta"] and ua["late"] is False


def test_a_vin_shows_its_unit_and_its_order(client, world, ch):
    a, _b = ch["serials"]
    body = client.get(f"/api/v1/track/{a.lower()}", headers=ch["sh"]).get_json()
    assert body["order"] == ch["order"] and body["serial"] == a
    assert [u["serial"] for u in body["units"]] == [a]


def test_a_stock_order_has_no_units(client, world, ch):
    body = client.get(f"/api/v1/track/{ch['stock']}", headers=ch["sh"]).get_json()
    assert body["units"] == [] and body["order_status"] == "approved" and body["eta"] is None


def test_a_completed_unit_has_no_eta(client, world, ch):
    a, _b = ch["serials"]
    world.mes_events([{"event_id": "e1", "serial": a, "stage": "completed", "occurred_at": at(3)}])
    unit = client.get(f"/api/v1/track/{a}", headers=ch["sh"]).get_json()["units"][0]
    assert unit["stage"] == "completed" and unit["eta"] is None and unit["late"] is False
    assert [s["done"] for s in unit["stages"]] == [True] * 6 + [False, False]
    assert [s["at"] is not None for s in unit["stages"]] == [True, False, False, False, False, True, False, False]


def test_another_dealers_order_or_vin_is_not_found(client, world, ch):
    missing = client.get("/api/v1/track/SO-209901-999999", headers=ch["sh"])
    assert missing.status_code == 404
    for query in (ch["other"], ch["other_serial"]):
        for who in ("sh", "rm_east"):
            resp = client.get(f"/api/v1/track/{query}", headers=ch[who])
            assert resp.status_code == 404, (who, query)
            assert resp.get_json() == missing.get_json()
    for who in ("bj", "rm_north", "hq"):
        assert client.get(f"/api/v1/track/{ch['other_serial']}", headers=ch[who]).status_code == 200, who
    assert client.get(f"/api/v1/track/{ch['order']}", headers=ch["rm_east"]).status_code == 200


def test_the_tracking_page_answers_404_out_of_scope(app, world, ch):
    client = app.test_client()
    login(client, "bj.admin")
    for query in (ch["order"], ch["serials"][0], "SO-209901-999999", "LDP00000000000000"):
        resp = client.get(f"/track/{query}")
        text = resp.get_data(as_text=True)
        assert resp.status_code == 404, query
        assert "上海甲经销商" not in text and "SH-1" not in text and ch["serials"][1] not in text
    assert client.get(f"/track/{ch['other']}").status_code == 200


def test_a_production_token_tracks_nothing_and_dealers_read_no_production_view(client, world, ch):
    assert client.get(f"/api/v1/track/{ch['order']}", headers=ch["mes"]).status_code == 403
    assert client.get("/api/v1/production/summary", headers=ch["sh"]).status_code == 403
    assert client.get("/api/v1/production/units", headers=ch["sh"]).status_code == 403
