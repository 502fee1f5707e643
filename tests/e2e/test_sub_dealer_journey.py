"""In the browser, the two-level channel (PRODUCT.md §16), in Chinese and in English: a sub-dealer orders a car and 30
cans of oil from its distributor beyond the credit the distributor gives it, and the order waits for credit review by
the distributor, who sells it; the distributor's admin finds it in its work queue and approves it; its staff ship it
out of the distributor's own stock (the car by its VIN, the oil from what is on hand); the sub-dealer confirms the
receipt and records the sale of one can; HQ's channel manager reads channel flow by level, the sub-dealers' row with
the transfer in and the sale. The sub-dealer's steps run on a phone (390 px) in Chinese and on a laptop in English;
every page is also looked at in the other width, and none scrolls sideways. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO

import pytest
from flask_babel import force_locale, gettext
from pdfminer.high_level import extract_text
from playwright.sync_api import expect

from portal.inventory.models import SellThroughLine
from portal.orders.models import Order
from portal.platform.timeutil import today
from portal.shipping.models import Shipment
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.transfer_helpers import held_vins, hq_delivers, on_hand, seller_list, set_limit

LOCALES = {"zh_CN": "zh-CN", "en": "en"}
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
ORDER_URL = r"/orders/SO-\d{6}-\d{6}$"
SHIPMENT_URL = r"/shipments/DN-\d{6}-\d{6}$"
TRANSFERS_NOTE = (
    "Transfers in: what distributors shipped to their sub-dealers out of their own stock. The goods stay in the "
    "channel, so they are not sell-in: HQ’s sell-in is the dealers buying from HQ (level 1), the transfers feed the "
    "sub-dealers (level 2), and the rate of a sub-dealer counts its transfers in as its sell-in."
)


@pytest.fixture
def two_levels(world):
    """DIST-1 holds a car (by VIN) and 30 cans of oil that HQ shipped to it ten days ago; SUB-1A buys from DIST-1 on
    DIST-1's price list, with 100,000 CNY of credit."""
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区")
    world.dealer("DIST-1", "EAST", tier="A", name="杭州远航汽车销售有限公司", payment_terms_days=30)
    world.sub_dealer("DIST-1", "SUB-1A", name="桐庐远航汽车服务站", payment_terms_days=45)
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5 城市SUV")
    world.product("OIL-1", list_price="33.33", name="全合成机油 4L")
    world.stock("OIL-1", 100)
    set_limit(world, "DIST-1", "10000000")
    set_limit(world, "SUB-1A", "100000")
    arrived = today() - dt.timedelta(days=10)
    hq_delivers(world, "DIST-1", [("CAR-1", 1), ("OIL-1", 30)], shipped_on=arrived - dt.timedelta(days=2),
                received_on=arrived)  # fmt: skip
    seller_list(world, "DIST-1", {"CAR-1": "120000.00", "OIL-1": "40.00"})
    return {"vin": held_vins(world, "DIST-1", "CAR-1")[0], "arrived": arrived}


def _t(app, lang: str, msgid: str, **values) -> str:
    """What the portal says in `lang`."""
    with app.test_request_context(), force_locale(lang):
        return gettext(msgid, **values)


# What scrolls sideways: the page itself, or a box inside it (a table's .table-responsive).
SIDEWAYS = """
() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) out.push(`the page: ${doc.scrollWidth} px at ${window.innerWidth} px`);
  for (const el of document.querySelectorAll("main *")) {
    const s = getComputedStyle(el);
    if ((s.overflowX === "auto" || s.overflowX === "scroll") && el.scrollWidth > el.clientWidth + 1)
      out.push(`${el.tagName.toLowerCase()}.${el.className}: ${el.scrollWidth} px in ${el.clientWidth} px`);
  }
  return out;
}
"""


def _log_out(page):
    """Out, from the top bar of a laptop (a phone's is folded behind the menu button)."""
    page.set_viewport_size(LAPTOP)
    page.click("form[action='/logout'] button")
    page.wait_for_load_state()


def _dd(page, label: str):
    """The value beside a label in a definition list."""
    return page.locator("dt", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).locator(
        "xpath=following-sibling::dd[1]"
    )


