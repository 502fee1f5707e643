"""In the browser: finance opens the collections worklist (overdue dealers by amount × days), opens a dealer,
records a contact and a promise to pay (a past date refused first) — at 1366 and 390 px, in Chinese and English;
no page scrolls sideways. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.collections.models import CollectionContact, PromiseToPay
from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.dealer("SH-001", "SH", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "SH", name="上海闵行汽车贸易有限公司")
    ago = lambda n: today() - dt.timedelta(days=n)  # noqa: E731
    world.invoice("SH-001", "FP-001", "128000.00", issued_on=ago(70), due_on=ago(40))
    world.invoice("SH-002", "FP-002", "5000.00", issued_on=ago(20), due_on=ago(3))
    return {
        "zh_CN": world.user("finance", username="fin.zh", locale="zh_CN"),
        "en": world.user("finance", username="fin.en", locale="en"),
    }


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_finance_records_a_contact_and_a_promise(browser, live_server, channel, world, artifacts_dir, lang, size):
    width, height = WIDTHS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    base = live_server
    zh = lang == "zh_CN"
    log_in(page, base, channel[lang], PASSWORD)

    page.goto(f"{base}/collections")
    expect(page.locator("h1")).to_have_text("催收工作清单" if zh else "Collections worklist")
    rows = page.locator("[data-table=worklist] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-dealer", "SH-001")  # 128 000 × 40 before 5 000 × 3
    assert fits(page), f"the worklist scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"collections-worklist-{size}-{lang}.png"), full_page=True)

    page.click("[data-dealer=SH-001] a.code")
    page.wait_for_url(f"{base}/collections/SH-001")
    page.select_option("#contact-channel", "phone")
    page.fill("#contact-note", "电话催收，对方答应下周付款" if zh else "Called; they will pay next week")
    page.click("[data-form=contact] button[type=submit]")
    page.wait_for_url(f"{base}/collections/SH-001")
    expect(page.locator("[data-list=contacts] li")).to_have_count(1)

    page.fill("#promise-amount", "50,000.00")
    page.fill("#promise-promised_on", (today() - dt.timedelta(days=1)).isoformat())
    page.click("[data-form=promise] button[type=submit]")
    refused = "须为今天或以后的日期。" if zh else "Today or later."
    expect(page.locator("#promise-promised_on ~ .invalid-feedback")).to_have_text(refused)
    page.fill("#promise-amount", "50,000.00")
    page.fill("#promise-promised_on", (today() + dt.timedelta(days=7)).isoformat())
    page.click("[data-form=promise] button[type=submit]")
    page.wait_for_url(f"{base}/collections/SH-001")
    expect(page.locator("[data-table=promises] tbody tr")).to_have_count(1)
    expect(page.locator("[data-table=promises] tbody tr").first).to_contain_text("50,000.00")
    assert fits(page), f"the dealer's collections page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"collections-dealer-{size}-{lang}.png"), full_page=True)

    page.goto(f"{base}/collections")
    first = page.locator("[data-table=worklist] tbody tr").first
    expect(first).to_contain_text("50,000.00")
    assert world.count(PromiseToPay) == 1 and world.count(CollectionContact) == 1
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
