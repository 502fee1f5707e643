"""Units and stage events (PRODUCT.md §4). Services flush (or execute set-based statements); the entrypoint commits.

- `create_units`: receives `portal.orders.events.order_approved`; one unit per piece of each build-to-order
  line, stage `scheduled` (the first configured stage), ids reserved first so each VIN is made from its unit's id;
  one INSERT per 1,000 units.
- `ingest`: a batch of MES events, set-based (one query for the duplicates, one for the units — locked FOR UPDATE
  in id order on PostgreSQL —, INSERT … ON CONFLICT DO NOTHING for the events, one executemany UPDATE for the units,
  then the derived order statuses).
- `track`: an order number or a serial, in the caller's scope.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased, joinedload, lazyload

from portal.extensions import db
from portal.orders import services as orders
from portal.orders.models import Order
from portal.platform.errors import Invalid, NotFound
from portal.platform.timeutil import today, utcnow
from portal.production import eta as eta_rules
from portal.production import stages as st
from portal.production.models import StageEvent, Unit
from portal.production.vin import is_valid_vin, make_vin

MAX_BATCH = 1000
INSERT_CHUNK = 1000
FUTURE_TOLERANCE = dt.timedelta(hours=1)  # MES clocks drift; an event further ahead than this is refused
TRACK_MAX_UNITS = 500


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _chunks(rows: list, size: int):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# ---------------------------------------------------------------- units on approval


def reserve_unit_ids(n: int) -> list[int]:
    """n fresh unit ids, before the insert (so the VIN can be made from the id).

    PostgreSQL: from the column's own sequence (non-transactional: concurrent approvals never wait on each other
    and never get the same id). SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so max(id) is safe.
    """
    if n <= 0:
        return []
    if _dialect() == "postgresql":
        stmt = text("SELECT nextval(pg_get_serial_sequence('units', 'id')) FROM generate_series(1, :n)")
        return list(db.session.execute(stmt, {"n": n}).scalars())
    start = db.session.execute(select(func.coalesce(func.max(Unit.id), 0))).scalar_one()
    return list(range(start + 1, start + n + 1))


def _unit_options(line) -> list[dict] | None:
    """What a unit carries of its line's options (no prices: a unit is a vehicle, not an invoice line)."""
    if not line.options:
        return None
    return [{k: o[k] for k in ("group", "code", "label", "label_en")} for o in line.options]


def _make_units(order: Order, wanted: list[tuple]) -> int:
    """Insert `n` new units for each (line, n) of `wanted`; answers how many."""
    count = sum(n for _ln, n in wanted)
    if not count:
        return 0
    ids = iter(reserve_unit_ids(count))
    wmi = current_app.config["PORTAL_VIN_WMI"]
    now, on, first = utcnow(), today(), st.first()
    rows = []
    for ln, n in wanted:
        options = _unit_options(ln)
        for _i in range(n):
            unit_id = next(ids)
            rows.append(
                {
                    "id": unit_id,
                    "serial": make_vin(wmi, ln.product_id, unit_id, on),
                    "order_id": order.id,
                    "order_line_id": ln.id,
                    "dealer_id": order.dealer_id,
                    "product_id": ln.product_id,
                    "sku": ln.sku,
                    "stage": first,
                    "stage_at": now,
                    "line": None,
                    "options": options,
                    "created_at": now,
                }
            )
    # executemany: one statement compiled once and cached, sent in batches (insertmanyvalues); .values(rows) would
    # compile a new statement for every order
    db.session.execute(insert(Unit.__table__), rows)
    return count


def create_units(actor, order: Order) -> int:
    """One unit per piece of each build-to-order line of a newly approved order, with the line's options; answers
    how many. None for a seller order (§16): the distributor ships vehicles it has, VINs from its own stock."""
    if order.seller_id is not None:
        return 0
    lines = [ln for ln in order.lines if ln.product.build_to_order]
    if not sum(ln.quantity for ln in lines):
        return 0
    already = db.session.execute(select(func.count()).where(Unit.order_id == order.id)).scalar_one()
    if already:  # approved once already (never twice, but creating units twice would be worse)
        return 0
    return _make_units(order, [(ln, ln.quantity) for ln in lines])


