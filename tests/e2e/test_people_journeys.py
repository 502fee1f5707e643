"""In the browser: each role's home page in both languages, HQ managing dealers, a dealer admin adding staff."""

from __future__ import annotations

import pytest

from portal.dealers.models import Dealer, User
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in


@pytest.fixture
def channel(world):
    world.region("HQ", name="总部")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("SH", parent="EAST", name="上海")
    world.region("NORTH", parent="HQ", name="华北大区")
    world.dealer("SH-001", "SH", tier="A", name="上海华通浦东汽车销售服务有限公司")
    world.dealer("BJ-001", "NORTH", name="北京远航朝阳汽车4S店")
    return {
        "hq_admin": world.user("hq_admin", username="admin", locale="zh_CN"),
        "channel_manager": world.user("channel_manager", username="channel", locale="zh_CN"),
        "finance": world.user("finance", username="finance", locale="zh_CN"),
        "region_manager": world.user("region_manager", region="EAST", username="rm.east", locale="zh_CN"),
        "dealer_admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin", locale="zh_CN"),
        "dealer_staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff", locale="zh_CN"),
    }


@pytest.mark.parametrize(
    "role", ["hq_admin", "channel_manager", "finance", "region_manager", "dealer_admin", "dealer_staff"]
)
def test_every_role_has_a_home_page_in_both_languages(page, live_server, channel, role, artifacts_dir):
    log_in(page, live_server, channel[role], PASSWORD)
    page.screenshot(path=str(artifacts_dir / f"home_{role}_zh_CN.png"), full_page=True)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "首页" in page.locator("nav").inner_text()
    page.click("form[action*='/lang/en'] button")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Home" in page.locator("nav").inner_text()
    page.screenshot(path=str(artifacts_dir / f"home_{role}_en.png"), full_page=True)
    assert page.console_errors == []


def test_hq_creates_a_dealer_in_the_browser(page, live_server, channel, world, artifacts_dir):
    log_in(page, live_server, channel["channel_manager"], PASSWORD)
    page.goto(f"{live_server}/dealers/new")
    page.fill("#code", "SH-002")
    page.fill("#name", "上海远航闵行汽车销售服务有限公司")
    page.select_option("#region_code", "SH")
    page.select_option("#tier", "B")
    page.select_option("#channel_type", "chain")
    page.fill("#payment_terms_days", "45")
    page.fill("#contact_email", "not-an-email")
    page.click("form:has(#code) button[type=submit]")
    assert page.locator(".invalid-feedback").count() >= 1  # a friendly message, nothing saved
    page.screenshot(path=str(artifacts_dir / "dealer_form_error_zh_CN.png"), full_page=True)
    assert world.get(Dealer, code="SH-002") is None
    page.fill("#contact_email", "sh002@dealers.example.cn")
    page.click("form:has(#code) button[type=submit]")
    page.wait_for_url(f"{live_server}/dealers/SH-002")
    assert "上海远航闵行汽车销售服务有限公司" in page.content()
    page.goto(f"{live_server}/dealers?region=EAST")
    assert page.locator("table tbody tr").count() == 2
    page.screenshot(path=str(artifacts_dir / "dealers_list_zh_CN.png"), full_page=True)


def test_a_dealer_admin_adds_staff_and_cannot_see_other_dealers(page, live_server, channel, world, artifacts_dir):
    log_in(page, live_server, channel["dealer_admin"], PASSWORD)
    page.goto(f"{live_server}/users/new")
    page.fill("#username", "sh001.sales")
    page.fill("#display_name", "销售 李娜")
    page.select_option("#role", "dealer_staff")
    page.fill("#password", "Sales-pass-2026")
    page.click("form:has(#username) button[type=submit]")
    page.wait_for_url(f"{live_server}/users/sh001.sales")
    assert world.get(User, username="sh001.sales")["role"] == "dealer_staff"
    resp = page.goto(f"{live_server}/dealers/BJ-001")
    assert resp.status == 404
    page.screenshot(path=str(artifacts_dir / "not_found_zh_CN.png"), full_page=True)
    assert "北京远航" not in page.content()
