"""In the browser: finance records a payment and reads the ageing; a dealer reads its ledger (both languages)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

D = dt.date


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区")
    world.dealer("SH-001", "EAST", name="上海华通浦东汽车销售服务有限公司")
    world.invoice("SH-001", "FP2601001", "113000.00", issued_on=D(2026, 1, 5), due_on=D(2026, 2, 4))
    world.invoice("SH-001", "FP2610001", "56500.00", issued_on=D(2026, 10, 5), due_on=D(2026, 11, 4))
    world.credit_limit("SH-001", "500000")
    return {
        "finance": world.user("finance", username="finance", locale="zh_CN"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="en"),
    }


def test_finance_records_a_payment_and_reads_the_ageing(page, live_server, channel, artifacts_dir):
    log_in(page, live_server, channel["finance"], PASSWORD)
    page.goto(f"{live_server}/payments/new?dealer=SH-001")
    page.fill("#amount", "100000")
    page.fill("#reference", "BK-E2E-1")
    page.click("form:has(#reference) button[type=submit]")
    page.wait_for_url(f"{live_server}/entries/*")
    assert "FP2601001" in page.content()
    page.screenshot(path=str(artifacts_dir / "payment_entry_zh_CN.png"), full_page=True)
    page.goto(f"{live_server}/receivables?group_by=dealer")
    assert "应收" in page.locator("h1").inner_text()
    assert "SH-001" in page.content()
    page.screenshot(path=str(artifacts_dir / "receivables_zh_CN.png"), full_page=True)
    assert page.console_errors == []


def test_a_dealer_reads_its_ledger_and_credit(page, live_server, channel, artifacts_dir):
    log_in(page, live_server, channel["dealer"], PASSWORD)
    page.click("text=Account and credit")
    page.wait_for_url(f"{live_server}/dealers/SH-001/ledger")
    assert "169,500.00" in page.content()
    page.screenshot(path=str(artifacts_dir / "dealer_ledger_en.png"), full_page=True)
    page.click("a.nav-link:has-text('Credit')")
    assert "500,000.00" in page.content()
    page.screenshot(path=str(artifacts_dir / "dealer_credit_en.png"), full_page=True)
