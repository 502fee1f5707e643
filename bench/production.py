"""Build-line benchmark (issue 5): tracking lookups and MES ingest on 1,000,000 units with 8,000,000 stage events.

The data (built through the app's migrations, loaded with COPY, one seeded `random.Random`): the region tree of the
receivables benchmark, 2,000 dealers with one dealer_staff user and a bearer token each, an HQ channel manager with
a token, a `production` integration token, 50 vehicle SKUs (built to order) and ~95,000 orders of 1-20 units
(1-3 lines each) approved over the last year, a growing share in the last weeks. Each unit has its VIN
(`portal.production.vin.make_vin`, so the check digits are right), its stage events in stage order (body, paint,
two assembly stations, inspection, completed from the MES; shipped and delivered as shipping records them), extra
inspection passes (rework) so that the total is exactly 8 events per unit, and `units.stage` = the furthest stage
reached; the orders' statuses and events follow from their units.

Measured, in this process:

1. Tracking: `services.track` (what `GET /api/v1/track/<q>` calls) by VIN and by order number, in a request
   context with a dealer scope (the owner) and with the HQ scope, and the same through the Flask test client with a
   bearer token; p50/p99 over random lookups after a warm-up, against a hand-written SQL statement fetching the
   same unit(s) and their events (latest time per stage) through the same engine; results compared.
2. Ingest: batches of 1,000 events (1 % duplicates, 5 % late events for a stage the unit has already passed)
   through `services.ingest` + commit, and through `POST /api/v1/production/events` with a production token;
   against a plain bulk insert of the same rows (psycopg `executemany` of one INSERT, and COPY) into stage_events.
   Afterwards: duplicates created nothing, no unit moved backwards, units and orders consistent with their events.
3. EXPLAIN (ANALYZE, BUFFERS) of the tracking, ETA-median and ingest statements into bench/out/production-*.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import secrets
import statistics
import time
from collections import Counter, defaultdict, deque
from contextlib import ExitStack
from dataclasses import dataclass, field

from psycopg import sql

from bench.common import (
    cents,
    connect,
    database_url,
    ensure_database,
    load,
    make_app,
    ms,
    percentile,
    python_version,
    reset_schema,
    reset_sequences,
    say,
    server_settings,
    stopwatch,
    table,
    without_keys,
)
from bench.receivables import plan_regions, save_explain

SEED = 5  # issue 5
FULL_UNITS, FULL_EVENTS = 1_000_000, 8_000_000
QUICK_UNITS, QUICK_EVENTS = 100_000, 800_000
DEALERS = 2_000
HISTORY_DAYS = 365
RECENT_SHARE, RECENT_DAYS = 0.12, 25  # orders approved in the last weeks: units at every stage
BATCH, DUP_PER_BATCH, LATE_PER_BATCH = 1000, 10, 50
WMI = "LDP"
STAGES = ("scheduled", "body", "paint", "assembly", "inspection", "completed", "shipped", "delivered")
RANK = {s: i for i, s in enumerate(STAGES)}
# hours from entering a stage to entering the next one: (low, high)
PLAN = {
    "scheduled": (96, 300),
    "body": (16, 40),
    "paint": (16, 36),
    "assembly": (30, 80),
    "inspection": (10, 30),
    "completed": (12, 240),
    "shipped": (24, 168),
}
# category: (zh, en, line, list price range in CNY, lead time days)
CATEGORIES = {
    "sedan": ("轿车", "Sedan", "L1", (90_000, 260_000), (20, 35)),
    "ev": ("纯电", "EV", "L1", (120_000, 330_000), (25, 40)),
    "suv": ("SUV", "SUV", "L2", (140_000, 420_000), (25, 45)),
    "mpv": ("MPV", "MPV", "L3", (160_000, 380_000), (30, 45)),
}
SKUS_PER_CATEGORY = (14, 12, 16, 8)  # 50 vehicle SKUs
STATIONS = {"body": "BW", "paint": "PT", "assembly": "AS", "inspection": "QA", "completed": "EOL"}
PASSWORD = "bench-pass-2026"  # noqa: S105  (the benchmark users' password, never used to log in)
TRACK_PATH = "/api/v1/track/"
EVENTS_PATH = "/api/v1/production/events"


@dataclass
class Data:
    now: dt.datetime
    dealer_tokens: dict[int, str]  # dealer id: a dealer_staff bearer token
    hq_token: str
    mes_token: str
    units: int
    events: int
    counts: dict = field(default_factory=dict)


# ---------------------------------------------------------------- the data


def ts(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


class Copier:
    """One COPY … FROM STDIN per table, each on its own connection, open together (keys are off during the load)."""

    def __init__(self, stack: ExitStack, url: str, table_name: str, columns: tuple[str, ...]):
        self.conn = stack.enter_context(connect(url))
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table_name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        self.cur = stack.enter_context(self.conn.cursor())
        self.copy = stack.enter_context(self.cur.copy(stmt))
        self.buf: list[str] = []
        self.rows = 0

    def add(self, line: str) -> None:
        self.buf.append(line)
        self.rows += 1
        if len(self.buf) >= 20000:
            self.copy.write("".join(self.buf))
            self.buf.clear()

    def flush(self) -> None:
        if self.buf:
            self.copy.write("".join(self.buf))
            self.buf.clear()


def build_data(app, url: str, n_units: int, n_events: int, timings: dict) -> Data:
    from portal.production.vin import is_valid_vin, make_vin

    rng = random.Random(SEED)
    t_all = time.perf_counter()
    with stopwatch("schema (drop, alembic upgrade)", timings):
        reset_schema(app, url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    now_s = int(now.timestamp())
    created0 = ts(now_s - (HISTORY_DAYS + 60) * 86400)
    regions, provinces = plan_regions()
    t0 = time.perf_counter()
    dealer_tokens: dict[int, str] = {}
    with connect(url) as conn:
        with (
            conn.cursor() as cur,
            cur.copy("COPY regions (id, code, name, parent_id, path, approval_limit, created_at) FROM STDIN") as cp,
        ):
            for rid, code, name, parent, path in regions:
                cp.write_row((rid, code, name, parent, path, "0.00", created0))
        weights = [rng.randint(1, 10) for _ in provinces]
        per_province: Counter = Counter()
        dealer_rows = []
        for did in range(1, DEALERS + 1):
            pid, pcode, pname = rng.choices(provinces, weights)[0]
            per_province[pcode] += 1
            tier = rng.choices("ABC", (15, 45, 40))[0]
            dealer_rows.append(
                (
                    did,
                    f"{pcode}-{per_province[pcode]:04d}",
                    f"{pname}{tier}级经销商{per_province[pcode]:04d}",
                    pid,
                    tier,
                )
            )
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY dealers (id, code, name, region_id, tier, channel_type, payment_terms_days, status, created_at)"
                " FROM STDIN"
            ) as cp,
        ):
            for did, code, name, pid, tier in dealer_rows:
                cp.write_row((did, code, name, pid, tier, "4s_store", 30, "active", created0))
        from werkzeug.security import generate_password_hash

        pw = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        expires = now + dt.timedelta(days=3)
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY users (id, username, display_name, email, password_hash, role, dealer_id, region_id, locale,"
                " active,"
                " created_at, password_changed_at, session_key) FROM STDIN"
            ) as cp,
        ):
            for did, code, *_rest in dealer_rows:
                name = f"{code.lower()}.staff"
                cp.write_row(
                    (
                        did,
                        name,
                        f"{code} 员工",
                        f"{name}@example.cn",
                        pw,
                        "dealer_staff",
                        did,
                        None,
                        "zh_CN" if did % 3 else "en",
                        True,
                        created0,
                        created0,
                        secrets.token_hex(16),
                    )
                )
            hq_id = DEALERS + 1
            cp.write_row(
                (
                    hq_id,
                    "hq.channel",
                    "渠道经理",
                    "hq@example.cn",
                    pw,
                    "channel_manager",
                    None,
                    None,
                    "zh_CN",
                    True,
                    created0,
                    created0,
                    secrets.token_hex(16),
                )
            )
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY api_tokens (id, kind, name, token_hash, user_id, scope, created_at, expires_at) FROM STDIN"
            ) as cp,
        ):
            for did, code, *_rest in dealer_rows:
                raw = "drp_u_" + secrets.token_urlsafe(32)
                dealer_tokens[did] = raw
                digest = hashlib.sha256(raw.encode()).hexdigest()
                cp.write_row((did, "personal", f"api:{code.lower()}.staff", digest, did, None, created0, expires))
            hq_token = "drp_u_" + secrets.token_urlsafe(32)
            cp.write_row(
                (
                    hq_id,
                    "personal",
                    "api:hq.channel",
                    hashlib.sha256(hq_token.encode()).hexdigest(),
                    hq_id,
                    None,
                    created0,
                    expires,
                )
            )
            mes_token = "drp_i_" + secrets.token_urlsafe(32)
            cp.write_row(
                (
                    hq_id + 1,
                    "integration",
                    "mes-bench",
                    hashlib.sha256(mes_token.encode()).hexdigest(),
                    None,
                    "production",
                    created0,
                    None,
                )
            )
        products = []  # (id, sku, category, list price cents, line, lead time)
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY products (id, sku, name, name_en, category, unit, list_price, tax_rate, min_resale_price,"
                " build_to_order, lead_time_days, active, created_at) FROM STDIN"
            ) as cp,
        ):
            for (category, (zh, en, line, (lo, hi), (llo, lhi))), n in zip(
                CATEGORIES.items(), SKUS_PER_CATEGORY, strict=True
            ):
                for k in range(1, n + 1):
                    pid = len(products) + 1
                    sku = f"V-{category.upper()}-{k:02d}"
                    price = rng.randint(lo, hi) // 100 * 10000
                    lead = rng.randint(llo, lhi)
                    products.append((pid, sku, category, price, line, lead))
                    cp.write_row(
                        (
                            pid,
                            sku,
                            f"{zh} {sku}",
                            f"{en} {sku}",
                            category,
                            "辆",
                            cents(price),
                            "0.1300",
                            None,
                            True,
                            lead,
                            True,
                            created0,
                        )
                    )
        conn.commit()
    timings["channel and catalogue"] = time.perf_counter() - t0
    say(
        f"  regions, {DEALERS} dealers, users, tokens, {len(products)} products:"
        f" {timings['channel and catalogue']:.1f} s"
    )

    # every unit planned first (times of the stages it reached), so that extra inspection passes make the total exact
    t0 = time.perf_counter()
    orders = []  # (order id, dealer id, approved epoch, [(product index, quantity)])
    planned = 0
    while planned < n_units:
        qty = min(rng.randint(1, 20), n_units - planned)
        if rng.random() < RECENT_SHARE:
            approved = now_s - int(rng.random() * RECENT_DAYS * 86400)
        else:
            approved = now_s - int(rng.random() * HISTORY_DAYS * 86400)
        n_lines = min(qty, rng.choice((1, 1, 1, 2, 2, 3)))
        cuts = sorted(rng.sample(range(1, qty), n_lines - 1)) if n_lines > 1 else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, qty], strict=True)]
        picks = rng.sample(range(len(products)), n_lines)
        orders.append((len(orders) + 1, rng.randint(1, DEALERS), approved, list(zip(picks, parts, strict=True))))
        planned += qty
    unit_times: list[list[int]] = []  # per unit: epoch of each stage reached (index = stage rank)
    for _oid, _did, approved, lines in orders:
        for _p, qty in lines:
            for _ in range(qty):
                times = [approved]
                at = approved
                for stage in STAGES[:-1]:
                    low, high = PLAN[stage]
                    at += int(rng.uniform(low, high) * 3600)
                    if at > now_s - 60:
                        break
                    times.append(at)
                unit_times.append(times)
    # events: body, paint, assembly ×2 (two stations), inspection, completed, shipped, delivered
    base = sum(len(t) - 1 + (1 if len(t) > RANK["assembly"] else 0) for t in unit_times)
    extra = n_events - base
    done_units = [i for i, t in enumerate(unit_times) if len(t) > RANK["completed"]]
    if extra < 0 or not done_units:
        raise SystemExit(f"the plan makes {base:,} events, more than {n_events:,}")
    reinspections: Counter = Counter(rng.choice(done_units) for _ in range(extra))
    timings["plan"] = time.perf_counter() - t0
    say(
        f"  plan: {len(orders):,} orders, {len(unit_times):,} units, {base:,} events + {extra:,} re-inspections"
        f" ({len(reinspections):,} units): {timings['plan']:.1f} s"
    )

    tables = ("orders", "order_lines", "order_events", "units", "stage_events")
    counts: Counter = Counter()
    with stopwatch("orders, lines, order events, units, stage events (COPY, keys off)", timings):  # noqa: SIM117
        with connect(url) as keys_conn, without_keys(keys_conn, tables), ExitStack() as stack:
            c_orders = Copier(
                stack,
                url,
                "orders",
                ("id", "number", "dealer_id", "status", "net", "tax", "gross", "created_by", "created_at"),
            )
            c_lines = Copier(
                stack,
                url,
                "order_lines",
                (
                    "id",
                    "order_id",
                    "line_no",
                    "product_id",
                    "sku",
                    "quantity",
                    "list_price",
                    "unit_price",
                    "tax_rate",
                    "net",
                    "tax",
                    "gross",
                ),
            )
            c_oev = Copier(stack, url, "order_events", ("order_id", "at", "actor", "from_status", "to_status"))
            c_units = Copier(
                stack,
                url,
                "units",
                (
                    "id",
                    "serial",
                    "order_id",
                    "order_line_id",
                    "dealer_id",
                    "product_id",
                    "sku",
                    "stage",
                    "stage_at",
                    "line",
                    "created_at",
                ),
            )
            c_ev = Copier(
                stack,
                url,
                "stage_events",
                ("id", "event_id", "unit_id", "stage", "occurred_at", "line", "station", "received_at"),
            )
            uid = line_id = ev_id = 0
            for oid, did, approved, lines in orders:
                submitted = approved - rng.randint(600, 7200)
                on = dt.datetime.fromtimestamp(approved, dt.UTC).date()
                number = f"SO-{time.strftime('%Y%m', time.gmtime(submitted))}-{oid:06d}"
                net_total = tax_total = 0
                reached_min, reached_max, order_units = len(STAGES), 0, 0
                for n, (p, qty) in enumerate(lines, 1):
                    pid, sku, _category, price, line, _lead = products[p]
                    net = price * qty
                    tax = (2 * net * 1300 + 10000) // 20000
                    net_total += net
                    tax_total += tax
                    line_id += 1
                    c_lines.add(
                        f"{line_id}\t{oid}\t{n}\t{pid}\t{sku}\t{qty}\t{cents(price)}\t{cents(price)}\t0.1300\t"
                        f"{cents(net)}\t{cents(tax)}\t{cents(net + tax)}\n"
                    )
                    for _ in range(qty):
                        times = unit_times[uid]
                        uid += 1
                        serial = make_vin(WMI, pid, uid, on)
                        reached = len(times) - 1
                        reached_min, reached_max = min(reached_min, reached), max(reached_max, reached)
                        order_units += 1
                        unit_line = line if reached >= RANK["body"] else None
                        for r in range(1, reached + 1):
                            stage = STAGES[r]
                            if r >= RANK["shipped"]:
                                ev_id += 1
                                c_ev.add(
                                    f"{ev_id}\tshipping:{stage}:{uid}\t{uid}\t{stage}\t{ts(times[r])}\t\\N\t\\N\t"
                                    f"{ts(times[r] + 5)}\n"
                                )
                                continue
                            code = STATIONS[stage]
                            passes = [(times[r], f"{line}-{code}-{rng.randint(1, 8):02d}", stage)]
                            if stage == "assembly":
                                second = (
                                    times[r] + (times[r + 1] - times[r]) // 2 if r + 1 < len(times) else times[r] + 3600
                                )
                                passes.append(
                                    (min(second, now_s - 30), f"{line}-{code}-{rng.randint(9, 12):02d}", "assembly:2")
                                )
                            if stage == "inspection":
                                for k in range(reinspections.get(uid - 1, 0)):
                                    span = max(60, times[r + 1] - times[r])
                                    passes.append(
                                        (
                                            times[r] + span * (k + 1) // (reinspections[uid - 1] + 1),
                                            f"{line}-QR-{rng.randint(1, 4):02d}",
                                            f"inspection:{k + 2}",
                                        )
                                    )
                            for at, station, key in passes:
                                ev_id += 1
                                c_ev.add(
                                    f"{ev_id}\tmes:{serial}:{key}\t{uid}\t{stage}\t{ts(at)}\t{line}\t{station}\t"
                                    f"{ts(at + rng.randint(1, 90))}\n"
                                )
                        stage = STAGES[reached]
                        stage_at = times[reached]
                        if stage == "assembly":  # on a tie the later time wins: the second station's
                            stage_at = min(times[reached] + 3600, now_s - 30)
                        if stage == "inspection" and reinspections.get(uid - 1):
                            raise AssertionError("re-inspections only for completed units")
                        c_units.add(
                            f"{uid}\t{serial}\t{oid}\t{line_id}\t{did}\t{pid}\t{sku}\t{stage}\t{ts(stage_at)}\t"
                            f"{unit_line or chr(92) + 'N'}\t{ts(approved)}\n"
                        )
                        counts[stage] += 1
                # the order's status and history follow from its units
                history = [("submitted", submitted), ("approved", approved)]
                if reached_max >= RANK["body"]:
                    history.append(("in_production", approved + 3600))
                if reached_min >= RANK["completed"]:
                    history.append(("built", approved + 86400))
                if reached_min >= RANK["shipped"]:
                    history.append(("shipped", approved + 2 * 86400))
                if reached_min >= RANK["delivered"]:
                    history.append(("delivered", approved + 3 * 86400))
                status = history[-1][0]
                counts[f"order {status}"] += 1
                before = "\\N"
                for to, at in history:
                    c_oev.add(f"{oid}\t{ts(min(at, now_s))}\tbench\t{before}\t{to}\n")
                    before = to
                c_orders.add(
                    f"{oid}\t{number}\t{did}\t{status}\t{cents(net_total)}\t{cents(tax_total)}\t"
                    f"{cents(net_total + tax_total)}\tbench\t{ts(submitted)}\n"
                )
            for c in (c_orders, c_lines, c_oev, c_units, c_ev):
                c.flush()
            stack.close()  # end the COPYs, commit and close their connections before the keys come back
            say(
                f"  rows: {c_orders.rows:,} orders, {c_lines.rows:,} lines, {c_oev.rows:,} order events,"
                f" {c_units.rows:,} units, {c_ev.rows:,} stage events; putting the keys back"
            )
            counts["units"], counts["events"], counts["orders"] = c_units.rows, c_ev.rows, c_orders.rows
    with connect(url) as conn:
        reset_sequences(
            conn,
            (
                "regions",
                "dealers",
                "users",
                "api_tokens",
                "products",
                "orders",
                "order_lines",
                "order_events",
                "units",
                "stage_events",
            ),
        )
        bad = [
            s
            for (s,) in conn.execute("SELECT serial FROM units TABLESAMPLE SYSTEM (1) LIMIT 2000")
            if not is_valid_vin(s)
        ]
        if bad:
            raise SystemExit(f"invalid VINs: {bad[:5]}")
    with stopwatch("VACUUM ANALYZE", timings), connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["data total"] = time.perf_counter() - t_all
    by_stage = ", ".join(f"{s} {counts[s]:,}" for s in STAGES)
    say(f"  data ready in {timings['data total']:.1f} s; units by stage: {by_stage}")
    say(
        "  orders by status: "
        + ", ".join(f"{k[6:]} {v:,}" for k, v in sorted(counts.items()) if k.startswith("order "))
    )
    return Data(now, dealer_tokens, hq_token, mes_token, counts["units"], counts["events"], dict(counts))


# ---------------------------------------------------------------- tracking


BASE_SELECT = """
SELECT u.id, u.serial, u.sku, u.stage, u.stage_at, u.line, u.created_at, p.name, p.name_en, p.lead_time_days,
       o.number, o.status, o.created_at AS ordered_at, d.code, e.stage AS event_stage, max(e.occurred_at) AS at