def follow_amendment(actor, order: Order, removed=(), was_approved: bool = False) -> None:
    """An amended order's units (receives `portal.orders.events.order_amended`; the order has not entered the build
    line, so every unit is still at the first stage): while approved, each build-to-order line has one unit per
    piece — the newest surplus units go, missing ones are made —; removed lines, and every line of an order that went
    back to credit review (its units are made again when it is approved), have none. A seller order (§16) has
    none at all."""
    if order.seller_id is not None:
        return
    held = db.session.execute(
        select(Unit.id, Unit.order_line_id).where(Unit.order_id == order.id).order_by(Unit.id)
    ).all()
    by_line: dict[int, list[int]] = defaultdict(list)
    for unit_id, line_id in held:
        by_line[line_id].append(unit_id)
    gone = {ln.id for ln in removed}
    approved = order.status == "approved"
    surplus, wanted = [], []
    for line in order.lines:
        if not line.product.build_to_order:
            continue
        mine = by_line.pop(line.id, [])
        target = line.quantity if approved and line.id not in gone else 0
        if len(mine) > target:
            surplus += mine[target:]
        elif len(mine) < target and mine:
            wanted.append((line, target - len(mine)))
        elif target and not mine and (approved and was_approved):
            wanted.append((line, target))
    for rest in by_line.values():  # units of lines no longer on the order
        surplus += rest
    if surplus:
        db.session.execute(delete(StageEvent).where(StageEvent.unit_id.in_(surplus)))
        db.session.execute(delete(Unit).where(Unit.id.in_(surplus)))
    if wanted:
        _make_units(order, wanted)


# ---------------------------------------------------------------- MES ingest


def _reason(code: str) -> dict:
    messages = {
        "unknown_serial": _("No unit has this serial."),
        "unknown_stage": _("Not a stage of the build line."),
        "not_a_production_stage": _("Shipped and delivered are recorded by shipping, not by the MES."),
        "future_timestamp": _("occurred_at is in the future."),
    }
    return {"reason": code, "message": messages[code]}


def _key(stage: str, at: dt.datetime) -> tuple[int, dt.datetime]:
    return (st.rank(stage), at)


# PostgreSQL: a batch's events and unit moves each in one statement whose parameters are arrays (unnest), so the
# statement is the same whatever the batch size: planned once per connection, no thousands of bound values.
_EVENT_COLUMNS = ("event_id", "unit_id", "stage", "occurred_at", "line", "station")
_PG_INSERT_EVENTS = text(
    "INSERT INTO stage_events (event_id, unit_id, stage, occurred_at, line, station, received_at) "
    "SELECT v.event_id, v.unit_id, v.stage, v.occurred_at, v.line, v.station, CAST(:recv AS timestamptz) "
    "FROM unnest(CAST(:event_id AS varchar[]), CAST(:unit_id AS integer[]), CAST(:stage AS varchar[]), "
    "CAST(:occurred_at AS timestamptz[]), CAST(:line AS varchar[]), CAST(:station AS varchar[])) "
    "AS v(event_id, unit_id, stage, occurred_at, line, station) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_PG_MOVE_UNITS = text(
    "UPDATE units AS u SET stage = v.stage, stage_at = v.stage_at, line = v.line "
    "FROM unnest(CAST(:uid AS integer[]), CAST(:new_stage AS varchar[]), CAST(:new_at AS timestamptz[]), "
    "CAST(:new_line AS varchar[])) AS v(id, stage, stage_at, line) WHERE u.id = v.id"
)


def _columns(rows: list[dict], names: tuple[str, ...], **scalars) -> dict:
    return {**{n: [r[n] for r in rows] for n in names}, **scalars}


