"""In the browser: HQ opens a built order, ships its two built vehicles and part of the stock line (the invoice preview
updates live, static/ship.js), then the rest in English; the dealer sees the incoming shipments on its home page,
confirms the receipt of each, and the order is delivered. Screenshots in both languages, and the delivery note PDF."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.credit.models import LedgerEntry
from portal.orders.models import Order
from portal.platform.timeutil import freeze
from portal.shipping.models import Shipment
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

PLACED = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=20)
SHIPMENT_URL = r"/shipments/DN-\d{6}-\d{6}$"


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("SH", parent="HQ", name="上海")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司", payment_terms_days=60)
    world.product("V-1", list_price="100000.00", category="suv", build_to_order=True, name="远航 X5 城市SUV")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.stock("P-1", 50)
    world.credit_limit("SH-001", "1000000")
    with freeze(PLACED):
        order = world.order("SH-001", [("V-1", 2), ("P-1", 10)])
    serials = world.serials(order)
    done = PLACED + dt.timedelta(days=9)
    world.mes_events(
        [{"event_id": f"done-{s}", "serial": s, "stage": "completed", "occurred_at": done + dt.timedelta(hours=i)}
         for i, s in enumerate(serials)]
    )  # fmt: skip
    return {
        "hq": world.user("channel_manager", username="hq.cm", locale="zh_CN"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "order": order,
        "serials": serials,
    }


def switch_language(page):
    page.click("form[action*='/lang/'] button")
    page.wait_for_load_state()


def log_out(page):
    page.click("form[action='/logout'] button")
    page.wait_for_load_state()


def test_hq_ships_and_the_dealer_receives(page, live_server, channel, world, artifacts_dir):
    base, number = live_server, channel["order"]
    log_in(page, base, channel["hq"], PASSWORD)
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # the order page offers shipping; the ship form lists the built vehicles and the stock line
    page.goto(f"{base}/orders/{number}")
    expect(page.locator("h1 .order-status-built")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "ship_order_page_zh_CN.png"), full_page=True)
    page.click("[data-ship-order]")
    page.wait_for_url(f"{base}/orders/{number}/ship")
    units = page.locator("input[data-unit]")
    expect(units).to_have_count(2)
    for vin in channel["serials"]:
        expect(page.locator(f"input[data-unit][value='{vin}']")).to_be_checked()
    qty = page.locator("input[data-qty]")
    expect(qty).to_have_value("10")
    gross = page.locator("tfoot [data-total='gross']")
    expect(gross).to_have_text("227,130.00")  # 2 × 113 000 + 10 × 113
    qty.fill("6")
    expect(gross).to_have_text("226,678.00")  # live: 226 000 + 600 + 78 tax
    expect(page.locator("[data-preview]")).to_be_hidden()  # the preview is live, no button needed
    page.screenshot(path=str(artifacts_dir / "ship_form_zh_CN.png"), full_page=True)
    page.click("[data-ship]")
    page.wait_for_url(re.compile(base + SHIPMENT_URL))
    first = page.url.rsplit("/", 1)[-1]
    expect(page.locator(".alert-success")).to_contain_text(first)
    expect(page.locator("[data-vin]")).to_have_count(2)
    expect(page.locator("tfoot [data-gross]")).to_have_text("226,678.00")
    expect(page.locator("button[data-receive]")).to_have_count(0)  # HQ does not receive
    page.screenshot(path=str(artifacts_dir / "shipment_hq_zh_CN.png"), full_page=True)
    assert world.get(Order, number=number)["status"] == "built"  # 4 filters still to ship

    # the rest, in English: the order page lists the first shipment, the form offers what is left
    switch_language(page)
    page.goto(f"{base}/orders/{number}")
    expect(page.locator("[data-order-shipments]")).to_contain_text(first)
    page.screenshot(path=str(artifacts_dir / "ship_order_page_en.png"), full_page=True)
    page.click("[data-ship-order]")
    expect(page.locator("input[data-unit]")).to_have_count(0)
    expect(page.locator("input[data-qty]")).to_have_value("4")
    expect(page.locator("tfoot [data-total='gross']")).to_have_text("452.00")
    page.screenshot(path=str(artifacts_dir / "ship_form_en.png"), full_page=True)
    page.click("[data-ship]")
    page.wait_for_url(re.compile(base + SHIPMENT_URL))
    second = page.url.rsplit("/", 1)[-1]
    assert second != first
    assert world.get(Order, number=number)["status"] == "shipped"
    assert world.count(Shipment) == 2 and world.count(LedgerEntry, type="invoice") == 2
    page.click("[data-nav=orders]")
    page.click("a.dropdown-item[data-nav-item=shipments]")
    page.wait_for_url(f"{base}/shipments")
    expect(page.locator("[data-shipments] tbody tr")).to_have_count(2)
    expect(page.locator("[data-shipments]")).to_contain_text("上海华通浦东汽车销售服务有限公司")
    page.screenshot(path=str(artifacts_dir / "shipments_list_hq_en.png"), full_page=True)
    pdf = page.request.get(f"{base}/shipments/{first}/delivery-note.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    (artifacts_dir / "delivery_note.pdf").write_bytes(pdf.body())
    assert page.console_errors == []
    switch_language(page)  # back to Chinese for HQ
    log_out(page)

    # the dealer: incoming shipments on the home page, receipt confirmed on the shipment page
    log_in(page, base, channel["dealer"], PASSWORD)
    incoming = page.locator("[data-incoming]")
    expect(incoming.locator("[data-shipment]")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "home_incoming_zh_CN.png"), full_page=True)
    incoming.locator(f"[data-shipment='{first}'] a.font-monospace").click()
    page.wait_for_url(f"{base}/shipments/{first}")
    page.screenshot(path=str(artifacts_dir / "shipment_dealer_zh_CN.png"), full_page=True)
    page.click("button[data-receive]")
    page.wait_for_url(f"{base}/shipments/{first}")
    expect(page.locator(".alert-success")).to_contain_text(first)
    expect(page.locator("h1 [data-status='received']")).to_be_visible()
    expect(page.locator("button[data-receive]")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "shipment_received_zh_CN.png"), full_page=True)
    assert world.get(Order, number=number)["status"] == "shipped"  # the second is still on its way

    switch_language(page)
    page.click("[data-nav=orders]")
    page.click("a.dropdown-item[data-nav-item=shipments]")
    page.wait_for_url(f"{base}/shipments")
    expect(page.locator("[data-shipments] tbody tr")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "shipments_list_dealer_en.png"), full_page=True)
    page.locator(f"[data-shipment='{second}'] a").first.click()
    page.wait_for_url(f"{base}/shipments/{second}")
    page.click("button[data-receive]")
    page.wait_for_url(f"{base}/shipments/{second}")
    expect(page.locator(".alert-success")).to_contain_text("is delivered in full")
    page.screenshot(path=str(artifacts_dir / "shipment_received_en.png"), full_page=True)
    page.click("[data-order-link]")
    expect(page.locator("h1 .order-status-delivered")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "order_delivered_en.png"), full_page=True)
    page.goto(f"{base}/home")
    expect(page.locator("[data-incoming]")).to_have_count(0)
    assert world.get(Order, number=number)["status"] == "delivered"
    assert {world.get(Shipment, number=n)["status"] for n in (first, second)} == {"received"}
    assert page.console_errors == []
