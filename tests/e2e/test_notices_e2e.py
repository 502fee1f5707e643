"""In the browser: a dealer sends a payment notice with a voucher (回款通知); finance posts the payment with the same
bank reference and amount; the dealer sees the notice matched, and its open invoices with the prepayment — at 1366
and 390 px, in Chinese and English; no page scrolls sideways. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.credit.models import PaymentNotice
from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.dealer("SH-001", "EAST", name="上海华通浦东汽车销售服务有限公司")
    ago = lambda n: today() - dt.timedelta(days=n)  # noqa: E731
    world.invoice("SH-001", "FP-2026-0001", "128000.00", issued_on=ago(70), due_on=ago(40))
    world.invoice("SH-001", "FP-2026-0002", "5000.00", issued_on=ago(5), due_on=ago(-25))
    return {
        "zh_CN": world.user("dealer_staff", dealer="SH-001", username="sh.zh", locale="zh_CN"),
        "en": world.user("dealer_staff", dealer="SH-001", username="sh.en", locale="en"),
    }


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_dealer_sends_a_notice_and_sees_it_matched(browser, live_server, channel, world, artifacts_dir, lang, size):
    width, height = WIDTHS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    base = live_server
    zh = lang == "zh_CN"
    reference = f"TRX-{size}-{lang}"
    log_in(page, base, channel[lang], PASSWORD)

    page.goto(f"{base}/dealers/SH-001/credit")
    page.click("[data-collections-links] a[href='/payment-notices']")
    page.wait_for_url(f"{base}/payment-notices")
    expect(page.locator("h1")).to_have_text("回款通知" if zh else "Payment notices")
    page.fill("#pn-amount", "130,000.00")
    page.fill("#pn-reference", reference)
    page.fill("#pn-note", "FP-2026-0001 全额及 FP-2026-0002 部分" if zh else "FP-2026-0001 and part of FP-2026-0002")
    page.set_input_files("#pn-file", files=[{"name": "回单.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url(f"{base}/payment-notices")
    row = page.locator("[data-notices] tbody tr").first
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "notified")
    expect(row.locator("[data-status]")).to_have_text("已通知" if zh else "Notified")
    assert fits(page), f"the notices page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"notices-sent-{size}-{lang}.png"), full_page=True)

    world.payment("SH-001", "130000.00", received_on=today(), reference=reference)  # finance posts the transfer
    page.reload()
    row = page.locator("[data-notices] tbody tr").first
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "matched")
    expect(row.locator("[data-status]")).to_have_text("已匹配" if zh else "Matched")
    assert world.get(PaymentNotice, reference=reference)["status"] == "matched"
    assert fits(page), f"the notices page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"notices-matched-{size}-{lang}.png"), full_page=True)

    row.locator("a").first.click()
    expect(page.locator("[data-matched]")).to_contain_text(reference)
    with page.expect_download() as download:
        page.click("a[href$='/voucher']")
    assert download.value.suggested_filename == "回单.png"
    assert fits(page), f"the notice's page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"notices-detail-{size}-{lang}.png"), full_page=True)

    page.goto(f"{base}/dealers/SH-001/open-invoices")
    table = page.locator("[data-open-invoices] tbody tr")
    expect(table).to_have_count(1)  # FP-2026-0001 paid in full; 2,000.00 of FP-2026-0002 open
    expect(table.first).to_contain_text("FP-2026-0002")
    expect(page.locator("[data-open-total]")).to_contain_text("3,000.00")
    expect(page.locator("[data-prepayment]")).to_contain_text("0.00")
    assert fits(page), f"the open invoices page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"notices-open-invoices-{size}-{lang}.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_dealer_admin_requests_an_increase_and_the_region_manager_approves(browser, live_server, world,
                                                                            artifacts_dir, lang, size):  # fmt: skip
    from portal.credit.models import CreditIncrease

    width, height = WIDTHS[size]
    world.region("EAST", name="华东", approval_limit="50000")
    world.dealer("SH-002", "EAST", name="上海闵行汽车贸易有限公司")
    admin = world.user("dealer_admin", dealer="SH-002", username=f"adm.{size}.{lang}", locale=lang)
    rm = world.user("region_manager", region="EAST", username=f"rm.{size}.{lang}", locale=lang)
    zh = lang == "zh_CN"
    base = live_server
    for who in (admin, rm):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
        log_in(page, base, who, PASSWORD)
        if who == admin:
            page.goto(f"{base}/dealers/SH-002/credit")
            page.click("[data-collections-links] a[href='/credit-requests']")
            page.wait_for_url(f"{base}/credit-requests")
            page.fill("#req-amount", "30,000.00")
            page.fill("#req-valid_until", (today() + dt.timedelta(days=30)).isoformat())
            page.fill("#req-reason", "国庆车展备货" if zh else "Stock for the October motor show")
            page.click("[data-form=request] button[type=submit]")
            page.wait_for_url(f"{base}/credit-requests")
            expect(page.locator("[data-request]")).to_have_count(1)
            # a second request, taken back while still pending
            page.fill("#req-amount", "5000")
            page.fill("#req-valid_until", (today() + dt.timedelta(days=10)).isoformat())
            page.fill("#req-reason", "重复申请" if zh else "Sent twice")
            page.click("[data-form=request] button[type=submit]")
            page.wait_for_url(f"{base}/credit-requests")
            page.locator("[data-request]").first.get_by_role("button", name="撤回" if zh else "Withdraw").click()
            page.wait_for_url(f"{base}/credit-requests")
            expect(page.locator(".alert")).to_contain_text("申请已撤回" if zh else "Request withdrawn")
            withdrawn = page.locator("[data-request] .badge").filter(has_text="已撤回" if zh else "Withdrawn")
            expect(withdrawn).to_have_count(1)
            shot = "requests-sent"
        else:
            page.goto(f"{base}/credit-requests")
            page.fill("[data-request] input[name=dec-comment]", "同意" if zh else "Agreed")
            page.click("[data-request] button[value=approve]")
            page.wait_for_url(f"{base}/credit-requests")
            approved = page.locator("[data-request] .badge").filter(has_text="已审核" if zh else "Approved")
            expect(approved).to_have_count(1)
            shot = "requests-approved"
        assert fits(page), f"the requests page scrolls sideways at {width} px"
        page.screenshot(path=str(artifacts_dir / f"{shot}-{size}-{lang}.png"), full_page=True)
        context.close()
        assert not [e for e in errors if "Content Security Policy" in e], errors
    assert world.count(CreditIncrease) == 1