def ingest(actor, events: list[dict]) -> list[dict]:
    """Store a batch of stage events; one result per event, in input order.

    accepted: stored (and the unit moved forward if it is the furthest stage reached); duplicate: this event_id
    was stored before (or earlier in this batch) and nothing changed; rejected: unknown serial or stage, or a
    timestamp in the future — the rest of the batch is stored all the same.
    """
    if len(events) > MAX_BATCH:
        raise Invalid(fields={"events": [_("At most %(n)s events per batch.", n=MAX_BATCH)]})
    now = utcnow()
    build = set(st.build_stages())
    results: list[dict | None] = [None] * len(events)

    # 1. duplicates: earlier in the batch, or stored before
    first_of: dict[str, int] = {}
    later: list[tuple[int, int]] = []
    for i, ev in enumerate(events):
        if ev["event_id"] in first_of:
            later.append((i, first_of[ev["event_id"]]))
        else:
            first_of[ev["event_id"]] = i
    stored = set()
    for chunk in _chunks(list(first_of), INSERT_CHUNK):
        stored.update(db.session.execute(select(StageEvent.event_id).where(StageEvent.event_id.in_(chunk))).scalars())

    # 2. the units named by the rest, locked in a stable order (two batches for one unit run one after the other)
    todo = []
    for event_id, i in first_of.items():
        ev = events[i]
        if event_id in stored:
            results[i] = {"event_id": event_id, "status": "duplicate"}
        elif ev["stage"] not in build:
            code = "not_a_production_stage" if ev["stage"] in st.TRAILING else "unknown_stage"
            results[i] = {"event_id": event_id, "status": "rejected", **_reason(code)}
        elif ev["occurred_at"] > now + FUTURE_TOLERANCE:
            results[i] = {"event_id": event_id, "status": "rejected", **_reason("future_timestamp")}
        else:
            todo.append(i)
    serials = sorted({events[i]["serial"].strip().upper() for i in todo})
    units = {}
    if serials:
        stmt = (
            select(Unit.id, Unit.serial, Unit.stage, Unit.stage_at, Unit.line, Unit.order_id)
            .where(Unit.serial.in_(serials))
            .order_by(Unit.id)
        )
        if _dialect() == "postgresql":
            stmt = stmt.with_for_update()
        units = {row.serial: row for row in db.session.execute(stmt)}

    # 3. insert the events; a concurrent twin with the same event_id makes ours a duplicate (ON CONFLICT DO NOTHING)
    rows = []
    for i in todo:
        ev = events[i]
        unit = units.get(ev["serial"].strip().upper())
        if unit is None:
            results[i] = {"event_id": ev["event_id"], "status": "rejected", **_reason("unknown_serial")}
            continue
        rows.append(
            {
                "event_id": ev["event_id"],
                "unit_id": unit.id,
                "stage": ev["stage"],
                "occurred_at": ev["occurred_at"],
                "line": ev.get("line"),
                "station": ev.get("station"),
                "received_at": now,
            }
        )
    inserted = set()
    dialect_insert = pg_insert if _dialect() == "postgresql" else sqlite_insert
    table = StageEvent.__table__
    if rows and _dialect() == "postgresql":  # one statement, the rows as 6 arrays: no per-row parameters to plan
        inserted.update(db.session.execute(_PG_INSERT_EVENTS, _columns(rows, _EVENT_COLUMNS, recv=now)).scalars())
    elif rows:  # one statement compiled once, sent as multi-row VALUES batches (SQLAlchemy's insertmanyvalues)
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
        inserted.update(db.session.execute(stmt, rows).scalars())
    for row in rows:
        i = first_of[row["event_id"]]
        results[i] = {"event_id": row["event_id"], "status": "accepted" if row["event_id"] in inserted else "duplicate"}

    # 4. move units forward: the furthest stage reached wins (on a tie, the later time); never backwards
    by_unit = {u.id: u for u in units.values()}
    best: dict[int, dict] = {}
    reported_line: dict[int, tuple[dt.datetime, str]] = {}  # the line of each unit's latest event that names one
    for row in rows:
        if row["event_id"] not in inserted:
            continue
        if row["line"] and (
            row["unit_id"] not in reported_line or row["occurred_at"] >= reported_line[row["unit_id"]][0]
        ):
            reported_line[row["unit_id"]] = (row["occurred_at"], row["line"])
        current = best.get(row["unit_id"])
        if current is None or _key(row["stage"], row["occurred_at"]) > _key(current["stage"], current["occurred_at"]):
            best[row["unit_id"]] = row
    moves = []
    for unit_id, row in best.items():
        unit = by_unit[unit_id]
        if _key(row["stage"], row["occurred_at"]) > _key(unit.stage, unit.stage_at):
            moves.append(
                {
                    "uid": unit_id,
                    "new_stage": row["stage"],
                    "new_at": row["occurred_at"],
                    "new_line": row["line"] or reported_line.get(unit_id, (None, unit.line))[1],
                    "order_id": unit.order_id,
                    "serial": unit.serial,
                }
            )
    if moves and _dialect() == "postgresql":
        db.session.execute(_PG_MOVE_UNITS, _columns(moves, ("uid", "new_stage", "new_at", "new_line")))
        derive_order_status(actor, moves)
    elif moves:
        t = Unit.__table__
        stmt = (
            update(t)
            .where(t.c.id == bindparam("uid"))
            .values(stage=bindparam("new_stage"), stage_at=bindparam("new_at"), line=bindparam("new_line"))
        )
        db.session.execute(stmt, [{k: m[k] for k in ("uid", "new_stage", "new_at", "new_line")} for m in moves])
        derive_order_status(actor, moves)

    for i, first_index in later:
        first_result = results[first_index]
        results[i] = (
            {**first_result, "event_id": events[i]["event_id"]}
            if first_result["status"] == "rejected"
            else {"event_id": events[i]["event_id"], "status": "duplicate"}
        )
    return results


