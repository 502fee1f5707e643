"""The achievement page: renders for every role with its table, chart and totals; drill-down links (a region to its
children or dealers, a dealer to its months); CSV and XLSX equal to the rows; a dealer sees its own figures only;
bad input is a message on the page, in both languages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from portal.platform.timeutil import freeze
from tests.conftest import login
from tests.test_achievement_api import NOW, achievement_channel

Q1 = "from=2026-01&to=2026-03"
PAGE = "/targets/achievement"


@pytest.fixture
def channel(world):
    world.run(achievement_channel)


def _main(client, url) -> str:
    with freeze(NOW):
        resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _link(page: str, kind: str, text: str) -> str:
    return re.search(rf'href="([^"]+)" data-drill="{kind}">{re.escape(text)}<', page).group(1).replace("&amp;", "&")


@pytest.mark.parametrize("role", ["channel_manager", "hq_admin", "finance"])
def test_hq_sees_regions_chart_totals_and_drills_down(client, world, channel, role):
    login(client, world.user(role))
    page = _main(client, f"{PAGE}?{Q1}&measure=sell_through_units")
    assert 'data-chart="target-actual"' in page and "<svg" in page and 'data-row="total"' in page
    assert 'data-row="RA"' in page and 'data-row="RB"' in page and 'data-kind="direct"' in page
    assert "table-stack" in page and 'data-label="Target"' in page
    assert 'data-pct-bar="26"' in page  # RA: 8 of 30
    region = _link(page, "region", "区域RA")
    assert "region=RA" in region and "group_by=region" in region  # RA has a child region
    children = _main(client, region)
    assert 'data-row="RA1"' in children and 'data-row="RB"' not in children
    leaf = _link(children, "region", "区域RA1")
    assert "group_by=dealer" in leaf  # no sub-regions: its dealers
    dealers = _main(client, leaf)
    assert 'data-row="DA1"' in dealers and 'data-row="DA"' not in dealers
    month_link = _link(dealers, "dealer", "DA1")
    assert "dealer=DA1" in month_link and "group_by=month" in month_link
    months = _main(client, month_link)
    assert 'data-row="2026-01"' in months and 'data-row="2026-03"' in months and 'data-filter="dealer"' in months


def test_a_region_manager_sees_its_subtree(client, world, channel):
    login(client, world.user("region_manager", region="RA"))
    page = _main(client, f"{PAGE}?{Q1}&measure=sell_through_units")
    assert 'data-row="RA1"' in page and 'data-row="RA"' in page and 'data-row="RB"' not in page
    assert "区域RB" not in page
    error = _main(client, f"{PAGE}?{Q1}&region=RB")
    assert "data-error" in error and "Unknown region RB" in error


def test_a_dealer_sees_its_own_months_only(client, world, channel):
    login(client, world.user("dealer_admin", dealer="DB"))
    page = _main(client, f"{PAGE}?{Q1}")
    assert 'data-row="2026-01"' in page and 'data-kind="month"' in page
    assert "经销商DA" not in page and "区域RA" not in page and 'id="region"' not in page
    assert 'data-kpi="target"' in page and "1,000.00" in page  # its own sell-in target in January
    own = _main(client, f"{PAGE}?{Q1}&group_by=dealer")
    assert 'data-row="DB"' in own and 'data-row="DA"' not in own
    other = _main(client, f"{PAGE}?{Q1}&dealer=DA")
    assert "data-error" in other and 'data-row="DA"' not in other


def test_a_sub_dealer_sees_an_empty_page(client, world, channel):
    login(client, world.user("dealer_admin", dealer="SA"))
    page = _main(client, f"{PAGE}?{Q1}")
    assert "No targets or figures in this view." in page


def test_exports_equal_the_rows(app, client, world, channel):
    login(client, world.user("channel_manager"))
    with freeze(NOW):
        resp = client.get(f"{PAGE}?{Q1}&measure=sell_through_units&group_by=dealer&format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:6] == ["key", "name", "kind", "target", "actual", "pct"]
    assert [r[0] for r in rows[1:]] == ["DA", "DA1", "DB", "DR"]
    da = rows[1]
    assert (da[3], da[4], da[5]) == ("4", "7", "1.7500")  # target 4 (January), 5 own + SA's 2
    with freeze(NOW):
        resp = client.get(f"{PAGE}?{Q1}&measure=sell_through_units&group_by=dealer&format=xlsx")
    sheet = [list(r) for r in load_workbook(io.BytesIO(resp.data)).active.values]
    assert [r[0] for r in sheet[1:]] == ["DA", "DA1", "DB", "DR"]
    other = app.test_client()
    login(other, world.user("dealer_staff", dealer="DB"))
    with freeze(NOW):
        own = other.get(f"{PAGE}?{Q1}&group_by=region&format=csv").get_data(as_text=True)
    assert [r[0] for r in list(csv.reader(io.StringIO(own.lstrip("\ufeff"))))[1:]] == ["DB"]


BAD = [
    ("from=2026-13", "YYYY-MM"),
    ("from=2026-03&to=2026-01", "end"),
    ("measure=profit", "Unknown measure"),
    ("measure=collections_amount&category=parts", "category"),
]


@pytest.mark.parametrize(("query", "message"), BAD)
def test_bad_input_is_a_message_on_the_page(client, world, channel, query, message):
    login(client, world.user("channel_manager"))
    page = _main(client, f"{PAGE}?{query}")
    assert "data-error" in page and message in page and 'data-export="csv"' not in page


def test_the_page_speaks_chinese(client, world, channel):
    login(client, world.user("channel_manager", locale="zh_CN"))
    with freeze(NOW):
        resp = client.get(f"{PAGE}?{Q1}", headers={"Accept-Language": "zh-CN"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "任务达成" in page and "同比" in page and "去年同期" in page
