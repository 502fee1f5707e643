"""Achievement (达成, PRODUCT.md §15): targets against actuals for a range of months, by region, dealer or month.

Nothing is stored: the actuals are read each time from what the portal keeps exact —

- `sell_in_amount`: Σ `ChannelMonthly.sell_in_amount` (HQ's shipments, gross, less returns' corrections);
- `sell_through_units`: Σ `ChannelMonthly.sell_through_qty`; a distributor's row counts its sub-dealers' (§16), a
  region's every dealer placed in its subtree (both levels: sub-dealers sit in their distributor's region);
- `collections_amount`: the payments HQ received (`LedgerEntry` of type payment on the ledgers of the dealers HQ sells
  to, `portal.credit.reports.hq_dealers`), by entry date — channel flow's `cash_received`; never per category.

Three statements read them, whatever the range: the roll-up (or the payments) grouped per key and month over the
union of the range's months, the same months a year earlier and the months just before the range (one statement),
and the targets of the range's months; the region tree and the dealers are read once to map keys and apply rule 3.

The target of a key in a month (no category asked): its own overall target ("" category) if set, else Σ of its own
per-category targets if any, else — for a region — Σ of its children's targets by the same rule (children: its child
regions and the level-1 dealers placed directly in it). With a category, the same rule within that category.

Rows: `region` — the child regions of the anchor (the `region` filter, else the region manager's region, else the
root), each covering its subtree, plus one row (`kind` "direct", key = the anchor's code) for the level-1 dealers
placed directly in the anchor, as on the channel-flow page; `dealer` — the level-1 dealers in scope (and in the
region filter); `month` — one row per month for the whole filtered scope. With a dealer filter, only that dealer
counts (its row, or the region row holding it). A dealer user sees its own row only (a sub-dealer: none), whatever
the grouping asked (a region row would name its region's figure).

Per row: `target` = Σ of the months' targets (null if no month has one), `actual`, `pct` = actual ÷ target (4 places,
null when the target is null or 0), `last_year` (the same months a year earlier) and `yoy_pct`, `previous` (as many
months just before `from`; for a month row, the month before) and `mom_pct` (null when the base is 0), `forecast`
(run rate: null before the range, the actual once it is over, else actual × days of the range ÷ days elapsed, today
counted). Money is rounded half up to the cent, a units forecast half up to a whole piece, percentages half up.
Totals: target, actual and last year are Σ of the rows; previous is the filtered scope's months before `from`
(= Σ of the rows, but for month rows); the percentages and the forecast are recomputed over the whole range.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select

from portal.analytics.reports import Filters, _region_map, _report_settings, month_end, month_starts
from portal.catalog.models import Category, Product
from portal.credit.models import LedgerEntry
from portal.credit.reports import hq_dealers
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.inventory.models import ChannelMonthly
from portal.inventory.sums import _month_sql
from portal.platform import timeutil
from portal.platform.errors import Invalid
from portal.platform.money import money, sql_round, sql_sum
from portal.platform.tenancy import sub_dealers_of
from portal.targets.models import MEASURES, NO_CATEGORY, UNIT_MEASURES, Target

GROUPS = ("region", "dealer", "month")
MAX_MONTHS = 60
PCT_PLACES = Decimal("0.0001")
FIELDS = ("target", "actual", "pct", "last_year", "yoy_pct", "previous", "mom_pct", "forecast")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


# ---------------------------------------------------------------- months


def parse_period(value: str | None, field: str = "from") -> dt.date:
    """'YYYY-MM' → the month's first day; anything else (2026-13, 2026-3, 2026-03-01) → Invalid on `field`."""
    found = _PERIOD.fullmatch((value or "").strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1900:
        raise Invalid(fields={field: [_("A month is written YYYY-MM (e.g. 2026-03); %(value)s is not one.",
                                        value=value or "")]})  # fmt: skip
    return dt.date(int(found[1]), int(found[2]), 1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after (before, when negative) `month`'s."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def period_key(month: dt.date) -> str:
    return month.strftime("%Y-%m")


# ---------------------------------------------------------------- figures


def _pct(value, base) -> Decimal | None:
    if base is None or base == 0:
        return None
    return (Decimal(value) / Decimal(base)).quantize(PCT_PLACES, rounding=ROUND_HALF_UP)


def _change(value, base) -> Decimal | None:
    if base is None or base == 0:
        return None
    return ((Decimal(value) - Decimal(base)) / Decimal(base)).quantize(PCT_PLACES, rounding=ROUND_HALF_UP)


def forecast(actual, first: dt.date, last: dt.date, today: dt.date, units: bool):
    """Run rate to the end of [first, last] (days, both inclusive): null before it starts, the actual once over."""
    if today < first:
        return None
    if today > last:
        return actual
    value = Decimal(actual) * ((last - first).days + 1) / ((today - first).days + 1)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)) if units else money(value)