FROM units u
JOIN products p ON p.id = u.product_id
JOIN orders o ON o.id = u.order_id
JOIN dealers d ON d.id = o.dealer_id
LEFT JOIN stage_events e ON e.unit_id = u.id
"""
BASELINE = {
    ("vin", "dealer"): BASE_SELECT
    + "WHERE u.serial = %(q)s AND u.dealer_id = %(dealer)s GROUP BY u.id, p.id, o.id, d.id, e.stage",
    ("vin", "hq"): BASE_SELECT + "WHERE u.serial = %(q)s GROUP BY u.id, p.id, o.id, d.id, e.stage",
    ("order", "dealer"): BASE_SELECT
    + "WHERE o.number = %(q)s AND o.dealer_id = %(dealer)s GROUP BY u.id, p.id, o.id, d.id, e.stage ORDER BY u.id",
    ("order", "hq"): BASE_SELECT + "WHERE o.number = %(q)s GROUP BY u.id, p.id, o.id, d.id, e.stage ORDER BY u.id",
}


def pick_keys(url: str, rng: random.Random, n: int) -> dict[str, list[tuple[str, int]]]:
    """Random units (by VIN) and random orders (by number) with their dealer."""
    with connect(url) as conn:
        max_unit = conn.execute("SELECT max(id) FROM units").fetchone()[0]
        max_order = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
        uids = rng.sample(range(1, max_unit + 1), n)
        oids = rng.sample(range(1, max_order + 1), n)
        units = dict(
            (i, (s, d))
            for i, s, d in conn.execute("SELECT id, serial, dealer_id FROM units WHERE id = ANY(%s)", (uids,))
        )
        orders = dict(
            (i, (s, d))
            for i, s, d in conn.execute("SELECT id, number, dealer_id FROM orders WHERE id = ANY(%s)", (oids,))
        )
    return {"vin": [units[i] for i in uids], "order": [orders[i] for i in oids]}


class Statements:
    """Counts (and keeps) the statements the app's engine sends."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[tuple[str, object, bool]] = []
        self.sql_time = 0.0  # client-side: from sending each statement to its result (round trips included)
        self._t = 0.0

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self.listen)
        event.listen(self.engine, "after_cursor_execute", self.done)
        return self

    def listen(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append((statement, parameters, executemany))
        self._t = time.perf_counter()

    def done(self, conn, cursor, statement, parameters, context, executemany):
        self.sql_time += time.perf_counter() - self._t

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self.listen)
        event.remove(self.engine, "after_cursor_execute", self.done)


