"""A return end to end in Chromium (PRODUCT.md §13), in both languages, on a desktop and a phone: the dealer
administrator asks to return 3 of 7 pieces of a received shipment, the channel manager approves, the dealer ships
them back, HQ receives them into its warehouse, and the dealer sees the credit note in its ledger."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in, too_wide
from tests.test_returns import shop  # noqa: F401 (the fixture: SH-1 received 2 cars and 7 × OIL-1)

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_return_from_request_to_credit(browser, live_server, shop, world, artifacts_dir, lang, size):  # noqa: F811
    width, height = WIDTHS[size]
    zh = lang == "zh_CN"
    admin = world.user("dealer_admin", dealer="SH-1", username=f"ret.adm.{size}.{lang}", locale=lang)
    cm = world.user("channel_manager", username=f"ret.cm.{size}.{lang}", locale=lang)
    base = live_server
    errors: list[str] = []

    def session(who):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        log_in(page, base, who, PASSWORD)
        return context, page

    def shot(page, name):
        assert fits(page), f"{name} scrolls sideways at {width} px: {too_wide(page)}"
        page.screenshot(path=str(artifacts_dir / f"returns-{name}-{size}-{lang}.png"), full_page=True)

    dealer_ctx, dealer = session(admin)
    dealer.goto(f"{base}/returns/new?shipment={shop['shipment']}")
    dealer.locator("input[name^='qty-']").first.fill("3")
    dealer.select_option("select[name='reason']", "quality")
    dealer.fill("textarea[name='note']", "油品浑浊" if zh else "The oil is cloudy")
    shot(dealer, "request")
    dealer.click("[data-form=return] button[type=submit]")
    dealer.wait_for_url(f"{base}/returns/RT-*")
    number = dealer.url.rsplit("/", 1)[-1]
    expect(dealer.locator("[data-status]").first).to_have_attribute("data-status", "requested")

    hq_ctx, hq = session(cm)
    hq.goto(f"{base}/returns/{number}")
    hq.click("[data-form=approve] button[type=submit]")
    expect(hq.locator("[data-status]").first).to_have_attribute("data-status", "approved")

    dealer.goto(f"{base}/returns/{number}")
    dealer.click("[data-form=ship_back] button[type=submit]")
    expect(dealer.locator("[data-status]").first).to_have_attribute("data-status", "shipped_back")

    hq.goto(f"{base}/returns/{number}")
    shot(hq, "receive")
    hq.click("[data-form=receive] button[type=submit]")
    expect(hq.locator("[data-status]").first).to_have_attribute("data-status", "received")
    shot(hq, "received")

    dealer.goto(f"{base}/dealers/SH-1/ledger")
    row = dealer.locator("tr", has_text=number)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("112.99")
    expect(row).to_contain_text("退货" if zh else "Return")
    shot(dealer, "ledger")
    dealer_ctx.close()
    hq_ctx.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
