"""Achievement benchmark (§15): `achievement` by dealer for 12 months, all three measures, on the channel benchmark's
data (10,000,000 sell-through lines, 2,000 dealers), against the best raw GROUP BY over the lines.

The data: the channel benchmark's (`bench/channel.py`), built with its `build` when the database does not hold it
(~4 min), else reused as it is, brought to the current migration. Added once when missing, in SQL inside the server:
HQ's shipments (the channel data has none) — one order per dealer HQ sells to with 3 lines, one shipment a month per
such dealer over the 24 months with 1–5 pieces a line and its invoice (settled: not open), and their sell-in added
to `channel_monthly` as shipping does (gross per dealer, category and month); a year of targets (the 12 measured
months) for every dealer HQ sells to and every region, all three measures.

Measured, in interleaved rounds (app, then baseline, each round; medians): `achievement(Scope("hq"), 2025-11, 2026-10,
"dealer", measure)` for each measure — current months, the same months a year earlier and the 12 months before, read
by the app with one grouped statement on the roll-up (or the payments) plus the targets and the tree — against, on the
same server, psycopg directly: per measure one GROUP BY (dealer, month) over the raw rows of the 24 months
(`sell_through_lines` through its covering index on `sold_on`; `shipment_lines` ⋈ `shipments` by ship date, HQ's only,
plus `sell_in_corrections`; `ledger_entries` payments of the dealers HQ sells to, by `ix_ledger_entries_type_date`),
sub-dealers folded into their distributor in Python as the app does. Every dealer's actual, last year and previous
must be equal to the baseline's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from collections import defaultdict
from decimal import Decimal

from bench.common import connect, database_url, ensure_database, load, make_app, ms, python_version, say, table

FROM, TO = dt.date(2025, 11, 1), dt.date(2026, 10, 1)  # the channel data's last 12 whole months
SPAN = (dt.date(2024, 11, 1), dt.date(2026, 10, 31))  # the 24 months the app reads (this year, last year = previous)
MEASURES = ("sell_in_amount", "sell_through_units", "collections_amount")
ROUNDS = 9
GOAL = 0.3


def _has_channel_data(url: str) -> bool:
    with connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('public.sell_through_lines') IS NOT NULL").fetchone()[0]
        return bool(exists) and conn.execute("SELECT count(*) > 1000000 FROM (SELECT 1 FROM sell_through_lines "
                                             "LIMIT 1000001) s").fetchone()[0]  # fmt: skip


def prepare(url: str, app) -> None:
    """The channel data (built when missing), the current schema, HQ's shipments and the targets (added if missing)."""
    import flask_migrate

    if not _has_channel_data(url):
        from bench import channel

        say("  no channel data: building it (bench/channel.py's build)")
        channel.build(url, app, False, {})
    with app.app_context():
        flask_migrate.upgrade()
    with connect(url) as conn:
        if conn.execute("SELECT count(*) FROM shipment_lines").fetchone()[0] == 0:
            start = time.perf_counter()
            _add_shipments(conn)
            conn.commit()
            say(f"  HQ's shipments added and rolled up in {time.perf_counter() - start:.1f} s")
        if conn.execute("SELECT count(*) FROM targets").fetchone()[0] == 0:
            _add_targets(conn)
            conn.commit()
            say("  a year of targets added")
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE orders, order_lines, shipments, shipment_lines, channel_monthly, targets")


