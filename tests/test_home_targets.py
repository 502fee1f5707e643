"""Targets and scorecards where people see them (PRODUCT.md §15): the HQ and region homes' card (this year's target
against actual per month, the year to date, the ranking), a dealer's own card on its home and on its overview.

Every figure shown is the achievement module's or the scorecards module's answer for the same scope (compared with
`achievement()` / `scorecards()` called directly); a dealer sees its own targets and score — its ranks with the group
sizes, never another dealer's name; a region manager's ranking holds its dealers only; a sub-dealer (§16) has no
targets: its home and its overview show none of it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal

import pytest

from portal.extensions import db
from portal.platform.timeutil import today
from tests.conftest import login

MEASURES = ("sell_in_amount", "sell_through_units", "collections_amount")
NAMES = {"SH-1": "上海一号经销商", "SH-2": "上海二号经销商", "BJ-1": "北京一号经销商", "SH-1-A": "上海分销甲"}


def _main(client, url="/home") -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _section(html: str, marker: str) -> str:
    """The card that carries `marker` (up to the next card of the page's top level)."""
    start = html.index(marker)
    end = html.find('<div class="card mb-4"', start + 1)
    return html[start : end if end > 0 else len(html)]


def _fig(html: str, name: str) -> str:
    m = re.search(rf'data-figure="{re.escape(name)}"[^>]*>([^<]*)<', html)
    assert m, name
    return m.group(1).strip()


def _month_fig(row: str, name: str) -> str:
    return _fig(row, name)


def _pct(value) -> str:
    if value is None:
        return "—"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.1'), ROUND_HALF_UP):,}%"


def _num(value, units: bool) -> str:
    if value is None:
        return "—"
    return f"{int(value):,}" if units else f"{Decimal(value):,.2f}"


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def targets_world(world):
    return build_targets_world(world)


def build_targets_world(world, locale: str = "en") -> dict:
    """CN → 华东 (SH-1, a distributor with its sub-dealer SH-1-A; SH-2) and 华北 (BJ-1); sales this month and last,
    payments, and targets for every month of the year so far: the regions (HQ's), the dealers (the region's split)."""
    world.region("CN")
    world.region("EA", parent="CN", name="华东")
    world.region("NO", parent="CN", name="华北")
    for code, region in (("SH-1", "EA"), ("SH-2", "EA"), ("BJ-1", "NO")):
        world.dealer(code, region, name=NAMES[code])
    world.sub_dealer("SH-1", "SH-1-A", name=NAMES["SH-1-A"])
    world.product("CAR-1", list_price="1000.00", category="cars")
    world.product("OIL-1", list_price="50.00", category="parts")
    now = today()
    month = now.replace(day=1)
    last = _add_months(month, -1)
    for code, qty in (("SH-1", 4), ("SH-2", 7), ("BJ-1", 2), ("SH-1-A", 3)):
        world.dealer_receipt(code, "CAR-1", 30, on=last)
        world.sold(code, "CAR-1", last, qty, "1200.00")
        world.sold(code, "CAR-1", now, 1, "1100.00")
    world.stock("OIL-1", 100)
    for code, qty in (("SH-1", 10), ("SH-2", 30), ("BJ-1", 20)):  # HQ's sell-in, shipped today
        world.credit_limit(code, "500000.00")
        order = world.order(code, [("OIL-1", qty)])
        world.shipment(order, [("OIL-1", qty)])
    for code, amount in (("SH-1", "9000.00"), ("SH-2", "4000.00"), ("BJ-1", "12000.00")):
        world.invoice(code, amount="20000.00", issued_on=last)
        world.payment(code, amount, received_on=now)
        world.payment(code, "1000.00", received_on=last)

    def add_targets():
        from portal.dealers.models import Dealer, Region
        from portal.targets.models import Target

        regions = {r.code: r.id for r in db.session.query(Region)}
        dealers = {d.code: d.id for d in db.session.query(Dealer)}
        m = month.replace(month=1)
        while m <= month:
            for measure in MEASURES:
                units = measure == "sell_through_units"
                for code, amount in (("EA", 12), ("NO", 3)):
                    db.session.add(
                        Target(
                            month=m,
                            region_id=regions[code],
                            measure=measure,
                            amount=Decimal(amount if units else amount * 1000),
                            updated_by="channel",
                        )
                    )
                for code, amount in (("SH-1", 5), ("SH-2", 6), ("BJ-1", 3)):
                    db.session.add(
                        Target(
                            month=m,
                            dealer_id=dealers[code],
                            measure=measure,
                            amount=Decimal(amount if units else amount * 1000),
                            updated_by="rm",
                        )
                    )
            m = _add_months(m, 1)

    world.run(add_targets)
    return {
        "hq": world.user("channel_manager", username="hq.t", locale=locale),
        "rm": world.user("region_manager", region="EA", username="rm.ea", locale=locale),
        "sh2": world.user("dealer_admin", dealer="SH-2", username="sh2.admin", locale=locale),
        "sh1": world.user("dealer_admin", dealer="SH-1", username="sh1.admin", locale=locale),
        "sub": world.user("dealer_admin", dealer="SH-1-A", username="sh1a.admin", locale=locale),
    }


def _as(app, username: str, fn):
    """`fn(scope)` in a request of `username` (its scope as the pages make it)."""
    from flask_login import login_user

    from portal.dealers.models import User
    from portal.platform.tenancy import current_scope

    with app.test_request_context("/"):
        login_user(db.session.query(User).filter_by(username=username).one())
        try:
            return fn(current_scope())
        finally:
            db.session.remove()


def _year(scope, measure="sell_in_amount", dealer=None):
    from portal.targets.achievement import achievement

    on = today()
    return achievement(scope, on.replace(month=1, day=1), on.replace(day=1), group_by="month", measure=measure,
                       dealer=dealer)  # fmt: skip


def _ranking(scope):
    from portal.targets.scorecards import scorecards

    period = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return [r for r in scorecards(scope, period)["rows"] if r["score"] is not None]


@pytest.mark.parametrize("measure", MEASURES)
def test_hq_home_card_is_achievement_by_month(app, client, targets_world, measure):
    login(client, targets_world["hq"])
    html = _section(_main(client, f"/home?target_measure={measure}"), "data-targets-card")
    expected = _as(app, targets_world["hq"], lambda s: _year(s, measure))
    units = measure == "sell_through_units"
    assert f'data-measure="{measure}"' in html
    totals = expected["totals"]
    assert totals["target"] is not None and totals["actual"]
    assert _fig(html, "ytd-pct") == _pct(totals["pct"])
    assert _fig(html, "ytd-actual") == _num(totals["actual"], units)
    assert _fig(html, "ytd-target") == _num(totals["target"], units)
    assert _fig(html, "ytd-forecast") == _num(totals["forecast"], units)
    # the chart: one month per row of achievement(group_by="month"), target and actual as drawn
    assert 'data-chart="targets"' in html
    for r in expected["rows"]:
        assert f"{r['key'][5:]} · " in html
    last = expected["rows"][-1]
    value = last["actual"] if units else round(last["actual"] / 1000)
    assert f"{last['key'][5:]} · Actual: {int(value)}<" in html


def test_hq_home_ranking_is_the_scorecards_order(app, client, targets_world):
    login(client, targets_world["hq"])
    html = _section(_main(client), "data-targets-card")
    ranked = _as(app, targets_world["hq"], _ranking)
    assert len(ranked) == 3  # the level-1 dealers: the sub-dealer is never ranked
    shown = re.findall(r'data-dealer="([^"]+)"', html)
    assert shown == [r["dealer_code"] for r in ranked]  # three dealers: the upper half, then the lower
    for r in ranked:
        row = html.split(f'data-dealer="{r["dealer_code"]}"', 1)[1].split("</li>", 1)[0]
        assert re.search(r"data-score>([^<]*)<", row).group(1) == str(r["score"])
    assert NAMES["SH-1-A"] not in html


def test_unknown_measure_falls_back_to_sell_in(client, targets_world):
    login(client, targets_world["hq"])
    html = _main(client, "/home?target_measure=bogus")
    assert 'data-targets-card data-measure="sell_in_amount"' in html


def test_region_home_card_covers_its_region_only(app, client, targets_world):
    login(client, targets_world["rm"])
    html = _section(_main(client), "data-targets-card")
    expected = _as(app, targets_world["rm"], _year)["totals"]
    assert expected["target"] == Decimal("12000.00") * today().month  # its region's own target (HQ's figure)
    assert _fig(html, "ytd-target") == _num(expected["target"], False)
    assert _fig(html, "ytd-actual") == _num(expected["actual"], False)
    assert _fig(html, "ytd-pct") == _pct(expected["pct"])
    shown = re.findall(r'data-dealer="([^"]+)"', html)
    assert sorted(shown) == ["SH-1", "SH-2"] and NAMES["BJ-1"] not in html


def _own_card_matches(app, username: str, html: str, dealer: str) -> None:
    card = _section(html, "data-own-targets")
    for measure in MEASURES:
        expected = _as(app, username, lambda s, m=measure: _year(s, m, dealer))
        units = measure == "sell_through_units"
        row = card.split(f'data-measure="{measure}">', 1)[1]
        month, ytd = expected["rows"][-1], expected["totals"]
        assert _fig(row, "month-target") == _num(month["target"], units)
        assert _fig(row, "month-actual") == _num(month["actual"], units)
        assert _fig(row, "month-pct") == _pct(month["pct"])
        assert _fig(row, "month-forecast") == _num(month["forecast"], units)
        assert _fig(row, "ytd-target") == _num(ytd["target"], units)
        assert _fig(row, "ytd-actual") == _num(ytd["actual"], units)
        assert _fig(row, "ytd-pct") == _pct(ytd["pct"])
        assert _fig(row, "ytd-forecast") == _num(ytd["forecast"], units)


def test_dealer_home_shows_its_own_targets_and_score_only(app, client, targets_world):
    login(client, targets_world["sh2"])
    html = _main(client)
    _own_card_matches(app, targets_world["sh2"], html, "SH-2")
    card = _section(html, "data-own-targets")
    ranked = _as(app, targets_world["hq"], _ranking)
    mine = next(r for r in ranked if r["dealer_code"] == "SH-2")
    assert _fig(card, "score") == str(mine["score"])
    assert f"{mine['rank_region']}" in re.search(r'data-rank="region">([^<]*)<', card).group(1)
    assert f"of {mine['region_size']} in 华东" in card and f"of {mine['channel_size']} in the channel" in card
    assert 'data-component="achievement"' in card and 'data-component="dso"' in card
    for other in ("SH-1", "BJ-1", "SH-1-A"):  # never another dealer's name, anywhere on its home
        assert NAMES[other] not in html and f">{other}<" not in html


def test_distributor_counts_its_sub_dealers_sell_through(app, client, targets_world):
    login(client, targets_world["sh1"])
    html = _main(client)
    _own_card_matches(app, targets_world["sh1"], html, "SH-1")
    row = _section(html, "data-own-targets").split('data-measure="sell_through_units">', 1)[1]
    assert _fig(row, "month-actual") == "2"  # its own sale today and its sub-dealer's
    assert NAMES["SH-1-A"] not in _section(html, "data-own-targets")


def test_overview_shows_the_dealers_own_card(app, client, targets_world):
    login(client, targets_world["hq"])
    html = _main(client, "/dealers/SH-2")
    _own_card_matches(app, targets_world["hq"], html, "SH-2")
    card = _section(html, "data-own-targets")
    for other in ("SH-1", "BJ-1"):
        assert NAMES[other] not in card
    own = client.application.test_client()
    login(own, targets_world["sh2"])
    mine = _main(own, "/dealers/SH-2")
    assert "data-own-targets" in mine
    assert _fig(_section(mine, "data-own-targets"), "ytd-target") == _fig(card, "ytd-target")


def test_sub_dealer_has_no_targets_card(client, targets_world):
    login(client, targets_world["sub"])
    assert "data-own-targets" not in _main(client)
    assert "data-own-targets" not in _main(client, "/dealers/SH-1-A")
    hq = client.application.test_client()
    login(hq, targets_world["hq"])
    assert "data-own-targets" not in _main(hq, "/dealers/SH-1-A")


def test_no_targets_yet(client, world):
    world.region("CN")
    world.region("EA", parent="CN")
    world.dealer("SH-9", "EA")
    login(client, world.user("hq_admin"))
    html = _section(_main(client), "data-targets-card")
    assert "data-no-targets" in html and _fig(html, "ytd-pct") == "—"
    dealer = client.application.test_client()
    login(dealer, world.user("dealer_admin", dealer="SH-9"))
    assert "data-no-targets" in _section(_main(dealer), "data-own-targets")
