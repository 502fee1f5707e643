"""In the browser, targets and scorecards where people see them (PRODUCT.md §15): HQ's home with this year's target
against actual chart and the ranking, in Chinese at 1366 px and in English at 390 px (no sideways scrolling); a
measure switched by its link; from the card to the achievement page and a drill-down from a region to its dealers;
a region manager's home (its dealers only) and its region's split page with the warning that the dealers' targets
do not add up; a dealer's own targets and score on its home, on a phone, naming no other dealer. Every page runs
under the strict CSP (the `page` fixture fails on any violation). Screenshots land in test-artifacts/."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import fits, log_in
from tests.test_home_targets import NAMES, build_targets_world


def _phone(browser):
    """A 390 px page of its own (English), failing on a CSP violation like the `page` fixture."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return context, page, errors


def test_targets_on_the_homes_and_the_way_to_achievement(page, browser, live_server, world, artifacts_dir):
    base = live_server
    zh = build_targets_world(world, locale="zh_CN")
    en_hq = world.user("channel_manager", username="hq.en", locale="en")
    en_dealer = world.user("dealer_admin", dealer="SH-2", username="sh2.en", locale="en")

    # HQ's home in Chinese at 1366 px: the card with its chart, the year to date and the ranking
    log_in(page, base, zh["hq"], PASSWORD)
    card = page.locator("[data-targets-card]")
    expect(card).to_be_visible()
    expect(card.locator("[data-chart=targets] svg.chart rect")).not_to_have_count(0)
    expect(card.locator("[data-figure=ytd-pct]")).to_contain_text("%")
    expect(card.locator("[data-ranking=top] [data-dealer]")).not_to_have_count(0)
    expect(card.locator("[data-ranking] [data-dealer=SH-1-A]")).to_have_count(0)  # sub-dealers are never ranked
    assert fits(page)
    card.screenshot(path=str(artifacts_dir / "journey_targets_hq_card_zh.png"))
    page.screenshot(path=str(artifacts_dir / "journey_targets_hq_home_zh.png"), full_page=True)

    # the measure switch: sell-through in pieces
    card.locator("[data-measure-link=sell_through_units]").click()
    page.wait_for_url(f"{base}/home?target_measure=sell_through_units")
    expect(page.locator("[data-targets-card]")).to_have_attribute("data-measure", "sell_through_units")

    # to the achievement page, and from a region down to its dealers
    page.locator("[data-targets-card] [data-link=achievement]").click()
    page.wait_for_url(f"{base}/targets/achievement**")
    expect(page.locator("[data-row=EA]")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "journey_targets_achievement_zh.png"), full_page=True)
    page.locator("[data-row=EA] [data-drill]").click()
    expect(page.locator("[data-row=SH-2]")).to_be_visible()
    expect(page.locator("[data-row=BJ-1]")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "journey_targets_achievement_drill_zh.png"), full_page=True)

    # a region manager: its home's ranking holds its dealers only; its region's split warns (11 000 against 12 000)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    rm = context.new_page()
    rm_errors: list[str] = []
    rm.on("console", lambda msg: rm_errors.append(msg.text) if msg.type == "error" else None)
    log_in(rm, base, zh["rm"], PASSWORD)
    rm_card = rm.locator("[data-targets-card]")
    expect(rm_card).to_be_visible()
    expect(rm_card.locator("[data-ranking] [data-dealer]")).to_have_count(2)
    expect(rm_card).not_to_contain_text(NAMES["BJ-1"])
    rm.screenshot(path=str(artifacts_dir / "journey_targets_region_home_zh.png"), full_page=True)
    rm.goto(f"{base}/targets/regions/EA")
    expect(rm.locator("[data-split-warning]")).to_be_visible()
    expect(rm.locator("[data-child='dealer:SH-2']")).to_be_visible()
    rm.screenshot(path=str(artifacts_dir / "journey_targets_region_split_zh.png"), full_page=True)
    context.close()
    assert not [e for e in rm_errors if "Content Security Policy" in e], rm_errors

    # HQ in English on a phone: the chart and the ranking, nothing wider than the screen
    context, phone, errors = _phone(browser)
    log_in(phone, base, en_hq, PASSWORD)
    expect(phone.locator("[data-targets-card] [data-chart=targets] svg.chart")).to_be_visible()
    expect(phone.locator("[data-targets-card]")).to_contain_text("Reached this year")
    assert fits(phone)
    phone.screenshot(path=str(artifacts_dir / "journey_targets_hq_home_en_390.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # a dealer's own targets and score on its home, on a phone: its figures, its ranks, no other dealer's name
    context, phone, errors = _phone(browser)
    log_in(phone, base, en_dealer, PASSWORD)
    own = phone.locator("[data-own-targets]")
    expect(own).to_be_visible()
    expect(own.locator("[data-measure=sell_through_units] [data-figure=ytd-pct]")).to_contain_text("%")
    expect(own.locator("[data-rank=channel]")).to_contain_text("in the channel")
    for other in ("SH-1", "BJ-1", "SH-1-A"):
        expect(phone.locator("main")).not_to_contain_text(NAMES[other])
    assert fits(phone)
    own.screenshot(path=str(artifacts_dir / "journey_targets_dealer_own_en_390.png"))
    phone.screenshot(path=str(artifacts_dir / "journey_targets_dealer_home_en_390.png"), full_page=True)
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
