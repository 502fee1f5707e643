"""Achievement (PRODUCT.md §15) on small fixed data: YoY across a year boundary, the run-rate forecast on the first
and last day of a month and around the range, a distributor counting its sub-dealers' sell-through, collections
leaving out what sub-dealers pay their distributor, the fallbacks of rule 3, and what dealers see."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.platform.errors import Invalid
from portal.platform.tenancy import Scope
from portal.targets.achievement import achievement, add_months, parse_period
from portal.targets.models import Target
from tests.factories import World
from tests.test_channel_flow import _base, _ship

d = dt.date
HQ = Scope("hq")
_seq = itertools.count(1)


@pytest.fixture
def base(app):
    """ROOT → RA (DA, distributor of SA) → RA1 (DA1); ROOT → RB (DB); DR directly in ROOT; products P1/P3 parts,
    P2 vehicles (tests/test_channel_flow.py's tree), in a request context rolled back at the end."""
    with app.test_request_context():
        try:
            regions, dealers, products, orders = _base()
            yield regions, dealers, products, orders
        finally:
            db.session.rollback()


def _sold(dealer, product, on, qty, price="10.00"):
    World.add_sold(dealer.id, product, on, qty, price)


def _paid(dealer, on, amount):
    db.session.add(LedgerEntry(dealer_id=dealer.id, type="payment", number=f"BANK-T{next(_seq)}", entry_date=on,
                               amount=Decimal(amount), created_by="t"))  # fmt: skip
    db.session.flush()


def _target(month, measure, amount, *, region=None, dealer=None, category=""):
    scope = {"region_id": region.id if region else None, "dealer_id": dealer.id if dealer else None}
    db.session.add(Target(month=month, measure=measure, category=category, amount=Decimal(amount), updated_by="t",
                          **scope))  # fmt: skip
    db.session.flush()


def _rows(result) -> dict:
    return {r["key"]: r for r in result["rows"]}


def _dealer_scope(dealer, *subs):
    return Scope("dealer", dealer_id=dealer.id, sub_dealer_ids=tuple(s.id for s in subs))


def test_yoy_across_a_year_boundary(base):
    _regions, dealers, products, _orders = base
    da, p1 = dealers["DA"], products["P1"]
    for on, qty in ((d(2024, 12, 5), 4), (d(2025, 1, 9), 6), (d(2025, 10, 20), 1), (d(2025, 11, 3), 3),
                    (d(2025, 12, 24), 7), (d(2026, 1, 2), 8), (d(2026, 2, 1), 100)):  # fmt: skip
        _sold(da, p1, on, qty)
    r = achievement(HQ, d(2025, 12, 1), d(2026, 1, 1), "dealer", "sell_through_units", today=d(2026, 6, 1))
    row = _rows(r)["DA"]
    assert (row["actual"], row["last_year"], row["previous"]) == (15, 10, 4)  # Dec+Jan; Dec 24+Jan 25; Oct+Nov 25
    assert row["yoy_pct"] == Decimal("0.5000") and row["mom_pct"] == Decimal("2.7500")
    assert row["forecast"] == 15 and row["target"] is None and row["pct"] is None
    months = achievement(HQ, d(2025, 12, 1), d(2026, 1, 1), "month", "sell_through_units", today=d(2026, 6, 1))
    assert [(x["key"], x["actual"], x["last_year"], x["previous"]) for x in months["rows"]] == [
        ("2025-12", 7, 4, 3), ("2026-01", 8, 6, 7)]  # fmt: skip
    assert months["totals"]["previous"] == 4  # the two months before December, not Σ of the rows' months before
    assert months["totals"]["last_year"] == 10 and months["totals"]["yoy_pct"] == Decimal("0.5000")


def test_forecast_before_on_the_first_and_last_day_and_after(base):
    _regions, dealers, products, _orders = base
    da, p1 = dealers["DA"], products["P1"]
    _sold(da, p1, d(2026, 3, 1), 3)
    march = (d(2026, 3, 1), d(2026, 3, 1))

    def fc(today, measure="sell_through_units", span=march):
        return achievement(HQ, *span, "dealer", measure, today=today)["rows"][0]["forecast"]

    assert fc(d(2026, 2, 28)) is None  # before the range
    assert fc(d(2026, 3, 1)) == 93  # 3 × 31 ÷ 1: the first day counts as elapsed
    assert fc(d(2026, 3, 2)) == 47  # 3 × 31 ÷ 2 = 46.5, half up
    assert fc(d(2026, 3, 31)) == 3  # the last day: the actual
    assert fc(d(2026, 4, 1)) == 3  # after: the actual
    _paid(da, d(2026, 1, 3), "10.00")
    q1 = (d(2026, 1, 1), d(2026, 3, 1))  # 90 days
    assert fc(d(2026, 1, 7), "collections_amount", q1) == Decimal("128.57")  # 10 × 90 ÷ 7 = 128.571…
    assert fc(d(2026, 1, 1), "collections_amount", q1) == Decimal("900.00")
    assert fc(d(2026, 3, 31), "collections_amount", q1) == Decimal("10.00")
    totals = achievement(HQ, *q1, "dealer", "collections_amount", today=d(2026, 1, 7))["totals"]
    assert totals["forecast"] == Decimal("128.57") and totals["actual"] == Decimal("10.00")


def test_a_distributor_counts_its_sub_dealers_sell_through_and_not_their_payments(base):
    _regions, dealers, products, orders = base
    da, sa, db_, p1, p2 = dealers["DA"], dealers["SA"], dealers["DB"], products["P1"], products["P2"]
    _sold(da, p1, d(2026, 1, 10), 2)
    _sold(sa, p2, d(2026, 1, 11), 5)
    _sold(db_, p1, d(2026, 1, 12), 1)
    _paid(da, d(2026, 1, 5), "100.00")
    _paid(sa, d(2026, 1, 6), "40.00")  # to its distributor: not HQ's cash
    _ship(da, p1, orders[("DA", "P1")], d(2026, 1, 3), 2, 15000)  # sell-in 300.00
    _ship(sa, p1, orders[("SA", "P1")], d(2026, 1, 4), 1, 5000, seller=da)  # a transfer: not sell-in
    jan = (d(2026, 1, 1), d(2026, 1, 1))
    units = achievement(HQ, *jan, "dealer", "sell_through_units", today=d(2026, 2, 1))
    assert {k: r["actual"] for k, r in _rows(units).items()} == {"DA": 7, "DA1": 0, "DB": 1, "DR": 0}  # no SA row
    by_region = achievement(HQ, *jan, "region", "sell_through_units", today=d(2026, 2, 1))
    assert _rows(by_region)["RA"]["actual"] == 7 and _rows(by_region)["RB"]["actual"] == 1
    one = achievement(HQ, *jan, "month", "sell_through_units", dealer="DA", today=d(2026, 2, 1))
    assert one["rows"][0]["actual"] == 7
    parts = achievement(HQ, *jan, "dealer", "sell_through_units", category="parts", today=d(2026, 2, 1))
    assert _rows(parts)["DA"]["actual"] == 2
    cash = achievement(HQ, *jan, "dealer", "collections_amount", today=d(2026, 2, 1))
    assert _rows(cash)["DA"]["actual"] == Decimal("100.00") and cash["totals"]["actual"] == Decimal("100.00")
    cash_ra = achievement(HQ, *jan, "region", "collections_amount", today=d(2026, 2, 1))
    assert _rows(cash_ra)["RA"]["actual"] == Decimal("100.00")
    sell_in = achievement(HQ, *jan, "dealer", "sell_in_amount", today=d(2026, 2, 1))
    assert _rows(sell_in)["DA"]["actual"] == Decimal("300.00") and sell_in["totals"]["actual"] == Decimal("300.00")
    # the distributor itself sees its own row with its channel below it; the sub-dealer sees nothing
    own = achievement(_dealer_scope(da, sa), *jan, "region", "sell_through_units", today=d(2026, 2, 1))
    assert own["group_by"] == "dealer" and [(r["key"], r["actual"]) for r in own["rows"]] == [("DA", 7)]
    sub = achievement(_dealer_scope(sa), *jan, "dealer", "sell_through_units", today=d(2026, 2, 1))
    assert sub["rows"] == [] and sub["totals"]["target"] is None
    assert achievement(_dealer_scope(sa), *jan, "month", "sell_through_units", today=d(2026, 2, 1))["rows"] == []


def test_rule_3_own_target_then_own_categories_then_children(base):
    regions, dealers, _products, _orders = base
    m, m2, m3 = d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)
    root, ra, rb = regions["ROOT"], regions["RA"], regions["RB"]
    da, da1, dr = dealers["DA"], dealers["DA1"], dealers["DR"]
    units = "sell_through_units"
    # January: RA has its own overall target (wins over its categories and its children's)
    _target(m, units, "100", region=ra)
    _target(m, units, "30", region=ra, category="parts")
    _target(m, units, "7", dealer=da)
    # February: RA has only per-category targets (their sum); RA1 nothing of its own (its dealer's: DA1)
    _target(m2, units, "30", region=ra, category="parts")
    _target(m2, units, "12", region=ra, category="vehicles")
    _target(m2, units, "5", dealer=da1, category="vehicles")
    # March: RA has nothing: Σ of its children — RA1 (→ DA1's 4) and DA placed directly in RA (9)
    _target(m3, units, "9", dealer=da)
    _target(m3, units, "4", dealer=da1)
    _target(m3, units, "2", dealer=dr)
    _target(m3, units, "50", region=rb)

    def region_target(code, month, category=None, region=None):
        r = achievement(HQ, month, month, "region", units, category=category, region=region, today=d(2026, 6, 1))
        return _rows(r)[code]["target"]

    assert region_target("RA", m) == 100
    assert region_target("RA", m2) == 42
    assert region_target("RA", m3) == 13
    assert region_target("RA", m, category="parts") == 30
    assert region_target("RA", m2, category="vehicles") == 12  # its own wins over DA1's 5
    assert region_target("RA", m3, category="parts") is None  # nothing in that category anywhere below
    assert region_target("RA1", m2, category="vehicles", region="RA") == 5  # a child region through its dealer
    # the root (month rows): Σ of RA (13) and RB (50) and DR (2) placed directly in it
    rows = achievement(HQ, m, m3, "month", units, today=d(2026, 6, 1))["rows"]
    assert [r["target"] for r in rows] == [100 + 0, 42, 13 + 50 + 2]  # January: RA 100 (DA's 7 is inside it)
    # the root's own direct dealers: DR's row, keyed by the root's code
    by_region = _rows(achievement(HQ, m3, m3, "region", units, today=d(2026, 6, 1)))
    assert by_region["ROOT"]["kind"] == "direct" and by_region["ROOT"]["target"] == 2
    assert set(by_region) == {"RA", "RB", "ROOT"}
    # a range sums the months that have a target; HQ's own figure for the root wins
    _target(m3, units, "1000", region=root)
    assert achievement(HQ, m3, m3, "month", units, today=d(2026, 6, 1))["rows"][0]["target"] == 1000
    assert achievement(HQ, m, m3, "region", units, today=d(2026, 6, 1))["totals"]["target"] == 100 + 42 + 13 + 50 + 2
    # a region manager of RA: its children and its own dealers; its own region's figure on month rows
    rm = Scope("region", region_path=ra.path)
    mine = achievement(rm, m3, m3, "region", units, today=d(2026, 6, 1))
    assert {k: r["target"] for k, r in _rows(mine).items()} == {"RA1": 4, "RA": 9}
    assert achievement(rm, m, m, "month", units, today=d(2026, 6, 1))["rows"][0]["target"] == 100