def derive_order_status(actor, moves: list[dict]) -> None:
    """approved → in_production when a unit has entered the line; → built when every unit is completed.

    The orders concerned are locked (FOR UPDATE, in id order, after the units) before their units are counted, so
    two batches completing the last two units of one order at the same moment still make it `built`."""
    started, done = st.started_stages(), set(st.done_stages())
    entered = {m["order_id"]: m for m in moves if m["new_stage"] in started}
    completed = {m["order_id"] for m in moves if m["new_stage"] in done}
    if not entered and not completed:
        return
    stmt = (
        select(Order)
        .where(
            or_(
                Order.id.in_(entered) & (Order.status == "approved"),
                Order.id.in_(completed) & Order.status.in_(("approved", "in_production")),
            )
        )
        .order_by(Order.id)
        .options(lazyload(Order.lines))  # only the status changes here: the lines are not needed
    )
    if _dialect() == "postgresql":
        stmt = stmt.with_for_update(of=Order)
    candidates = db.session.execute(stmt).unique().scalars().all()
    if not candidates:
        return
    ids = [o.id for o in candidates if o.id in completed]
    unfinished = (
        dict(
            db.session.execute(
                select(Unit.order_id, func.count())
                .where(Unit.order_id.in_(ids), Unit.stage.not_in(done))
                .group_by(Unit.order_id)
            ).all()
        )
        if ids
        else {}
    )
    for order in candidates:
        if order.status == "approved":
            move = entered.get(order.id) or next(m for m in moves if m["order_id"] == order.id)
            orders.advance(
                actor,
                order,
                "in_production",
                f"{move['serial']}: {move['new_stage']}",
                allowed_from=("approved",),
            )
        if order.id in completed and not unfinished.get(order.id) and order.status == "in_production":
            orders.advance(actor, order, "built", None, allowed_from=("in_production",))


def move_units(actor, unit_ids: list[int], stage: str, at: dt.datetime, source: str) -> int:
    """Put units at a trailing stage (`shipped`, `delivered`) from another domain (shipping), with their events.

    The event ids are `<source>:<stage>:<unit id>`, so a retried call stores nothing twice. Units never move
    backwards. Answers how many units moved."""
    if stage not in st.all_stages():
        raise ValueError(f"unknown stage {stage}")
    if not unit_ids:
        return 0
    units = db.session.execute(
        select(Unit.id, Unit.stage, Unit.stage_at).where(Unit.id.in_(unit_ids)).order_by(Unit.id)
    ).all()
    rows = [
        {
            "event_id": f"{source}:{stage}:{u.id}"[:64],
            "unit_id": u.id,
            "stage": stage,
            "occurred_at": at,
            "line": None,
            "station": None,
            "received_at": utcnow(),
        }
        for u in units
    ]
    dialect_insert = pg_insert if _dialect() == "postgresql" else sqlite_insert
    if rows:
        stmt = dialect_insert(StageEvent.__table__).on_conflict_do_nothing(index_elements=["event_id"])
        db.session.execute(stmt, rows)
    forward = [u.id for u in units if _key(stage, at) > _key(u.stage, u.stage_at)]
    if forward:
        db.session.execute(update(Unit).where(Unit.id.in_(forward)).values(stage=stage, stage_at=at))
    return len(forward)


