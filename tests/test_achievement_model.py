"""Property-based: over random shipments, sell-through and payments (written as the services write them, so the
channel roll-up is exact) and random targets (overall and per category, for regions and dealers), achievement
(PRODUCT.md §15) equals a plain Python computation of its rules for random ranges, groupings, measures, categories,
filters and scopes (HQ, a region manager, a distributor, a dealer, a sub-dealer)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.catalog.models import Category
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.errors import Invalid
from portal.platform.money import money
from portal.platform.tenancy import Scope
from portal.targets.achievement import achievement, add_months
from portal.targets.models import Target
from tests.test_channel_flow import DEALERS, PARENTS, PRODUCTS, REGIONS, START, _apply, _base

MONTHS = 30  # the events fall in the 30 months from START
PLACES = Decimal("0.0001")
CATEGORY_OF = {sku: cat for sku, cat, _f in PRODUCTS}
REGION_PARENT = dict(REGIONS)
DEALER_REGION = dict(DEALERS)

event = st.tuples(
    st.sampled_from(["ship", "sale", "sale", "payment", "transfer"]),
    st.integers(0, len(DEALERS) - 1),
    st.integers(0, len(PRODUCTS) - 1),
    st.integers(0, 905),  # day offset: ~30 months
    st.integers(1, 9),
    st.integers(1, 30_000),
    st.booleans(),
)
target_keys = [("r", c) for c, _p in REGIONS] + [("d", c) for c, _r in DEALERS if c not in PARENTS]
target = st.tuples(
    st.sampled_from(target_keys),
    st.integers(0, MONTHS - 1),
    st.sampled_from(["sell_in_amount", "sell_through_units", "collections_amount"]),
    st.sampled_from(["", "", "parts", "vehicles"]),
    st.integers(0, 500_000),  # cents (units: whole pieces of the cents ÷ 100)
)
SCOPES = {
    "hq": (Scope("hq"), None),
    "rm": (Scope("region", region_path="/ROOT/RA/"), None),
    "distributor": ("DA", None),
    "dealer": ("DB", None),
    "sub": ("SA", None),
}


def _paths() -> dict[str, str]:
    paths = {}
    for code, parent in REGIONS:
        paths[code] = (paths[parent] if parent else "/") + code + "/"
    return paths


def _write_targets(targets, dealers, regions) -> dict:
    """Insert the targets (the last one drawn wins per unique key); answer {(kind, code, month, measure): {cat: v}}."""
    own: dict = {}
    for (kind, code), mi, measure, category, cents in targets:
        if measure == "collections_amount":
            category = ""
        month = add_months(START, mi)
        value = Decimal(cents // 100) if measure == "sell_through_units" else money(Decimal(cents) / 100)
        own.setdefault((kind, code, month, measure), {})[category] = value
    for (kind, code, month, measure), by_cat in own.items():
        for category, value in by_cat.items():
            db.session.add(Target(month=month, measure=measure, category=category, amount=value, updated_by="t",
                                  region_id=regions[code].id if kind == "r" else None,
                                  dealer_id=dealers[code].id if kind == "d" else None))  # fmt: skip
    db.session.flush()
    return own


# ---------------------------------------------------------------- the plain model


def _rule3(own, kind, code, month, measure, category):
    """Rule 3, recursively, written out over the static tree."""
    mine = own.get((kind, code, month, measure))
    if mine:
        if category:
            if category in mine:
                return mine[category]
        elif "" in mine:
            return mine[""]
        else:
            return sum(mine.values())
    if kind == "d":
        return None
    children = [("r", c) for c, p in REGIONS if p == code]
    children += [("d", c) for c, r in DEALERS if r == code and c not in PARENTS]
    values = [_rule3(own, k, c, month, measure, category) for k, c in children]
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def _actual_by_dealer(facts, measure, category):
    """{(dealer code, month): actual} from the plain facts."""
    out = defaultdict(Decimal)
    for f in facts:
        month = f["on"].replace(day=1)
        if measure == "sell_in_amount" and f["kind"] == "ship":
            if not category or CATEGORY_OF[f["sku"]] == category:
                out[(f["dealer"], month)] += f["amount"]
        elif measure == "sell_through_units" and f["kind"] == "sale":
            if not category or CATEGORY_OF[f["sku"]] == category:
                out[(f["dealer"], month)] += f["qty"]
        elif measure == "collections_amount" and f["kind"] == "payment" and f["dealer"] not in PARENTS:
            out[(f["dealer"], month)] += f["amount"]
    return out


def _change(value, base):
    if not base:
        return None
    return ((Decimal(value) - base) / base).quantize(PLACES, rounding=ROUND_HALF_UP)


def _expected_figures(target, actual, last_year, previous, first, last, today, units):
    if today < first:
        fc = None
    elif today > last:
        fc = actual
    else:
        raw = Decimal(actual) * ((last - first).days + 1) / ((today - first).days + 1)
        fc = raw.quantize(Decimal(1), rounding=ROUND_HALF_UP) if units else money(raw)
    return {
        "target": target,
        "actual": actual,
        "pct": (Decimal(actual) / target).quantize(PLACES, rounding=ROUND_HALF_UP) if target else None,
        "last_year": last_year,
        "yoy_pct": _change(actual, last_year),
        "previous": previous,
        "mom_pct": _change(actual, previous),
        "forecast": fc,
    }


def _model(facts, own, who, group_by, measure, category, region, dealer, months, today):
    paths = _paths()
    units = measure == "sell_through_units"
    dealer_path = {c: paths[r] for c, r in DEALERS}
    if who == "hq":
        visible = {c for c, _r in DEALERS}
    elif who == "rm":
        visible = {c for c, _r in DEALERS if dealer_path[c].startswith("/ROOT/RA/")}
    else:
        visible = {SCOPES[who][0]} | {s for s, p in PARENTS.items() if p == SCOPES[who][0]}
    counted = {c for c in visible if not region or dealer_path[c].startswith(paths[region])}
    if dealer:
        counted &= {dealer} | {s for s, p in PARENTS.items() if p == dealer}
    by_dealer = _actual_by_dealer(facts, measure, category)

    def actual_of(codes, ms):
        return sum((by_dealer.get((c, m), 0) for c in codes for m in ms), Decimal(0))

    n = len(months)
    first, last = months[0], add_months(months[-1], 1) - dt.timedelta(days=1)
    ly = [add_months(m, -12) for m in months]
    before = [add_months(months[0], i - n) for i in range(n)]
    level1 = sorted(c for c in visible if c not in PARENTS)
    if who in ("distributor", "dealer", "sub") and group_by == "region":
        group_by = "dealer"
    rows = []  # (key, members, target of a month)
    if who == "sub":
        pass
    elif group_by == "dealer":
        for c in level1:
            if c not in counted or (who not in ("hq", "rm") and c != SCOPES[who][0]):
                continue
            members = {c} | {s for s, p in PARENTS.items() if p == c}
            rows.append((c, members & counted, lambda m, c=c: _rule3(own, "d", c, m, measure, category)))
    elif group_by == "region":
        anchor = region or ("RA" if who == "rm" else "ROOT")
        for code, parent in sorted(REGIONS, key=lambda r: paths[r[0]]):
            if parent == anchor:
                members = {c for c in counted if dealer_path[c].startswith(paths[code])}
                rows.append((code, members, lambda m, code=code: _rule3(own, "r", code, m, measure, category)))
        direct = [c for c in level1 if DEALER_REGION[c] == anchor]
        if direct:
            members = {c for c in counted if DEALER_REGION[c] == anchor}

            def direct_target(m, direct=direct):
                values = [_rule3(own, "d", c, m, measure, category) for c in direct]
                values = [v for v in values if v is not None]
                return sum(values) if values else None

            rows.append((anchor, members, direct_target))
        if dealer:
            rows = [(k, mem, lambda m: _rule3(own, "d", dealer, m, measure, category)) for k, mem, _t in rows
                    if dealer in mem][:1]  # fmt: skip
    if group_by == "month":
        if who == "sub":
            return [], None
        if dealer:
            whole = lambda m: _rule3(own, "d", dealer, m, measure, category)  # noqa: E731
        elif who in ("distributor", "dealer"):
            whole = lambda m: _rule3(own, "d", SCOPES[who][0], m, measure, category)  # noqa: E731
        else:
            anchor = region or ("RA" if who == "rm" else "ROOT")
            whole = lambda m: _rule3(own, "r", anchor, m, measure, category)  # noqa: E731
        out = []
        for m in months:
            end = add_months(m, 1) - dt.timedelta(days=1)
            figures = _expected_figures(whole(m), actual_of(counted, [m]), actual_of(counted, [add_months(m, -12)]),
                                        actual_of(counted, [add_months(m, -1)]), m, end, today, units)  # fmt: skip
            out.append((m.strftime("%Y-%m"), figures))
        members_all = counted
    else:
        out = []
        for key, members, target_of in rows:
            values = [target_of(m) for m in months]
            values = [v for v in values if v is not None]
            t = sum(values) if values else None
            figures = _expected_figures(t, actual_of(members, months), actual_of(members, ly),
                                        actual_of(members, before), first, last, today, units)  # fmt: skip
            out.append((key, figures))
        members_all = set().union(*[mem for _k, mem, _t in rows]) if rows else set()
    targets = [f["target"] for _k, f in out if f["target"] is not None]
    totals = _expected_figures(sum(targets) if targets else None, actual_of(members_all, months),
                               actual_of(members_all, ly), actual_of(members_all, before), first, last, today,
                               units)  # fmt: skip
    return out, totals


def _normal(figures: dict) -> dict:
    return {k: (Decimal(v) if isinstance(v, int) else v) for k, v in figures.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(event, min_size=1, max_size=30),
    targets=st.lists(target, max_size=40),
    start=st.integers(0, MONTHS - 1),
    length=st.integers(1, 14),
    group_by=st.sampled_from(["region", "dealer", "month"]),
    measure=st.sampled_from(["sell_in_amount", "sell_through_units", "collections_amount"]),
    category=st.sampled_from([None, None, "parts", "vehicles"]),
    region=st.sampled_from([None, None, "RA", "RB", "RA1"]),
    dealer=st.sampled_from([None, None, None, "DA", "DA1", "DB", "DR", "SA"]),
    who=st.sampled_from(list(SCOPES)),
    today_offset=st.integers(-40, 1000),
)
def test_achievement_equals_the_plain_computation(app, events, targets, start, length, group_by, measure, category,
                                                  region, dealer, who, today_offset):  # fmt: skip
    with app.test_request_context():
        try:
            regions, dealers, _products, orders = _base()
            db.session.add_all([Category(code="parts", name="配件", name_en="Parts"),
                                Category(code="vehicles", name="整车", name_en="Vehicles")])  # fmt: skip
            facts = _apply(events, dealers, _products, orders)
            own = _write_targets(targets, dealers, regions)
            if who in ("hq", "rm"):
                scope = SCOPES[who][0]
            else:
                d = db.session.execute(db.select(Dealer).filter_by(code=SCOPES[who][0])).scalar_one()
                subs = tuple(s.id for s in dealers.values() if s.parent_id == d.id)
                scope = Scope("dealer", dealer_id=d.id, sub_dealer_ids=subs)
            date_from = add_months(START, start)
            date_to = add_months(date_from, length - 1)
            today = START + dt.timedelta(days=today_offset)
            if measure == "collections_amount" and category:
                with pytest.raises(Invalid) as exc:
                    achievement(scope, date_from, date_to, group_by, measure, category, today=today)
                assert "category" in exc.value.fields
                category = None
            # out of the caller's reach is answered like unknown; a sub-dealer has no targets
            paths = _paths()
            reach = {"hq": "/", "rm": "/ROOT/RA/"}.get(who)
            if region and (reach is None or not paths[region].startswith(reach)):
                with pytest.raises(Invalid) as exc:
                    achievement(scope, date_from, date_to, group_by, measure, category, region=region, today=today)
                assert "region" in exc.value.fields
                region = None
            dealer_path = paths[DEALER_REGION[dealer]] if dealer else ""
            mine = (SCOPES[who][0], *[s for s, p in PARENTS.items() if p == SCOPES[who][0]])
            visible = {"hq": True, "rm": dealer_path.startswith("/ROOT/RA/")}.get(who, dealer in mine)
            if dealer and (dealer in PARENTS or not visible):
                with pytest.raises(Invalid) as exc:
                    achievement(scope, date_from, date_to, group_by, measure, category, dealer=dealer, today=today)
                assert "dealer" in exc.value.fields
                dealer = None
            result = achievement(scope, date_from, date_to, group_by, measure, category, region=region, dealer=dealer,
                                 today=today)  # fmt: skip
            months = [add_months(date_from, i) for i in range(length)]
            rows, totals = _model(facts, own, who, group_by, measure, category, region, dealer, months, today)
            got = [(r["key"], _normal({k: r[k] for k in totals or r if k not in ("key", "name", "kind")}))
                   for r in result["rows"]]  # fmt: skip
            want = [(k, _normal(f)) for k, f in rows]
            assert got == want
            if totals is not None:
                assert _normal({k: result["totals"][k] for k in totals}) == _normal(totals)
            if result["rows"] and who in ("hq", "rm"):  # every grouping covers the same ground
                for other in ("region", "dealer", "month"):
                    again = achievement(scope, date_from, date_to, other, measure, category, region=region,
                                        dealer=dealer, today=today)  # fmt: skip
                    assert again["totals"]["actual"] == result["totals"]["actual"], other
                    assert again["totals"]["last_year"] == result["totals"]["last_year"]
                    assert again["totals"]["previous"] == result["totals"]["previous"]
        finally:
            db.session.rollback()