def test_targets_and_pct_for_a_dealer_and_its_own_view(base):
    _regions, dealers, products, _orders = base
    da, db_, p1 = dealers["DA"], dealers["DB"], products["P1"]
    _target(d(2026, 1, 1), "sell_through_units", "8", dealer=da)
    _target(d(2026, 2, 1), "sell_through_units", "0", dealer=db_)
    _sold(da, p1, d(2026, 1, 10), 6)
    r = _rows(achievement(HQ, d(2026, 1, 1), d(2026, 2, 1), "dealer", "sell_through_units", today=d(2026, 6, 1)))
    assert (r["DA"]["target"], r["DA"]["actual"], r["DA"]["pct"]) == (8, 6, Decimal("0.7500"))
    assert r["DB"]["target"] == 0 and r["DB"]["pct"] is None  # a zero target: no percentage
    assert r["DA1"]["target"] is None
    own = achievement(_dealer_scope(db_), d(2026, 1, 1), d(2026, 2, 1), "dealer", "sell_through_units",
                      today=d(2026, 6, 1))  # fmt: skip
    assert [x["key"] for x in own["rows"]] == ["DB"]
    with pytest.raises(Invalid) as exc:  # another dealer: as unknown
        achievement(_dealer_scope(db_), d(2026, 1, 1), d(2026, 2, 1), "dealer", dealer="DA")
    assert "dealer" in exc.value.fields


