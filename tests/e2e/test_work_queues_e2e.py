"""In the browser: finance's home starts with its work queue (an open dispute, a dealer on hold) and then receivables;
one click on a queue item opens the page where the action is done. The dealer administrator's home starts with the
statement to confirm and the shipment to receive; on a 390 px phone nothing needs sideways scrolling, and a
notification opened from the bell is read. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.notify.models import Notification
from portal.platform.timeutil import freeze, today
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def channel(world):
    world.region("EA", name="华东")
    world.dealer("SH-001", "EA", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("BJ-003", "EA", name="北京京北汽车销售有限公司")
    world.product("PART-BR", list_price="1280.00", name="制动片套装")
    world.stock("PART-BR", 50)
    world.credit_limit("SH-001", "500000")
    with freeze(NOW - dt.timedelta(days=3)):
        order = world.order("SH-001", [("PART-BR", 10)])
        shipment = world.shipment(order, [("PART-BR", 4)])
    month_end = today().replace(day=1) - dt.timedelta(days=1)
    for code in ("SH-001", "BJ-003"):
        world.invoice(code, amount="58000.00", issued_on=month_end.replace(day=4))
    with freeze(NOW - dt.timedelta(days=2)):
        statement = world.statement("SH-001", month_end.strftime("%Y-%m"))
        disputed = world.statement("BJ-003", month_end.strftime("%Y-%m"))
    dispute = world.dispute(disputed, "10 月的回款没有记入", at=NOW - dt.timedelta(days=1))
    world.hold("BJ-003", "多次逾期", at=NOW - dt.timedelta(days=5))
    dealer = world.user("dealer_admin", dealer="SH-001", username="sh.admin.q", locale="zh_CN")
    note = world.notification(dealer, link=f"/shipments/{shipment}", title=f"发运单 {shipment} 已发出")
    return {
        "finance": world.user("finance", username="fin.q", locale="en"),
        "dealer": dealer,
        "statement": statement,
        "disputed": disputed,
        "dispute": dispute,
        "shipment": shipment,
        "note": note,
    }


def test_finance_and_the_dealer_start_from_their_queues(browser, live_server, world, channel, artifacts_dir):
    base = live_server
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en")
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, base, channel["finance"], PASSWORD)
    disputes = page.locator("[data-queue=disputes]")
    expect(disputes.locator("[data-queue-item]")).to_have_count(1)
    expect(disputes.locator("[data-total]")).to_have_text("1")
    expect(disputes.locator(".queue-age")).to_have_text("1 d")
    expect(page.locator("[data-queue=credit_holds] [data-dealer='BJ-003']")).to_contain_text("多次逾期")
    expect(page.locator("[data-receivables]")).to_be_visible()
    expect(page.locator("[data-ageing]")).to_be_visible()
    assert page.locator("text=Channel overview").count() == 0
    page.screenshot(path=str(artifacts_dir / "work_queue_finance_en.png"), full_page=True)
    disputes.locator("[data-queue-item] a").click()  # one click to the dispute, where finance settles it
    page.wait_for_url(f"{base}/statements/{channel['disputed']}#dispute-{channel['dispute']}")
    expect(page.locator(f"#dispute-{channel['dispute']}")).to_be_visible()
    context.close()

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, base, channel["dealer"], PASSWORD)
    statements = page.locator("[data-queue=statements_to_confirm]")
    expect(statements.locator(f"[data-statement='{channel['statement']}']")).to_contain_text("58,000.00")
    shipments = page.locator("[data-queue=shipments_to_receive]")
    expect(shipments.locator(f"[data-shipment='{channel['shipment']}'] .queue-age")).to_have_text("3 天")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "work_queue_dealer_zh_CN_390.png"), full_page=True)
    # the bell: the notification opens its shipment and is read
    page.click("button.navbar-toggler")
    expect(page.locator(".navbar-collapse.show")).to_be_visible()  # opened (not still sliding) before the bell
    page.click("[data-bell] > a")
    item = page.locator(f"[data-bell-menu] [data-notification='{channel['note']}']")
    expect(item).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "work_queue_bell_zh_CN_390.png"))
    item.click()
    page.wait_for_url(f"{base}/shipments/{channel['shipment']}")
    assert world.get(Notification, id=channel["note"])["read_at"] is not None
    page.goto(f"{base}/home")
    shipments.locator(f"[data-shipment='{channel['shipment']}'] a").click()  # the receipt is confirmed there
    page.wait_for_url(f"{base}/shipments/{channel['shipment']}")
    expect(page.locator("button[data-receive]")).to_be_visible()
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
