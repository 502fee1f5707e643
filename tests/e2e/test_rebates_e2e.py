"""In the browser: a channel manager (English) creates this month's rebate programme through the form and activates
it; the dealer (Chinese) sees its progress on its home page and on the programme page; after the month, finance
(English) computes the settlement, adjusts one dealer's rebate with a reason and approves them all; the dealer sees
its approved rebate and the credit note. Every page fits 1280 px; screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.credit.models import LedgerEntry
from portal.platform.timeutil import freeze, portal_tz, today
from portal.rebates.models import RebateProgramme, RebateSettlement
from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in
from tests.test_statement_pages import drain


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.region("NORTH", name="华北")
    world.dealer("SH-001", "SH", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "SH", name="上海闵行汽车贸易有限公司")
    world.dealer("BJ-001", "NORTH", name="北京京北汽车销售有限公司")
    world.product("EV-S1", list_price="158000.00", category="ev", name="星辰 S1 纯电轿车")
    world.product("PART-BR", list_price="1280.00", category="parts", name="制动片套装")
    day = today()
    world.sold("SH-001", "PART-BR", day, 12, "1000.00")  # 12 000: the second tier
    world.sold("SH-002", "PART-BR", day, 3, "1000.00")  # 3 000: the first
    world.sold("BJ-001", "PART-BR", day, 25, "1000.00")  # 25 000: the top
    return {
        "channel": world.user("channel_manager", username="cm.en", locale="en"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "finance": world.user("finance", username="fin.en", locale="en"),
    }


def log_out(page):
    page.click("form[action='/logout'] button")
    page.wait_for_load_state()


def test_a_programme_from_creation_to_the_dealers_credit_note(page, live_server, channel, world, app, artifacts_dir):
    base = live_server
    page.set_viewport_size({"width": 1280, "height": 900})
    first = today().replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)

    # the channel manager: Rebates in the top bar, a new programme, errors first, then a good one, activated
    log_in(page, base, channel["channel"], PASSWORD)
    page.click("[data-nav=rebates]")
    page.wait_for_url(f"{base}/rebates")
    page.click("[data-new-programme]")
    page.wait_for_url(f"{base}/rebates/new")
    page.fill("#code", "RB-E2E")
    page.fill("#name", "本月冲刺返利")
    page.fill("#name_en", "This month's sprint")
    page.fill("#period_start", first.isoformat())
    page.fill("#period_end", last.isoformat())
    page.fill("#scope", "all")
    page.select_option("#basis", "sell_through_amount")
    page.select_option("#tier_kind", "percent")
    for row, (threshold, rate) in enumerate([("10000", "2"), ("1000", "1"), ("20000", "3")]):
        page.fill(f"#tiers-{row}-threshold", threshold)
        page.fill(f"#tiers-{row}-rate", rate)
    page.click("button[data-save]")
    expect(page.locator("[data-tiers] .alert-danger").first).to_contain_text("thresholds go strictly up")
    assert world.get(RebateProgramme, code="RB-E2E") is None
    page.screenshot(path=str(artifacts_dir / "rebate_form_errors_en.png"), full_page=True)
    page.console_errors.clear()  # the refused form answered 422 on purpose
    page.fill("#tiers-0-threshold", "1000")
    page.fill("#tiers-0-rate", "1")
    page.fill("#tiers-1-threshold", "10000")
    page.fill("#tiers-1-rate", "2")
    page.click("button[data-save]")
    page.wait_for_url(f"{base}/rebates/RB-E2E")
    expect(page.locator("h1 [data-programme-status=draft]")).to_be_visible()
    page.click("button[data-activate]")
    page.wait_for_url(f"{base}/rebates/RB-E2E")
    expect(page.locator(".alert-success")).to_contain_text("The programme is active")
    expect(page.locator("[data-progress] tbody tr")).to_have_count(3)
    expect(page.locator("[data-totals]")).to_contain_text("40,000.00")
    expect(page.locator("[data-chart=tiers] svg.chart")).to_be_visible()
    expect(page.locator("[data-chart=top] svg.chart")).to_be_visible()
    assert fits(page)
    page.screenshot(path=str(artifacts_dir / "rebate_programme_channel_en.png"), full_page=True)
    assert page.console_errors == []
    log_out(page)

    # the dealer, in Chinese: its card on the home page, then the programme page
    log_in(page, base, channel["dealer"], PASSWORD)
    card = page.locator("[data-rebate-card=RB-E2E]")
    expect(card.locator("[data-figure=basis]")).to_have_text("12,000.00")
    expect(card.locator("[data-figure=tier]")).to_have_text("第2档")
    expect(card.locator("[data-figure=rebate]")).to_have_text("240.00")
    expect(card.locator("[data-figure=next]")).to_contain_text("8,000.00")
    assert fits(page)
    page.screenshot(path=str(artifacts_dir / "rebate_dealer_home_zh_CN.png"), full_page=True)
    card.locator("[data-figure=rebate]").click()
    page.wait_for_url(f"{base}/rebates/RB-E2E")
    expect(page.locator("[data-rebate-card=RB-E2E] [data-figure=basis]")).to_have_text("12,000.00")
    expect(page.locator("[data-progress]")).to_have_count(0)  # nobody else's figures
    assert "SH-002" not in page.content() and "BJ-001" not in page.content()
    page.screenshot(path=str(artifacts_dir / "rebate_programme_dealer_zh_CN.png"), full_page=True)
    assert page.console_errors == []
    log_out(page)

    # after the month: finance computes, adjusts SH-002 with a reason, approves them all
    after = dt.datetime.combine(last + dt.timedelta(days=3), dt.time(10), tzinfo=portal_tz())
    with freeze(after):
        log_in(page, base, channel["finance"], PASSWORD)
        page.goto(f"{base}/rebates/RB-E2E")
        page.click("button[data-compute]")
        page.wait_for_url(re.compile(base + r"/rebates/RB-E2E\?job=[0-9a-f-]{36}#settlement$"))
        drain(app)  # with Redis: a worker's work, here
        # the page reloads itself when the job ends (static/jobs.js): no reload of the test's own to race with it
        expect(page.locator("[data-job-result]")).to_contain_text("3 new", timeout=20_000)
        expect(page.locator("[data-settlements] tbody tr[data-settlement]")).to_have_count(3)
        row = page.locator("[data-adjust-row=SH-002]")
        row.locator("summary").click()
        row.locator("input[name$=-amount]").fill("-10.00")
        row.locator("button[data-adjust]").click()  # no reason: refused, said next to the field
        expect(page.locator("[data-adjust-row=SH-002] .invalid-feedback")).to_be_visible()
        assert world.get(RebateSettlement, dealer_id=_dealer_id(world, "SH-002"))["adjustment"] == 0
        page.console_errors.clear()  # the refused adjustment answered 422 on purpose
        row = page.locator("[data-adjust-row=SH-002]")
        row.locator("input[name$=-reason]").fill("One return credited separately")
        row.locator("button[data-adjust]").click()
        page.wait_for_url(re.compile(r".*#settlement-SH-002$"))
        expect(page.locator("[data-settlement=SH-002] [data-amount]")).to_have_text("20.00")
        page.screenshot(path=str(artifacts_dir / "rebate_settlement_finance_en.png"), full_page=True)
        page.click("button[data-approve-all]")
        expect(page.locator(".alert-success")).to_contain_text("3 settlement(s) approved, 3 credit note(s)")
        expect(page.locator("[data-settlements] [data-credit-note]")).to_have_count(3)
        assert fits(page)
        page.screenshot(path=str(artifacts_dir / "rebate_settled_finance_en.png"), full_page=True)
        assert page.console_errors == []
        log_out(page)

        # the dealer sees its approved rebate and the credit note on its account
        log_in(page, base, channel["dealer"], PASSWORD)
        page.goto(f"{base}/rebates/RB-E2E")
        own = page.locator("[data-own-settlement]")
        expect(own).to_contain_text("240.00")
        note = world.get(LedgerEntry, id=world.get(RebateSettlement, dealer_id=_dealer_id(world, "SH-001"))
                         ["credit_note_id"])  # fmt: skip
        expect(own.locator("[data-credit-note]")).to_have_text(note["number"])
        expect(page.locator("[data-rebate-card=RB-E2E] [data-figure=ended]")).to_contain_text("返利已结算")
        page.screenshot(path=str(artifacts_dir / "rebate_settled_dealer_zh_CN.png"), full_page=True)
        own.locator("[data-credit-note]").click()
        page.wait_for_load_state()
        expect(page.locator("main")).to_contain_text(note["number"])
        assert page.console_errors == []


def _dealer_id(world, code: str) -> int:
    from portal.dealers.models import Dealer

    return world.get(Dealer, code=code)["id"]
