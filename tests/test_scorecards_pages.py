"""The scorecards page (PRODUCT.md §15): HQ's and a region manager's ranking (ranks, score, each component's value
and points, the weights in the header), filters, CSV/XLSX exports equal to the rows shown; a dealer's own card with
its ranks "n of N" and a reason per component, and no other dealer anywhere; both languages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from portal.platform.timeutil import freeze
from tests.conftest import login
from tests.test_scorecard_components import scored_channel

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def channel(world):
    scored_channel(world)
    world.user("channel_manager", username="cm.sc")
    world.user("region_manager", region="NORTH", username="rm.north")
    world.user("dealer_staff", dealer="SC-A", username="a.staff")
    world.user("dealer_admin", dealer="SC-A-S1", username="a.sub")
    world.user("dealer_admin", dealer="SC-C", username="c.admin", locale="zh_CN")


def _page(client, url, status=200) -> str:
    with freeze(NOW):
        resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True)


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _ranked(html: str) -> list[str]:
    return re.findall(r'<tr data-dealer="([^"]+)"', html)


def test_hq_sees_the_ranking_with_components_and_weights(client, channel):
    login(client, "cm.sc")
    html = _main(_page(client, "/scorecards"))
    assert _ranked(html) == ["SC-B", "SC-C", "SC-A"]
    assert 'value="2026-11"' in html and "2026-11-30" in html
    for weight in ("achievement:30", "dso:15", "overdue_share:15", "sell_through_rate:15", "days_of_inventory:15",
                   "below_floor:10"):  # fmt: skip
        assert f'data-weight="{weight}"' in html
    row_a = html.split('data-dealer="SC-A"', 1)[1].split("</tr>", 1)[0]
    assert "3 of 3" in row_a and "2 of 2" in row_a and ">50.0<" in row_a
    assert "65.0%" in row_a and "65.0 pts" in row_a  # achievement value and points
    assert 'data-region="N1"' in row_a
    row_b = html.split('data-dealer="SC-B"', 1)[1].split("</tr>", 1)[0]
    assert row_b.count(" pts<") == 1  # only overdue share has points: the null components show none
    assert "135.0" in row_a and "33.3%" in row_a and "45.0" in row_a and "25.0%" in row_a
    assert 'class="table table-hover table-sm mb-0 align-middle table-stack"' in html
    assert re.search(r'data-label="Score" data-score', row_a)
    assert "<script" not in html and "style=" not in html


def test_the_filters_narrow_the_ranking_and_a_bad_month_says_why(client, channel):
    login(client, "cm.sc")
    assert _ranked(_main(_page(client, "/scorecards?region=NORTH"))) == ["SC-B", "SC-A"]
    html = _main(_page(client, "/scorecards?period=2026-13"))
    assert "data-error" in html and "YYYY-MM" in html and not _ranked(html)
    html = _main(_page(client, "/scorecards?region=NOWHERE"))
    assert "Unknown region NOWHERE" in html and not _ranked(html)
    html = _main(_page(client, "/scorecards?period=2027-01"))
    assert "data-error" in html


def test_a_region_manager_sees_its_dealers_only(client, channel):
    login(client, "rm.north")
    html = _main(_page(client, "/scorecards"))
    assert _ranked(html) == ["SC-B", "SC-A"]
    assert "SC-C" not in html and "丙车行" not in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_hold_the_rows_shown(client, channel, fmt):
    login(client, "rm.north")
    with freeze(NOW):
        resp = client.get(f"/scorecards?format={fmt}")
    assert resp.status_code == 200
    if fmt == "csv":
        assert resp.mimetype == "text/csv"
        rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    else:
        rows = [["" if v is None else v if isinstance(v, str) else format(Decimal(str(v)).normalize(), "f")
                 for v in r] for r in load_workbook(io.BytesIO(resp.data)).active.values]  # fmt: skip
    header, body = rows[0], rows[1:]
    assert header[:10] == ["period", "rank_channel", "channel_size", "rank_region", "region_size", "dealer_code",
                           "dealer_name", "region_code", "region_name", "score"]  # fmt: skip
    assert "dso_value" in header and "dso_points" in header and "dso_weight" in header
    col = {h: i for i, h in enumerate(header)}
    assert [r[col["dealer_code"]] for r in body] == ["SC-B", "SC-A"]
    a = body[1]
    figures = [a[col[k]] for k in ("rank_channel", "score", "dso_value", "dso_points", "overdue_share_value")]
    assert a[col["period"]] == "2026-11"
    assert [Decimal(v) for v in figures] == [3, Decimal("50.0"), Decimal("135.0"), 0, Decimal("0.3333")]
    assert a[col["achievement_weight"]] == "30" and body[0][col["achievement_value"]] == ""


def test_a_dealer_sees_its_own_card_with_reasons_and_no_one_else(client, channel):
    login(client, "a.staff")
    page = _page(client, "/scorecards")
    html = _main(page)
    assert 'data-own-card="SC-A"' in html and not _ranked(html)
    assert "2 of 2" in html and "3 of 3" in html and ">50.0<" in html
    reasons = re.findall(r'data-component="(\w+)">.*?data-reason>([^<]+)<', html, re.S)
    assert [name for name, _r in reasons] == ["achievement", "dso", "overdue_share", "sell_through_rate",
                                              "days_of_inventory", "below_floor"]  # fmt: skip
    why = dict(reasons)
    assert why["dso"] == "DSO 135.0 days: 30 days or less scores 100, 120 or more 0."
    assert why["days_of_inventory"] == "45.0 days of inventory: 30 days or less scores 100, 180 or more 0."
    assert why["achievement"] == ("65.0% of the targets reached on average: 100% or more scores 100, 0% or less 0.")
    assert why["below_floor"] == "25.0% of the pieces sold below the floor: 0% scores 100, 20% or more 0."
    assert why["overdue_share"] == "33.3% of the open invoices overdue: 0% scores 100, 50% or more 0."
    for other in ("乙车行", "丙车行"):
        assert other not in page
    for other in ("SC-B", "SC-C"):
        assert other not in html
    assert 'name="region"' not in html  # no region filter for a dealer
    with freeze(NOW):
        export = client.get("/scorecards?format=csv").get_data(as_text=True)
    assert "SC-A" in export and "SC-B" not in export and "SC-C" not in export


def test_a_dealer_without_a_target_is_told_why_achievement_is_left_out(client, channel):
    login(client, "c.admin")
    html = _main(_page(client, "/scorecards"))
    assert 'data-own-card="SC-C"' in html  # a user reading Chinese
    assert "本月无任务：不计入评分。" in html and "经销商评分" not in html and "我们的评分" in html
    assert "第 1 / 共 1" in html and "第 2 / 共 3" in html  # in its region, in the channel
    assert "应收天数 90.0 天：30 天及以下得 100 分，120 天及以上得 0 分。" in html


def test_a_sub_dealer_is_not_ranked(client, channel):
    login(client, "a.sub")
    html = _main(_page(client, "/scorecards"))
    assert "data-not-ranked" in html and "data-own-card" not in html
    for other in ("SC-A<", "甲车行", "SC-B", "SC-C"):
        assert other not in html


def test_the_page_speaks_chinese(client, world, channel):
    world.user("hq_admin", username="hq.zh", locale="zh_CN")
    login(client, "hq.zh")
    html = _main(_page(client, "/scorecards"))
    assert "经销商评分" in html and "任务达成 <span" in html and "第 3 / 共 3" in html and "65.0 分" in html


def test_anonymous_visitors_go_to_the_login_page(client, channel):
    resp = client.get("/scorecards")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_values_are_shown_rounded_half_up_like_the_reasons(app):
    from portal.targets.scorecard_views import points_text, score_text, value_text

    with app.test_request_context():
        assert value_text("overdue_share", {"value": Decimal("0.3325")}) == "33.3%"  # not 33.2 (to even)
        assert value_text("sell_through_rate", {"value": Decimal("1.2000")}) == "120.0%"
        assert value_text("dso", {"value": Decimal("45.0")}) == "45.0"
        assert value_text("days_of_inventory", None) == value_text("overdue_share", {"value": None}) == "—"
        assert points_text(None) == score_text(None) == "—"
        assert points_text({"points": Decimal("33.3")}) == "33.3"