def _figures(target, actual, last_year, previous, first: dt.date, last: dt.date, today: dt.date, units: bool) -> dict:
    return {
        "target": target,
        "actual": actual,
        "pct": _pct(actual, target),
        "last_year": last_year,
        "yoy_pct": _change(actual, last_year),
        "previous": previous,
        "mom_pct": _change(actual, previous),
        "forecast": forecast(actual, first, last, today, units),
    }


def _sum_targets(values):
    present = [v for v in values if v is not None]
    return sum(present[1:], present[0]) if present else None


# ---------------------------------------------------------------- validation


def _check(scope, group_by, measure, category, region, dealer, date_from, date_to) -> tuple[Filters, str | None]:
    errors: dict[str, list[str]] = {}
    if group_by not in GROUPS:
        errors["group_by"] = [_("Group by one of %(keys)s.", keys=", ".join(GROUPS))]
    if measure not in MEASURES:
        errors["measure"] = [_("Unknown measure %(measure)s; use one of %(all)s.", measure=measure,
                               all=", ".join(MEASURES))]  # fmt: skip
    if date_from > date_to:
        errors["to"] = [_("The range must not end before it starts.")]
    elif len(month_starts(date_from, date_to)) > MAX_MONTHS:
        errors["to"] = [_("A range spans at most %(n)s months.", n=MAX_MONTHS)]
    category = (category or "").strip() or None
    if category is not None:
        if measure in NO_CATEGORY:
            errors["category"] = [_("Collections are not split by category.")]
        elif not _category_exists(category):
            errors["category"] = [_("Unknown category %(code)s.", code=category)]
    try:
        f = Filters(scope, (region or "").strip() or None, (dealer or "").strip() or None)
    except Invalid as exc:
        errors.update(exc.fields)
        f = None
    if f is not None and f.dealer is not None and f.dealer.parent_id is not None:
        errors["dealer"] = [_("%(code)s is a sub-dealer: it buys from its distributor and has no targets; its "
                              "sell-through counts in its distributor's.", code=f.dealer.code)]  # fmt: skip
    if errors:
        raise Invalid(fields=errors)
    return f, category


def _category_exists(code: str) -> bool:
    named = db.session.execute(select(Category.code).where(Category.code == code)).first()
    return named is not None or db.session.execute(select(Product.id).where(Product.category == code).limit(1)).first()


# ---------------------------------------------------------------- the tree


class _Tree:
    """The regions (all of them: few) and the dealers in scope, read once; rule 3 over them."""

    def __init__(self, scope):
        rows = db.session.execute(select(Region.id, Region.code, Region.name, Region.parent_id, Region.path)).all()
        self.regions = {r.id: r for r in rows}
        self.by_code = {r.code: r for r in rows}
        self.child_regions: dict[int | None, list[int]] = defaultdict(list)
        for r in sorted(rows, key=lambda r: r.path):
            self.child_regions[r.parent_id].append(r.id)
        stmt = select(Dealer.id, Dealer.code, Dealer.name, Dealer.region_id, Dealer.parent_id).where(
            scope.dealer_clause(Dealer.id)
        )
        self.dealers = {d.id: d for d in db.session.execute(stmt.order_by(Dealer.code))}
        self.direct: dict[int, list[int]] = defaultdict(list)  # region → its level-1 dealers placed directly in it
        for d in self.dealers.values():
            if d.parent_id is None:
                self.direct[d.region_id].append(d.id)


