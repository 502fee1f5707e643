"""The HQ production view (SQL aggregates): units by stage and by line, late units, completions per day.

Every figure is read through the caller's scope (a region manager sees its region's dealers' units) and the same
filters (line, sku, dealer code, region code).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.orders.models import Order
from portal.platform.timeutil import portal_tz, today, utcnow
from portal.production import eta as eta_rules
from portal.production import stages as st
from portal.production.models import StageEvent, Unit

THROUGHPUT_DAYS = 30
LATE_PER_PAGE = 25


def unit_filters(scope, *, line=None, sku=None, dealer=None, region=None, stage=None, order=None) -> list:
    """Conditions on Unit: the scope first, then the filters. Units of cancelled orders are left out (the factory
    stops building them)."""
    conds = [scope.clause(Unit), Unit.order_id.not_in(select(Order.id).where(Order.status == "cancelled"))]
    if line:
        conds.append(Unit.line == line)
    if sku:
        conds.append(Unit.sku == sku)
    if stage:
        conds.append(Unit.stage == stage)
    if dealer:
        conds.append(Unit.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    if order:
        conds.append(Unit.order_id.in_(select(Order.id).where(Order.number == order)))
    if region:
        root = select(Region.path).where(Region.code == region).scalar_subquery()
        sub = select(Region.id).where(Region.path.startswith(root))
        conds.append(Unit.dealer_id.in_(select(Dealer.id).where(Dealer.region_id.in_(sub))))
    return conds


def by_stage(conds: list) -> list[dict]:
    counts = dict(db.session.execute(select(Unit.stage, func.count()).where(*conds).group_by(Unit.stage)).all())
    return [{"stage": s, "label": st.label(s), "count": counts.get(s, 0)} for s in st.all_stages()]


def by_line(conds: list) -> list[dict]:
    rows = db.session.execute(
        select(Unit.line, Unit.stage, func.count()).where(*conds).group_by(Unit.line, Unit.stage)
    ).all()
    lines: dict = {}
    for line, stage, n in rows:
        entry = lines.setdefault(line, {"line": line, "counts": {}, "total": 0})
        entry["counts"][stage] = n
        entry["total"] += n
    return sorted(lines.values(), key=lambda e: (e["line"] is None, e["line"] or ""))


def late_units(conds: list, page: int = 1, per_page: int = LATE_PER_PAGE) -> dict:
    """Units still being built whose ETA has passed, the longest waiting first."""
    now = utcnow()
    meds = eta_rules.medians()
    where = [*conds, Unit.stage.in_(st.open_stages()), eta_rules.late_clause(now, meds)]
    total = db.session.execute(select(func.count()).select_from(Unit).where(*where)).scalar_one()
    units = (
        db.session.execute(
            select(Unit).where(*where).order_by(Unit.stage_at, Unit.id).limit(per_page).offset((page - 1) * per_page)
        )
        .unique()
        .scalars()
        .all()
    )
    numbers = dict(
        db.session.execute(select(Order.id, Order.number).where(Order.id.in_({u.order_id for u in units}))).all()
    )
    codes = dict(
        db.session.execute(select(Dealer.id, Dealer.code).where(Dealer.id.in_({u.dealer_id for u in units}))).all()
    )
    items = [
        {
            "serial": u.serial,
            "order": numbers[u.order_id],
            "dealer_code": codes[u.dealer_id],
            "sku": u.sku,
            "stage": u.stage,
            "stage_label": st.label(u.stage),
            "stage_at": u.stage_at,
            "line": u.line,
            "eta": eta_rules.eta(u.stage, u.stage_at, u.product.lead_time_days, meds),
        }
        for u in units
    ]
    return {"total": total, "page": page, "per_page": per_page, "items": items}


def _local_date(column):
    """The calendar day of a UTC timestamp in the portal's timezone, in SQL."""
    tz = portal_tz()
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(tz.key, column))
    offset = int(utcnow().astimezone(tz).utcoffset().total_seconds() // 60)  # SQLite: the zone's offset today
    return func.date(column, f"{offset:+d} minutes")


def throughput(conds: list, days: int = THROUGHPUT_DAYS) -> list[dict]:
    """Units completed per day (their `completed` event), the last `days` days up to today, zeros included."""
    last = today()
    start_day = last - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(start_day, dt.time(), portal_tz())
    day = _local_date(StageEvent.occurred_at)
    rows = db.session.execute(
        select(day, func.count(func.distinct(StageEvent.unit_id)))
        .join(Unit, Unit.id == StageEvent.unit_id)
        .where(StageEvent.stage == st.completed(), StageEvent.occurred_at >= start, *conds)
        .group_by(day)
    ).all()
    counts = {str(d): n for d, n in rows}
    return [
        {"date": start_day + dt.timedelta(days=i), "completed": counts.get(str(start_day + dt.timedelta(days=i)), 0)}
        for i in range(days)
    ]


def lines_in_scope(scope) -> list[str]:
    return [
        line
        for line in db.session.execute(
            select(Unit.line).where(scope.clause(Unit), Unit.line.is_not(None)).distinct().order_by(Unit.line)
        ).scalars()
    ]


def summary(scope, *, late_page: int = 1, **filters) -> dict:
    conds = unit_filters(scope, **filters)
    return {
        "by_stage": by_stage(conds),
        "by_line": by_line(conds),
        "late": late_units(conds, late_page),
        "throughput": throughput(conds),
        "at": utcnow(),
    }
