"""§16 on HQ's home: the channel by level (HQ's sell-in to level 1, transfers to level 2, each level's sales and
stock), from the same query as the regions' card, equal to channel flow grouped by level; hidden without
sub-dealers."""

from __future__ import annotations

import re

from portal.analytics import reports
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today
from tests.conftest import login
from tests.transfer_helpers import make_chain, receive, transfer


def _home(app, world) -> str:
    client = app.test_client()
    assert login(client, world.user("channel_manager", username="cm.levels")).status_code == 302
    return client.get("/home").get_data(as_text=True)


def _cell(html: str, level: int) -> dict:
    row = html[html.index(f'<tr data-level="{level}">'):]
    row = row[: row.index("</tr>")]
    return {"stock": int(re.search(r'data-stock="(-?\d+)"', row).group(1)), "row": row}


def test_the_hq_home_shows_the_channel_by_level_as_channel_flow_does(app, world):
    chain = make_chain(world)  # HQ sold DIST-1 cars and oil; SUB-1A ordered some from DIST-1
    number = transfer(world, chain["order"], "dist1.staff", serials=chain["cars"][:1], lines=[("OIL-1", 4)])
    receive(world, number, "sub1a.staff")
    html = _home(app, world)
    assert "data-stock-by-level" in html
    date_from, date_to = reports.last_12_months(today())

    def flow():
        return reports.channel_flow(Scope("hq"), date_from, date_to, ["level"])["rows"]

    rows = {r["level"]: r for r in world.run(flow)}
    for level in (1, 2):
        cell = _cell(html, level)
        assert cell["stock"] == rows[level]["ending_stock"]
        goods_in = rows[level]["sell_in_qty"] if level == 1 else rows[level]["transfer_in_qty"]
        assert f'<span class="num">{goods_in}</span>' in cell["row"]
    assert rows[2]["transfer_in_qty"] >= 5 and rows[2]["sell_in_qty"] == 0  # transfers are never sell-in


def test_without_sub_dealers_the_card_is_not_shown(app, world):
    world.region("R1")
    world.dealer("D-1", "R1")
    assert world.run(lambda: db.session.query(Dealer).filter(Dealer.parent_id.is_not(None)).count()) == 0
    html = _home(app, world)
    assert "data-chart=\"regions\"" in html and "data-stock-by-level" not in html  # the page, without the card


def test_channel_flow_by_level_without_sub_dealers_is_all_level_one(app, world):
    world.region("R1")
    world.dealer("D-1", "R1")
    world.product("P-1")
    world.sold("D-1", "P-1", today(), 2)
    date_from, date_to = reports.last_12_months(today())
    for group_by in (["level"], ["level", "month"], ["region", "level"], ["level", "dealer"]):
        rows = world.run(lambda g=group_by: reports.channel_flow(Scope("hq"), date_from, date_to, g)["rows"])
        assert {r["level"] for r in rows} == {1} and sum(r["sell_through_qty"] for r in rows) == 2, group_by
