"""In the browser, in Simplified Chinese and in English: the dealer's, the region manager's and HQ's home pages and
the channel-flow page render with their server-drawn charts (an `svg.chart` visible) and fit a 1280 px wide screen
without horizontal scrolling. Screenshots of every page go to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from portal.platform.timeutil import today
from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in

DEALERS = (("SH-001", "EA", "上海华通浦东汽车销售服务有限公司"), ("HZ-002", "EA", "杭州西湖汽车贸易有限公司"),
           ("BJ-003", "NO", "北京京北汽车销售有限公司"), ("GZ-004", "SO", "广州南方汽车服务有限公司"))  # fmt: skip


def _twelve_months_of_sales(now: dt.date):
    """Stock received every month and sold ten days later, more in spring and autumn (inside the caller's app
    context, through the factory's writer)."""
    from portal.catalog.models import Product
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.inventory.models import DealerStockMove
    from portal.inventory.sums import add_moves_to_channel
    from tests.factories import World

    products = db.session.query(Product).order_by(Product.sku).all()
    for n, (code, _region, _name) in enumerate(DEALERS):
        dealer = db.session.query(Dealer).filter_by(code=code).one()
        for back in range(13):
            day = now - dt.timedelta(days=back * 30 + 2)
            qty = 3 + n + (4 if day.month in (3, 4, 9, 10) else 0)
            received = qty + (12 if back == 12 else 1)
            for product in products:
                move = DealerStockMove(
                    dealer_id=dealer.id, product_id=product.id, sku=product.sku, quantity=received,
                    kind="receipt", moved_on=day - dt.timedelta(days=10), created_by="test")  # fmt: skip
                db.session.add(move)
                add_moves_to_channel([move])
                db.session.flush()
                if back < 12:
                    World.add_sold(dealer.id, product, day, qty, product.list_price)


@pytest.fixture
def channel(world):
    world.region("CN", name="全国")
    world.region("EA", parent="CN", name="华东")
    world.region("NO", parent="CN", name="华北")
    world.region("SO", parent="CN", name="华南")
    for code, region, name in DEALERS:
        world.dealer(code, region, name=name)
        world.credit_limit(code, "500000")
    world.product("EV-S1", list_price="158000.00", category="vehicles", name="星辰 S1 纯电轿车")
    world.product("PART-BR", list_price="1280.00", category="parts", name="制动片套装")
    now = today()
    world.run(_twelve_months_of_sales, now)
    last_month_end = now.replace(day=1) - dt.timedelta(days=1)
    world.invoice("SH-001", amount="316000.00", issued_on=last_month_end.replace(day=3))
    world.statement("SH-001", last_month_end.strftime("%Y-%m"))
    users = {}
    for lang in ("zh_CN", "en"):
        users[lang] = {
            "dealer": world.user("dealer_admin", dealer="SH-001", username=f"sh.admin.{lang}", locale=lang),
            "region": world.user("region_manager", region="EA", username=f"ea.manager.{lang}", locale=lang),
            "hq": world.user("hq_admin", username=f"hq.admin.{lang}", locale=lang),
        }
    return users


def _check(page, artifacts_dir, name: str, charts: int):
    page.wait_for_load_state()
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= charts, name
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, name
    page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_home_pages_and_channel_flow_with_charts(browser, live_server, channel, artifacts_dir, lang):
    base = live_server
    for role, charts in (("dealer", 0), ("region", 1), ("hq", 3)):
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      locale="zh-CN" if lang == "zh_CN" else "en-US")  # fmt: skip
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg, errs=page.console_errors: errs.append(msg.text) if msg.type == "error" else None)
        log_in(page, base, channel[lang][role], PASSWORD)
        if charts:
            _check(page, artifacts_dir, f"home_{role}_{lang}", charts)
            page.click("[data-chart=trend] .card-header a")
            page.wait_for_url(f"{base}/analytics/channel-flow?group_by=month")
            _check(page, artifacts_dir, f"channel_flow_from_{role}_home_{lang}", 1)
        else:
            page.wait_for_load_state()
            expect(page.locator("[data-stock]")).to_be_visible()
            expect(page.locator("[data-statements]")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            page.screenshot(path=str(artifacts_dir / f"home_dealer_{lang}.png"), full_page=True)
            page.click("[data-figure=on-hand]")
            page.wait_for_url(f"{base}/dealers/SH-001/stock")
        if role == "hq":
            page.goto(f"{base}/home")
            page.click("[data-region-flow=EA] a")
            page.wait_for_url("**/analytics/channel-flow?**region=EA**")
            expect(page.locator("a[data-drill=dealer]").first).to_be_visible()
            _check(page, artifacts_dir, f"channel_flow_EA_{lang}", 1)
        context.close()