def app_track(app, scope, q: str):
    from portal.production import services

    with app.test_request_context():
        t0 = time.perf_counter()
        result = services.track(scope, q)
        elapsed = time.perf_counter() - t0
    return elapsed, result


def baseline_track(app, kind: str, scope_kind: str, q: str, dealer: int):
    from portal.extensions import db

    with app.test_request_context():
        t0 = time.perf_counter()
        rows = db.session.connection().exec_driver_sql(BASELINE[(kind, scope_kind)], {"q": q, "dealer": dealer}).all()
        db.session.rollback()
        elapsed = time.perf_counter() - t0
    return elapsed, rows


def same_result(result: dict, rows) -> list[str]:
    """The app's answer against the baseline's rows: the same units, stages and latest event time per stage."""
    problems = []
    by_unit: dict[str, dict] = defaultdict(dict)
    stage_of = {}
    for r in rows:
        stage_of[r.serial] = r.stage
        if r.event_stage is not None:
            by_unit[r.serial][r.event_stage] = r.at
    app_units = {u["serial"]: u for u in result["units"]}
    if set(app_units) != set(stage_of):
        problems.append(f"{result['query']}: units differ ({len(app_units)} vs {len(stage_of)})")
        return problems
    for serial, u in app_units.items():
        if u["stage"] != stage_of[serial]:
            problems.append(f"{serial}: stage {u['stage']} vs {stage_of[serial]}")
        at = {s["stage"]: s["at"] for s in u["stages"]}
        for stage, when in by_unit[serial].items():
            if at.get(stage) != when:
                problems.append(f"{serial}: {stage} at {at.get(stage)} vs {when}")
    return problems


