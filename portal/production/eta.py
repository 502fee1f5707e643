"""Estimated completion of a unit (PRODUCT.md §4: "from the recent median duration of each remaining stage").

The rule
--------
The build stages s0 → s1 → … → sN (PORTAL_BUILD_STAGES; sN is `completed`) make N transitions. The duration of
a transition (a → b) for one unit is the time of its `b` event minus the time of its `a` event (for the first
transition, minus the unit's `created_at`, the moment its order was approved and it was scheduled).

- The **median** of each transition is taken over the transitions *completed* (the `b` event happened) in the last
  `PORTAL_ETA_WINDOW_DAYS` (90) days, at most the `PORTAL_ETA_SAMPLE` (500) most recent ones; negative durations
  (events reported with inconsistent times) are left out. The median of an even sample is the mean of the two
  middle values (PostgreSQL `percentile_cont(0.5)`; on SQLite the same in Python over the same bounded sample),
  rounded to whole seconds.
- A transition without history falls back to the product's `lead_time_days` spread evenly over the N
  transitions, or, for a product without a lead time, `PORTAL_ETA_DEFAULT_STAGE_HOURS` (24) hours.
- **ETA = the time the unit entered its current stage + the sum of the medians of the transitions still ahead**
  (the current stage's included). A unit at `completed` or beyond has no ETA (null). A unit whose ETA has passed
  is **late** (the HQ production view lists them).

The medians change slowly: a process keeps them for `PORTAL_ETA_CACHE_SECONDS` (300) before computing them
again (five small indexed queries), so a tracking lookup reads only the order's units and their events.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from flask import current_app
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import aliased

from portal.catalog.models import Product
from portal.extensions import db
from portal.platform.timeutil import utcnow
from portal.production import stages as st
from portal.production.models import StageEvent, Unit

_cache: dict = {}


def clear_cache() -> None:
    _cache.clear()


def transitions() -> list[tuple[str, str]]:
    build = st.build_stages()
    return list(zip(build, build[1:], strict=False))


def _sample(a: str, b: str, since: dt.datetime, now: dt.datetime, cap: int):
    """(a_at, b_at) of the most recent completed transitions a → b."""
    ev_b = aliased(StageEvent)
    if a == st.first():
        a_at = Unit.created_at
        stmt = select(a_at.label("a_at"), ev_b.occurred_at.label("b_at")).join(Unit, Unit.id == ev_b.unit_id)
    else:
        ev_a = aliased(StageEvent)
        a_at = ev_a.occurred_at
        stmt = select(a_at.label("a_at"), ev_b.occurred_at.label("b_at")).join(
            ev_a, (ev_a.unit_id == ev_b.unit_id) & (ev_a.stage == a)
        )
    return (
        stmt.where(ev_b.stage == b, ev_b.occurred_at >= since, ev_b.occurred_at <= now, a_at <= ev_b.occurred_at)
        .order_by(ev_b.occurred_at.desc(), ev_b.id.desc())
        .limit(cap)
    )


def compute_medians(now: dt.datetime | None = None) -> dict[tuple[str, str], int | None]:
    """Median seconds per transition (None: no history), computed in the database."""
    now = now or utcnow()
    cfg = current_app.config
    since = now - dt.timedelta(days=cfg["PORTAL_ETA_WINDOW_DAYS"])
    cap = cfg["PORTAL_ETA_SAMPLE"]
    postgres = db.session.get_bind().dialect.name == "postgresql"
    out: dict[tuple[str, str], int | None] = {}
    for a, b in transitions():
        sample = _sample(a, b, since, now, cap)
        if postgres:
            sub = sample.subquery()
            seconds = func.extract("epoch", sub.c.b_at - sub.c.a_at)
            value = db.session.execute(select(func.percentile_cont(0.5).within_group(seconds))).scalar()
            value = None if value is None else float(value)
        else:
            durations = [(b_at - a_at).total_seconds() for a_at, b_at in db.session.execute(sample).all()]
            value = statistics.median(durations) if durations else None
        out[(a, b)] = None if value is None else int(round(value))
    return out


def medians() -> dict[tuple[str, str], int | None]:
    """The medians, kept per process for PORTAL_ETA_CACHE_SECONDS."""
    cfg = current_app.config
    key = (str(db.engine.url), st.build_stages(), cfg["PORTAL_ETA_WINDOW_DAYS"], cfg["PORTAL_ETA_SAMPLE"])
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < cfg["PORTAL_ETA_CACHE_SECONDS"]:
        return hit[1]
    value = compute_medians()
    _cache[key] = (time.monotonic(), value)
    return value


def fallback_seconds(lead_time_days: int | None) -> float:
    """Seconds per transition without history: the lead time spread evenly, else the configured default."""
    if lead_time_days and lead_time_days > 0:
        return lead_time_days * 86400 / len(transitions())
    return current_app.config["PORTAL_ETA_DEFAULT_STAGE_HOURS"] * 3600.0


def _ahead(stage: str) -> list[tuple[str, str]] | None:
    build = st.build_stages()
    if stage not in build[:-1]:
        return None
    return transitions()[build.index(stage) :]


def remaining_seconds(stage: str, lead_time_days: int | None, meds: dict) -> float | None:
    ahead = _ahead(stage)
    if ahead is None:
        return None
    fallback = fallback_seconds(lead_time_days)
    return float(sum(meds[p] if meds.get(p) is not None else fallback for p in ahead))


def eta(stage: str, stage_at: dt.datetime, lead_time_days: int | None, meds: dict | None = None) -> dt.datetime | None:
    """When a unit that entered `stage` at `stage_at` should be completed (None when it already is)."""
    left = remaining_seconds(stage, lead_time_days, medians() if meds is None else meds)
    return None if left is None else stage_at + dt.timedelta(seconds=left)


def late_clause(now: dt.datetime | None = None, meds: dict | None = None):
    """SQL condition: the unit is still being built and its ETA has passed (the same arithmetic as `eta`)."""
    now = now or utcnow()
    meds = medians() if meds is None else meds
    lead_times = None
    conditions = []
    for stage in st.open_stages():
        ahead = _ahead(stage)
        known = sum(meds[p] for p in ahead if meds.get(p) is not None)
        unknown = sum(1 for p in ahead if meds.get(p) is None)
        if not unknown:
            conditions.append((Unit.stage == stage) & (Unit.stage_at < now - dt.timedelta(seconds=known)))
            continue
        if lead_times is None:  # a few distinct values: one threshold per (stage, lead time)
            lead_times = db.session.execute(select(Product.lead_time_days).distinct()).scalars().all()
        for days in lead_times:
            threshold = now - dt.timedelta(seconds=known + unknown * fallback_seconds(days))
            conditions.append(
                (Unit.stage == stage)
                & Unit.product_id.in_(select(Product.id).where(Product.lead_time_days == days))
                & (Unit.stage_at < threshold)
            )
    return or_(*conditions) if conditions else false()