def _add_shipments(conn) -> None:
    level1 = "SELECT id FROM dealers WHERE parent_id IS NULL"
    conn.execute(f"""
        INSERT INTO orders (id, number, dealer_id, status, net, tax, gross, created_by, created_at)
        SELECT 900000 + id, 'BT-' || id, id, 'shipped', 0, 0, 0, 'bench', '2024-10-01 08:00+00' FROM ({level1}) d
    """)  # noqa: S608
    conn.execute("""
        INSERT INTO order_lines (id, order_id, line_no, product_id, sku, quantity, list_price, unit_price, tax_rate,
                                 net, tax, gross)
        SELECT o.id * 4 + k, o.id, k, p.id, p.sku, 9999, p.list_price, p.list_price, 0.13, 0, 0, 0
        FROM orders o CROSS JOIN generate_series(1, 3) k
        JOIN products p ON p.id = ((o.dealer_id * 7 + k * 131) % 500) + 1
        WHERE o.number LIKE 'BT-%'
    """)
    shipped_on = "(date '2024-11-01' + make_interval(months => m))::date + (o.dealer_id % 27)"
    conn.execute(f"""
        INSERT INTO ledger_entries (id, dealer_id, type, number, entry_date, due_on, amount, source, created_by,
                                    created_at, settled)
        SELECT o.id * 100 + m, o.dealer_id, 'invoice', 'INV-B-' || o.dealer_id || '-' || m, {shipped_on},
               {shipped_on} + 30, 1, 'erp', 'bench', '2024-11-01 08:00+00', true
        FROM orders o CROSS JOIN generate_series(0, 23) m WHERE o.number LIKE 'BT-%'
    """)  # noqa: S608 (the amounts are set below, once the lines are there)
    conn.execute(f"""
        INSERT INTO shipments (id, number, order_id, dealer_id, status, shipped_on, net, tax, gross, request_hash,
                               created_by, created_at, invoice_id)
        SELECT o.id * 100 + m, 'DN-B-' || o.dealer_id || '-' || m, o.id, o.dealer_id, 'in_transit', {shipped_on},
               0, 0, 0, 'bench', 'bench', '2024-11-01 08:00+00', o.id * 100 + m
        FROM orders o CROSS JOIN generate_series(0, 23) m WHERE o.number LIKE 'BT-%'
    """)  # noqa: S608
    conn.execute("""
        INSERT INTO shipment_lines (shipment_id, order_line_id, product_id, sku, quantity, unit_price, tax_rate, net,
                                    tax, gross)
        SELECT s.id, ol.id, ol.product_id, ol.sku, q.n, ol.unit_price, 0.13, round(q.n * ol.unit_price / 1.13, 2),
               q.n * ol.unit_price - round(q.n * ol.unit_price / 1.13, 2), q.n * ol.unit_price
        FROM shipments s JOIN order_lines ol ON ol.order_id = s.order_id
        CROSS JOIN LATERAL (SELECT 1 + (s.id + ol.line_no) % 5 AS n) q
        WHERE s.request_hash = 'bench'
    """)
    conn.execute("""
        UPDATE ledger_entries l SET amount = x.gross FROM (
            SELECT shipment_id, sum(gross) AS gross FROM shipment_lines GROUP BY 1) x
        WHERE l.id = x.shipment_id AND l.created_by = 'bench' AND l.type = 'invoice'
    """)
    conn.execute("""
        UPDATE shipments s SET gross = x.gross, net = x.net, tax = x.tax FROM (
            SELECT shipment_id, sum(gross) AS gross, sum(net) AS net, sum(tax) AS tax FROM shipment_lines GROUP BY 1) x
        WHERE s.id = x.shipment_id
    """)
    # their sell-in in the roll-up, as shipping adds it (gross, per dealer, category and ship month)
    conn.execute("""
        INSERT INTO channel_monthly (dealer_id, category, month, sell_in_qty, sell_in_amount, sell_through_qty,
                                     sell_through_amount, moved, transfer_in_qty, transfer_in_amount)
        SELECT sh.dealer_id, p.category, date_trunc('month', sh.shipped_on)::date, sum(sl.quantity), sum(sl.gross),
               0, 0, 0, 0, 0
        FROM shipment_lines sl JOIN shipments sh ON sh.id = sl.shipment_id JOIN products p ON p.id = sl.product_id
        WHERE sh.request_hash = 'bench'
        GROUP BY 1, 2, 3
        ON CONFLICT (dealer_id, category, month) DO UPDATE
        SET sell_in_qty = channel_monthly.sell_in_qty + excluded.sell_in_qty,
            sell_in_amount = channel_monthly.sell_in_amount + excluded.sell_in_amount
    """)
    for t in ("orders", "order_lines", "shipments", "shipment_lines", "ledger_entries"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")


def _add_targets(conn) -> None:
    """Each dealer HQ sells to and each region, each of the 12 months, each measure: a figure around its size."""
    conn.execute("""
        INSERT INTO targets (month, dealer_id, measure, category, amount, updated_at, updated_by)
        SELECT (date '2025-11-01' + make_interval(months => m))::date, d.id, x.measure, '',
               CASE x.measure WHEN 'sell_through_units' THEN 50 + d.id % 400
                              WHEN 'sell_in_amount' THEN 200000 + (d.id * 7919) % 900000
                              ELSE 150000 + (d.id * 104729) % 600000 END,
               now(), 'bench'
        FROM dealers d CROSS JOIN generate_series(0, 11) m
        CROSS JOIN (VALUES ('sell_in_amount'), ('sell_through_units'), ('collections_amount')) x(measure)
        WHERE d.parent_id IS NULL
    """)
    conn.execute("""
        INSERT INTO targets (month, region_id, measure, category, amount, updated_at, updated_by)
        SELECT (date '2025-11-01' + make_interval(months => m))::date, r.id, x.measure, '',
               CASE x.measure WHEN 'sell_through_units' THEN 10000 ELSE 50000000 END, now(), 'bench'
        FROM regions r CROSS JOIN generate_series(0, 11) m
        CROSS JOIN (VALUES ('sell_in_amount'), ('sell_through_units'), ('collections_amount')) x(measure)
        WHERE r.parent_id IS NOT NULL
    """)


# ---------------------------------------------------------------- baseline

BASELINE = {
    "sell_through_units": """
        SELECT dealer_id, date_trunc('month', sold_on)::date, sum(quantity)
        FROM sell_through_lines WHERE sold_on BETWEEN %(a)s AND %(b)s GROUP BY 1, 2""",
    "sell_in_amount": """
        SELECT dealer_id, month, sum(amount) FROM (
            SELECT sh.dealer_id, date_trunc('month', sh.shipped_on)::date AS month, sum(sl.gross) AS amount
            FROM shipment_lines sl JOIN shipments sh ON sh.id = sl.shipment_id
            WHERE sh.seller_id IS NULL AND sh.shipped_on BETWEEN %(a)s AND %(b)s GROUP BY 1, 2
            UNION ALL
            SELECT dealer_id, date_trunc('month', corrected_on)::date, sum(amount) FROM sell_in_corrections
            WHERE corrected_on BETWEEN %(a)s AND %(b)s GROUP BY 1, 2) x GROUP BY 1, 2""",
    "collections_amount": """
        SELECT dealer_id, date_trunc('month', entry_date)::date, sum(amount) FROM ledger_entries
        WHERE type = 'payment' AND entry_date BETWEEN %(a)s AND %(b)s
          AND dealer_id NOT IN (SELECT id FROM dealers WHERE parent_id IS NOT NULL) GROUP BY 1, 2""",
}


def _months(a: dt.date, n: int) -> list[dt.date]:
    from portal.targets.achievement import add_months

    return [add_months(a, i) for i in range(n)]


def baseline(conn, measure: str, parents: dict[int, int], codes: dict[int, str]) -> dict:
    """{dealer code: (actual, last year, previous)} from the raw rows."""
    by = defaultdict(lambda: defaultdict(Decimal))
    for dealer_id, month, value in conn.execute(BASELINE[measure], {"a": SPAN[0], "b": SPAN[1]}):
        by[parents.get(dealer_id, dealer_id)][month] += value
    now, before = _months(FROM, 12), _months(dt.date(2024, 11, 1), 12)
    return {codes[d]: (sum(m[x] for x in now), sum(m[x] for x in before), sum(m[x] for x in before))
            for d, m in by.items()}  # fmt: skip


def run(rounds: int = ROUNDS) -> dict:
    url = database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    say(f"Achievement benchmark: Python {python_version()}, {os.cpu_count()} CPUs, {load()} at the start "
        f"(other processes share the machine)")  # fmt: skip
    app = make_app(url)
    prepare(url, app)
    from portal.extensions import db
    from portal.platform.tenancy import Scope
    from portal.targets.achievement import achievement

    with connect(url) as conn:
        parents = dict(conn.execute("SELECT id, parent_id FROM dealers WHERE parent_id IS NOT NULL").fetchall())
        codes = dict(conn.execute("SELECT id, code FROM dealers").fetchall())
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM sell_through_lines), (SELECT count(*) FROM shipment_lines),"
            " (SELECT count(*) FROM ledger_entries WHERE type = 'payment'),"
            " (SELECT count(*) FROM channel_monthly), (SELECT count(*) FROM targets)"
        ).fetchone()
    say(f"  data: {counts[0]:,} sell-through lines, {counts[1]:,} shipment lines, {counts[2]:,} payments, "
        f"{counts[3]:,} channel_monthly rows, {counts[4]:,} targets; {len(parents):,} sub-dealers")  # fmt: skip

    def app_run(measure):
        with app.test_request_context():
            try:
                return achievement(Scope("hq"), FROM, TO, "dealer", measure, today=dt.date(2026, 11, 15))
            finally:
                db.session.rollback()

    times: dict = {m: {"app": [], "raw": []} for m in MEASURES}
    results: dict = {}
    with connect(url) as conn:
        conn.execute("SET jit = off")  # as the app's reports do (measured: JIT costs more than it saves here)
        conn.execute("SET work_mem = '64MB'")
        for m in MEASURES:  # warm-up, and the figures compared
            got = app_run(m)
            want = baseline(conn, m, parents, codes)
            rows = {r["key"]: (r["actual"], r["last_year"], r["previous"]) for r in got["rows"]}
            for code, row in rows.items():
                expect = want.get(code, (0, 0, 0))
                assert tuple(Decimal(v) for v in row) == tuple(Decimal(v) for v in expect), (m, code, row, expect)
            assert len(rows) >= len(want), (m, len(rows), len(want))
            results[m] = {"rows": len(rows), "total": got["totals"]["actual"]}
        for _r in range(rounds):
            for m in MEASURES:
                start = time.perf_counter()
                app_run(m)
                times[m]["app"].append(time.perf_counter() - start)
                start = time.perf_counter()
                baseline(conn, m, parents, codes)
                times[m]["raw"].append(time.perf_counter() - start)
    out = []
    app_all = raw_all = 0.0
    for m in MEASURES:
        a, b = statistics.median(times[m]["app"]), statistics.median(times[m]["raw"])
        app_all += a
        raw_all += b
        out.append([m, f"{results[m]['rows']:,}", ms(a), ms(b), f"{a / b:.3f}×", "yes" if a / b <= GOAL else "NO"])
    out.append(["all three", "", ms(app_all), ms(raw_all), f"{app_all / raw_all:.3f}×",
                "yes" if app_all / raw_all <= GOAL else "NO"])  # fmt: skip
    say(f"Achievement by dealer, {FROM:%Y-%m}..{TO:%Y-%m} (medians of {rounds} interleaved rounds; figures equal; "
        f"{load()} at the end):")  # fmt: skip
    say(table(["measure", "dealer rows", "app achievement()", "raw GROUP BY", "ratio", f"≤ {GOAL}×"], out))
    return {"table": out}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --targets-only", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=ROUNDS, help=f"interleaved rounds (default {ROUNDS})")
    p.add_argument("--quick", action="store_true", help="ignored (the data set is the channel benchmark's)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(rounds=args.rounds)