def measure_tracking(app, url: str, data: Data, n: int, warmup: int, results: dict) -> None:
    from portal.extensions import db
    from portal.platform.errors import NotFound
    from portal.platform.tenancy import Scope
    from portal.production import eta

    rng = random.Random(SEED + 1)
    keys = pick_keys(url, rng, n + warmup)
    client = app.test_client()
    # the ETA medians: computed once per process every PORTAL_ETA_CACHE_SECONDS, by the first lookup after that
    with app.test_request_context():
        eta.clear_cache()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            meds = eta.compute_medians()
            times.append(time.perf_counter() - t0)
        eta.medians()
    results["medians"] = statistics.median(times)
    say(
        f"- ETA medians (compute_medians, 5 queries over the last 90 days): {ms(results['medians'])} median of 3"
        f" (each lookup after the {app.config['PORTAL_ETA_CACHE_SECONDS']} s cache expires pays it); "
        + ", ".join(f"{a}→{b} {v / 3600:.1f} h" for (a, b), v in meds.items() if v is not None)
    )
    hq = Scope("hq", user_id=DEALERS + 1)
    rows = []
    problems: list[str] = []
    for kind in ("vin", "order"):
        for scope_kind in ("dealer", "hq"):
            label = f"by {'VIN' if kind == 'vin' else 'order number'}, {scope_kind} scope"
            timing: dict[str, list[float]] = {"app": [], "baseline": [], "client": []}
            units_seen = []
            for i, (q, dealer) in enumerate(keys[kind]):
                scope = Scope("dealer", dealer_id=dealer, user_id=dealer) if scope_kind == "dealer" else hq
                t_app, result = app_track(app, scope, q)
                t_base, base_rows = baseline_track(app, kind, scope_kind, q, dealer)
                token = data.dealer_tokens[dealer] if scope_kind == "dealer" else data.hq_token
                t0 = time.perf_counter()
                resp = client.get(TRACK_PATH + q, headers={"Authorization": f"Bearer {token}"})
                t_client = time.perf_counter() - t0
                if resp.status_code != 200 or len(resp.get_json()["units"]) != len(result["units"]):
                    problems.append(f"{label} {q}: HTTP {resp.status_code}")
                if i < warmup:
                    continue
                if i < warmup + 50:
                    problems += same_result(result, base_rows)
                timing["app"].append(t_app)
                timing["baseline"].append(t_base)
                timing["client"].append(t_client)
                units_seen.append(len(result["units"]))
            p = {k: (percentile(v, 50), percentile(v, 99), max(v)) for k, v in timing.items()}
            results[("track", kind, scope_kind)] = {**p, "units": statistics.mean(units_seen), "n": len(units_seen)}
            rows.append(
                [
                    label,
                    f"{statistics.mean(units_seen):.1f}",
                    ms(p["app"][0]),
                    ms(p["app"][1]),
                    ms(p["app"][2]),
                    ms(p["client"][0]),
                    ms(p["client"][1]),
                    ms(p["baseline"][0]),
                    ms(p["baseline"][1]),
                    f"{p['app'][0] / p['baseline'][0]:.1f}x",
                    "yes" if p["app"][1] < 0.020 else "NO",
                ]
            )
            say(f"  {label}: {len(units_seen)} lookups done; {load()}")
    say(
        table(
            ["lookup", "units", "app p50", "p99", "max", "HTTP p50", "p99", "SQL p50", "p99", "app÷SQL", "p99<20ms"],
            rows,
        )
    )
    # tenancy: a dealer asking for another dealer's VIN or order gets 404 (service and API)
    refused = 0
    for kind in ("vin", "order"):
        for q, dealer in keys[kind][:10]:
            other = dealer % DEALERS + 1
            try:
                with app.test_request_context():
                    from portal.production import services

                    services.track(Scope("dealer", dealer_id=other), q)
            except NotFound:
                refused += 1
            resp = client.get(TRACK_PATH + q, headers={"Authorization": f"Bearer {data.dealer_tokens[other]}"})
            refused += resp.status_code == 404
    results["tenancy"] = f"{refused}/40 refused"
    say(f"  another dealer's VIN or order: {refused}/40 answered 404 / NotFound")
    for p in problems[:10]:
        say(f"  MISMATCH {p}")
    results["track problems"] = len(problems)
    say(f"  results compared with the baseline on 50 lookups of each kind: {len(problems)} differences")
    # statements per lookup, and their plans
    with app.app_context():
        engine = db.engine
    q_vin, d_vin = keys["vin"][-1]
    with connect(url) as conn:  # an order of 20 units
        q_order, d_order = conn.execute(
            "SELECT o.number, o.dealer_id FROM orders o WHERE o.id IN"
            " (SELECT order_id FROM units GROUP BY order_id HAVING count(*) = 20 LIMIT 1)"
        ).fetchone()
    for kind, q, dealer in (("vin", q_vin, d_vin), ("order", q_order, d_order)):
        with Statements(engine) as st:
            _t, result = app_track(app, Scope("dealer", dealer_id=dealer), q)
        results[("statements", kind)] = len(st.seen)
        sql_t, all_t = [], []
        for _ in range(50):
            with Statements(engine) as st2:
                t_one, _r = app_track(app, Scope("dealer", dealer_id=dealer), q)
            sql_t.append(st2.sql_time)
            all_t.append(t_one)
        results[("sql share", kind)] = (statistics.median(sql_t), statistics.median(all_t))
        say(
            f"  track by {kind} ({len(result['units'])} units, dealer scope): {len(st.seen)} statements;"
            f" median of 50: {ms(statistics.median(all_t))}, of which statements (client-side)"
            f" {ms(statistics.median(sql_t))}"
        )
        for k, (statement, params, _many) in enumerate(st.seen, 1):
            say(f"    {k}. {save_explain(app, f'production-track-{kind}-{k}', statement, params)}")
        say(
            "    baseline: "
            + save_explain(
                app, f"production-track-{kind}-baseline", BASELINE[(kind, "dealer")], {"q": q, "dealer": dealer}
            )
        )
    with app.test_request_context(), Statements(engine) as st:
        eta.compute_medians()
    for k, (statement, params, _many) in enumerate(st.seen, 1):
        say(f"    ETA median {k}: {save_explain(app, f'production-eta-median-{k}', statement, params)}")


