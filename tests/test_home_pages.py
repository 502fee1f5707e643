"""Everyone's home page (PRODUCT.md §8): the dealer's statements to confirm, stock and sell-through; the region
manager's credit exposure, approvals and sell-through trend (its region only); HQ's credit utilisation, orders by
status, units by stage and channel flow with a drill-down per region. Every figure links to the list behind it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.platform.timeutil import today
from tests.conftest import login


def _main(client, url="/home") -> str:
    resp = client.get(url)
    assert resp.status_code == 200
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _figure(html: str, name: str) -> tuple[str, str]:
    m = re.search(rf'data-figure="{re.escape(name)}" href="([^"]*)">([^<]*)<', html)
    assert m, name
    return m.group(2).strip(), m.group(1).replace("&amp;", "&")


@pytest.fixture
def channel(world):
    """Two regions under the root, a dealer in each; stock received 40 days ago and sold in the last 30 days."""
    world.region("CN")
    world.region("EA", parent="CN", name="华东")
    world.region("NO", parent="CN", name="华北")
    world.dealer("SH-1", "EA")
    world.dealer("BJ-1", "NO")
    world.product("CAR-1", list_price="1000.00")
    now = today()
    world.dealer_receipt("SH-1", "CAR-1", 10, on=now - dt.timedelta(days=40))
    world.dealer_receipt("BJ-1", "CAR-1", 5, on=now - dt.timedelta(days=40))
    world.sold("SH-1", "CAR-1", now - dt.timedelta(days=5), 3, "1200.00")
    world.sold("BJ-1", "CAR-1", now - dt.timedelta(days=3), 2, "900.00")
    world.sold("SH-1", "CAR-1", now - dt.timedelta(days=35), 1, "1100.00")  # older than 30 days
    last_month_end = now.replace(day=1) - dt.timedelta(days=1)
    world.invoice("SH-1", amount="5000.00", issued_on=last_month_end.replace(day=2))
    period = last_month_end.strftime("%Y-%m")
    return {"statement": world.statement("SH-1", period), "period": period}


def test_dealer_home_shows_statements_to_confirm_stock_and_sell_through(client, world, channel):
    login(client, world.user("dealer_admin", dealer="SH-1"))
    html = _main(client)
    sid = channel["statement"]
    assert "Statements to confirm" in html and f'href="/statements/{sid}"' in html
    assert f"ST-{channel['period'].replace('-', '')}-SH-1" in html
    assert _figure(html, "on-hand") == ("6", "/dealers/SH-1/stock")  # 10 received − 3 − 1 sold
    assert _figure(html, "incoming")[0] == "0"
    since = (today() - dt.timedelta(days=29)).isoformat()
    assert _figure(html, "sold-qty") == ("3", f"/sell-through?from={since}")
    assert _figure(html, "sold-amount")[0] == "3,600.00"
    assert 'href="/sell-through"' in html


def test_a_confirmed_statement_is_no_longer_awaiting(client, world, channel):
    from portal.extensions import db
    from portal.statements.models import Statement

    world.run(lambda: setattr(db.session.get(Statement, channel["statement"]), "status", "confirmed"))
    login(client, world.user("dealer_admin", dealer="SH-1"))
    assert "data-statements" not in _main(client)


def test_dealer_staff_without_statements_sees_stock(client, world, channel):
    login(client, world.user("dealer_staff", dealer="BJ-1"))
    html = _main(client)
    assert "data-statements" not in html
    assert _figure(html, "on-hand")[0] == "3" and _figure(html, "sold-qty")[0] == "2"


def test_region_manager_sees_only_its_region_trend_and_exposure(client, world, channel):
    world.credit_limit("SH-1", "20000")
    world.credit_limit("BJ-1", "30000")
    login(client, world.user("region_manager", region="EA"))
    html = _main(client)
    assert 'data-chart="trend"' in html and '<svg class="chart"' in html
    # SH-1 only, 12 months, in money (pieces of different products do not add up): 3 × 1,200 + 1 × 1,100
    assert _figure(html, "sell-through") == ("4,700.00", "/analytics/channel-flow?group_by=month")
    assert _figure(html, "sell-in")[0] == "0.00" and _figure(html, "cash")[0] == "0.00"
    assert "Monthly trend (thousand CNY)" in html and "quantities" not in html
    assert _figure(html, "credit") == ("20,000.00", "/receivables")
    assert _figure(html, "exposure")[0] == "5,000.00"
    assert _figure(html, "approvals") == ("0", "/approvals")
    assert "BJ-1" not in html and "30,000.00" not in html


def test_hq_sees_utilisation_orders_units_and_channel_flow_by_region(client, world, channel):
    world.credit_limit("SH-1", "20000")
    world.credit_limit("BJ-1", "30000")
    login(client, world.user("hq_admin"))
    html = _main(client)
    assert 'data-chart="trend"' in html and 'data-chart="regions"' in html and html.count('<svg class="chart"') >= 3
    assert _figure(html, "sell-through")[0] == "6,500.00"  # + BJ-1's 2 × 900
    assert _figure(html, "credit")[0] == "50,000.00" and _figure(html, "exposure")[0] == "5,000.00"
    assert "/analytics/channel-flow?region=EA&amp;group_by=dealer" in html or (
        "/analytics/channel-flow?group_by=dealer&amp;region=EA" in html
    )
    assert 'data-region-flow="NO"' in html and "华北" in html
    assert 'href="/orders?status=credit_review"' in html and 'href="/production"' in html
    assert "Orders by status" in html and "Units by stage" in html


def test_hq_home_counts_orders_by_status(client, world, channel):
    world.product("PART-1", list_price="10.00")
    world.credit_limit("SH-1", "100000")
    world.order("SH-1", [("PART-1", 2)])
    login(client, world.user("hq_admin"))
    html = _main(client)
    counts = dict(re.findall(r'data-status="([a-z_]+)" href="[^"]*">(\d+)<', html))
    assert sum(int(v) for v in counts.values()) == 1


def test_finance_home_is_finances_queue_then_receivables_not_the_channel_overview(client, world, channel):
    """Finance's own home (§8, §12): what waits for finance first, then receivables — ageing, overdue, the dealers most
    overdue, the latest payments — and none of the channel overview (orders, units, sell-through)."""
    now = today()
    world.invoice("BJ-1", "INV-BJ-OLD", amount="9000.00", issued_on=now - dt.timedelta(days=130),
                  due_on=now - dt.timedelta(days=100))  # fmt: skip
    world.invoice("SH-1", "INV-SH-LATE", amount="2000.00", issued_on=now - dt.timedelta(days=50),
                  due_on=now - dt.timedelta(days=20))  # fmt: skip
    world.payment("BJ-1", "1000.00", received_on=now - dt.timedelta(days=2), reference="BANK-RECENT")
    world.hold("BJ-1")
    login(client, world.user("finance"))
    html = _main(client)
    assert html.index("data-queues") < html.index("data-receivables")
    assert 'data-queue="credit_holds"' in html and 'data-dealer="BJ-1"' in html
    assert "Channel overview" not in html and "data-orders-by-status" not in html and "data-units-by-stage" not in html
    assert 'data-chart="trend"' not in html and 'data-chart="regions"' not in html
    # receivables: the fixture's 5,000 (SH-1, issued on the 2nd of last month) + 2,000 + 9,000 − 1,000
    total, link = _figure(html, "receivables")
    assert total == "15,000.00" and link == "/receivables"
    overdue = _figure(html, "overdue")[0]
    assert overdue in ("10,000.00", "15,000.00")  # the fixture's invoice is overdue or not depending on the day
    assert _figure(html, "over-90")[0] == "8,000.00"  # 9,000 less the 1,000 applied to it (oldest first)
    assert _figure(html, "on-hold") == ("1", "/home/queues/credit_holds")
    assert html.index('data-overdue-dealer="BJ-1"') < html.index('data-overdue-dealer="SH-1"')  # most overdue first
    assert 'data-payment="BANK-RECENT"' in html and "data-ageing" in html and 'data-bucket="over_90"' in html
