"""In the browser: finance imports a bank statement as the bank exported it (GB18030 CSV with title lines), sees every
line's outcome on the job's page, and assigns the unmatched receipt to a dealer — at 1366 and 390 px, in Chinese and
English; no page scrolls sideways. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.banking.models import PayerAccount, UnmatchedReceipt
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in
from tests.test_bank_statements import icbc_gb18030
from tests.test_overdue_scan import _drain

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.dealer("SH-001", "EAST", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "EAST", name="上海申达汽车销售有限公司")
    ago = lambda n: today() - dt.timedelta(days=n)  # noqa: E731
    world.invoice("SH-002", "FP-2026-0101", "50000.00", issued_on=ago(60), due_on=ago(30))

    def account():
        dealer = db.session.query(Dealer).filter_by(code="SH-001").one()
        db.session.add(PayerAccount(dealer_id=dealer.id, account_number="6222021001001234",
                                    account_name="上海华通浦东汽车销售服务有限公司", created_by="fin"))  # fmt: skip

    world.run(account)
    return {
        "zh_CN": world.user("finance", username="fin.zh", locale="zh_CN"),
        "en": world.user("finance", username="fin.en", locale="en"),
    }


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("size", list(WIDTHS))
def test_finance_imports_a_statement_and_assigns_the_unmatched_receipt(
    browser, live_server, channel, world, artifacts_dir, lang, size
):
    width, height = WIDTHS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    base = live_server
    zh = lang == "zh_CN"
    day = (today() - dt.timedelta(days=1)).isoformat()
    lines = [
        (day, "12,800.00", "", "6222 0210 0100 1234", "上海华通浦东汽车销售服务有限公司", "货款", "ICBC20261206000001"),
        (day, "30,000.00", "", "6217 0000 9999 8888", "王某某（个人）", "申达车款 FP-2026-0101", "ICBC20261206000002"),
        (day, "", "1,200.00", "1111 2222 3333 4444", "某某物流有限公司", "运费", "ICBC20261206000003"),
    ]
    data, _name = icbc_gb18030(lines)
    log_in(page, base, channel[lang], PASSWORD)

    page.goto(f"{base}/bank-statements/import")
    expect(page.locator("h1")).to_have_text("导入银行流水" if zh else "Import a bank statement")
    assert fits(page), f"the import page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"bank-statement-import-{size}-{lang}.png"), full_page=True)
    page.set_input_files("#file", files=[{"name": "工行流水.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url(f"{base}/jobs/**")
    _drain(world.app)
    # the job's page reloads itself when the job ends (static/jobs.js): no reload of the test's own to race with it
    expect(page.locator("[data-statement-applied]")).to_be_visible(timeout=20_000)
    expect(page.locator("[data-lines=matched]")).to_contain_text("SH-001")
    expect(page.locator("[data-lines=unmatched]")).to_contain_text("ICBC20261206000002")
    expect(page.locator("[data-lines=skipped]")).to_contain_text("借方" if zh else "A debit")
    assert fits(page), f"the job's page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"bank-statement-result-{size}-{lang}.png"), full_page=True)

    page.click("[data-statement-applied] a")
    page.wait_for_url(f"{base}/unmatched-receipts")
    card = page.locator("[data-receipt=ICBC20261206000002]")
    expect(card).to_contain_text("王某某（个人）")
    assert fits(page), f"the unmatched receipts page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"bank-statement-receipts-{size}-{lang}.png"), full_page=True)
    card.locator("input[name=dealer_code]").fill("SH-002")
    card.locator("input[name=register_account]").check()
    card.locator("[data-assign] button").click()
    page.wait_for_url(f"{base}/unmatched-receipts")
    expect(page.locator(".alert-success")).to_contain_text("SH-002")
    expect(page.locator("[data-no-receipts]")).to_be_visible()
    receipt = world.get(UnmatchedReceipt, serial="ICBC20261206000002")
    assert receipt["status"] == "assigned"
    assert world.get(LedgerEntry, number="ICBC20261206000002")["type"] == "payment"
    assert world.count(PayerAccount, account_number="6217000099998888") == 1
    page.goto(f"{base}/unmatched-receipts?status=all")
    assert fits(page), f"the unmatched receipts page scrolls sideways at {width} px"
    page.screenshot(path=str(artifacts_dir / f"bank-statement-assigned-{size}-{lang}.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
