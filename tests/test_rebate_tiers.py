"""Rebate tiers (PRODUCT.md §11): the highest threshold reached gives the rate, of the whole basis (percent) or per
unit; exactly at a threshold reaches it, a cent or a unit below does not; the cap limits the rebate; the way to the
next tier; rounding to the cent, half up. Then the same rules over real rows, on both databases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.rebates.models import RebateProgramme, RebateTier
from portal.rebates.services import rebate_for

D = Decimal
pytestmark = pytest.mark.usefixtures("app")  # the mappers are configured with every model of the app


def programme(tiers, *, kind="percent", cap=None) -> RebateProgramme:
    basis = "sell_through_amount" if kind == "percent" else "sell_through_units"
    p = RebateProgramme(basis=basis, tier_kind=kind, cap=None if cap is None else D(cap))
    p.tiers = [RebateTier(threshold=D(t), rate=D(r)) for t, r in tiers]
    return p


TWO_TIERS = [("5000", "1"), ("10000", "2")]


def test_exactly_at_a_threshold_reaches_that_tier_and_the_whole_basis_earns_its_rate():
    got = rebate_for(programme(TWO_TIERS), D("10000.00"))
    assert (got["tier_index"], got["rate"], got["rebate"]) == (1, D("2"), D("200.00"))
    assert (got["next_threshold"], got["needed"], got["next_rate"], got["progress_pct"]) == (None, None, None, 100)


def test_one_cent_below_a_threshold_stays_in_the_tier_below():
    got = rebate_for(programme(TWO_TIERS), D("9999.99"))
    assert (got["tier_index"], got["tier_threshold"], got["rate"]) == (0, D("5000"), D("1"))
    assert got["rebate"] == D("100.00")  # 99.9999 rounded to the cent
    assert (got["next_threshold"], got["needed"], got["next_rate"]) == (D("10000"), D("0.01"), D("2"))
    assert got["progress_pct"] == 99


def test_the_rate_applies_to_the_whole_basis_not_only_above_the_threshold():
    assert rebate_for(programme(TWO_TIERS), D("15000.00"))["rebate"] == D("300.00")


def test_below_the_first_threshold_no_tier_is_reached_and_nothing_accrues():
    got = rebate_for(programme(TWO_TIERS), D("1250.00"))
    assert (got["tier_index"], got["tier_threshold"], got["rate"], got["rebate"]) == (None, None, None, D("0.00"))
    assert (got["next_threshold"], got["needed"], got["next_rate"], got["progress_pct"]) == (
        D("5000"), D("3750.00"), D("1"), 25,
    )  # fmt: skip


def test_per_unit_tiers_pay_the_rate_for_every_unit_once_reached():
    tiers = [("10", "100"), ("50", "150")]
    below = rebate_for(programme(tiers, kind="per_unit"), D(49))
    at = rebate_for(programme(tiers, kind="per_unit"), D(50))
    assert (below["tier_index"], below["rebate"], below["needed"]) == (0, D("4900.00"), D(1))
    assert (at["tier_index"], at["rebate"]) == (1, D("7500.00"))
    assert rebate_for(programme(tiers, kind="per_unit"), D(9))["rebate"] == D("0.00")


def test_the_cap_limits_the_rebate_per_dealer():
    capped = rebate_for(programme(TWO_TIERS, cap="250.00"), D("20000.00"))
    assert (capped["rebate"], capped["capped"]) == (D("250.00"), True)
    under = rebate_for(programme(TWO_TIERS, cap="250.00"), D("12000.00"))
    assert (under["rebate"], under["capped"]) == (D("240.00"), False)
    exactly = rebate_for(programme(TWO_TIERS, cap="200.00"), D("10000.00"))
    assert (exactly["rebate"], exactly["capped"]) == (D("200.00"), False)


def test_once_capped_no_next_tier_is_pushed():
    """A capped rebate cannot grow: "x more for tier 2" beside "capped" would promise money the cap forbids."""
    capped = rebate_for(programme(TWO_TIERS, cap="60.00"), D("6000.00"))  # tier 1 gives 60.00... capped only above
    assert capped["capped"] is False and capped["next_threshold"] == D("10000")
    capped = rebate_for(programme(TWO_TIERS, cap="55.00"), D("6000.00"))  # tier 1 gives 60.00 > 55.00
    assert (capped["rebate"], capped["capped"]) == (D("55.00"), True)
    assert (capped["next_threshold"], capped["needed"], capped["next_rate"], capped["progress_pct"]) == (
        None, None, None, 100,
    )  # fmt: skip


def test_rebates_round_to_the_cent_half_up():
    assert rebate_for(programme([("0", "1")]), D("12.50"))["rebate"] == D("0.13")  # 0.125: half up, not to even
    assert rebate_for(programme([("0", "2.5")]), D("1234.50"))["rebate"] == D("30.86")  # 30.8625
    assert rebate_for(programme([("0", "0.125")], kind="per_unit"), D(3))["rebate"] == D("0.38")  # 0.375


def test_a_threshold_of_zero_is_reached_by_any_basis():
    got = rebate_for(programme([("0", "1"), ("100", "2")]), D("0.00"))
    assert (got["tier_index"], got["rebate"], got["needed"]) == (0, D("0.00"), D("100.00"))


# ---------------------------------------------------------------- over real rows


@pytest.fixture
def shop(world):
    world.region("EAST")
    for code in ("AT", "BELOW", "UNITS-AT", "UNITS-BELOW"):
        world.dealer(code, "EAST")
    world.product("CAR-1", category="cars", list_price="5000.00")
    return world


def _progress(world, code, **kwargs):
    from portal.extensions import db
    from portal.platform.tenancy import Scope
    from portal.rebates import services
    from portal.rebates.models import RebateProgramme

    def read():
        figures = services.progress(Scope("hq"), db.session.query(RebateProgramme).filter_by(code=code).one(), **kwargs)
        return {row["dealer_code"]: row for row in figures["rows"]}, figures["totals"]

    return world._in_request(read)


def test_a_dealer_exactly_at_a_threshold_reaches_it_and_one_a_cent_below_does_not(shop):
    shop.sold("AT", "CAR-1", dt.date(2026, 2, 1), 2, "5000.00")  # 10,000.00
    shop.sold("BELOW", "CAR-1", dt.date(2026, 2, 1), 1, "5000.00")
    shop.sold("BELOW", "CAR-1", dt.date(2026, 3, 31), 1, "4999.99")  # 9,999.99, the last day counts
    shop.sold("BELOW", "CAR-1", dt.date(2026, 4, 1), 1, "1000.00")  # after the period
    code = shop.rebate_programme("RB-T", tiers=TWO_TIERS)
    rows, totals = _progress(shop, code)
    assert (rows["AT"]["basis"], rows["AT"]["tier_index"], rows["AT"]["rebate"]) == (D("10000.00"), 1, D("200.00"))
    assert (rows["BELOW"]["basis"], rows["BELOW"]["tier_index"], rows["BELOW"]["rebate"]) == (
        D("9999.99"), 0, D("100.00"),
    )  # fmt: skip
    assert rows["BELOW"]["needed"] == D("0.01")
    assert totals["rebate"] == D("300.00")


def test_a_dealer_exactly_at_a_unit_threshold_reaches_it_and_one_a_unit_below_does_not(shop):
    shop.sold("UNITS-AT", "CAR-1", dt.date(2026, 1, 10), 30, "1.00")
    shop.sold("UNITS-AT", "CAR-1", dt.date(2026, 1, 11), 20, "1.00")
    shop.sold("UNITS-BELOW", "CAR-1", dt.date(2026, 1, 10), 49, "1.00")
    code = shop.rebate_programme("RB-U", basis="sell_through_units", tier_kind="per_unit",
                                 tiers=[("10", "100"), ("50", "150")], targets={"skus": ["CAR-1"]})  # fmt: skip
    rows, _totals = _progress(shop, code)
    assert (rows["UNITS-AT"]["basis"], rows["UNITS-AT"]["tier_index"], rows["UNITS-AT"]["rebate"]) == (
        D(50), 1, D("7500.00"),
    )  # fmt: skip
    assert (rows["UNITS-BELOW"]["basis"], rows["UNITS-BELOW"]["rebate"], rows["UNITS-BELOW"]["needed"]) == (
        D(49), D("4900.00"), D(1),
    )  # fmt: skip