class _Targets:
    """The targets of the range's months (one statement) and rule 3."""

    def __init__(self, scope, tree: _Tree, measure: str, category: str | None, months: list[dt.date],
                 dealer_id: int | None = None):  # fmt: skip
        """`dealer_id`: only that dealer's figures are asked for (a dealer filter): only its targets are read."""
        self.tree, self.category = tree, category
        t = Target
        # a key's own figure of a month: its overall target if set, else Σ of its own category targets (with a
        # category asked: that category's target), summed in SQL — one row per key and month
        overall = func.max(case((t.category == "", t.amount)))
        own = sql_round(func.coalesce(overall, func.sum(t.amount))).label("amount")
        stmt = (
            select(t.month, t.region_id, t.dealer_id, own)
            .where(t.measure == measure, t.month >= months[0], t.month <= months[-1], Target.__scope_clause__(scope))
            .group_by(t.month, t.region_id, t.dealer_id)
        )
        if category is not None:
            stmt = stmt.where(t.category == category)
        if dealer_id is not None:
            stmt = stmt.where(t.dealer_id == dealer_id)
        self.stmt, self.units = stmt, measure in UNIT_MEASURES
        self._own_map: dict[tuple, object] | None = None
        self._memo: dict[tuple, object] = {}

    @property
    def own(self) -> dict[tuple, object]:
        """{(kind, id, month): own figure}, read on first use."""
        if self._own_map is None:
            self._own_map = {}
            for month, region_id, dealer_id, amount in db.session.execute(self.stmt):
                if not isinstance(month, dt.date):
                    month = dt.date.fromisoformat(str(month)[:10])
                key = ("r", region_id, month) if region_id is not None else ("d", dealer_id, month)
                self._own_map[key] = int(amount) if self.units else amount
        return self._own_map

    def _own(self, kind: str, ident: int, month: dt.date):
        return self.own.get((kind, ident, month))

    def dealer_sums(self) -> dict[int, object]:
        """{dealer id: Σ of its own figures over the range's months} (dealers without any: absent), summed in SQL:
        dealer rows need no month by month (no children), one row per dealer."""
        per_month = self.stmt.where(Target.dealer_id.is_not(None)).subquery()
        stmt = select(per_month.c.dealer_id, sql_round(func.sum(per_month.c.amount))).group_by(per_month.c.dealer_id)
        return {d: (int(v) if self.units else v) for d, v in db.session.execute(stmt)}

    def dealer(self, dealer_id: int, month: dt.date):
        return self._own("d", dealer_id, month)

    def region(self, region_id: int, month: dt.date):
        key = (region_id, month)
        if key not in self._memo:
            value = self._own("r", region_id, month)
            if value is None:
                value = _sum_targets(
                    [self.region(c, month) for c in self.tree.child_regions.get(region_id, [])]
                    + [self.dealer(d, month) for d in self.tree.direct.get(region_id, [])]
                )
            self._memo[key] = value
        return self._memo[key]

    def direct(self, region_id: int, month: dt.date):
        """The level-1 dealers placed directly in a region, together."""
        return _sum_targets([self.dealer(d, month) for d in self.tree.direct.get(region_id, [])])


# ---------------------------------------------------------------- actuals


def _month_condition(col, months: list[dt.date]):
    """col (a first-day-of-month column or a date) within the months: one range, or one range per run of months."""
    runs, start = [], months[0]
    for prev, m in zip(months, months[1:], strict=False):
        if m != add_months(prev, 1):
            runs.append((start, prev))
            start = m
    runs.append((start, months[-1]))
    return or_(*[and_(col >= a, col <= month_end(b)) for a, b in runs])


