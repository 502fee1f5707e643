"""In the browser: a dealer finds its order from the home page, opens the tracking page and watches it update by
itself (static/track.js polling the tracking API) while the MES posts stage events; the same in English, until the
order is built. Screenshots in both languages."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

LIVE = 15_000  # ms: the page polls every 5 s


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("SH", parent="HQ", name="上海")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.product("V-1", list_price="100000.00", category="suv", build_to_order=True, name="远航 X5 城市SUV")
    world.credit_limit("SH-001", "1000000")
    order = world.order("SH-001", [("V-1", 2)])
    return {
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "order": order,
        "serials": world.serials(order),
        "mes": {"Authorization": f"Bearer {world.integration_token('production')}"},
    }


def post_events(app, channel, events):
    now = dt.datetime.now(dt.UTC)
    body = {
        "events": [
            {
                "event_id": e,
                "serial": s,
                "stage": st,
                "occurred_at": (now - dt.timedelta(seconds=m)).isoformat(),
                "line": "L2",
                "station": "L2-XX-01",
            }
            for e, s, st, m in events
        ]
    }
    resp = app.test_client().post("/api/v1/production/events", json=body, headers=channel["mes"])
    assert resp.status_code == 200 and {r["status"] for r in resp.get_json()["results"]} == {"accepted"}


def test_the_tracking_page_follows_the_line_live(page, live_server, app, channel, world, artifacts_dir):
    base, number = live_server, channel["order"]
    a, b = channel["serials"]
    log_in(page, base, channel["dealer"], PASSWORD)

    # the home page lists the open order with its stage, and links to its tracking page
    row = page.locator(f"[data-open-orders] tr[data-order='{number}']")
    expect(row).to_contain_text("已排产 ×2")
    page.screenshot(path=str(artifacts_dir / "tracking_home_zh_CN.png"), full_page=True)
    page.click("[data-nav=tracking]")
    page.fill("#track-q", number)
    page.click("form.track-search button[type=submit]")
    page.wait_for_url(f"{base}/track/{number}")
    unit_a = page.locator(f"[data-unit='{a}']")
    expect(unit_a.locator(".step.is-current")).to_have_attribute("data-step", "scheduled")
    expect(page.locator("[data-order-status] .badge")).to_have_text("已审核")
    page.screenshot(path=str(artifacts_dir / "tracking_scheduled_zh_CN.png"), full_page=True)

    # the MES reports: the page follows without a reload
    page.evaluate("window.__no_reload = true")
    post_events(app, channel, [("e1", a, "body", 3), ("e2", a, "paint", 1), ("e3", b, "body", 2)])
    expect(unit_a.locator(".step.is-current")).to_have_attribute("data-step", "paint", timeout=LIVE)
    expect(unit_a.locator("[data-stage-label]")).to_have_text("涂装")
    expect(unit_a.locator("[data-line]")).to_have_text("L2")
    expect(unit_a.locator(".step[data-step='body']")).to_have_class("step is-done")
    expect(unit_a.locator(".step[data-step='body'] [data-at]")).not_to_have_text("")
    expect(page.locator(f"[data-unit='{b}'] .step.is-current")).to_have_attribute("data-step", "body")
    expect(page.locator("[data-order-status] .badge")).to_have_text("生产中")
    assert page.evaluate("window.__no_reload") is True  # the same document: updated in place
    assert world.get(Order, number=number)["status"] == "in_production"
    page.screenshot(path=str(artifacts_dir / "tracking_live_zh_CN.png"), full_page=True)

    # in English, until the order is built
    page.click("form[action*='/lang/en'] button")
    page.wait_for_url(f"{base}/track/{number}")
    assert page.locator("html").get_attribute("lang") == "en"
    expect(unit_a.locator("[data-stage-label]")).to_have_text("Paint")
    page.evaluate("window.__no_reload = true")
    post_events(app, channel, [("e4", a, "completed", 1), ("e5", b, "completed", 0)])
    expect(page.locator("[data-order-status] .badge")).to_have_text("Built", timeout=LIVE)
    expect(unit_a.locator("[data-eta]")).to_have_text("Completed")
    expect(unit_a.locator(".step.is-current")).to_have_attribute("data-step", "completed")
    expect(page.locator("[data-order-eta]")).to_have_text("—")
    assert page.evaluate("window.__no_reload") is True
    page.screenshot(path=str(artifacts_dir / "tracking_built_en.png"), full_page=True)

    # a VIN from the form, and another dealer's order is not found
    page.fill("#track-q", b.lower())
    page.click("form.track-search button[type=submit]")
    expect(page.locator("[data-unit]")).to_have_count(1)
    page.goto(f"{base}/track/SO-209901-999999")
    expect(page.locator("[data-not-found]")).to_be_visible()
    assert page.console_errors == [] or all("404" in e for e in page.console_errors)
