"""Dealer scorecards (PRODUCT.md §15): each month, the dealers HQ sells to ranked on six components.

Who is ranked: the active dealers without a distributor (level 1, those HQ sells to — `Dealer.parent_id` null);
sub-dealers (§16) buy from their distributor and are never ranked. Ranks are always computed over the whole channel
(`rank_channel` of `channel_size`) and within the region the dealer is placed in (`rank_region` of `region_size`),
whatever the caller's scope; the caller then sees only the rows in its scope (a region manager its subtree's, the
`region` filter a subtree, a dealer its own row — with its ranks and the group sizes, never another dealer's name;
a sub-dealer none).

The month's components, each a value and the points it earns from 0 to 100 (higher is better), linear from the
component's `best` value (100 points) to its `worst` (0), clamped — the bounds and the weights are configuration
(`PORTAL_SCORECARD_BOUNDS`, `PORTAL_SCORECARD_WEIGHTS`, portal/config.py). The month is measured to its last day,
or to today inside the current month (`as_of`); a month after the current one is refused.

- `achievement`: the mean, over the measures with a target for the dealer that month, of its % reached (the
  achievement module's dealer rows, `portal.targets.achievement`); 1 (100 %) or more scores 100, 0 scores 0; no
  target (or only targets of 0) → the component is null;
- `dso`: days sales outstanding on `as_of` (receivables ÷ the invoices of the last 90 days × 90, as
  `portal.credit.reports.dso`), for every dealer in one statement; 30 days or less → 100, 120 or more → 0; no sales
  in the 90 days → null;
- `overdue_share`: overdue ÷ open invoices on `as_of` (the ageing, `dealer_ageing_select`: the four overdue
  buckets over those and `not_due`); 0 → 100, 50 % or more → 0; nothing open → 100 points (value null);
- `sell_through_rate`: channel flow's rate for the dealer and the month (to `as_of`); 50 % or more → 100, 0 → 0;
  null when channel flow has none (nothing in stock nor coming in);
- `days_of_inventory`: channel flow's, at `as_of`; 30 days or less → 100, 180 or more → 0; nothing sold but stock
  on hand → 0 points (value null); nothing sold and no stock → null;
- `below_floor`: the share of the month's pieces sold below the product's floor (the sell-through sums per dealer,
  product and month); 0 → 100, 20 % or more → 0; nothing sold → null.

Points are rounded half-up to 1 decimal; the score is Σ points × weight ÷ Σ weights over the components that are
not null (a component with weight 0 is not computed at all), rounded half-up to 1 decimal; a dealer with every
component null has no score and ranks after every scored dealer. Ties: the same score ranks by dealer code, so the
ranks are always 1..n with no two alike. Decimal arithmetic throughout.

Cost: a fixed number of statements whatever the number of dealers (each component is one grouped statement, or
channel flow's and achievement's own few). Every dealer's home page and overview shows its rank, which needs the
whole channel's scores: a process keeps a month's ranking for `PORTAL_SCORECARD_CACHE_SECONDS` (300; 0 = never),
per month, day measured to and configuration, so the figures may be that many seconds old.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, literal, select

from portal.analytics.reports import channel_flow, month_end
from portal.config import SCORECARD_COMPONENTS, scorecard_bounds, scorecard_weights
from portal.credit.models import LedgerEntry
from portal.credit.reports import dealer_ageing_select, hq_dealers, signed_amount
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.inventory.models import SellThroughMonthly
from portal.platform.errors import Invalid
from portal.platform.money import ZERO, money
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today as business_today

COMPONENTS = SCORECARD_COMPONENTS
HQ = Scope("hq")  # ranks are computed over the whole channel, whatever the caller's scope
RATIO = Decimal("0.0001")
ONE_DECIMAL = Decimal("0.1")
HUNDRED = Decimal(100)
DSO_DAYS = 90


# ---------------------------------------------------------------- configuration and periods


def weights(config=None) -> dict[str, int]:
    """The components in use (weight > 0), in their fixed order, with their weights."""
    config = config if config is not None else current_app.config
    return {k: w for k, w in scorecard_weights(config.get("PORTAL_SCORECARD_WEIGHTS")).items() if w > 0}


def bounds(config=None) -> dict[str, tuple[Decimal, Decimal]]:
    config = config if config is not None else current_app.config
    return scorecard_bounds(config.get("PORTAL_SCORECARD_BOUNDS") or "")


def check_config(config) -> None:
    """Start-up check (a ConfigError stops the app)."""
    scorecard_weights(config.get("PORTAL_SCORECARD_WEIGHTS"))
    scorecard_bounds(config.get("PORTAL_SCORECARD_BOUNDS") or "")


def last_complete_month(on: dt.date) -> dt.date:
    return (on.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def as_of(period: dt.date, today: dt.date) -> dt.date:
    """The day the month is measured to: its last day, or today inside the current month."""
    return min(month_end(period), today)


# ---------------------------------------------------------------- points and the score


def points(value: Decimal, best: Decimal, worst: Decimal) -> Decimal:
    """0..100, linear from `best` (100) to `worst` (0), clamped, half-up to 1 decimal."""
    raw = (Decimal(worst) - Decimal(value)) / (Decimal(worst) - Decimal(best)) * HUNDRED
    return min(max(raw, ZERO), HUNDRED).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def score(components: dict[str, dict]) -> Decimal | None:
    """Σ points × weight ÷ Σ weights over the components with points; None when none has."""
    scored = [c for c in components.values() if c is not None and c["points"] is not None and c["weight"] > 0]
    total = sum((c["weight"] for c in scored), 0)
    if not total:
        return None
    weighted = sum((c["points"] * c["weight"] for c in scored), ZERO)
    return (weighted / Decimal(total)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _ratio(part, whole) -> Decimal | None:
    whole = Decimal(whole or 0)
    return None if whole == 0 else (Decimal(part or 0) / whole).quantize(RATIO, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- the components, all dealers at once


def _ranked():
    """The dealers ranked: active, buying from HQ (level 1), with the region they are placed in."""
    stmt = (
        select(
            Dealer.id,
            Dealer.code,
            Dealer.name,
            Region.id.label("region_id"),
            Region.code.label("region_code"),
            Region.name.label("region_name"),
            Region.path.label("region_path"),
        )  # fmt: skip
        .join(Region, Region.id == Dealer.region_id)
        .where(Dealer.parent_id.is_(None), Dealer.status == "active")
        .order_by(Dealer.code)
    )
    return db.session.execute(stmt).mappings().all()


def _achievement(period: dt.date, today: dt.date) -> dict[str, Decimal]:
    """dealer code → the mean % reached over the measures with a target that month (those without are left out)."""
    from portal.targets import achievement as module
    from portal.targets.models import MEASURES

    reached: dict[str, list[Decimal]] = {}
    for measure in MEASURES:
        result = module.achievement(HQ, period, period, group_by="dealer", measure=measure, today=today)
        for row in result["rows"]:
            if row.get("pct") is not None:
                reached.setdefault(row["key"], []).append(Decimal(row["pct"]))
    return {
        code: (sum(pcts, ZERO) / len(pcts)).quantize(RATIO, rounding=ROUND_HALF_UP) for code, pcts in reached.items()
    }


def _dso(clause, on: dt.date) -> dict[int, Decimal | None]:
    """dealer id → DSO on `on` (receivables ÷ the invoices of the 90 days ending on it × 90), in one statement."""
    start = on - dt.timedelta(days=DSO_DAYS - 1)
    sales = case((and_(LedgerEntry.type == "invoice", LedgerEntry.entry_date >= start), LedgerEntry.amount),
                 else_=literal(0))  # fmt: skip
    stmt = (
        select(LedgerEntry.dealer_id, func.sum(signed_amount()), func.sum(sales))
        .where(LedgerEntry.entry_date <= on, clause(LedgerEntry.dealer_id))
        .group_by(LedgerEntry.dealer_id)
    )
    out = {}
    for dealer_id, receivables, invoiced in db.session.execute(stmt).all():
        receivables, invoiced = money(receivables or 0), money(invoiced or 0)
        out[dealer_id] = None if invoiced == 0 else (receivables / invoiced * DSO_DAYS).quantize(ONE_DECIMAL)
    return out


def _overdue(clause, on: dt.date) -> dict[int, tuple[Decimal, Decimal]]:
    """dealer id → (overdue, open invoices) on `on`, from the ageing."""
    ageing = dealer_ageing_select(clause, on).subquery()
    stmt = select(ageing.c.dealer_id, ageing.c.not_due, ageing.c["1_30"], ageing.c["31_60"], ageing.c["61_90"],
                  ageing.c.over_90)  # fmt: skip
    out = {}
    for r in db.session.execute(stmt).all():
        overdue = sum((money(v or 0) for v in r[2:]), ZERO)
        out[r[0]] = (overdue, overdue + money(r[1] or 0))
    return out


def _flow(period: dt.date, on: dt.date) -> dict[str, dict]:
    """dealer code → channel flow's row for the month (to `on`)."""
    result = channel_flow(HQ, period, on, ["dealer"])
    return {r["dealer_code"]: r for r in result["rows"]}


