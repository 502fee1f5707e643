"""The pages: tracking (form, one order, one VIN), the HQ production view, the dealer's home with its open orders and
their stage, the order page's tracking section, the order JSON's units; in English and Chinese."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import login

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def ch(world):
    world.region("EAST")
    world.region("NORTH")
    world.dealer("SH-1", "EAST", name="上海甲经销商")
    world.dealer("BJ-1", "NORTH", name="北京乙经销商")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5")
    world.product("OIL-1", list_price="100.00")
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("BJ-1", "10000000")
    order = world.order("SH-1", [("CAR-1", 2)])
    stock = world.order("SH-1", [("OIL-1", 2)])
    other = world.order("BJ-1", [("CAR-1", 1)])
    a, b = world.serials(order)
    now = dt.datetime.now(dt.UTC)
    world.mes_events(
        [
            {"event_id": "e1", "serial": a, "stage": "body", "occurred_at": now - dt.timedelta(hours=3), "line": "L1"},
            {"event_id": "e2", "serial": a, "stage": "paint", "occurred_at": now - dt.timedelta(hours=1), "line": "L1"},
            {
                "event_id": "e3",
                "serial": world.serials(other)[0],
                "stage": "completed",
                "occurred_at": now,
                "line": "L2",
            },
        ]
    )
    world.user("dealer_admin", dealer="SH-1", username="sh.admin")
    world.user("dealer_staff", dealer="SH-1", username="sh.zh", locale="zh_CN")
    world.user("channel_manager", username="cm")
    world.user("region_manager", region="EAST", username="rm.east")
    return {"order": order, "stock": stock, "other": other, "a": a, "b": b}


def _client(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_the_tracking_page_shows_each_unit_with_its_stepper(app, ch):
    client = _client(app, "sh.admin")
    html = client.get(f"/track/{ch['order']}").get_data(as_text=True)
    assert ch["a"] in html and ch["b"] in html
    assert html.count('class="stepper"') == 2
    assert 'data-step="paint"' in html and "is-current" in html
    assert "track.js" in html and "<script>" not in html  # no inline script (CSP)
    assert f'data-track-url="/api/v1/track/{ch["order"]}"' in html
    assert "In production" in html
    by_vin = client.get(f"/track/{ch['b']}").get_data(as_text=True)
    assert ch["b"] in by_vin and ch["a"] not in by_vin
    # the form redirects to the page; an unknown query answers 404 with the form
    assert client.get(f"/track?q={ch['order']}").headers["Location"].endswith(f"/track/{ch['order']}")
    missing = client.get("/track/NOPE")
    assert missing.status_code == 404 and "data-not-found" in missing.get_data(as_text=True)
    script = client.get("/production/static/track.js")
    assert script.status_code == 200
    script.close()


def test_the_tracking_page_in_chinese(app, ch):
    html = _client(app, "sh.zh").get(f"/track/{ch['order']}").get_data(as_text=True)
    for label in ("已排产", "车身", "涂装", "总装", "检测", "下线", "已发运", "已交付"):
        assert label in html


def test_the_dealer_home_lists_open_orders_with_their_stage(app, ch):
    html = _client(app, "sh.admin").get("/home").get_data(as_text=True)
    assert "data-open-orders" in html
    assert ch["order"] in html and ch["stock"] in html and ch["other"] not in html
    assert "Paint" in html and "Scheduled" in html and "From stock" in html
    assert f'href="/track/{ch["order"]}"' in html


def test_the_order_page_links_to_tracking(app, ch):
    client = _client(app, "sh.admin")
    html = client.get(f"/orders/{ch['order']}").get_data(as_text=True)
    assert "data-order-production" in html and f'href="/track/{ch["order"]}"' in html
    assert "data-order-production" not in client.get(f"/orders/{ch['stock']}").get_data(as_text=True)


def test_the_order_json_lists_its_units(app, world, ch):
    client = app.test_client()
    body = client.get(f"/api/v1/orders/{ch['order']}", headers=world.auth("sh.admin")).get_json()
    assert [(u["serial"], u["stage"], u["line"]) for u in body["units"]] == [
        (ch["a"], "paint", "L1"),
        (ch["b"], "scheduled", None),
    ]


def test_the_production_view_for_hq_and_a_region_manager(app, world, ch):
    html = _client(app, "cm").get("/production").get_data(as_text=True)
    assert 'data-kpi="in-build">2<' in html  # a at paint, b scheduled (the BJ unit is completed)
    assert 'data-kpi="completed-30">1<' in html
    assert "L1" in html and "L2" in html
    east = _client(app, "rm.east").get("/production").get_data(as_text=True)
    assert 'data-kpi="completed-30">0<' in east and "L2" not in east
    filtered = _client(app, "cm").get("/production?line=L2").get_data(as_text=True)
    assert 'data-kpi="in-build">0<' in filtered and 'data-kpi="completed-30">1<' in filtered
    assert _client(app, "sh.admin").get("/production").status_code == 403
    summary = app.test_client().get("/api/v1/production/summary", headers=world.auth("cm")).get_json()
    assert {r["stage"]: r["count"] for r in summary["by_stage"]}["paint"] == 1
    assert sum(d["completed"] for d in summary["throughput"]) == 1 and len(summary["throughput"]) == 30
    assert {row["line"]: row["total"] for row in summary["by_line"]} == {"L1": 1, "L2": 1, None: 1}


def test_the_units_list_for_the_line_simulator(app, world, ch):
    mes = {"Authorization": f"Bearer {world.integration_token('production')}"}
    client = app.test_client()
    body = client.get("/api/v1/production/units?open=true&per_page=10", headers=mes).get_json()
    assert body["total"] == 2 and {u["serial"] for u in body["items"]} == {ch["a"], ch["b"]}
    assert {u["order"] for u in body["items"]} == {ch["order"]} and body["items"][0]["dealer_code"] == "SH-1"
    body = client.get("/api/v1/production/units?stage=completed", headers=mes).get_json()
    assert [u["order"] for u in body["items"]] == [ch["other"]]
    east = client.get("/api/v1/production/units", headers=world.auth("rm.east")).get_json()
    assert east["total"] == 2
