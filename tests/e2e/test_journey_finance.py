"""In the browser, finance's main journey (English), from its Finance menu: it records a dealer's bank payment (the
entry page shows what it settled), runs January's statements and follows the run page until it finishes by itself
(static/jobs.js polls the job; with Redis a worker's work is done here), opens an issued statement from the run, and
settles the dealer's dispute on it by rejecting it with a reason. (A dispute settled by a credit note is in
test_statements_e2e.py, the ageing in test_receivables_journeys.py.)"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.credit.models import LedgerEntry
from portal.statements.models import Dispute, Statement, StatementLine
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in
from tests.test_statement_pages import drain

LIVE = 15_000  # ms: the run page polls every second, then reloads itself


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.dealer("SH-001", "SH", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "SH", name="上海闵行汽车贸易有限公司")
    world.invoice("SH-001", "INV-202601-0001", "113000.00", issued_on=dt.date(2026, 1, 6))
    world.invoice("SH-001", "INV-202601-0002", "2260.00", issued_on=dt.date(2026, 1, 15))
    world.invoice("SH-002", "INV-202601-0003", "56500.00", issued_on=dt.date(2026, 1, 9))
    return {
        "finance": world.user("finance", username="fin.en", locale="en"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
    }


def finance_menu(page, text: str):
    page.click("[data-nav=finance]")
    page.click(f"a.dropdown-item:has-text('{text}')")
    page.wait_for_load_state()


def dealer_disputes(app, statement_id: int, number: str, comment: str) -> int:
    """The dealer_admin disputes one line of the statement (through the service, as its page would)."""
    from portal.dealers.models import User
    from portal.extensions import db
    from portal.statements import services

    with app.test_request_context(method="POST"):
        try:
            line = db.session.query(StatementLine).filter_by(statement_id=statement_id, number=number).one()
            actor = db.session.query(User).filter_by(username="sh001.admin").one()
            item = services.dispute(actor, db.session.get(Statement, statement_id), [line.id], comment)
            db.session.commit()
            return item.id
        finally:
            db.session.remove()


def test_finance_records_a_payment_runs_statements_and_settles_a_dispute(page, live_server, app, channel, world,
                                                                         artifacts_dir):  # fmt: skip
    base = live_server
    log_in(page, base, channel["finance"], PASSWORD)

    # a bank payment, from the menu: the entry page shows it and the invoice it settled
    finance_menu(page, "Record a payment")
    page.select_option("#dealer_code", "SH-001")
    page.fill("#amount", "50000.00")
    page.fill("#received_on", "2026-01-28")
    page.fill("#reference", "ICBC 0128-7731")
    page.screenshot(path=str(artifacts_dir / "journey_finance_payment_form_en.png"), full_page=True)
    page.click("form:has(#reference) button[type=submit]")
    page.wait_for_url(re.compile(rf"{base}/entries/\d+$"))
    main = page.locator("main")
    expect(main).to_contain_text("50,000.00")
    expect(main).to_contain_text("ICBC 0128-7731")
    expect(main).to_contain_text("INV-202601-0001")
    page.screenshot(path=str(artifacts_dir / "journey_finance_payment_entry_en.png"), full_page=True)
    payment = world.get(LedgerEntry, type="payment")
    assert str(payment["amount"]) == "50000.00" and payment["entry_date"] == dt.date(2026, 1, 28)

    # January's run from the statements page; the run page follows the job by itself
    finance_menu(page, "Statements")
    page.wait_for_url(f"{base}/statements")
    page.fill("#run-period", "2026-01")
    page.click("button[data-start-run]")
    page.wait_for_url(re.compile(base + r"/statements/runs/[0-9a-f-]{36}$"))
    expect(page.locator(".alert-success")).to_contain_text("2026-01")
    page.screenshot(path=str(artifacts_dir / "journey_finance_run_started_en.png"), full_page=True)
    drain(app)  # with Redis: the worker's work; in-process it ran already
    expect(page.locator("[data-run-status]")).to_have_text("Finished", timeout=LIVE)
    expect(page.locator("[data-job-label]")).to_have_text("2 / 2")
    expect(page.locator("[data-count=issued]")).to_have_text("2")
    expect(page.locator("[data-count=failed]")).to_have_text("0")
    expect(page.locator("[data-run-item][data-item-status=done]")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "journey_finance_run_finished_en.png"), full_page=True)
    issued = world.get(Statement, number="ST-202601-SH-001")
    assert issued["status"] == "issued" and str(issued["closing"]) == "65260.00"  # 113 000 + 2 260 − 50 000
    assert world.get(Statement, number="ST-202601-SH-002") is not None
    # run again: nothing changed, no new version
    finance_menu(page, "Statements")
    page.fill("#run-period", "2026-01")
    page.click("button[data-start-run]")
    page.wait_for_url(re.compile(base + r"/statements/runs/[0-9a-f-]{36}$"))
    drain(app)
    expect(page.locator("[data-count=unchanged]")).to_have_text("2", timeout=LIVE)
    expect(page.locator("[data-count=issued]")).to_have_text("0")
    assert world.count(Statement, dealer_id=issued["dealer_id"]) == 1
    page.click("[data-run-item=SH-001] a")
    page.wait_for_url(f"{base}/statements/{issued['id']}")
    expect(page.locator("[data-closing]")).to_have_text("65,260.00")

    # the dealer disputes a line; finance settles it from the queue by rejecting it with a reason
    dispute = dealer_disputes(app, issued["id"], "INV-202601-0002", "INV-202601-0002 的配件数量不对。")
    finance_menu(page, "Disputes")
    page.wait_for_url(f"{base}/disputes")
    expect(page.locator("[data-disputes] tbody tr")).to_have_count(1)
    expect(page.locator("[data-disputes]")).to_contain_text("SH-001")
    page.click(f"[data-open-dispute='{dispute}']")
    page.wait_for_url(f"{base}/statements/{issued['id']}#dispute-{dispute}")
    card = page.locator(f"#dispute-{dispute}")
    expect(card).to_contain_text("配件数量不对")
    card.locator("select[data-resolve-action]").select_option("reject")
    expect(card.locator(f"#d{dispute}-amount")).to_be_hidden()
    card.locator(f"#d{dispute}-reason").fill("Delivery note DN-0115 signed for the full quantity.")
    page.screenshot(path=str(artifacts_dir / "journey_finance_dispute_reject_en.png"), full_page=True)
    card.locator("button[data-resolve]").click()
    page.wait_for_url(re.compile(base + r"/statements/\d+.*"))
    card = page.locator(f"#dispute-{dispute}")
    expect(card.locator("[data-reason]")).to_have_text("Delivery note DN-0115 signed for the full quantity.")
    expect(card.locator("[data-dispute-status=rejected]")).to_be_visible()
    expect(page.locator("[data-closing]")).to_have_text("65,260.00")  # no new version
    page.screenshot(path=str(artifacts_dir / "journey_finance_dispute_rejected_en.png"), full_page=True)
    settled = world.get(Dispute, id=dispute)
    assert settled["status"] == "rejected" and settled["resolved_by"] == "fin.en"
    assert world.get(Statement, id=issued["id"])["status"] == "resolved"
    assert world.count(Statement, dealer_id=issued["dealer_id"]) == 1
    page.goto(f"{base}/disputes")
    expect(page.locator("[data-disputes] tbody tr[data-dispute-row]")).to_have_count(0)  # the queue: open ones
    pdf = page.request.get(f"{base}/statements/{issued['id']}/pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    assert page.console_errors == []