def _actuals(f: Filters, group_by: str, measure: str, category: str | None, months: list[dt.date],
             windows: list[tuple[dt.date, dt.date]] | None = None) -> dict:  # fmt: skip
    """Per month: {key: {month: actual}}; with `windows` (first months, last months): {key: [actual of each window]}
    summed in SQL (one row per key). key = region code (region rows), dealer id (dealer rows) or None (month rows)."""
    units = measure in UNIT_MEASURES
    if measure == "collections_amount":
        le = LedgerEntry
        dealer_col, month_col, date_col, amount = le.dealer_id, _month_sql(le.entry_date), le.entry_date, le.amount
        where = [le.type == "payment", _month_condition(le.entry_date, months), hq_dealers()(le.dealer_id)]
        source = le.__table__
    else:
        c = ChannelMonthly
        dealer_col, month_col, date_col = c.dealer_id, c.month, c.month
        amount = c.sell_through_qty if units else c.sell_in_amount
        where = [_month_condition(c.month, months)]
        if category is not None:
            where.append(c.category == category)
        source = c.__table__
    where.append(_dealer_ok(f, dealer_col))
    if group_by == "region":
        rmap = _region_map(f.anchor())
        source = source.join(rmap, rmap.c.dealer_id == dealer_col)
        key_col = rmap.c.region_code
    elif group_by == "dealer":
        key_col = dealer_col
    else:
        key_col = None
    keys = [key_col] if key_col is not None else []

    def total(expr):
        return func.coalesce(func.sum(expr), 0) if units else sql_sum(expr)

    _report_settings()
    if windows is not None:
        sums = [total(case((and_(date_col >= a, date_col <= month_end(b)), amount))) for a, b in windows]
        stmt = select(*keys, *sums).select_from(source).where(*where).group_by(*keys)
        n = len(windows)
        return {(r[0] if keys else None): [int(v) if units else v for v in r[-n:]] for r in db.session.execute(stmt)}
    month = month_col.label("month")
    stmt = select(*keys, month, total(amount)).select_from(source).where(*where).group_by(*keys, month_col)
    out: dict = defaultdict(lambda: defaultdict(int if units else Decimal))
    for r in db.session.execute(stmt):
        key = r[0] if key_col is not None else None
        m = r.month if isinstance(r.month, dt.date) else dt.date.fromisoformat(str(r.month)[:10])
        out[key][m] += int(r[-1]) if units else r[-1]
    return out


def _dealer_ok(f: Filters, col):
    """The scope, the region filter's subtree and the dealer filter — a distributor with its sub-dealers (§16)."""
    conds = [f.scope.dealer_clause(col)]
    if f.region is not None:
        subtree = select(Region.id).where(Region.path.startswith(f.region.path, autoescape=True))
        conds.append(col.in_(select(Dealer.id).where(Dealer.region_id.in_(subtree))))
    if f.dealer is not None:  # its id and its sub-dealers' (few, by the parent_id index) as constants: an index scan
        conds.append(col.in_([f.dealer.id, *sub_dealers_of(f.dealer.id)]))
    return and_(*conds)


# ---------------------------------------------------------------- achievement