# ---------------------------------------------------------------- tracking


def order_refs(order_ids) -> dict[int, tuple[str, str]]:
    """order id → (order number, dealer code), in one query."""
    from portal.dealers.models import Dealer

    if not order_ids:
        return {}
    rows = db.session.execute(
        select(Order.id, Order.number, Dealer.code)
        .join(Dealer, Dealer.id == Order.dealer_id)
        .where(Order.id.in_(list(order_ids)))
    ).all()
    return {oid: (number, code) for oid, number, code in rows}


def units_brief(order: Order) -> list[dict]:
    """The units of an order as the order's JSON lists them (PRODUCT.md §9.1 `units`), with the options each carries
    (§12: `[{group, code, label, label_en}]`, or null)."""
    rows = db.session.execute(
        select(Unit.serial, Unit.sku, Unit.stage, Unit.stage_at, Unit.line, Unit.options)
        .where(Unit.order_id == order.id)
        .order_by(Unit.id)
    ).all()
    return [
        {"serial": r.serial, "sku": r.sku, "stage": r.stage, "stage_at": r.stage_at.isoformat(), "line": r.line,
         "options": r.options or None}
        for r in rows
    ]  # fmt: skip


def units_of_order(order: Order) -> list[Unit]:
    return (
        db.session.execute(select(Unit).where(Unit.order_id == order.id).order_by(Unit.id).limit(TRACK_MAX_UNITS))
        .unique()
        .scalars()
        .all()
    )


def timelines(units: list[Unit]) -> dict[int, dict[str, dt.datetime]]:
    """unit id → {stage: latest time reported for it} (the first stage defaults to when the unit was scheduled)."""
    out: dict[int, dict[str, dt.datetime]] = defaultdict(dict)
    if not units:
        return out
    rows = db.session.execute(
        select(StageEvent.unit_id, StageEvent.stage, func.max(StageEvent.occurred_at))
        .where(StageEvent.unit_id.in_([u.id for u in units]))
        .group_by(StageEvent.unit_id, StageEvent.stage)
    ).all()
    for unit_id, stage, at in rows:
        out[unit_id][stage] = at
    first = st.first()
    for u in units:
        out[u.id].setdefault(first, u.created_at)
        out[u.id].setdefault(u.stage, u.stage_at)
    return out


def unit_view(unit: Unit, timeline: dict[str, dt.datetime], meds: dict, now: dt.datetime) -> dict:
    current = st.rank(unit.stage)
    expected = eta_rules.eta(unit.stage, unit.stage_at, unit.product.lead_time_days, meds)
    return {
        "serial": unit.serial,
        "sku": unit.sku,
        "product_name": unit.product.name,
        "product_name_en": unit.product.name_en,
        "line": unit.line,
        "stage": unit.stage,
        "stage_label": st.label(unit.stage),
        "stage_at": unit.stage_at,
        "stages": [
            {
                "stage": s,
                "label": st.label(s),
                "at": timeline.get(s),
                "done": st.rank(s) <= current,
                "current": s == unit.stage,
            }
            for s in st.all_stages()
            if s != "returned" or unit.stage == "returned"  # a step of a return only, not of every unit's way
        ],
        "eta": expected,
        "late": expected is not None and expected < now,
    }