def _below_floor(period: dt.date) -> dict[int, tuple[int, int]]:
    """dealer id → (pieces sold below the floor, pieces sold) in the month."""
    s = SellThroughMonthly
    stmt = (
        select(s.dealer_id, func.sum(s.below_floor_quantity), func.sum(s.quantity))
        .where(s.month == period)
        .group_by(s.dealer_id)
    )
    return {d: (int(b or 0), int(q or 0)) for d, b, q in db.session.execute(stmt).all()}


def _component(value, pts, weight: int) -> dict:
    return {"value": value, "points": pts, "weight": weight}


def _components(d, used: dict[str, int], bnd: dict, data: dict) -> dict[str, dict | None]:
    """One dealer's components (None where it has nothing to be measured on)."""
    out: dict[str, dict | None] = {}
    for name, weight in used.items():
        best, worst = bnd[name]
        comp = None
        if name == "achievement":
            pct = data["achievement"].get(d["code"])
            if pct is not None:
                comp = _component(pct, points(pct, best, worst), weight)
        elif name == "dso":
            days = data["dso"].get(d["id"])
            if days is not None:
                comp = _component(days, points(days, best, worst), weight)
        elif name == "overdue_share":
            overdue, open_ = data["overdue"].get(d["id"], (ZERO, ZERO))
            share = _ratio(overdue, open_) if open_ > 0 else None
            comp = _component(share, HUNDRED.quantize(ONE_DECIMAL) if share is None else points(share, best, worst),
                              weight)  # fmt: skip
        elif name == "sell_through_rate":
            rate = (data["flow"].get(d["code"]) or {}).get("sell_through_rate")
            if rate is not None:
                comp = _component(rate, points(rate, best, worst), weight)
        elif name == "days_of_inventory":
            row = data["flow"].get(d["code"]) or {}
            days = row.get("days_of_inventory")
            if days is not None:
                comp = _component(days, points(days, best, worst), weight)
            elif row.get("ending_stock", 0) > 0:  # stock, nothing sold: the worst
                comp = _component(None, ZERO.quantize(ONE_DECIMAL), weight)
        elif name == "below_floor":
            below, sold = data["below_floor"].get(d["id"], (0, 0))
            if sold > 0:
                share = _ratio(below, sold)
                comp = _component(share, points(share, best, worst), weight)
        out[name] = comp
    return out


