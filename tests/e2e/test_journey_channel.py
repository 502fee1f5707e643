"""In the browser, a channel manager's main journey (English): from the Catalogue menu it opens the tier-A price list,
changes a rule's discount and adds a volume rule, saves, and checks the result in the price preview (the same
resolution that prices orders); then it reads the channel flow from the Orders menu (KPIs and server-drawn charts)
and drills down from a region to its dealers and from a dealer to its products. (HQ's home-page link into the channel
flow is in test_home_and_channel_e2e.py.)"""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from portal.catalog.models import PriceRule
from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in


@pytest.fixture
def channel(world):
    world.region("CN", name="全国")
    world.region("EAST", parent="CN", name="华东大区")
    world.region("NORTH", parent="CN", name="华北大区")
    world.dealer("SH-001", "EAST", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("HZ-002", "EAST", tier="B", name="杭州西湖汽车贸易有限公司")
    world.dealer("BJ-003", "NORTH", tier="A", name="北京京北汽车销售有限公司")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("EV-S1", list_price="158000.00", category="vehicles", name="星辰 S1 纯电轿车")
    day = today()
    for code, parts, cars in (("SH-001", 40, 3), ("HZ-002", 20, 1), ("BJ-003", 30, 2)):
        world.dealer_receipt(code, "P-1", parts + 10, on=day)
        world.dealer_receipt(code, "EV-S1", cars + 1, on=day)
        world.sold(code, "P-1", day, parts, "95.00")
        world.sold(code, "EV-S1", day, cars, "150000.00")
    price_list = world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级经销商配件政策")
    return {"price_list": price_list, "cm": world.user("channel_manager", username="cm.en", locale="en")}


def open_menu(page, nav: str, text: str):
    page.click(f"[data-nav={nav}]")
    page.click(f"a.dropdown-item:has-text('{text}')")
    page.wait_for_load_state()


def preview(page, base, dealer: str, sku: str, qty: int) -> str:
    page.goto(f"{base}/price-lists/preview")
    page.fill("#dealer", dealer)
    page.fill("#sku", sku)
    page.fill("#qty", str(qty))
    page.click("form button[type=submit]:has-text('Show the price')")
    page.wait_for_load_state()
    return page.locator("[data-unit-price]").inner_text()


def test_a_channel_manager_edits_a_price_list_and_reads_the_channel_flow(page, live_server, channel, world,
                                                                          artifacts_dir):  # fmt: skip
    base, list_id = live_server, channel["price_list"]
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, base, channel["cm"], PASSWORD)
    assert preview(page, base, "SH-001", "P-1", 1) == "90.00"  # before: 10 % off

    # the price list, from the menu; one rule changed, one added
    open_menu(page, "catalogue", "Price lists")
    assert page.url.startswith(f"{base}/price-lists")
    page.click("a:has-text('A级经销商配件政策')")
    page.wait_for_url(f"{base}/price-lists/{list_id}/edit")
    expect(page.locator("#rules-0-category")).to_have_value("parts")
    expect(page.locator("#rules-0-discount_pct")).to_have_value("10")
    page.fill("#rules-0-discount_pct", "15")
    page.fill("#rules-1-category", "parts")
    page.fill("#rules-1-min_qty", "10")
    page.fill("#rules-1-discount_pct", "20")
    page.screenshot(path=str(artifacts_dir / "journey_channel_price_list_edit_en.png"), full_page=True)
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_url(f"{base}/price-lists")
    expect(page.locator(".alert-success")).to_contain_text("Price list A级经销商配件政策 saved.")
    page.screenshot(path=str(artifacts_dir / "journey_channel_price_lists_en.png"), full_page=True)
    rules = sorted((r["min_qty"], r["discount_pct"]) for r in _rules(world, list_id))
    assert rules == [(1, Decimal("15")), (10, Decimal("20"))]

    # what dealers now pay: the preview resolves the edited rules
    assert preview(page, base, "SH-001", "P-1", 1) == "85.00"
    assert preview(page, base, "SH-001", "P-1", 12) == "80.00"
    expect(page.locator("main")).to_contain_text("A级经销商配件政策")
    page.screenshot(path=str(artifacts_dir / "journey_channel_price_preview_en.png"), full_page=True)
    assert preview(page, base, "HZ-002", "P-1", 12) == "100.00"  # tier B: the list price

    # the channel flow: KPIs, charts, then a drill-down region -> dealers -> products
    open_menu(page, "orders", "Channel flow")
    assert page.url.startswith(f"{base}/analytics/channel-flow")
    expect(page.locator("[data-chart=trend] svg.chart")).to_be_visible()
    expect(page.locator("[data-chart=regions] svg.chart")).to_be_visible()
    expect(page.locator("a[data-drill=region]")).to_have_count(2)
    expect(page.locator("main")).to_contain_text("908,550.00")  # 90 × 95 + 6 × 150 000 sold through
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(artifacts_dir / "journey_channel_flow_en.png"), full_page=True)
    page.click("a[data-drill=region]:has-text('华东大区')")
    page.wait_for_url("**/analytics/channel-flow?**region=EAST**")
    dealers = page.locator("a[data-drill=dealer]")
    expect(dealers).to_have_count(2)
    expect(page.locator("table")).not_to_contain_text("BJ-003")
    expect(page.locator("tr:has(a[data-drill=dealer]:has-text('SH-001'))")).to_contain_text("453,800.00")
    page.screenshot(path=str(artifacts_dir / "journey_channel_flow_east_en.png"), full_page=True)
    page.click("a[data-drill=dealer]:has-text('SH-001')")
    page.wait_for_url("**/analytics/channel-flow?**dealer=SH-001**")
    expect(page.locator("table tbody tr:has-text('P-1')")).to_contain_text("3,800.00")
    expect(page.locator("table tbody tr:has-text('EV-S1')")).to_contain_text("450,000.00")
    expect(page.locator("table")).not_to_contain_text("HZ-002")
    page.screenshot(path=str(artifacts_dir / "journey_channel_flow_dealer_en.png"), full_page=True)

    # the same dealer by month as well: two boxes ticked, one view
    page.check("#gb-month")
    page.click("form button[type=submit]:has-text('Show')")
    page.wait_for_url("**/analytics/channel-flow?**group_by=product%2Cmonth**")
    expect(page.locator("table tbody tr")).to_have_count(2)
    expect(page.locator("table tfoot")).to_contain_text("453,800.00")
    export = page.request.get(page.url + "&format=csv")
    assert export.ok and "EV-S1" in export.text() and "HZ-002" not in export.text()
    assert page.console_errors == []


def _rules(world, list_id: int) -> list[dict]:
    from portal.extensions import db

    def read():
        rows = db.session.query(PriceRule).filter_by(price_list_id=list_id).all()
        return [{"min_qty": r.min_qty, "discount_pct": r.discount_pct} for r in rows]

    return world.run(read)
