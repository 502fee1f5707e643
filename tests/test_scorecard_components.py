"""Scorecard components (PRODUCT.md §15): each component's value and points at and beyond its bounds, null handling,
the weights (0 leaves a component out; the others are renormalised), half-up rounding and ties by dealer code.

`scored_channel` builds a small channel whose every figure is worked out by hand below (November 2026, measured to
its last day): other scorecard test modules import it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.extensions import db
from portal.targets import scorecards as sc

D = Decimal
NOV = dt.date(2026, 11, 1)
TODAY = dt.date(2026, 12, 7)


def _target(code: str, measure: str, amount: str, month: dt.date = NOV) -> None:
    from portal.dealers.models import Dealer
    from portal.targets.models import Target

    dealer = db.session.query(Dealer).filter_by(code=code).one()
    db.session.add(Target(month=month, dealer_id=dealer.id, measure=measure, category="", amount=D(amount),
                          updated_by="test"))  # fmt: skip


def scored_channel(world) -> None:
    """NORTH (with N1) and SOUTH; SC-A and SC-B in N1, SC-C in SOUTH (ranked); SC-A's sub-dealer SC-A-S1 and the
    suspended SC-X (never ranked).

    SC-A: 10 P1 received in October; sells 3 at 1,000 and 1 at 800 (below the 900 floor) in November (its sub-dealer
    sold 1 in October: another month, and never in its distributor's channel-flow row). Invoices 4,000 (1 Sep, due
    30 Sep) and 6,000 (5 Nov, due 5 Dec); 1,000 paid on 10 Nov (applied to the first). Targets in November: 5
    pieces sold through, 2,000 collected.
      achievement (4/5 + 1000/2000) / 2 = 0.65 → 65.0; DSO 9000 / 6000 × 90 = 135.0 → 0.0; overdue 3000 / 9000 =
      0.3333 → 33.3; rate 4 / 10 = 0.4 → 80.0; days of inventory 6 × 30 / 4 = 45.0 → 90.0; below floor 1 / 4 =
      0.25 → 0.0. Score (65×30 + 0×15 + 33.3×15 + 80×15 + 90×15 + 0×10) / 100 = 49.995 → 50.0.
    SC-B: nothing at all: nothing open → overdue 100 points, every other component null → 100.0.
    SC-C: an invoice of 3,000 (1 Nov, due 1 Dec): DSO 90.0 → 33.3; nothing overdue → 100.0; score (33.3×15 +
      100×15) / 30 = 66.65 → 66.7 (half-up)."""
    world.region("NORTH")
    world.region("N1", parent="NORTH")
    world.region("SOUTH")
    world.dealer("SC-A", "N1", name="甲车行")
    world.dealer("SC-B", "N1", name="乙车行")
    world.dealer("SC-C", "SOUTH", name="丙车行")
    world.dealer("SC-X", "N1", name="停业车行", status="suspended")
    world.sub_dealer("SC-A", "SC-A-S1", name="甲二级")
    world.product("P1", min_resale_price="900.00")
    world.dealer_receipt("SC-A", "P1", 10, on=dt.date(2026, 10, 15))
    world.sold("SC-A", "P1", dt.date(2026, 11, 10), 3, "1000.00")
    world.sold("SC-A", "P1", dt.date(2026, 11, 12), 1, "800.00")
    world.sold("SC-A-S1", "P1", dt.date(2026, 10, 20), 1, "1000.00")
    world.invoice("SC-A", "INV-A1", "4000.00", issued_on=dt.date(2026, 9, 1), due_on=dt.date(2026, 9, 30))
    world.invoice("SC-A", "INV-A2", "6000.00", issued_on=dt.date(2026, 11, 5), due_on=dt.date(2026, 12, 5))
    world.payment("SC-A", "1000.00", received_on=dt.date(2026, 11, 10))
    world.invoice("SC-C", "INV-C1", "3000.00", issued_on=dt.date(2026, 11, 1), due_on=dt.date(2026, 12, 1))
    world.run(lambda: (_target("SC-A", "sell_through_units", "5"), _target("SC-A", "collections_amount", "2000")))


def _scorecards(world, period=NOV, today=TODAY, region=None, scope=None):
    return world.run(lambda: sc.scorecards(scope or sc.HQ, period, region=region, today=today))


@pytest.fixture
def channel(world):
    scored_channel(world)


# ---------------------------------------------------------------- points, score, rounding (no database)


@pytest.mark.parametrize(
    ("value", "best", "worst", "expected"),
    [
        ("30", "30", "120", "100.0"),  # DSO at best
        ("10", "30", "120", "100.0"),  # better than best: clamped
        ("120", "30", "120", "0.0"),  # at worst
        ("400", "30", "120", "0.0"),  # beyond: clamped
        ("75", "30", "120", "50.0"),
        ("0.5", "0.5", "0", "100.0"),  # sell-through rate at best
        ("0.9", "0.5", "0", "100.0"),
        ("0.25", "0.5", "0", "50.0"),
        ("0", "0.5", "0", "0.0"),
        ("0", "0", "0.5", "100.0"),  # overdue share: nothing overdue
        ("0.5", "0", "0.5", "0.0"),
        ("0.8", "0", "0.5", "0.0"),
        ("0.1", "0", "0.5", "80.0"),
        ("0.05", "0", "0.2", "75.0"),  # below floor
        ("0.2", "0", "0.2", "0.0"),
        ("30", "30", "180", "100.0"),  # days of inventory
        ("105", "30", "180", "50.0"),
        ("180", "30", "180", "0.0"),
        ("1.2", "1", "0", "100.0"),  # achievement: more than reached scores no more than 100
        ("0.853", "1", "0", "85.3"),
        ("0.00025", "0.5", "0", "0.1"),  # 0.05 points: half-up, not to even
        ("0.00075", "0.5", "0", "0.2"),  # 0.15 → 0.2
    ],
)
def test_points_are_linear_between_the_bounds_clamped_and_rounded_half_up(value, best, worst, expected):
    assert sc.points(D(value), D(best), D(worst)) == D(expected)


def _c(points, weight):
    return {"value": None, "points": None if points is None else D(points), "weight": weight}


def test_the_score_is_the_weighted_mean_of_the_components_with_points():
    assert sc.score({"a": _c("100", 30), "b": _c("50", 10)}) == D("87.5")
    # a null component leaves the others' weights to share the score (renormalised)
    assert sc.score({"a": _c("100", 30), "b": _c("50", 10), "c": None}) == D("87.5")
    assert sc.score({"a": _c("100", 30), "b": _c("50", 10), "c": _c(None, 50)}) == D("87.5")
    assert sc.score({"a": _c("0.1", 1), "b": _c("0", 1)}) == D("0.1")  # 0.05 half-up
    assert sc.score({"a": _c("66.6", 1), "b": _c("66.7", 1)}) == D("66.7")  # 66.65 half-up
    assert sc.score({"a": None, "b": _c(None, 10)}) is None
    assert sc.score({}) is None


def test_the_ratios_are_rounded_half_up_to_four_places():
    assert sc._ratio(1, 3) == D("0.3333")
    assert sc._ratio(D("0.00005"), 1) == D("0.0001")
    assert sc._ratio(5, 0) is None


# ---------------------------------------------------------------- the components over a channel


def _rows(result) -> dict:
    return {r["dealer_code"]: r for r in result["rows"]}


def test_every_component_of_a_dealer_with_everything(world, channel):
    result = _scorecards(world)
    assert result["period"] == NOV and result["as_of"] == dt.date(2026, 11, 30)
    a = _rows(result)["SC-A"]
    got = {name: (c["value"], c["points"], c["weight"]) for name, c in a["components"].items()}
    assert got == {
        "achievement": (D("0.6500"), D("65.0"), 30),
        "dso": (D("135.0"), D("0.0"), 15),
        "overdue_share": (D("0.3333"), D("33.3"), 15),
        "sell_through_rate": (D("0.4000"), D("80.0"), 15),
        "days_of_inventory": (D("45.0"), D("90.0"), 15),
        "below_floor": (D("0.2500"), D("0.0"), 10),
    }
    assert a["score"] == D("50.0")
    assert (a["region_code"], a["region_name"], a["dealer_name"]) == ("N1", "区域 N1", "甲车行")


def test_a_dealer_without_data_is_scored_on_what_it_has(world, channel):
    rows = _rows(_scorecards(world))
    b = rows["SC-B"]["components"]
    assert b["overdue_share"] == {"value": None, "points": D("100.0"), "weight": 15}  # nothing open: 100
    assert all(b[n] is None for n in ("achievement", "dso", "sell_through_rate", "days_of_inventory", "below_floor"))
    assert rows["SC-B"]["score"] == D("100.0")
    c = rows["SC-C"]
    assert c["components"]["dso"]["value"] == D("90.0") and c["components"]["dso"]["points"] == D("33.3")
    assert c["components"]["overdue_share"]["value"] == D("0.0000")
    assert c["score"] == D("66.7")  # (33.3 × 15 + 100 × 15) / 30 = 66.65, half-up


def test_dso_equals_the_receivables_report_for_each_dealer(world, channel):
    from portal.credit.reports import dso
    from portal.dealers.models import Dealer

    def check():
        grouped = sc._dso(lambda col: col.is_not(None), dt.date(2026, 11, 30))
        for dealer in db.session.query(Dealer).all():
            assert grouped.get(dealer.id) == dso(lambda col, i=dealer.id: col == i, dt.date(2026, 11, 30)), dealer.code
        return grouped

    assert len(world.run(check)) == 2  # SC-A and SC-C have ledgers


def test_stock_but_nothing_sold_scores_0_days_of_inventory_and_no_stock_nothing_sold_is_null(world, channel):
    world.dealer_receipt("SC-C", "P1", 5, on=dt.date(2026, 10, 1))
    world.dealer("SC-D", "SOUTH")
    world.dealer_receipt("SC-D", "P1", 2, on=dt.date(2026, 10, 1))
    world.sold("SC-D", "P1", dt.date(2026, 10, 20), 2)  # sold out in October: nothing in November
    rows = _rows(_scorecards(world))
    c = rows["SC-C"]["components"]
    assert c["days_of_inventory"] == {"value": None, "points": D("0.0"), "weight": 15}
    assert c["sell_through_rate"]["value"] == D("0.0000") and c["sell_through_rate"]["points"] == D("0.0")
    assert c["below_floor"] is None  # nothing sold
    d = rows["SC-D"]["components"]
    assert d["days_of_inventory"] is None and d["sell_through_rate"] is None and d["below_floor"] is None


def test_a_target_of_zero_or_none_leaves_achievement_out(world, channel):
    world.run(lambda: _target("SC-C", "sell_in_amount", "0"))
    rows = _rows(_scorecards(world))
    assert rows["SC-C"]["components"]["achievement"] is None
    assert rows["SC-B"]["components"]["achievement"] is None
    # a target in another month is not this month's
    world.run(lambda: _target("SC-B", "collections_amount", "100", month=dt.date(2026, 10, 1)))
    assert _rows(_scorecards(world))["SC-B"]["components"]["achievement"] is None
    october = _rows(_scorecards(world, period=dt.date(2026, 10, 1)))["SC-B"]["components"]["achievement"]
    assert october == {"value": D("0.0000"), "points": D("0.0"), "weight": 30}


# ---------------------------------------------------------------- weights


def test_a_weight_of_zero_leaves_the_component_out_and_the_rest_renormalise(world, channel, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_WEIGHTS", "achievement=1,dso=0,overdue_share=1")
    result = _scorecards(world)
    assert result["weights"] == {"achievement": 1, "overdue_share": 1}
    a = _rows(result)["SC-A"]
    assert set(a["components"]) == {"achievement", "overdue_share"}
    assert a["components"]["achievement"]["weight"] == 1
    assert a["score"] == D("49.2")  # (65.0 + 33.3) / 2 = 49.15, half-up
    assert _rows(result)["SC-C"]["score"] == D("100.0")  # no target: overdue share alone
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_WEIGHTS", "below_floor=3")
    result = _scorecards(world)
    rows = _rows(result)
    assert rows["SC-A"]["score"] == D("0.0") and rows["SC-B"]["score"] is None and rows["SC-C"]["score"] is None
    assert [r["dealer_code"] for r in result["rows"]] == ["SC-A", "SC-B", "SC-C"]  # no score: last, by code


def test_the_bounds_are_configuration(world, channel, app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_BOUNDS", "dso=0:180")
    a = _rows(_scorecards(world))["SC-A"]["components"]
    assert a["dso"]["points"] == D("25.0")  # (180 − 135) / 180
    assert a["overdue_share"]["points"] == D("33.3")  # the others keep their defaults


# ---------------------------------------------------------------- ranks and ties


def test_ranks_in_the_channel_and_in_the_region(world, channel):
    result = _scorecards(world)
    ranks = [(r["dealer_code"], r["rank_channel"], r["channel_size"], r["rank_region"], r["region_size"])
             for r in result["rows"]]  # fmt: skip
    assert ranks == [("SC-B", 1, 3, 1, 2), ("SC-C", 2, 3, 1, 1), ("SC-A", 3, 3, 2, 2)]
    assert "SC-A-S1" not in _rows(result) and "SC-X" not in _rows(result)  # a sub-dealer, a suspended dealer


def test_equal_scores_rank_by_dealer_code(world, channel):
    world.dealer("SC-AA", "N1")  # like SC-B: nothing at all, 100.0
    world.dealer("SC-BB", "SOUTH")
    result = _scorecards(world)
    assert [(r["dealer_code"], r["score"], r["rank_channel"]) for r in result["rows"]][:3] == [
        ("SC-AA", D("100.0"), 1), ("SC-B", D("100.0"), 2), ("SC-BB", D("100.0"), 3)]  # fmt: skip
    n1 = [(r["dealer_code"], r["rank_region"], r["region_size"]) for r in result["rows"] if r["region_code"] == "N1"]
    assert n1 == [("SC-AA", 1, 3), ("SC-B", 2, 3), ("SC-A", 3, 3)]


def test_inside_the_current_month_it_is_measured_to_today_and_a_later_month_is_refused(world, channel):
    from portal.platform.errors import Invalid

    result = _scorecards(world, period=dt.date(2026, 11, 1), today=dt.date(2026, 11, 20))
    assert result["as_of"] == dt.date(2026, 11, 20)
    c = _rows(result)["SC-C"]["components"]
    assert c["overdue_share"]["value"] == D("0.0000")  # INV-C1 not due yet either way
    a = _rows(result)["SC-A"]["components"]
    assert a["days_of_inventory"]["value"] == D("30.0")  # 6 in stock, 4 sold in 20 days: 6 × 20 / 4
    with pytest.raises(Invalid) as exc:
        _scorecards(world, period=dt.date(2026, 12, 1), today=dt.date(2026, 11, 30))
    assert "period" in exc.value.fields
