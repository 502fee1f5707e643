"""In the browser, a dealer's main journey from one login (Chinese): its prices for a quantity from the Catalogue
menu, an order started from the price row ("Order" prefills the builder), placed and approved; from the order page
to the tracking page of its vehicles, which shows the line's progress; then the statement waiting on the home page,
confirmed as it stands. (The builder's live totals and credit review are in test_order_journey.py, live tracking in
test_tracking_journey.py, a disputed statement in test_statements_e2e.py.)"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order
from portal.statements.models import Statement
from tests.conftest import PASSWORD
from tests.e2e.conftest import confirm_statement, log_in


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("SH", parent="HQ", name="上海")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("V-1", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 X5 城市SUV")
    world.price_list("dealer:SH-001", [{"sku": "V-1", "unit_price": "95000.00"}], name="上海华通专享价")
    world.credit_limit("SH-001", "1000000")
    world.invoice("SH-001", "INV-202601-0001", "113000.00", issued_on=dt.date(2026, 1, 6))
    world.payment("SH-001", "13000.00", received_on=dt.date(2026, 1, 25), reference="工行转账 0125-8831")
    return {
        "statement": world.statement("SH-001", "2026-01"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "mes": {"Authorization": f"Bearer {world.integration_token('production')}"},
    }


def test_a_dealer_orders_tracks_and_confirms_its_statement(page, live_server, app, channel, world, artifacts_dir):
    base, statement = live_server, channel["statement"]
    log_in(page, base, channel["dealer"], PASSWORD)

    # my prices for two vehicles, from the menu; "Add to order" on the row puts that line into the order draft
    page.click("[data-nav=catalogue]")
    page.click("a.dropdown-item[href='/dealers/SH-001/prices']")
    page.wait_for_url(f"{base}/dealers/SH-001/prices")
    page.fill("#qty", "2")
    page.press("#qty", "Enter")
    page.wait_for_url(re.compile(r".*qty=2.*"))
    row = page.locator("tr:has-text('V-1')")
    expect(row).to_contain_text("95,000.00")
    expect(row).to_contain_text("上海华通专享价")
    page.screenshot(path=str(artifacts_dir / "journey_dealer_prices_zh_CN.png"), full_page=True)
    row.locator("form[data-draft-add] button[type=submit]").click()
    page.wait_for_url(re.compile(rf"{base}/dealers/SH-001/prices.*"))
    expect(page.locator(".alert").first).to_contain_text("V-1")  # stays on the page, says what was added
    page.goto(f"{base}/orders/new")
    expect(page.locator("#basket li[data-line]")).to_have_count(1)
    expect(page.locator("#basket [data-total='gross']")).to_have_text("214,700.00")  # 2 × 95 000 + 13 % tax
    page.screenshot(path=str(artifacts_dir / "journey_dealer_builder_zh_CN.png"), full_page=True)
    page.click("[data-place]")
    page.wait_for_url(re.compile(rf"{base}/orders/SO-\d{{6}}-\d{{6}}$"))
    number = page.url.rsplit("/", 1)[-1]
    expect(page.locator(".alert-success")).to_contain_text(number)
    expect(page.locator("h1 .order-status-approved")).to_be_visible()
    order = world.get(Order, number=number)
    assert order["status"] == "approved" and str(order["gross"]) == "214700.00"
    serials = world.serials(number)
    assert len(serials) == 2

    # from the order page to its vehicles on the line; the MES reports the first body shop stage
    page.click("[data-track-link]")
    page.wait_for_url(f"{base}/track/{number}")
    expect(page.locator("[data-unit]")).to_have_count(2)
    for serial in serials:
        expect(page.locator(f"[data-unit='{serial}'] .step.is-current")).to_have_attribute("data-step", "scheduled")
    now = dt.datetime.now(dt.UTC).isoformat()
    body = {"events": [{"event_id": "j1", "serial": serials[0], "stage": "body", "occurred_at": now, "line": "L1",
                        "station": "L1-BD-01"}]}  # fmt: skip
    resp = app.test_client().post("/api/v1/production/events", json=body, headers=channel["mes"])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    page.reload()
    expect(page.locator(f"[data-unit='{serials[0]}'] .step.is-current")).to_have_attribute("data-step", "body")
    expect(page.locator(f"[data-unit='{serials[1]}'] .step.is-current")).to_have_attribute("data-step", "scheduled")
    expect(page.locator("[data-order-status] .badge")).to_have_text("生产中")
    assert world.get(Order, number=number)["status"] == "in_production"
    page.screenshot(path=str(artifacts_dir / "journey_dealer_tracking_zh_CN.png"), full_page=True)

    # the statement waiting on the home page: read and confirmed as it stands
    page.click("a.navbar-brand")
    page.wait_for_url(f"{base}/home")
    card = page.locator(f"[data-statements] [data-statement='{statement}']")
    expect(card).to_contain_text("100,000.00")  # 113 000 − 13 000
    page.screenshot(path=str(artifacts_dir / "journey_dealer_home_zh_CN.png"), full_page=True)
    card.locator("a.font-monospace").click()
    page.wait_for_url(f"{base}/statements/{statement}")
    expect(page.locator("[data-closing]")).to_have_text("100,000.00")
    confirm_statement(page, base, statement, "已与我司账簿核对一致。", by="sh001.admin")
    expect(page.locator("button[data-confirm]")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "journey_dealer_statement_confirmed_zh_CN.png"), full_page=True)
    st = world.get(Statement, id=statement)
    assert st["status"] == "confirmed" and st["confirmed_by"] == "sh001.admin"
    pdf = page.request.get(f"{base}/statements/{statement}/pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    page.goto(f"{base}/home")
    expect(page.locator(f"[data-statements] [data-statement='{statement}']")).to_have_count(0)
    assert page.console_errors == []
