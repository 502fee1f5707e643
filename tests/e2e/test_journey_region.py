"""In the browser, a region manager's main journey (English): the approval queue from the Orders menu lists its
region's orders in credit review and says which ones are within the region's approval limit; it approves one within
the limit with a comment, the order is approved and leaves the queue; the one beyond the limit offers no decision, and
another region's order is not found. (The dealer's side of credit review is in test_order_journey.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.orders.models import Order, OrderEvent
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区", approval_limit="50000")
    world.region("SH", parent="EAST", name="上海")
    world.region("NORTH", parent="HQ", name="华北大区", approval_limit="50000")
    world.dealer("SH-001", "SH", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("SH-002", "SH", name="上海闵行汽车贸易有限公司")
    world.dealer("SH-003", "SH", name="上海松江汽车销售有限公司")
    world.dealer("BJ-001", "NORTH", name="北京京北汽车销售有限公司")
    world.product("V-1", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 X5 城市SUV")
    for code in ("SH-001", "SH-002", "SH-003", "BJ-001"):
        world.credit_limit(code, "100000")
    return {
        "within": world.order("SH-001", [("V-1", 1)]),  # 113 000 gross: 13 000 over the credit, within 50 000
        "beyond": world.order("SH-002", [("V-1", 2)]),  # 226 000 gross: 126 000 over, beyond the limit
        "north": world.order("BJ-001", [("V-1", 1)]),  # another region's
        "reject": world.order("SH-003", [("V-1", 1)]),  # within the limit too
        "rm": world.user("region_manager", region="EAST", username="rm.east", locale="en"),
    }


def open_approvals(page, base):
    page.click("[data-nav=orders]")
    page.click("a.dropdown-item[href='/approvals']")
    page.wait_for_url(f"{base}/approvals")


def test_a_region_manager_approves_within_its_limit(page, live_server, channel, world, artifacts_dir):
    base, within, beyond = live_server, channel["within"], channel["beyond"]
    for number in (within, beyond, channel["north"]):
        assert world.get(Order, number=number)["status"] == "credit_review"
    log_in(page, base, channel["rm"], PASSWORD)

    # the queue: its region's three orders, which one it may approve, and its limit
    open_approvals(page, base)
    expect(page.locator("main")).to_contain_text("at most 50,000.00 CNY")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("table")).not_to_contain_text(channel["north"])
    expect(page.locator(f"tr:has-text('{within}')")).to_contain_text("13,000.00")
    expect(page.locator(f"tr:has-text('{within}')")).to_contain_text("Yes")
    expect(page.locator(f"tr:has-text('{beyond}')")).to_contain_text("126,000.00")
    expect(page.locator(f"tr:has-text('{beyond}')")).to_contain_text("Beyond your limit")
    page.screenshot(path=str(artifacts_dir / "journey_region_approvals_en.png"), full_page=True)

    # the order within the limit: its credit position, then approved with a comment
    page.click(f"a:has-text('{within}')")
    page.wait_for_url(f"{base}/orders/{within}")
    expect(page.locator("h1 .order-status-credit_review")).to_be_visible()
    expect(page.locator("[data-excess]")).to_contain_text("13,000.00")
    page.fill("#decision-comment", "Payment promised for next week; approved within the region's limit.")
    page.screenshot(path=str(artifacts_dir / "journey_region_order_review_en.png"), full_page=True)
    page.click("button[data-approve]")
    page.wait_for_url(f"{base}/orders/{within}")
    expect(page.locator(".alert-success")).to_contain_text(f"Order {within} approved.")
    expect(page.locator("h1 .order-status-approved")).to_be_visible()
    expect(page.locator("button[data-approve]")).to_have_count(0)
    expect(page.locator(".timeline")).to_contain_text("Payment promised for next week")
    page.screenshot(path=str(artifacts_dir / "journey_region_order_approved_en.png"), full_page=True)
    assert world.get(Order, number=within)["status"] == "approved"
    order_id = world.get(Order, number=within)["id"]
    assert world.count(OrderEvent, order_id=order_id, to_status="approved") == 1

    # another within the limit, rejected: a reason is required
    rejected = channel["reject"]
    open_approvals(page, base)
    expect(rows).to_have_count(2)
    page.click(f"a:has-text('{rejected}')")
    page.wait_for_url(f"{base}/orders/{rejected}")
    page.click("button[data-reject]")
    expect(page.locator(".invalid-feedback")).to_contain_text("Say why the order is rejected.")
    assert world.get(Order, number=rejected)["status"] == "credit_review"
    page.console_errors.clear()  # the refused rejection answered 422 on purpose
    page.fill("#decision-comment", "Overdue invoices first.")
    page.click("button[data-reject]")
    page.wait_for_url(f"{base}/orders/{rejected}")
    expect(page.locator(".alert-info")).to_contain_text(f"Order {rejected} rejected.")
    expect(page.locator("h1 .order-status-rejected")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "journey_region_order_rejected_en.png"), full_page=True)
    assert world.get(Order, number=rejected)["status"] == "rejected"

    # the queue keeps the one it may not decide; its export says the same
    open_approvals(page, base)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(beyond)
    export = page.request.get(f"{base}/approvals?format=csv")
    assert export.ok and beyond in export.text() and within not in export.text()
    page.click(f"a:has-text('{beyond}')")
    page.wait_for_url(f"{base}/orders/{beyond}")
    expect(page.locator("[data-excess]")).to_contain_text("126,000.00")
    expect(page.locator("button[data-approve]")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("beyond your approval limit")
    page.screenshot(path=str(artifacts_dir / "journey_region_beyond_limit_en.png"), full_page=True)
    assert world.get(Order, number=beyond)["status"] == "credit_review"

    # another region's order does not exist for it
    response = page.goto(f"{base}/orders/{channel['north']}")
    assert response.status == 404
    assert world.get(Order, number=channel["north"])["status"] == "credit_review"
    assert page.console_errors == [] or all("404" in e for e in page.console_errors)
