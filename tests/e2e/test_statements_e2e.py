"""In the browser: the dealer_admin opens January's statement, ticks a line and disputes it with a comment; finance
finds it in the dispute queue and settles it with a credit note (the amount field shows only for a credit note,
static/statements.js), which re-issues the month as version 2; the dealer sees the new version and confirms it.
Finance also starts a monthly run from the statements page and follows it. Screenshots of every page, also on a
phone-sized screen."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.statements.models import Dispute, Statement
from tests.conftest import PASSWORD
from tests.e2e.conftest import confirm_statement, log_in
from tests.test_statement_pages import drain

STATEMENT_URL = r"/statements/\d+$"


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.dealer("SH-001", "SH", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "SH", name="上海闵行汽车贸易有限公司")
    world.invoice("SH-001", "INV-202601-0001", "113000.00", issued_on=dt.date(2026, 1, 6))
    world.invoice("SH-001", "INV-202601-0002", "2260.00", issued_on=dt.date(2026, 1, 15))
    world.payment("SH-001", "50000.00", received_on=dt.date(2026, 1, 25), reference="工行转账 0125-8831")
    world.invoice("SH-002", "INV-202601-0003", "56500.00", issued_on=dt.date(2026, 1, 9))
    world.invoice("SH-002", "INV-202602-0004", "1130.00", issued_on=dt.date(2026, 2, 3))
    return {
        "statement": world.statement("SH-001", "2026-01"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "finance": world.user("finance", username="fin.li", locale="en"),
    }


def log_out(page):
    page.click("form[action='/logout'] button")
    page.wait_for_load_state()


def test_dealer_disputes_finance_credits_dealer_confirms(page, live_server, channel, world, artifacts_dir):
    base, first = live_server, channel["statement"]

    # the dealer finds January's statement through the menu and disputes the second invoice
    log_in(page, base, channel["dealer"], PASSWORD)
    page.click("[data-nav=statements]")
    page.wait_for_url(f"{base}/statements")
    expect(page.locator("[data-statements] tbody tr")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "statements_list_dealer_zh_CN.png"), full_page=True)
    page.click(f"[data-statement='{first}'] a.font-monospace")
    page.wait_for_url(f"{base}/statements/{first}")
    expect(page.locator("[data-closing]")).to_have_text("65,260.00")  # 113 000 + 2 260 − 50 000
    expect(page.locator("input[name=line_id]")).to_have_count(3)
    page.screenshot(path=str(artifacts_dir / "statement_dealer_zh_CN.png"), full_page=True)
    row = page.locator("tr[data-line-number='INV-202601-0002']")
    row.locator("input[name=line_id]").check()
    expect(row).to_have_class(re.compile("line-picked"))
    expect(page.locator("[data-picked-count]")).to_contain_text("1")
    page.fill("#dispute-comment", "INV-202601-0002 的配件我们没有收到，请核实。")
    page.click("button[data-dispute]")
    page.wait_for_url(re.compile(base + r"/statements/\d+#dispute-\d+$"))
    dispute_id = world.get(Dispute, statement_id=first)["id"]
    card = page.locator(f"#dispute-{dispute_id}")
    expect(card).to_contain_text("我们没有收到")
    expect(card.locator("[data-dispute-status=open]")).to_be_visible()
    expect(page.locator("h1 [data-status=disputed]")).to_be_visible()
    expect(page.locator("button[data-confirm]")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "statement_disputed_zh_CN.png"), full_page=True)
    assert page.console_errors == []
    log_out(page)

    # finance: the dispute queue, then the statement; the credit-note fields follow the chosen action
    log_in(page, base, channel["finance"], PASSWORD)
    page.click("[data-nav=finance]")  # finance finds statements and disputes in its own menu
    page.click("a.dropdown-item[data-nav-item=disputes]")
    page.wait_for_url(f"{base}/disputes")
    expect(page.locator("[data-disputes] tbody tr")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "disputes_queue_finance_en.png"), full_page=True)
    page.click(f"[data-open-dispute='{dispute_id}']")
    page.wait_for_url(f"{base}/statements/{first}#dispute-{dispute_id}")
    form = page.locator(f"#dispute-{dispute_id} form[data-resolve-form]")
    amount = form.locator(f"#d{dispute_id}-amount")
    form.locator("select[data-resolve-action]").select_option("reject")
    expect(amount).to_be_hidden()
    form.locator("select[data-resolve-action]").select_option("credit_note")
    expect(amount).to_be_visible()
    amount.fill("2260.00")
    form.locator(f"#d{dispute_id}-reason").fill("Parts not delivered: INV-202601-0002 credited in full.")
    page.screenshot(path=str(artifacts_dir / "statement_resolve_form_en.png"), full_page=True)
    form.locator("button[data-resolve]").click()
    page.wait_for_url(re.compile(base + STATEMENT_URL))
    second = int(page.url.rsplit("/", 1)[-1])
    assert second != first
    expect(page.locator(".alert-success")).to_contain_text("version 2")
    expect(page.locator("[data-closing]")).to_have_text("63,000.00")
    page.screenshot(path=str(artifacts_dir / "statement_v2_finance_en.png"), full_page=True)
    page.goto(f"{base}/statements/{first}")
    expect(page.locator("[data-superseded]")).to_contain_text("version 2")
    expect(page.locator(f"#dispute-{dispute_id} [data-credit-note]")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "statement_v1_superseded_en.png"), full_page=True)
    assert page.console_errors == []
    log_out(page)

    # the dealer: version 2 in the list; it confirms it
    log_in(page, base, channel["dealer"], PASSWORD)
    page.goto(f"{base}/statements")
    expect(page.locator(f"[data-statement='{second}']")).to_be_visible()
    expect(page.locator(f"[data-statement='{first}']")).to_have_count(0)
    page.click(f"[data-statement='{second}'] a.font-monospace")
    page.wait_for_url(f"{base}/statements/{second}")
    expect(page.locator("[data-thread]")).to_contain_text("Parts not delivered")
    confirm_statement(page, base, second, "已核对，无误。", by="sh001.admin")
    expect(page.locator("input[name=line_id]")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "statement_confirmed_zh_CN.png"), full_page=True)
    assert world.get(Statement, id=second)["status"] == "confirmed"

    # a phone-sized screen: the wide tables scroll inside their cards, the page itself does not
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/statements/{first}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(artifacts_dir / "statement_phone_zh_CN.png"), full_page=True)
    pdf = page.request.get(f"{base}/statements/{second}/pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    (artifacts_dir / "statement_v2.pdf").write_bytes(pdf.body())
    assert page.console_errors == []


def test_finance_starts_a_monthly_run_and_follows_it(page, live_server, channel, world, app, artifacts_dir):
    base = live_server
    log_in(page, base, channel["finance"], PASSWORD)
    page.goto(f"{base}/statements")
    page.fill("#run-period", "2026-02")
    page.screenshot(path=str(artifacts_dir / "statements_list_finance_en.png"), full_page=True)
    page.click("button[data-start-run]")
    page.wait_for_url(re.compile(base + r"/statements/runs/[0-9a-f-]{36}$"))
    drain(app)  # with Redis: a worker's work, here
    # the page follows the run and reloads itself when it ends (static/jobs.js): a reload of the test's own would
    # race with it ("Not attached to an active page" under load)
    expect(page.locator("[data-run-status]")).to_have_text("Finished", timeout=20_000)
    expect(page.locator("[data-run-item]")).to_have_count(2)
    expect(page.locator("[data-count=issued]")).to_have_text("2")
    page.screenshot(path=str(artifacts_dir / "statement_run_en.png"), full_page=True)
    assert world.get(Statement, number="ST-202602-SH-002") is not None
    assert page.console_errors == []
