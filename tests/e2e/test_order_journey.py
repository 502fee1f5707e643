"""In the browser: a dealer browses the catalogue, reads its prices, builds an order in the builder (product cards, the
basket kept as a server-side draft and priced by the server, updated in place by order.js), places it and sees it
approved; a second order beyond the credit lands in credit review; then the same pages in English. Screenshots in
both languages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("SH", parent="EAST", name="上海")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("V-1", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 X5 城市SUV")
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级经销商配件政策")
    world.price_list("dealer:SH-001", [{"sku": "V-1", "unit_price": "95000.00"}], name="上海华通专享价")
    world.credit_limit("SH-001", "500000")
    return {"dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN")}


def open_menu(page, nav: str, href: str):
    page.click(f"[data-nav={nav}]")
    page.click(f"a.dropdown-item[href='{href}']")
    page.wait_for_load_state()


def settled(page) -> None:
    """order.js has sent every change to the draft and shown the server's answer."""
    page.wait_for_timeout(50)
    expect(page.locator("body[data-order-busy]")).to_have_count(0)


def add(page, sku: str, qty: int):
    card = page.locator(f"form[data-product='{sku}']")
    card.locator("input[name=quantity]").fill(str(qty))
    card.locator("[data-add]").click()
    expect(page.locator("[data-toast]")).to_contain_text(sku)
    settled(page)


def test_a_dealer_orders_within_and_beyond_its_credit(page, live_server, channel, world, artifacts_dir):
    base = live_server
    log_in(page, base, channel["dealer"], PASSWORD)
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # the catalogue, with my prices
    open_menu(page, "catalogue", "/products")
    row = page.locator("tr:has-text('P-1')")
    expect(row).to_contain_text("90.00")
    expect(row).to_contain_text("A级经销商配件政策")
    expect(page.locator("tr:has-text('V-1')")).to_contain_text("95,000.00")
    page.screenshot(path=str(artifacts_dir / "catalogue_dealer_zh_CN.png"), full_page=True)

    # my prices, for a quantity
    open_menu(page, "catalogue", "/dealers/SH-001/prices")
    expect(page.locator("tr:has-text('V-1')")).to_contain_text("上海华通专享价")
    page.screenshot(path=str(artifacts_dir / "my_prices_zh_CN.png"), full_page=True)

    # the order builder: products added from their cards, the basket (the draft) priced by the server in place
    open_menu(page, "orders", "/orders/new")
    expect(page.locator("#basket [data-available]")).to_have_text("500,000.00")
    add(page, "P-1", 3)
    add(page, "V-1", 2)
    lines = page.locator("#basket li[data-line]")
    expect(lines).to_have_count(2)
    total = page.locator("#basket [data-total='gross']")
    expect(total).to_have_text("215,005.10")  # 270 + 190 000 net, 13 % tax
    qty = lines.nth(0).locator("input[name='quantity-0']")
    qty.fill("5")
    qty.blur()
    settled(page)
    expect(total).to_have_text("215,208.50")
    expect(page.locator("#basket [data-total='net']")).to_have_text("190,450.00")
    expect(page.locator("#basket [data-total='tax']")).to_have_text("24,758.50")
    expect(lines.nth(0).locator("[data-gross]")).to_have_text("508.50")
    expect(page.locator("#basket [data-after]")).to_have_text("284,791.50")
    expect(page.locator("[data-credit-msg]")).to_have_attribute("data-credit", "fits")
    page.fill("#draft-note", "请月底前交付")
    page.locator("#draft-note").blur()
    settled(page)
    page.screenshot(path=str(artifacts_dir / "order_builder_zh_CN.png"), full_page=True)
    page.click("[data-place]")
    page.wait_for_url(re.compile(rf"{base}/orders/SO-\d{{6}}-\d{{6}}$"))
    first = page.url.rsplit("/", 1)[-1]
    expect(page.locator("h1 .order-status-approved")).to_be_visible()
    expect(page.locator(".alert-success")).to_contain_text(first)
    assert world.get(Order, number=first)["status"] == "approved"
    assert str(world.get(Order, number=first)["gross"]) == "215208.50"
    assert world.get(Order, number=first)["note"] == "请月底前交付"
    page.screenshot(path=str(artifacts_dir / "order_approved_zh_CN.png"), full_page=True)

    # a second order beyond what is left: the builder says so, the server puts it in credit review
    open_menu(page, "orders", "/orders/new")
    expect(page.locator("#basket [data-available]")).to_have_text("284,791.50")
    add(page, "V-1", 3)
    expect(page.locator("#basket [data-total='gross']")).to_have_text("322,050.00")
    message = page.locator("[data-credit-msg]")
    expect(message).to_have_attribute("data-credit", "review")
    expect(message).to_contain_text("37,258.50")
    page.screenshot(path=str(artifacts_dir / "order_builder_review_zh_CN.png"), full_page=True)
    page.click("[data-place]")
    page.wait_for_url(re.compile(rf"{base}/orders/SO-\d{{6}}-\d{{6}}$"))
    second = page.url.rsplit("/", 1)[-1]
    assert second != first and world.get(Order, number=second)["status"] == "credit_review"
    expect(page.locator("h1 .order-status-credit_review")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "order_review_zh_CN.png"), full_page=True)
    assert page.console_errors == []

    # the same pages in English
    page.click("form[action*='/lang/en'] button")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("h1")).to_contain_text("Credit review")
    expect(page.locator(".timeline .timeline-item")).to_have_count(2)  # submitted, then credit review
    expect(page.locator(".timeline")).to_contain_text("37,258.50")  # the excess, recorded with the event
    page.screenshot(path=str(artifacts_dir / "order_review_en.png"), full_page=True)
    open_menu(page, "orders", "/orders")
    expect(page.locator("table")).to_contain_text(first)
    expect(page.locator("table")).to_contain_text(second)
    page.screenshot(path=str(artifacts_dir / "orders_list_en.png"), full_page=True)
    open_menu(page, "orders", "/orders/new")
    expect(page.locator("form[data-product='P-1'] [data-price]")).to_have_text("90.00")  # my price: 10 % off
    add(page, "P-1", 1)
    expect(page.locator("#basket [data-total='gross']")).to_have_text("101.70")
    page.screenshot(path=str(artifacts_dir / "order_builder_en.png"), full_page=True)
    page.locator("#basket button[data-remove]").click()
    settled(page)
    expect(page.locator("#basket li[data-line]")).to_have_count(0)
    expect(page.locator("#basket [data-total='gross']")).to_have_text("0.00")
    expect(page.locator("[data-place]")).to_be_hidden()  # nothing to place: the basket shows only its totals
    assert page.console_errors == []
    assert world.count(Order) == 2