# ---------------------------------------------------------------- ingest


@dataclass
class Stream:
    """Batches of MES events for one side (in-process or API), from its own open units."""

    batches: list[list[dict]]
    new_ids: set[str]
    dup_slots: int
    late: int
    units: set[int]


def open_units(url: str):
    with connect(url) as conn:
        return conn.execute(
            "SELECT id, serial, stage, stage_at, coalesce(line, 'L2'), order_id FROM units"
            " WHERE stage = ANY(%s) ORDER BY id",
            (list(STAGES[: RANK["completed"]]),),
        ).fetchall()


def make_stream(rng: random.Random, units: list, n_batches: int, now: dt.datetime, history: list[str]) -> Stream:
    """Each unit's remaining MES events (next stage to completed) with times between its stage_at and now; batches
    of 1,000: 1 % duplicates (event ids sent before, or earlier in the batch), 5 % late events (a unit's event for
    stage k held back one batch while its event for k+1 goes ahead)."""
    pending: dict[int, deque] = {}
    for uid, serial, stage, stage_at, line, _order in units:
        left = STAGES[RANK[stage] + 1 : RANK["completed"] + 1]
        span = (now - dt.timedelta(minutes=2) - stage_at).total_seconds()
        at = [stage_at + dt.timedelta(seconds=span * (k + 1) / (len(left) + 1)) for k in range(len(left))]
        pending[uid] = deque(
            {
                "event_id": f"mes:{serial}:{s}:b",
                "serial": serial,
                "stage": s,
                "occurred_at": a.replace(microsecond=0),
                "line": line,
                "station": f"{line}-{STATIONS[s]}-{rng.randint(1, 8):02d}",
                "_unit": uid,
            }
            for s, a in zip(left, at, strict=True)
        )
    queue = deque(rng.sample(list(pending), len(pending)))
    batches, sent, held, new_ids = [], [], [], set()
    late = 0
    for _b in range(n_batches):
        batch = list(held)
        late += len(held)
        held = []
        used = set()
        # late pairs: the event for stage k+1 now, for stage k in the next batch
        tries = 0
        while len(held) < LATE_PER_BATCH and tries < len(queue):
            tries += 1
            uid = queue.popleft()
            queue.append(uid)
            if len(pending[uid]) >= 2 and uid not in used:
                first, second = pending[uid].popleft(), pending[uid].popleft()
                batch.append(second)
                held.append(first)
                used.add(uid)
        while len(batch) < BATCH - DUP_PER_BATCH and queue:
            uid = queue.popleft()
            if pending[uid] and uid not in used:
                batch.append(pending[uid].popleft())
                used.add(uid)
            if pending[uid]:
                queue.append(uid)
            if len(used) >= len(pending):
                break
        new_ids.update(e["event_id"] for e in batch)
        for k in range(DUP_PER_BATCH):
            if k % 2 and batch:
                batch.append(dict(rng.choice(batch)))  # earlier in the same batch
            elif sent:
                batch.append(dict(rng.choice(sent)))  # sent in an earlier batch
            else:
                event_id = rng.choice(history)  # stored before this run
                batch.append(
                    {
                        "event_id": event_id,
                        "serial": event_id.split(":")[1],
                        "stage": "body",
                        "occurred_at": now - dt.timedelta(days=30),
                        "line": None,
                        "station": None,
                        "_unit": 0,
                    }
                )
        sent.extend(e for e in batch if e["event_id"] in new_ids)
        rng.shuffle(batch)
        batches.append(batch)
    return Stream(
        batches,
        new_ids - {e["event_id"] for e in held},
        DUP_PER_BATCH * n_batches,
        late,
        {e["_unit"] for b in batches for e in b if e["_unit"]},
    )