def test_bad_input_is_refused_with_the_field(base):
    m = d(2026, 1, 1)
    cases = [
        ({"group_by": "product"}, "group_by"),
        ({"measure": "profit"}, "measure"),
        ({"category": "nope"}, "category"),
        ({"measure": "collections_amount", "category": "parts"}, "category"),
        ({"region": "NOPE"}, "region"),
        ({"dealer": "NOPE"}, "dealer"),
        ({"dealer": "SA"}, "dealer"),  # a sub-dealer has no targets
    ]
    for kwargs, field in cases:
        with pytest.raises(Invalid) as exc:
            achievement(HQ, m, m, **kwargs)
        assert field in exc.value.fields, kwargs
    with pytest.raises(Invalid) as exc:
        achievement(HQ, d(2026, 2, 1), m)
    assert "to" in exc.value.fields
    with pytest.raises(Invalid):
        achievement(HQ, d(2020, 1, 1), d(2025, 1, 1))  # 61 months
    assert len(achievement(HQ, d(2020, 1, 1), d(2024, 12, 1), "month")["rows"]) == 60
    rm = Scope("region", region_path="/ROOT/RA/")
    for kwargs in ({"region": "RB"}, {"dealer": "DB"}):  # outside the region manager's subtree: as unknown
        with pytest.raises(Invalid) as outside:
            achievement(rm, m, m, **kwargs)
        with pytest.raises(Invalid) as unknown:
            achievement(rm, m, m, **{k: "NOPE" for k in kwargs})
        assert outside.value.fields.keys() == unknown.value.fields.keys()


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "26-03", "2026-03-01", "", "2026/03", "march"])
def test_parse_period_refuses_what_is_not_a_month(app, text):
    with app.test_request_context():
        with pytest.raises(Invalid) as exc:
            parse_period(text)
        assert "from" in exc.value.fields and "YYYY-MM" in exc.value.fields["from"][0]


def test_parse_period_and_months(app):
    with app.test_request_context():
        assert parse_period("2026-03") == d(2026, 3, 1) and parse_period("2026-12", "to") == d(2026, 12, 1)
    assert add_months(d(2026, 1, 1), -1) == d(2025, 12, 1) and add_months(d(2025, 12, 1), 13) == d(2027, 1, 1)