@pytest.mark.parametrize("lang", list(LOCALES))
def test_a_sub_dealer_orders_from_its_distributor_who_approves_ships_and_hq_sees_the_levels(
    browser, live_server, app, world, two_levels, artifacts_dir, lang
):
    base, vin = live_server, two_levels["vin"]
    users = {
        "sub": world.user("dealer_staff", dealer="SUB-1A", username=f"sub1a.{lang}", locale=lang),
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username=f"dist1.admin.{lang}", locale=lang),
        "dist_staff": world.user("dealer_staff", dealer="DIST-1", username=f"dist1.staff.{lang}", locale=lang),
        "cm": world.user("channel_manager", username=f"hq.cm.{lang}", locale=lang),
    }
    phone_first = lang == "zh_CN"  # the sub-dealer works on its phone in Chinese, on a laptop in English
    context = browser.new_context(viewport=PHONE if phone_first else LAPTOP, locale=LOCALES[lang])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    t = lambda msgid, **values: _t(app, lang, msgid, **values)  # noqa: E731

    def shots(step: str, *, table_scrolls_on_a_phone: bool = False) -> None:
        """The page in the width it is used at and in the other one (then back): a screenshot of each, and at neither
        width does it scroll sideways, nor any table in it (HQ's wide report tables may on a phone)."""
        here = page.viewport_size
        for size in (here, LAPTOP if here == PHONE else PHONE):
            page.set_viewport_size(size)
            name = "390" if size == PHONE else "1366"
            sideways = page.evaluate(SIDEWAYS)
            if size == PHONE and table_scrolls_on_a_phone:
                sideways = [s for s in sideways if s.startswith("the page")]
            assert sideways == [], f"{step} at {name} px scrolls sideways: {sideways}"
            page.screenshot(path=str(artifacts_dir / f"sub_dealer_{step}_{name}_{lang}.png"), full_page=True)
        page.set_viewport_size(here)

    try:
        # 1. the sub-dealer orders from DIST-1 through the order builder, beyond the credit DIST-1 gives it
        log_in(page, base, users["sub"], PASSWORD)
        assert page.locator("html").get_attribute("lang") == LOCALES[lang]
        page.goto(f"{base}/orders/new")
        expect(page.locator("[data-sold-by='DIST-1']")).to_contain_text(
            t("Sold by %(seller)s", seller="DIST-1 杭州远航汽车销售有限公司")
        )
        for sku, qty in (("CAR-1", "1"), ("OIL-1", "30")):
            card = page.locator(f"form[data-product='{sku}']")
            expect(card.locator("[data-price]")).to_have_text("120,000.00" if sku == "CAR-1" else "40.00")
            card.locator("input[name=quantity]").fill(qty)
            card.locator("[data-add]").click()
            expect(page.locator(f"#basket li[data-line='{sku}']")).to_have_count(1)
        expect(page.locator("#basket [data-total='gross']")).to_have_text("136,956.00")  # (120 000 + 1 200) × 1.13
        review = page.locator("#basket [data-credit-msg]")
        expect(review).to_have_attribute("data-credit", "review")
        expect(review).to_contain_text("36,956.00")  # over the 100 000 of credit
        shots("1_builder")
        page.locator("[data-place-bar]" if phone_first else "[data-place]").click()
        page.wait_for_url(re.compile(base + ORDER_URL))
        number = page.url.rsplit("/", 1)[-1]
        expect(page.locator("h1 .order-status-credit_review")).to_be_visible()
        expect(_dd(page, t("Sold by"))).to_have_text("DIST-1 · 杭州远航汽车销售有限公司")
        expect(page.locator("[data-review-by='DIST-1']")).to_contain_text(
            t("This order exceeds the available credit and waits for credit review by %(seller)s.", seller="DIST-1")
        )
        expect(page.locator("[data-approve]")).to_have_count(0)  # the sub-dealer does not decide
        shots("1_order_in_review")
        got = world.get(Order, number=number)
        assert got["status"] == "credit_review" and str(got["gross"]) == "136956.00"
        _log_out(page)

        # 2. DIST-1's admin: the order in its work queue, on the approvals page; approved
        log_in(page, base, users["dist_admin"], PASSWORD)
        queue = page.locator("[data-queue='sales_to_decide']")
        expect(queue.locator("[data-total]")).to_have_text("1")
        expect(queue.locator(f"[data-order='{number}']")).to_contain_text("SUB-1A")
        expect(page.locator("[data-figure='sales-review']")).to_have_text("1")
        shots("2_distributor_home")
        queue.locator("[data-see-all]").click()
        page.wait_for_url(f"{base}/approvals")
        expect(page.locator("h1")).to_have_text(t("Sub-dealer orders to decide"))
        row = page.locator(f"tr[data-order='{number}']")
        expect(row.locator("[data-excess]")).to_have_text("36,956.00")
        expect(row).to_contain_text("桐庐远航汽车服务站")
        shots("2_approvals")
        row.locator(f"a:has-text('{number}')").click()
        page.wait_for_url(f"{base}/orders/{number}")
        expect(page.locator("[data-excess]")).to_contain_text("36,956.00")
        shots("2_order_to_decide")
        page.click("[data-approve]")
        page.wait_for_url(f"{base}/orders/{number}")
        expect(page.locator("h1 .order-status-approved")).to_be_visible()
        expect(page.locator(".alert-success")).to_contain_text(number)
        assert world.get(Order, number=number)["status"] == "approved"
        _log_out(page)

        # 3. DIST-1's staff ship it out of DIST-1's stock: the car by its VIN, the oil from the 30 on hand
        log_in(page, base, users["dist_staff"], PASSWORD)
        page.goto(f"{base}/orders/{number}")
        page.click("[data-ship-order]")
        page.wait_for_url(f"{base}/orders/{number}/ship")
        expect(page.locator("[data-transfer]")).to_contain_text("SUB-1A")
        expect(page.locator("tr[data-sku='OIL-1'] [data-on-hand]")).to_have_text("30")
        expect(page.locator("tr[data-sku='CAR-1'] [data-on-hand]")).to_have_text("1")
        expect(page.locator("input[data-unit]")).to_have_count(1)
        expect(page.locator(f"input[data-unit][value='{vin}']")).to_be_checked()
        expect(page.locator(f"label[for='unit-{vin}']")).to_contain_text(two_levels["arrived"].isoformat())
        expect(page.locator("input[data-qty]")).to_have_value("30")
        expect(page.locator("tfoot [data-total='gross']")).to_have_text("136,956.00")
        shots("3_ship_form")
        page.click("[data-ship]")
        page.wait_for_url(re.compile(base + SHIPMENT_URL))
        shipment = page.url.rsplit("/", 1)[-1]
        expect(page.locator(".alert-success")).to_contain_text(shipment)
        expect(_dd(page, t("Shipper"))).to_have_text("DIST-1 · 杭州远航汽车销售有限公司")
        expect(_dd(page, t("Dispatched by"))).to_have_text(users["dist_staff"])
        expect(page.locator("[data-vin]")).to_have_count(1)
        expect(page.locator("button[data-receive]")).to_have_count(0)  # the distributor does not receive it
        shots("3_shipment_sent")
        assert world.get(Shipment, number=shipment)["status"] == "in_transit"
        assert on_hand(world, "DIST-1").get("OIL-1", 0) == 0 and held_vins(world, "DIST-1") == []
        _log_out(page)

        # 4. the sub-dealer: the transfer on its home page, received; one can sold
        if phone_first:
            page.set_viewport_size(PHONE)
        log_in(page, base, users["sub"], PASSWORD)
        incoming = page.locator("[data-incoming]")
        expect(incoming.locator(f"[data-shipment='{shipment}']")).to_have_count(1)
        shots("4_sub_dealer_home")
        incoming.locator(f"[data-shipment='{shipment}'] a").first.click()
        page.wait_for_url(f"{base}/shipments/{shipment}")
        expect(_dd(page, t("Shipper"))).to_have_text("DIST-1 · 杭州远航汽车销售有限公司")
        expect(page.locator("[data-transfer-claims]")).to_contain_text("DIST-1")
        if lang == "en":  # the delivery note (bilingual, so once) names DIST-1 as the shipper, not HQ
            note = page.request.get(f"{base}{page.locator('[data-pdf]').get_attribute('href')}")
            assert note.ok and note.headers["content-type"] == "application/pdf"
            text = extract_text(BytesIO(note.body()))
            assert "杭州远航汽车销售有限公司" in text and vin in text and "DRP Motors" not in text, text
        shots("4_shipment_to_receive")
        page.click("button[data-receive]")
        page.wait_for_url(f"{base}/shipments/{shipment}")
        expect(page.locator("h1 [data-status='received']")).to_be_visible()
        expect(page.locator("button[data-receive]")).to_have_count(0)
        shots("4_shipment_received")
        assert on_hand(world, "SUB-1A") == {"CAR-1": 1, "OIL-1": 30}

        page.goto(f"{base}/sell-through/new")
        first = page.locator("tr[data-row='0']")
        expect(first.locator("input[name=sold_on]")).to_have_value(today().isoformat())
        first.locator("input[name=sku]").fill("OIL-1")
        first.locator("input[name=quantity]").fill("1")
        first.locator("input[name=unit_price]").fill("58.00")
        first.locator("input[name=city]").fill("桐庐")
        shots("4_sale_form")
        page.click("[data-sellthrough-form] button[type=submit]")
        page.wait_for_url(f"{base}/sell-through")
        expect(page.locator(".alert-success")).to_contain_text(t("Sales recorded: %(n)s line(s).", n=1))
        sold = page.locator("[data-sellthrough-table] tbody tr")
        expect(sold).to_have_count(1)
        expect(sold).to_contain_text("OIL-1")
        expect(sold).to_contain_text("58.00")
        shots("4_sell_through")
        assert world.count(SellThroughLine) == 1 and on_hand(world, "SUB-1A") == {"CAR-1": 1, "OIL-1": 29}
        _log_out(page)

        # 5. HQ: channel flow by level over the last 30 days, the sub-dealers' row with the transfer in and the sale
        log_in(page, base, users["cm"], PASSWORD)
        since = (today() - dt.timedelta(days=30)).isoformat()
        page.goto(f"{base}/analytics/channel-flow?group_by=level&from={since}&to={today().isoformat()}")
        rows = page.locator("#flow tbody tr")
        expect(rows).to_have_count(2)
        first_level, subs = rows.nth(0), rows.nth(1)
        expect(first_level.locator("[data-level='1']")).to_have_text(t("Dealers buying from HQ"))
        expect(subs.locator("[data-level='2']")).to_have_text(t("Sub-dealers"))
        cells = [c.strip() for c in subs.locator("td").all_inner_texts()]
        # level, sell-in qty and amount, transfers in qty and amount, sell-through qty and amount, ending stock, rate
        # (a sub-dealer's transfers in are its sell-in: 1 of 31)
        assert cells[1:9] == ["0", "0.00", "31", "136,956.00", "1", "58.00", "30", "3.2%"], cells
        expect(subs.locator("[data-transfer-in]")).to_have_attribute("data-transfer-in", "31")
        cells = [c.strip() for c in first_level.locator("td").all_inner_texts()]
        assert cells[1:8] == ["31", "114,129.89", "0", "0.00", "0", "0.00", "0"], cells  # HQ sold DIST-1 31 pieces
        head = [h.strip() for h in page.locator("#flow thead th").all_inner_texts()]
        assert head[3:5] == [t("Transfers in (qty)"), t("Transfers in (CNY)")], head
        expect(page).to_have_title(f"{t('Channel flow')} · {t('DRP Portal')}")  # the note below, not in the title
        expect(page.locator("main p.small", has_text=t(TRANSFERS_NOTE))).to_be_visible()
        shots("5_channel_flow_by_level", table_scrolls_on_a_phone=True)
        assert errors == [], errors
    finally:
        context.close()
    violations = [e for e in errors if "Content Security Policy" in e]
    assert not violations, violations