def _order_key(row: dict):
    return (row["score"] is None, -(row["score"] or 0), row["dealer_code"])


def meta(period: dt.date, today: dt.date | None = None) -> dict:
    """The month (its first day), the day it is measured to, the weights and bounds in use; a month after the
    current one is refused."""
    today = today or business_today()
    period = period.replace(day=1)
    if period > today.replace(day=1):
        raise Invalid(fields={"period": [_("A scorecard is for the current month or one before it.")]})
    return {"period": period, "as_of": as_of(period, today), "weights": weights(), "bounds": bounds()}


_cache: dict = {}


def clear_cache() -> None:
    _cache.clear()


def compute(period: dt.date, today: dt.date | None = None) -> dict:
    """Every ranked dealer's row, ranked (the whole channel; no scope applied), kept per process for
    `PORTAL_SCORECARD_CACHE_SECONDS`."""
    today = today or business_today()
    head = meta(period, today)
    seconds = current_app.config.get("PORTAL_SCORECARD_CACHE_SECONDS", 0)
    key = (db.engine.url.render_as_string(), head["period"], head["as_of"], tuple(head["weights"].items()),
           tuple(head["bounds"].items()))  # fmt: skip
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < seconds:
        return hit[1]
    result = _compute(head, today)
    if seconds > 0:
        _cache[key] = (time.monotonic(), result)
    return result