def for_service(batch: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "_unit"} for e in batch]


def for_api(batch: list[dict]) -> dict:
    return {"events": [{**e, "occurred_at": e["occurred_at"].isoformat()} for e in for_service(batch)]}


def baseline_rows(batch: list[dict], prefix: str, now: dt.datetime, seen: set[str]) -> list[tuple]:
    """The rows the service stores for a batch (each new event once; replays left out) under other event ids."""
    rows = []
    for e in batch:
        if e["event_id"] in seen or not e["_unit"] or not e["event_id"].endswith(":b"):
            continue
        seen.add(e["event_id"])
        rows.append((prefix + e["event_id"], e["_unit"], e["stage"], e["occurred_at"], e["line"], e["station"], now))
    return rows


def measure_ingest(app, url: str, data: Data, n_batches: int, warmup: int, results: dict) -> None:
    from portal.extensions import db
    from portal.platform.auth import IntegrationPrincipal
    from portal.production import services

    rng = random.Random(SEED + 2)
    units = open_units(url)
    rng.shuffle(units)
    half = len(units) // 2
    with connect(url) as conn:
        history = [
            r[0] for r in conn.execute("SELECT event_id FROM stage_events WHERE id <= 5000 AND event_id LIKE 'mes:%'")
        ]
        before = {
            r[0]: (RANK[r[1]], r[2])
            for r in conn.execute(
                "SELECT id, stage, stage_at FROM units WHERE stage = ANY(%s)", (list(STAGES[: RANK["completed"]]),)
            )
        }
        orders_before = dict(
            conn.execute(
                "SELECT id, status FROM orders WHERE id IN (SELECT order_id FROM units WHERE stage = ANY(%s))",
                (list(STAGES[: RANK["completed"]]),),
            ).fetchall()
        )
    total = n_batches + warmup + 1  # one more for the EXPLAIN (rolled back)
    streams = {
        "service": make_stream(rng, units[:half], total, data.now, history),
        "api": make_stream(rng, units[half:], total, data.now, history),
    }
    sizes = [len(b) for s in streams.values() for b in s.batches[: total - 1]]
    say(
        f"- ingest: {len(units):,} open units split between the service and the API; {n_batches} batches each"
        f" after {warmup} warm-up (sizes {min(sizes)}-{max(sizes)}), {DUP_PER_BATCH} duplicates and {LATE_PER_BATCH}"
        f" late events per batch; {load()}"
    )
    mes = IntegrationPrincipal(type("Token", (), {"scope": "production", "name": "mes-bench"})())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {data.mes_token}"}
    statuses: dict[str, Counter] = {"service": Counter(), "api": Counter()}
    timing: dict[str, list[float]] = defaultdict(list)
    counted: dict[str, int] = Counter()
    base_ids: list[str] = []
    base_seen: set[str] = set()
    with app.app_context():
        engine = db.engine
    n_statements, sql_share = [], []
    with connect(url) as bconn:
        for i in range(n_batches + warmup):
            batch = streams["service"].batches[i]
            with app.test_request_context(), Statements(engine) as st:
                t0 = time.perf_counter()
                res = services.ingest(mes, for_service(batch))
                db.session.commit()
                t_service = time.perf_counter() - t0
            statuses["service"].update(r["status"] for r in res)
            api_batch = streams["api"].batches[i]
            body = json.dumps(for_api(api_batch))
            t0 = time.perf_counter()
            resp = client.post(EVENTS_PATH, data=body, headers={**headers, "Content-Type": "application/json"})
            t_api = time.perf_counter() - t0
            if resp.status_code != 200:
                raise SystemExit(f"ingest API: HTTP {resp.status_code}: {resp.get_data(as_text=True)[:500]}")
            statuses["api"].update(r["status"] for r in resp.get_json()["results"])
            # baselines: the rows the service stored for this batch (duplicates left out: a plain insert has no
            # idempotency), with their unit ids known beforehand, under other event ids
            now = dt.datetime.now(dt.UTC)
            rows = baseline_rows(batch, "x:", now, base_seen)
            cols = "event_id, unit_id, stage, occurred_at, line, station, received_at"
            t0 = time.perf_counter()
            with bconn.cursor() as cur:
                cur.executemany(f"INSERT INTO stage_events ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)  # noqa: S608
            bconn.commit()
            t_many = time.perf_counter() - t0
            copy_rows_ = [("c" + r[0][1:], *r[1:]) for r in rows]
            t0 = time.perf_counter()
            with bconn.cursor() as cur, cur.copy(f"COPY stage_events ({cols}) FROM STDIN") as cp:
                for r in copy_rows_:
                    cp.write_row(r)
            bconn.commit()
            t_copy = time.perf_counter() - t0
            base_ids += [r[0] for r in rows] + [r[0] for r in copy_rows_]
            if i < warmup:
                continue
            n_statements.append(len(st.seen))
            sql_share.append(st.sql_time)
            timing["service"].append(t_service)
            timing["api"].append(t_api)
            timing["executemany"].append(t_many)
            timing["copy"].append(t_copy)
            counted["service"] += len(batch)
            counted["api"] += len(api_batch)
            counted["executemany"] += len(rows)
            counted["copy"] += len(rows)
            if (i + 1 - warmup) % 10 == 0:
                say(
                    f"  batch {i + 1 - warmup}/{n_batches}: service {ms(t_service)}, API {ms(t_api)},"
                    f" executemany {ms(t_many)}, COPY {ms(t_copy)}; {load()}"
                )
        with bconn.cursor() as cur:
            cur.execute("DELETE FROM stage_events WHERE event_id = ANY(%s)", (base_ids,))
            deleted = cur.rowcount
        bconn.commit()
    rate = {k: counted[k] / sum(timing[k]) for k in timing}
    results["ingest"] = {
        k: {"rate": rate[k], "p50": percentile(timing[k], 50), "p99": percentile(timing[k], 99)} for k in timing
    }
    results["ingest statements"] = statistics.median(n_statements)
    results["ingest sql"] = statistics.median(sql_share)
    rows_out = [
        [
            k,
            f"{counted[k]:,}",
            f"{rate[k]:,.0f}",
            ms(percentile(timing[k], 50)),
            ms(max(timing[k])),
            f"{rate[k] / rate['executemany'] * 100:.1f} %",
        ]
        for k in ("service", "api", "executemany", "copy")
    ]
    say(table(["path", "events", "events/s", "batch p50", "max", "÷ executemany"], rows_out))
    say(
        f"  statements per service batch: median {statistics.median(n_statements):.0f}"
        f" (min {min(n_statements)}, max {max(n_statements)}), their client-side time median"
        f" {ms(statistics.median(sql_share))} of the batch; baseline rows removed: {deleted:,}"
    )
    for side, c in statuses.items():
        say(f"  {side}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(c.items())))
    results["statuses"] = {k: dict(v) for k, v in statuses.items()}

    # the EXPLAIN batch: one more service batch, its statements captured, then rolled back; each explained
    batch = streams["service"].batches[n_batches + warmup]
    with app.test_request_context(), Statements(engine) as st:
        services.ingest(mes, for_service(batch))
        db.session.rollback()
    shown: dict[str, int] = {}
    for statement, params, many in st.seen:
        head = " ".join(statement.split()[:4])
        if head in shown or statement.startswith(("SAVEPOINT", "RELEASE")):
            continue
        shown[head] = len(shown) + 1
        p = params[0] if many and isinstance(params, list | tuple) else params
        say(
            f"    ingest {shown[head]} ({head[:40]}…){' [executemany: 1st row]' if many else ''}:"
            f" {save_explain(app, f'production-ingest-{shown[head]}', statement, p)}"
        )
    say(f"    ({len(st.seen)} statements for that batch; the distinct ones explained)")
    results["checks"] = check_ingest(url, streams, n_batches + warmup, statuses, before, orders_before)


def check_ingest(url: str, streams: dict[str, Stream], sent: int, statuses: dict, before: dict, orders_before: dict):
    """Duplicates created nothing, no unit moved backwards, units and orders as their events say."""
    checks = {}
    with connect(url) as conn:
        for side, s in streams.items():
            events = [e for b in s.batches[:sent] for e in b]
            new = {e["event_id"] for e in events if e["event_id"].endswith(":b")}
            stored = conn.execute(
                "SELECT count(*) FROM stage_events WHERE event_id = ANY(%s)", (list(new),)
            ).fetchone()[0]
            c = statuses[side]
            checks[f"{side}: every new event accepted once ({c['accepted']:,} = {len(new):,})"] = c["accepted"] == len(
                new
            )
            checks[f"{side}: every replay answered duplicate ({c['duplicate']:,})"] = c["duplicate"] == len(
                events
            ) - len(new)
            checks[f"{side}: one row per accepted event, none for a duplicate ({stored:,})"] = stored == c["accepted"]
            checks[f"{side}: none rejected"] = c["rejected"] == 0
        units = list(set().union(*(s.units for s in streams.values())))
        after = {
            r[0]: (RANK[r[1]], r[2])
            for r in conn.execute("SELECT id, stage, stage_at FROM units WHERE id = ANY(%s)", (units,))
        }
        backwards = [u for u in units if after[u] < before[u]]
        moved = sum(1 for u in units if after[u] > before[u])
        checks[f"no unit moved backwards ({moved:,} of {len(units):,} moved forward)"] = not backwards
        # each unit at the furthest stage of its events, at the latest time of that stage
        wrong = conn.execute(
            """
            WITH ev AS (
                SELECT e.unit_id, e.stage, max(e.occurred_at) AS at,
                       array_position(%(stages)s::text[], e.stage::text) AS r
                FROM stage_events e WHERE e.unit_id = ANY(%(units)s) GROUP BY e.unit_id, e.stage
            ), top AS (SELECT DISTINCT ON (unit_id) unit_id, stage, at FROM ev ORDER BY unit_id, r DESC)
            SELECT count(*) FROM units u JOIN top ON top.unit_id = u.id
            WHERE u.stage <> top.stage OR u.stage_at <> top.at
            """,
            {"stages": list(STAGES), "units": units},
        ).fetchone()[0]
        checks["units at the furthest stage of their events (and its latest time)"] = wrong == 0
        statuses_now = conn.execute(
            """
            SELECT o.id, o.status, bool_and(u.stage IN ('completed', 'shipped', 'delivered')),
                   bool_or(u.stage <> 'scheduled')
            FROM orders o JOIN units u ON u.order_id = o.id
            WHERE o.id IN (SELECT order_id FROM units WHERE id = ANY(%s)) GROUP BY o.id
            """,
            (units,),
        ).fetchall()
        bad = [
            (oid, st, orders_before.get(oid))
            for oid, st, all_done, started in statuses_now
            if (all_done and st in ("approved", "in_production")) or (started and st == "approved")
        ]
        built = sum(1 for _o, st, *_r in statuses_now if st == "built" and orders_before.get(_o) != "built")
        checks[f"order statuses derived ({built:,} became built)"] = not bad
    for name, ok in checks.items():
        say(f"  check: {name}: {'yes' if ok else 'NO'}")
    return checks


# ---------------------------------------------------------------- run


def run(quick: bool) -> dict:
    url = database_url()
    ensure_database(url)
    n_units, n_events = (QUICK_UNITS, QUICK_EVENTS) if quick else (FULL_UNITS, FULL_EVENTS)
    lookups, batches = (300, 10) if quick else (1000, 50)
    settings = server_settings(url)
    say(
        f"# production benchmark (issue 5): {n_units:,} units, {n_events:,} stage events"
        f" ({'quick' if quick else 'full'})"
    )
    say(
        f"  PostgreSQL {settings['server_version']}, shared_buffers {settings['shared_buffers']}, work_mem"
        f" {settings['work_mem']}, jit {settings['jit']}; Python {python_version()}; {load()}"
    )
    timings: dict = {}
    results: dict = {"timings": timings}
    t_start = time.perf_counter()
    app = make_app(url)
    data = build_data(app, url, n_units, n_events, timings)
    with stopwatch("tracking", timings):
        measure_tracking(app, url, data, lookups, 100, results)
    with stopwatch("ingest", timings):
        measure_ingest(app, url, data, batches, 3, results)
    say(f"whole run: {time.perf_counter() - t_start:.0f} s; {load()}")
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --production-only")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_UNITS:,} units / {QUICK_EVENTS:,} events")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(quick=args.quick)