def track(scope, query: str) -> dict:
    """Where the units of an order (by number) or one unit (by serial) are, in the caller's scope (else 404)."""
    q = (query or "").strip().upper()
    if not q or len(q) > 40:
        raise NotFound(_("Order or unit not found."))
    # the order's lines and events are not shown here: not loaded (its selectin relationships would read them)
    no_children = (lazyload(Order.lines), lazyload(Order.events))
    order = (
        None  # a VIN is never an order number: one lookup, not two
        if is_valid_vin(q)
        else db.session.execute(scope.select(Order).filter_by(number=q).options(*no_children))
        .unique()
        .scalar_one_or_none()
    )
    if order is not None:
        units = units_of_order(order)
        total = (
            db.session.execute(select(func.count()).where(Unit.order_id == order.id)).scalar_one()
            if len(units) == TRACK_MAX_UNITS
            else len(units)
        )
    else:
        unit = scope.first(Unit, serial=q)
        if unit is None:
            raise NotFound(_("Order or unit not found."))
        order = db.session.get(Order, unit.order_id, options=no_children)  # in scope with its unit
        units, total = [unit], 1
    now = utcnow()
    meds = eta_rules.medians()
    lines = timelines(units)
    views = [unit_view(u, lines[u.id], meds, now) for u in units]
    etas = [v["eta"] for v in views if v["eta"] is not None]
    from portal.orders.labels import ORDER_STATUS_LABELS

    return {
        "query": q,
        "order": order.number,
        "order_status": order.status,
        "order_status_label": str(ORDER_STATUS_LABELS.get(order.status, order.status)),
        "dealer_code": order.dealer.code,
        "ordered_at": order.created_at,
        "serial": q if order.number != q else None,
        "stages": [
            {"stage": s, "label": st.label(s)}
            for s in st.all_stages()
            if s != "returned" or any(u.stage == "returned" for u in units)  # a return's step, not every order's
        ],
        "units": views,
        "units_total": total,
        "eta": max(etas) if etas else None,
        "at": now,
    }


# ---------------------------------------------------------------- open orders with their stage (home pages)

OPEN_STATUSES = ("submitted", "credit_review", "approved", "in_production", "built", "shipped")


def stage_summaries(order_ids: list[int]) -> dict[int, dict]:
    """order id → {units, stages: [{stage, label, count}] (in stage order), eta (the latest)} for orders with units."""
    from portal.catalog.models import Product

    if not order_ids:
        return {}
    rows = db.session.execute(
        select(Unit.order_id, Unit.stage, Unit.stage_at, Product.lead_time_days)
        .join(Product, Product.id == Unit.product_id)
        .where(Unit.order_id.in_(order_ids))
    ).all()
    return _summaries(rows)


def _summaries(rows) -> dict[int, dict]:
    """`stage_summaries` from its rows: (order id, stage, stage_at, the product's lead time) per unit."""
    if not rows:
        return {}
    meds = eta_rules.medians()
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    etas: dict[int, dt.datetime | None] = {}
    for order_id, stage, stage_at, lead in rows:
        counts[order_id][stage] += 1
        expected = eta_rules.eta(stage, stage_at, lead, meds)
        if expected is not None and (etas.get(order_id) is None or expected > etas[order_id]):
            etas[order_id] = expected
    return {
        order_id: {
            "units": sum(per_stage.values()),
            "stages": [
                {"stage": s, "label": st.label(s), "count": n}
                for s, n in sorted(per_stage.items(), key=lambda kv: st.rank(kv[0]))
            ],
            "eta": etas.get(order_id),
        }
        for order_id, per_stage in counts.items()
    }


def open_orders_with_stage(scope, limit: int = 10) -> list[dict]:
    """The most recent open orders in scope, each with its units per stage and its latest ETA, in one statement: the
    orders (with their dealer) joined to their units, a row per unit (one for an order without any). The lists show
    an order's number, date, status and dealer only: its lines, events and other relations are not read with it
    (they would be on first use)."""
    from portal.catalog.models import Product

    recent = (
        scope.select(Order)
        .where(Order.status.in_(OPEN_STATUSES))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
        .subquery("recent")
    )
    order = aliased(Order, recent)
    rows = db.session.execute(
        select(order, Unit.stage, Unit.stage_at, Product.lead_time_days)
        .outerjoin(Unit, Unit.order_id == order.id)
        .outerjoin(Product, Product.id == Unit.product_id)
        .order_by(order.created_at.desc(), order.id.desc())
        .options(lazyload("*"), joinedload(order.dealer).lazyload("*"))
    ).all()
    orders = list({r[0].id: r[0] for r in rows}.values())  # in the rows' order: the most recent first
    summaries = _summaries([(o.id, stage, at, lead) for o, stage, at, lead in rows if stage is not None])
    empty = {"units": 0, "stages": [], "eta": None}
    return [{"order": o, **summaries.get(o.id, empty)} for o in orders]
