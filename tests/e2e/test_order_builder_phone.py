"""A dealer orders on a phone (390×844) and on a laptop (1366×800), in Chinese and in English (PRODUCT.md §12 "On a
phone"): search the builder's product cards, add a vehicle with its options and a part to the draft (the basket bar
and a message update in place), choose the delivery date and address, place the order, amend it (the page says when
the new total would go to credit review), and track the vehicles. At every step nothing scrolls sideways and no
amount or code is broken across lines. Screenshots of every step in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order
from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.ordering_helpers import order_of, units_of

VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 800)}
LOCALES = {"zh_CN": "zh-CN", "en": "en"}

# Every visible text node: each amount (1,234.50, 2026) and each code (SO-202612-000001, V-1 is too short, CAR-X5)
# must sit on one line — all the rectangles of its Range share their top (±2 px).
SPLIT_CHECK = r"""
() => {
  const patterns = [/(?<![\w.,-])-?\d{1,3}(,\d{3})*(\.\d+)?(?!\w)/g, /[A-Z]{2,}-[A-Z0-9-]+/g];
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest("script, style, template, select, option, textarea, [hidden], .visually-hidden")) continue;
    const text = node.textContent;
    for (const re of patterns) {
      re.lastIndex = 0;
      let m;
      while ((m = re.exec(text))) {
        if (m[0].length < 4) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0);
        if (rects.some((r) => Math.abs(r.top - rects[0].top) > 2)) {
          broken.push(m[0] + " in «" + text.trim().slice(0, 80) + "»");
        }
      }
    }
  }
  return broken;
}
"""


def settled(page) -> None:
    """order.js has sent every change (one request at a time) and shown the answers."""
    page.wait_for_timeout(50)
    expect(page.locator("body[data-order-busy]")).to_have_count(0)


def check_layout(page, where: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"{where}: the page scrolls sideways ({width[0]} > {width[1]})"
    broken = page.evaluate(SPLIT_CHECK)
    assert broken == [], f"{where}: broken across lines: {broken}"


@pytest.fixture
def dealer_shop(world):
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("SH", parent="EAST", name="上海")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("FLT-2", list_price="68.00", category="parts", name="空气滤清器")
    world.product("CAR-X5", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 X5 城市SUV")
    world.option("CAR-X5", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    world.option("CAR-X5", "colour", "BLK", "曜石黑", "Obsidian black", delta="3000.00", position=1)
    world.option("CAR-X5", "trim", "STD", "标准版", "Standard", default=True)
    world.option("CAR-X5", "trim", "LUX", "豪华版", "Luxury", delta="10000.00", position=1)
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级经销商配件政策")
    world.credit_limit("SH-001", "300000")
    world.address("SH-001", "展厅", "上海市浦东新区世纪大道1号", is_default=True)
    warehouse = world.address("SH-001", "嘉定仓库", "上海市嘉定区安亭镇墨玉南路888号", recipient="李娜")
    return {"warehouse": warehouse}


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_dealer_orders_amends_and_tracks_on_a_phone_and_a_laptop(
    browser, live_server, world, dealer_shop, artifacts_dir, device, lang
):
    base = live_server
    username = world.user("dealer_admin", dealer="SH-001", username=f"sh001.{lang}", locale=lang)
    width, height = VIEWPORTS[device]
    context = browser.new_context(viewport={"width": width, "height": height}, locale=LOCALES[lang])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    phone = device == "phone"
    tag = f"{device}_{lang}"

    def shot(step: str) -> None:
        page.screenshot(path=str(artifacts_dir / f"order_builder_{step}_{tag}.png"), full_page=True)

    try:
        log_in(page, base, username, PASSWORD)
        assert page.locator("html").get_attribute("lang") == LOCALES[lang]

        # search the product cards
        page.goto(f"{base}/orders/new")
        page.fill("#q", "X5")
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r".*/orders/new\?q=X5$"))
        cards = page.locator("form[data-add-form]")
        expect(cards).to_have_count(1)
        card = page.locator("form[data-product='CAR-X5']")
        expect(card.locator("[data-price]")).to_have_text("100,000.00")
        check_layout(page, "search")
        shot("1_search")

        # choose the options, add: the message and the basket (the bar on a phone) are on screen at once
        card.locator("select[name='options-colour']").select_option("BLK")
        card.locator("select[name='options-trim']").select_option("LUX")
        card.locator("input[name=quantity]").fill("1")
        card.locator("[data-add]").click()
        toast = page.locator("[data-toast]")
        expect(toast).to_be_visible()
        expect(toast).to_contain_text("CAR-X5")
        expect(toast).to_be_in_viewport()
        summary = page.locator("[data-basket-bar]") if phone else page.locator("#basket")
        expect(summary).to_be_in_viewport()
        gross = "127,690.00"  # 100 000 + 3 000 + 10 000, and 13 % tax
        expect(summary).to_contain_text(gross)
        check_layout(page, "added")
        page.screenshot(path=str(artifacts_dir / f"order_builder_2_added_{tag}.png"))  # what the screen shows

        # a part from another search, then the basket: quantity, delivery date, ship-to, note
        page.fill("#q", "P-1")
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r".*q=P-1$"))
        part = page.locator("form[data-product='P-1']")
        part.locator("input[name=quantity]").fill("3")
        part.locator("[data-add]").click()
        expect(page.locator("#basket [data-total='gross']")).to_have_text("127,995.10")  # + 3 × 90.00 + 13 %
        if phone:
            page.locator("[data-bar-sum]").click()
        wanted = (today() + dt.timedelta(days=21)).isoformat()
        page.fill("#draft-requested-on", wanted)
        page.locator("#draft-ship-to").select_option(str(dealer_shop["warehouse"]))
        page.fill("#draft-note", "请月底前交付")
        page.locator("#draft-note").blur()
        settled(page)
        expect(page.locator("[data-credit-msg]")).to_have_attribute("data-credit", "fits")
        check_layout(page, "basket")
        shot("3_basket")

        # leave and come back: the draft is on the server
        page.goto(f"{base}/home")
        page.goto(f"{base}/orders/new")
        expect(page.locator("#basket li[data-line]")).to_have_count(2)
        expect(page.locator("#draft-requested-on")).to_have_value(wanted)
        expect(page.locator("#draft-note")).to_have_value("请月底前交付")

        # place it (from the phone's bar, or the basket)
        page.locator("[data-place-bar]" if phone else "[data-place]").click()
        page.wait_for_url(re.compile(rf"{base}/orders/SO-\d{{6}}-\d{{6}}$"))
        number = page.url.rsplit("/", 1)[-1]
        expect(page.locator("h1 .order-status-approved")).to_be_visible()
        expect(page.locator("[data-requested-on]")).to_contain_text(wanted)
        expect(page.locator("[data-ship-to]")).to_contain_text("嘉定仓库")
        expect(page.locator("[data-line-options]")).to_have_count(1)
        got = order_of(world, number)
        assert got["status"] == "approved" and str(got["gross"]) == "127995.10"
        assert got["ship_to"] == dealer_shop["warehouse"] and got["requested_on"].isoformat() == wanted
        assert units_of(world, number) == [("CAR-X5", ["BLK", "LUX"])]
        check_layout(page, "order")
        shot("4_order")

        # amend: three vehicles would go to credit review (said before saving), two fit
        page.locator("[data-amend]").click()
        page.wait_for_url(f"{base}/orders/{number}/amend")
        qty = page.locator("li[data-line='CAR-X5'] input[name='quantity[]']")
        qty.fill("3")
        qty.blur()
        settled(page)
        outcome = page.locator("[data-fragment='amend-summary'] [data-outcome]")
        expect(outcome).to_have_attribute("data-outcome", "credit_review")
        expect(outcome).to_contain_text("83,375.10")  # 3 × 127 690 + 305.10 − 300 000
        check_layout(page, "amend review")
        shot("5_amend_review")
        qty = page.locator("li[data-line='CAR-X5'] input[name='quantity[]']")
        qty.fill("2")
        qty.blur()
        settled(page)
        expect(outcome).to_have_attribute("data-outcome", "approved")
        page.fill("#q", "FLT")
        page.press("#q", "Enter")
        page.locator("[data-product='FLT-2'] [data-add]").click()
        expect(page.locator("li[data-line='FLT-2']")).to_have_count(1)
        expect(page.locator("[data-gross-after]")).to_have_text(
            "255,754.26"
        )  # 2 × 127 690 + 305.10 + 69.16 (61.20 + 13 %)
        check_layout(page, "amend")
        shot("6_amend")
        page.locator("[data-save-amendment]").click()
        page.wait_for_url(f"{base}/orders/{number}")
        expect(page.locator(".alert-success")).to_contain_text(number)
        got = order_of(world, number)
        assert got["status"] == "approved" and str(got["gross"]) == "255754.26"
        assert [ln["quantity"] for ln in got["lines"]] == [2, 3, 1]
        check_layout(page, "amended order")
        shot("7_amended")

        # track the vehicles, each with its options
        page.locator("[data-track-link]").click()
        page.wait_for_url(re.compile(rf"{base}/track/{number}$"))
        expect(page.locator("[data-unit]")).to_have_count(2)
        expect(page.locator("[data-unit] [data-options]").first).to_contain_text(
            "曜石黑" if lang == "zh_CN" else "Obsidian black"
        )
        check_layout(page, "tracking")
        shot("8_track")
        assert world.count(Order) == 1
        assert errors == [], errors
    finally:
        context.close()
    violations = [e for e in errors if "Content Security Policy" in e]
    assert not violations, violations