def _compute(head: dict, today: dt.date) -> dict:
    period, on, used, bnd = head["period"], head["as_of"], head["weights"], head["bounds"]
    dealers = _ranked()
    data: dict = {"achievement": {}, "dso": {}, "overdue": {}, "flow": {}, "below_floor": {}}
    if dealers:
        clause = hq_dealers()
        if "achievement" in used:
            data["achievement"] = _achievement(period, today)
        if "dso" in used:
            data["dso"] = _dso(clause, on)
        if "overdue_share" in used:
            data["overdue"] = _overdue(clause, on)
        if "sell_through_rate" in used or "days_of_inventory" in used:
            data["flow"] = _flow(period, on)
        if "below_floor" in used:
            data["below_floor"] = _below_floor(period)
    rows = []
    for d in dealers:
        components = _components(d, used, bnd, data)
        rows.append(
            {
                "dealer_code": d["code"],
                "dealer_name": d["name"],
                "region_code": d["region_code"],
                "region_name": d["region_name"],
                "score": score(components),
                "components": components,
                "_region_id": d["region_id"],
                "_region_path": d["region_path"],
                "_dealer_id": d["id"],
            }
        )
    rows.sort(key=_order_key)
    region_sizes: dict[int, int] = {}
    for r in rows:
        region_sizes[r["_region_id"]] = region_sizes.get(r["_region_id"], 0) + 1
    seen: dict[int, int] = {}
    for n, r in enumerate(rows, start=1):
        seen[r["_region_id"]] = seen.get(r["_region_id"], 0) + 1
        r.update(rank_channel=n, channel_size=len(rows), rank_region=seen[r["_region_id"]],
                 region_size=region_sizes[r["_region_id"]])  # fmt: skip
    return {**head, "rows": rows}


def _public(row: dict) -> dict:
    keys = ("dealer_code", "dealer_name", "region_code", "region_name", "score", "rank_region", "region_size",
            "rank_channel", "channel_size", "components")  # fmt: skip
    return {k: row[k] for k in keys}


def _region_filter(scope, region: str | None) -> Region | None:
    if not region:
        return None
    found = scope.first(Region, code=region)
    if found is None:  # unknown and out of scope are answered alike
        raise Invalid(fields={"region": [_("Unknown region %(code)s.", code=region)]})
    return found