def achievement(scope, date_from: dt.date, date_to: dt.date, group_by: str = "region", measure: str = "sell_in_amount",
                category: str | None = None, region: str | None = None, dealer: str | None = None,
                today: dt.date | None = None) -> dict:  # fmt: skip
    """Targets against actuals over the months [date_from, date_to] (first days), grouped (see the module)."""
    date_from, date_to = date_from.replace(day=1), date_to.replace(day=1)
    f, category = _check(scope, group_by, measure, category, region, dealer, date_from, date_to)
    today = today or timeutil.today()
    units = measure in UNIT_MEASURES
    zero = 0 if units else money(0)
    months = month_starts(date_from, date_to)
    n = len(months)
    before = [add_months(date_from, i - n) for i in range(n)]
    every = sorted(set(months) | {add_months(m, -12) for m in months} | set(before))
    first, last = date_from, month_end(date_to)
    if scope.is_dealer and group_by == "region":
        group_by = "dealer"  # a dealer's own row: never its region's figure
    tree = _Tree(scope)
    targets = _Targets(scope, tree, measure, category, months, f.dealer.id if f.dealer is not None else None)
    result = {"from": period_key(date_from), "to": period_key(date_to), "measure": measure, "category": category,
              "group_by": group_by, "region": f.region.code if f.region else None,
              "dealer": f.dealer.code if f.dealer else None, "unit": "pieces" if units else "CNY"}  # fmt: skip

    # the rows: (key, name, kind, actual key, target of a month)
    specs = []
    if scope.kind == "none" or (scope.is_dealer and tree.dealers.get(scope.dealer_id) is None):
        pass
    elif scope.is_dealer and tree.dealers[scope.dealer_id].parent_id is not None:
        pass  # a sub-dealer: no targets, no rows
    elif group_by == "dealer":
        for d in tree.dealers.values():
            if d.parent_id is not None or (f.dealer is not None and d.id != f.dealer.id):
                continue
            if scope.is_dealer and d.id != scope.dealer_id:
                continue
            if f.region is not None and not tree.regions[d.region_id].path.startswith(f.region.path):
                continue
            specs.append((d.code, d.name, "dealer", d.id, lambda m, d=d: targets.dealer(d.id, m)))
    elif group_by == "region":
        anchor = f.anchor()
        children = tree.child_regions.get(anchor.id if anchor else None, [])
        for rid in children:
            r = tree.regions[rid]
            specs.append((r.code, r.name, "region", r.code, lambda m, rid=rid: targets.region(rid, m)))
        if anchor is not None and tree.direct.get(anchor.id):
            specs.append((anchor.code, anchor.name, "direct", anchor.code,
                          lambda m, a=anchor.id: targets.direct(a, m)))  # fmt: skip
        if f.dealer is not None:  # only the row holding the dealer, with the dealer's own target
            path = tree.regions[f.dealer.region_id].path
            held = [s for s in specs if (s[2] == "direct" and f.dealer.region_id == anchor.id)
                    or (s[2] == "region" and path.startswith(tree.by_code[s[0]].path))]  # fmt: skip
            specs = [(*s[:4], lambda m: targets.dealer(f.dealer.id, m)) for s in held[:1]]
    else:
        whole = _scope_target(scope, f, tree, targets)
        specs = [(period_key(m), period_key(m), "month", None, whole) for m in months]

    rows = []
    if group_by == "month":
        series = _actuals(f, group_by, measure, category, every).get(None, {}) if specs else {}

        def total_of(ms: list[dt.date]):
            return sum((series.get(m, zero) for m in ms), zero)

        for key, name, kind, _akey, target_of in specs:
            m = dt.date.fromisoformat(key + "-01")
            figures = _figures(target_of(m), total_of([m]), total_of([add_months(m, -12)]),
                               total_of([add_months(m, -1)]), m, month_end(m), today, units)  # fmt: skip
            rows.append({"key": key, "name": name, "kind": kind, **figures})
        t_previous = total_of(before)
    else:
        # this range, the same months a year earlier, the months just before: one row per key from SQL
        windows = [(months[0], months[-1]), (add_months(months[0], -12), add_months(months[-1], -12)),
                   (before[0], before[-1])]  # fmt: skip
        actuals = _actuals(f, group_by, measure, category, every, windows) if specs else {}
        if group_by == "dealer":  # a distributor's row counts its sub-dealers' (§16)
            for sub_id in [k for k in actuals if k in tree.dealers and tree.dealers[k].parent_id is not None]:
                parent = actuals.setdefault(tree.dealers[sub_id].parent_id, [zero, zero, zero])
                for i, v in enumerate(actuals.pop(sub_id)):
                    parent[i] += v
        nothing = (zero, zero, zero)
        dealer_sums = targets.dealer_sums() if group_by == "dealer" and f.dealer is None and specs else {}
        for key, name, kind, akey, target_of in specs:
            actual, last_year, previous = actuals.get(akey, nothing)
            if kind == "dealer" and f.dealer is None:
                target = dealer_sums.get(akey)
            else:
                target = _sum_targets([target_of(m) for m in months])
            figures = _figures(target, actual, last_year, previous, first, last, today, units)
            rows.append({"key": key, "name": name, "kind": kind, **figures})
        t_previous = sum((r["previous"] for r in rows), zero)
    t_target = _sum_targets([r["target"] for r in rows])
    t_actual = sum((r["actual"] for r in rows), zero)
    t_ly = sum((r["last_year"] for r in rows), zero)
    result["rows"] = rows
    result["totals"] = _figures(t_target, t_actual, t_ly, t_previous, first, last, today, units)
    return result


def _scope_target(scope, f: Filters, tree: _Tree, targets: _Targets):
    """The target of a month for the whole filtered scope (month rows)."""
    if f.dealer is not None:
        return lambda m: targets.dealer(f.dealer.id, m)
    if scope.is_dealer:
        return lambda m: targets.dealer(scope.dealer_id, m)
    anchor = f.anchor()
    if anchor is not None:
        return lambda m: targets.region(anchor.id, m)
    roots = tree.child_regions.get(None, [])
    return lambda m: _sum_targets([targets.region(r, m) for r in roots])
