"""The channel-flow and price-monitoring pages: table, drill-down links, charts, CSV and XLSX exports equal to the rows
shown, and tenancy in every figure, drill-down and export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.conftest import login
from tests.test_channel_flow import fixed_channel

Q1 = "from=2026-01-01&to=2026-03-31"


@pytest.fixture
def channel(world):
    world.run(fixed_channel)


def _main(client, url) -> str:
    """The page's own content (the top bar carries random CSRF tokens that could hold any short text)."""
    resp = client.get(url)
    assert resp.status_code == 200
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _csv(client, url):
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def _xlsx(client, url):
    resp = client.get(url)
    assert resp.status_code == 200
    return [list(r) for r in load_workbook(io.BytesIO(resp.data)).active.values]


def _api_rows(client, world, query, username):
    body = client.get(f"/api/v1/analytics/channel-flow?{query}", headers=world.auth(username)).get_json()
    return body["rows"]


def test_hq_page_shows_regions_charts_and_drills_down_to_dealers_then_products(client, world, channel):
    user = world.user("channel_manager")
    login(client, user)
    page = _main(client, f"/analytics/channel-flow?{Q1}")
    assert "区域RA" in page and "区域RB" in page and "1,150.00" in page and "35.3%" in page
    assert 'data-chart="trend"' in page and 'data-chart="regions"' in page and "<svg" in page
    region_link = re.search(r'href="([^"]+)" data-drill="region">区域RA<', page).group(1).replace("&amp;", "&")
    assert "region=RA" in region_link and "group_by=dealer" in region_link
    dealers = _main(client, region_link)
    assert "DA1" in dealers and ">DB<" not in dealers
    dealer_link = re.search(r'href="([^"]+)" data-drill="dealer">DA<', dealers).group(1).replace("&amp;", "&")
    assert "dealer=DA" in dealer_link and "group_by=product" in dealer_link
    products = _main(client, dealer_link)
    assert "P1" in products and "P2" not in products and "P3" not in products


def test_the_trend_adds_amounts_across_products_and_pieces_only_within_a_category(client, world, channel):
    """Cars and oil filters do not add up as pieces: the trend is in thousand CNY over the whole range, in pieces
    once a category (or one product) is chosen."""
    login(client, world.user("channel_manager"))
    page = _main(client, f"/analytics/channel-flow?{Q1}")
    assert 'data-trend-unit="thousand_cny"' in page and "Monthly trend (thousand CNY)" in page
    category = world.get(__import__("portal.catalog.models", fromlist=["Product"]).Product, sku="P1")["category"]
    page = _main(client, f"/analytics/channel-flow?{Q1}&category={category}")
    assert 'data-trend-unit="pieces"' in page and "Monthly trend (quantities)" in page


def test_checkboxes_become_one_ordered_group_by(client, world, channel):
    login(client, world.user("channel_manager"))
    resp = client.get(f"/analytics/channel-flow?{Q1}&group_by=region&group_by=month")
    assert resp.status_code == 302 and "group_by=region%2Cmonth" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2026-02" in page


@pytest.mark.parametrize("group_by", ["region", "dealer,month", "region,category,product,month"])
def test_csv_and_xlsx_exports_hold_exactly_the_rows_shown(client, world, channel, group_by):
    user = world.user("finance")
    login(client, user)
    query = f"{Q1}&group_by={group_by}"
    rows = _api_rows(client, world, query, user)
    shown = client.get(f"/analytics/channel-flow?{query}").get_data(as_text=True)
    body = shown.split('<tbody>', 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == len(rows)
    table = _csv(client, f"/analytics/channel-flow?{query}&format=csv")
    header = table[0]
    assert header[-11:] == ["sell_in_qty", "sell_in_amount", "transfer_in_qty", "transfer_in_amount",
                            "sell_through_qty", "sell_through_amount", "opening_stock", "ending_stock",
                            "sell_through_rate", "days_of_inventory", "cash_received"]  # fmt: skip
    assert len(table) == len(rows) + 1
    assert ("category_name" in header) == ("category" in group_by)  # the name beside the code (here: the code)
    rows = [{**r, "category_name": r["category"]} if "category" in r else r for r in rows]
    for line, row in zip(table[1:], rows, strict=True):
        for h, v in zip(header, line, strict=True):
            assert v == ("" if row[h] is None else str(row[h])), h
    sheet = _xlsx(client, f"/analytics/channel-flow?{query}&format=xlsx")
    assert sheet[0] == header and len(sheet) == len(rows) + 1
    for line, row in zip(sheet[1:], rows, strict=True):
        for h, v in zip(header, line, strict=True):
            if row[h] is None:
                assert v is None
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                assert abs(float(row[h]) - v) < 1e-9, h
            else:
                assert str(v) == str(row[h]), h


def test_a_region_manager_sees_its_subtree_in_the_page_drill_down_and_exports(client, world, channel):
    login(client, world.user("region_manager", region="RA"))
    page = _main(client, f"/analytics/channel-flow?{Q1}")
    assert "区域RA1" in page and "区域RB" not in page and "DB" not in page
    assert "180.00" not in page  # DB's sell-through is nowhere, not even in the totals
    table = _csv(client, f"/analytics/channel-flow?{Q1}&group_by=dealer,product,month&format=csv")
    assert {r[0] for r in table[1:]} == {"DA", "DA1"}
    sheet = _xlsx(client, f"/analytics/channel-flow?{Q1}&group_by=dealer&format=xlsx")
    assert [r[0] for r in sheet[1:]] == ["DA", "DA1"]
    outside = _main(client, f"/analytics/channel-flow?{Q1}&group_by=product&dealer=DB")
    assert "Unknown dealer DB" in outside and "P3" not in outside.split("<tbody>", 1)[1]
    assert client.get(f"/analytics/channel-flow?{Q1}&dealer=DB&format=csv").mimetype != "text/csv"
    prices = _main(client, f"/analytics/price-monitoring?{Q1}")
    assert "DA" in prices and ">DB<" not in prices and "P3" not in prices


def test_dealers_cannot_open_the_analytics(client, world, channel):
    login(client, world.user("dealer_admin", dealer="DA"))
    assert client.get("/analytics/channel-flow").status_code == 403
    assert client.get("/analytics/price-monitoring").status_code == 403
    assert 'data-nav-item="channel-flow"' not in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_price_monitoring_page_lists_dealers_below_the_floor_and_their_lines(client, world, channel):
    login(client, world.user("channel_manager"))
    assert 'data-nav-item="channel-flow"' in client.get("/", follow_redirects=True).get_data(as_text=True)
    page = _main(client, f"/analytics/price-monitoring?{Q1}")
    assert "DA" in page and "DB" in page and "50.00" in page and "90.00" in page
    link = re.search(r'href="([^"]+)" data-drill="lines">P1<', page).group(1).replace("&amp;", "&")
    lines = _main(client, link)
    assert 'id="price-lines"' in lines and "2026-01-20" in lines and "上海" in lines and "2026-03-10" not in lines
    table = _csv(client, f"/analytics/price-monitoring?{Q1}&format=csv")
    assert table[0][:2] == ["dealer_code", "dealer_name"] and [r[0] for r in table[1:]] == ["DA", "DB"]
    assert table[1][-1] == "30.00"
    sheet = _xlsx(client, f"/analytics/price-monitoring?{Q1}&format=xlsx")
    assert len(sheet) == 3


def test_the_page_speaks_chinese(client, world, channel):
    login(client, world.user("channel_manager", locale="zh_CN"))
    resp = client.get(f"/analytics/channel-flow?{Q1}", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 200 and "区域RA" in resp.get_data(as_text=True)