def scorecards(scope, period: dt.date, region: str | None = None, today: dt.date | None = None) -> dict:
    """The month's scorecards in the caller's scope (see the module's docstring):
    `{"period", "as_of", "weights", "bounds", "rows": [...]}`, rows by channel rank."""
    anchor = _region_filter(scope, region)
    result = compute(period, today)
    if scope.is_hq:
        visible = result["rows"]
    elif scope.is_region:
        visible = [r for r in result["rows"] if r["_region_path"].startswith(scope.region_path)]
    elif scope.is_dealer:
        visible = [r for r in result["rows"] if r["_dealer_id"] == scope.dealer_id]
    else:
        visible = []
    if anchor is not None:
        visible = [r for r in visible if r["_region_path"].startswith(anchor.path)]
    return {**{k: v for k, v in result.items() if k != "rows"}, "rows": [_public(r) for r in visible]}


def scorecard_for(dealer, period: dt.date, today: dt.date | None = None) -> dict | None:
    """One dealer's row (ranked against the whole channel), or None for a dealer that is not ranked (a sub-dealer,
    a suspended dealer). The caller decides whether its user may see it."""
    if dealer is None or dealer.parent_id is not None or dealer.status != "active":
        return None
    result = compute(period, today)
    row = next((r for r in result["rows"] if r["_dealer_id"] == dealer.id), None)
    return None if row is None else _public(row)


# ---------------------------------------------------------------- presentation


def _pct(value: Decimal) -> str:
    """A measured ratio in per cent, one decimal: 0.3333 → "33.3%"."""
    return f"{(Decimal(value) * HUNDRED).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)}%"


def _num(value: Decimal) -> str:
    """A bound as written: 30, 0.5 (no trailing zeros)."""
    return format(Decimal(value).normalize(), "f")


def _bound_pct(value: Decimal) -> str:
    """A bound in per cent, as written: 0.5 → "50%", 1 → "100%"."""
    return _num(Decimal(value) * HUNDRED) + "%"


def reason(name: str, component: dict | None, bnd: dict[str, tuple[Decimal, Decimal]]) -> str:
    """One line saying how the points were given, e.g. "DSO 45.0 days: 30 days or less scores 100, 120 or more 0"."""
    best, worst = bnd[name]
    value = None if component is None else component["value"]
    if name == "achievement":
        if component is None:
            return _("No target this month: left out of the score.")
        return _("%(value)s of the targets reached on average: %(best)s or more scores 100, %(worst)s or less 0.",
                 value=_pct(value), best=_bound_pct(best), worst=_bound_pct(worst))  # fmt: skip
    if name == "dso":
        if component is None:
            return _("No sales in the last 90 days: left out of the score.")
        return _("DSO %(value)s days: %(best)s days or less scores 100, %(worst)s or more 0.",
                 value=value, best=_num(best), worst=_num(worst))  # fmt: skip
    if name == "overdue_share":
        if value is None:
            return _("Nothing open: 100 points.")
        return _("%(value)s of the open invoices overdue: %(best)s scores 100, %(worst)s or more 0.",
                 value=_pct(value), best=_bound_pct(best), worst=_bound_pct(worst))  # fmt: skip
    if name == "sell_through_rate":
        if component is None:
            return _("No stock and nothing coming in: left out of the score.")
        return _("Sold %(value)s of the stock on hand and received: %(best)s or more scores 100, %(worst)s or less 0.",
                 value=_pct(value), best=_bound_pct(best), worst=_bound_pct(worst))  # fmt: skip
    if name == "days_of_inventory":
        if component is None:
            return _("No stock and nothing sold: left out of the score.")
        if value is None:
            return _("Stock on hand but nothing sold: 0 points.")
        return _("%(value)s days of inventory: %(best)s days or less scores 100, %(worst)s or more 0.",
                 value=value, best=_num(best), worst=_num(worst))  # fmt: skip
    if component is None:
        return _("Nothing sold: left out of the score.")
    return _("%(value)s of the pieces sold below the floor: %(best)s scores 100, %(worst)s or more 0.",
             value=_pct(value), best=_bound_pct(best), worst=_bound_pct(worst))  # fmt: skip
