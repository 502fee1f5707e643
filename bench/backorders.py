"""Backorders benchmark (PRODUCT.md §12): a receipt at HQ that allocates to 1,000 waiting backorders, in one
transaction, on PostgreSQL.

The data (built through the app's migrations, loaded with COPY, one seeded `random.Random`): the region tree of the
receivables benchmark, 200 dealers, 20 stock SKUs and 2 warehouses; a history of 100,000 delivered order lines
(every SKU, nothing waiting) so the waiting lines are a small part of the table, as in production; and, for the
measured SKU, 1,000 approved orders waiting for it (1-6 pieces each, 3,5xx pieces in all; approval times spread over
60 days, 40 of them moved up by a channel manager, some with a second line of another SKU that is allocated), with
two open expected receipts of that SKU, and 300 more waiting lines of other SKUs.

Measured, in this process (one request context and one transaction each, rolled back so every run starts from the
same state; median of 5 after a warm-up):

1. `portal.inventory.hq.receive` of exactly the waiting quantity into one warehouse: every waiting line allocated
   (allocation + move per line, lines updated, the expected receipts of the warehouse filled, the promised dates of
   the SKU replanned, the audit entry) — wall time and the number of SQL statements;
2. the same receipt for half the waiting quantity (the queue served in part, the rest replanned);
3. the baseline: hand-written SQL doing the same writes for the full receipt in the same process and transaction
   (the queue's running sum with a window function in a temporary table, then one INSERT … SELECT for the
   allocations, one for the moves, one UPDATE for the lines and one for the stock row) — no promised dates, no audit.

Checked after each app run (before its rollback): the lines served are exactly a prefix of the queue in queue order
(moved up first, then approval time, then order id) with at most one line served in part, nothing else changed;
Σ allocations = HqStock.allocated ≤ on hand; quantity = held + backordered on every waiting line of the SKU; the
app's and the baseline's allocations are the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from bench.common import (
    connect,
    copy_rows,
    database_url,
    ensure_database,
    load,
    make_app,
    ms,
    python_version,
    reset_schema,
    reset_sequences,
    say,
    server_settings,
    stopwatch,
    table,
)
from bench.receivables import copy_regions, plan_regions

SEED = 12  # PRODUCT.md §12
DEALERS = 200
SKUS = 20
WAITING = 1_000  # the measured SKU's waiting lines
OTHER_WAITING = 300  # waiting lines of other SKUs
HISTORY_LINES = 100_000
MOVED_UP = 40
RUNS = 5
TARGET_SECONDS = 1.0
SKU = "OIL-0001"  # the measured SKU (product id 1)


# ---------------------------------------------------------------- the data


def build_data(app, url: str, today: dt.date, timings: dict) -> dict:
    rng = random.Random(SEED)
    with stopwatch("schema (drop, alembic upgrade)", timings):
        reset_schema(app, url)
    created = f"{today - dt.timedelta(days=400)} 02:00:00+00"
    t0 = time.perf_counter()
    regions, provinces = plan_regions()
    with connect(url) as conn:
        copy_regions(conn, regions, created)
        copy_rows(
            conn,
            "dealers",
            ("id", "code", "name", "region_id", "tier", "channel_type", "payment_terms_days", "status", "created_at"),
            (
                f"{d}\tBK-{d:04d}\t经销商{d:04d}\t{rng.choice(provinces)[0]}\t{rng.choice('ABC')}\tchain\t30\tactive\t"
                f"{created}\n"
                for d in range(1, DEALERS + 1)
            ),
        )
        copy_rows(
            conn,
            "products",
            ("id", "sku", "name", "name_en", "category", "unit", "list_price", "tax_rate", "build_to_order",
             "lead_time_days", "active", "created_at"),
            (f"{p}\tOIL-{p:04d}\t机油 {p}\tOil {p}\toil\tpc\t100.00\t0.1300\tf\t21\tt\t{created}\n"
             for p in range(1, SKUS + 1)),
        )  # fmt: skip
        copy_rows(
            conn,
            "warehouses",
            ("id", "code", "name", "city", "active", "created_at"),
            [f"1\tSH\t上海中心仓\t上海\tt\t{created}\n", f"2\tTJ\t天津北方仓\t天津\tt\t{created}\n"],
        )
        orders, lines, allocations = [], [], []
        order_id = line_id = 0

        def order(status: str, approved: dt.datetime | None, moved: dt.datetime | None, dealer: int) -> int:
            nonlocal order_id
            order_id += 1
            stamp = (approved or dt.datetime.combine(today, dt.time(1), dt.UTC)).isoformat()
            approved_at = approved.isoformat() if approved else "\\N"
            moved_up_at = moved.isoformat() if moved else "\\N"
            orders.append(
                f"{order_id}\tSO-BENCH-{order_id:07d}\t{dealer}\t{status}\t100.00\t13.00\t113.00\tbench\t{stamp}\t"
                f"{approved_at}\t{moved_up_at}\n"
            )
            return order_id

        def line(oid: int, no: int, product: int, quantity: int, backordered: int) -> int:
            nonlocal line_id
            line_id += 1
            promised = (today + dt.timedelta(days=21)).isoformat() if backordered else "\\N"
            lines.append(
                f"{line_id}\t{oid}\t{no}\t{product}\tOIL-{product:04d}\t{quantity}\t100.00\t100.00\t0.1300\t"
                f"{quantity * 100}.00\t{quantity * 13}.00\t{quantity * 113}.00\t{backordered}\t{promised}\n"
            )
            return line_id

        # history: delivered orders of every SKU, nothing waiting
        start = dt.datetime.combine(today - dt.timedelta(days=365), dt.time(2), dt.UTC)
        for n in range(HISTORY_LINES // 2):
            when = start + dt.timedelta(minutes=5 * n)
            oid = order("delivered", when, None, rng.randint(1, DEALERS))
            for no in (1, 2):
                line(oid, no, rng.randint(1, SKUS), rng.randint(1, 20), 0)
        # the measured SKU's queue: 1,000 approved orders over 60 days, 40 moved up, a third with a second line
        queue_start = dt.datetime.combine(today - dt.timedelta(days=60), dt.time(1), dt.UTC)
        held_other = 0
        demand = 0
        moved_up = set(rng.sample(range(WAITING), MOVED_UP))
        for n in range(WAITING):
            approved = queue_start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60))
            moved = (today_moment(today) - dt.timedelta(hours=rng.randint(1, 500))) if n in moved_up else None
            oid = order("approved", approved, moved, rng.randint(1, DEALERS))
            quantity = rng.randint(1, 6)
            line(oid, 1, 1, quantity, quantity)
            demand += quantity
            if rng.random() < 0.33:  # a second line of another SKU, allocated in full when it was approved
                q2 = rng.randint(1, 4)
                lid = line(oid, 2, 2, q2, 0)
                held_other += q2
                allocations.append((lid, q2))
        # other SKUs' queues
        for _n in range(OTHER_WAITING):
            approved = queue_start + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60))
            oid = order("approved", approved, None, rng.randint(1, DEALERS))
            q = rng.randint(1, 6)
            line(oid, 1, rng.randint(3, SKUS), q, q)
        copy_rows(
            conn,
            "orders",
            ("id", "number", "dealer_id", "status", "net", "tax", "gross", "created_by", "created_at",
             "approved_at", "moved_up_at"),
            orders,
        )  # fmt: skip
        copy_rows(
            conn,
            "order_lines",
            ("id", "order_id", "line_no", "product_id", "sku", "quantity", "list_price", "unit_price", "tax_rate",
             "net", "tax", "gross", "backordered", "promised_on"),
            lines,
        )  # fmt: skip
        # HQ stock: SKU 2 held for the second lines (allocated), nothing of SKU 1 available
        copy_rows(
            conn,
            "hq_stock",
            ("warehouse_id", "product_id", "on_hand", "allocated", "updated_at"),
            [f"1\t1\t0\t0\t{created}\n", f"2\t1\t0\t0\t{created}\n", f"1\t2\t{held_other}\t{held_other}\t{created}\n"],
        )
        copy_rows(
            conn,
            "hq_stock_moves",
            ("id", "warehouse_id", "product_id", "kind", "on_hand_delta", "allocated_delta", "moved_on", "created_by",
             "created_at"),
            [f"1\t1\t2\treceipt\t{held_other}\t0\t{today - dt.timedelta(days=61)}\tbench\t{created}\n",
             f"2\t1\t2\tallocation\t0\t{held_other}\t{today - dt.timedelta(days=30)}\tbench\t{created}\n"],
        )  # fmt: skip
        copy_rows(
            conn,
            "stock_allocations",
            ("order_line_id", "warehouse_id", "quantity"),
            (f"{lid}\t1\t{q}\n" for lid, q in allocations),
        )
        copy_rows(
            conn,
            "expected_receipts",
            ("id", "warehouse_id", "product_id", "quantity", "received", "expected_on", "status", "created_by",
             "created_at"),
            [f"1\t1\t1\t{demand // 3}\t0\t{today + dt.timedelta(days=5)}\topen\tbench\t{created}\n",
             f"2\t2\t1\t{demand // 2}\t0\t{today + dt.timedelta(days=12)}\topen\tbench\t{created}\n"],
        )  # fmt: skip
        conn.commit()
        reset_sequences(conn, ("regions", "dealers", "products", "warehouses", "orders", "order_lines",
                               "hq_stock_moves", "expected_receipts"))  # fmt: skip
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["data"] = time.perf_counter() - t0
    say(f"  data: {len(orders):,} orders, {len(lines):,} lines ({WAITING:,} waiting for {SKU}: {demand:,} pieces,"
        f" {MOVED_UP} moved up; {OTHER_WAITING} waiting for other SKUs) in {timings['data']:.1f} s")  # fmt: skip
    return {"demand": demand}


def today_moment(today: dt.date) -> dt.datetime:
    return dt.datetime.combine(today, dt.time(1), dt.UTC)


# ---------------------------------------------------------------- the app and the baseline


def queue(conn_execute) -> list[tuple[int, int, int]]:
    """(line id, quantity, backordered) of the measured SKU's waiting lines in queue order, read independently of
    the app (plain SQL)."""
    return conn_execute(
        "SELECT l.id, l.quantity, l.backordered FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.product_id = 1 AND l.backordered > 0 AND o.status IN ('approved', 'in_production', 'built')"
        " ORDER BY o.moved_up_at ASC NULLS LAST, o.approved_at ASC NULLS LAST, o.id, l.line_no"
    )


def held(conn_execute) -> dict[int, int]:
    rows = conn_execute(
        "SELECT a.order_line_id, sum(a.quantity) FROM stock_allocations a JOIN order_lines l ON l.id = a.order_line_id"
        " WHERE l.product_id = 1 GROUP BY a.order_line_id"
    )
    return {line_id: int(q) for line_id, q in rows if q}


def check(conn_execute, before: list[tuple[int, int, int]], quantity: int) -> list[str]:
    """The lines served are a prefix of the queue (at most one served in part); the stock rows and allocations
    agree; nothing is lost."""
    problems = []
    now = {line_id: back for line_id, _q, back in queue(conn_execute)}
    got = held(conn_execute)
    left = quantity
    for line_id, _q, back in before:
        want = min(back, left)
        left -= want
        if got.get(line_id, 0) != want:
            problems.append(f"line {line_id}: {got.get(line_id, 0)} allocated, FIFO says {want}")
        if now.get(line_id, 0) != back - want:
            problems.append(f"line {line_id}: {now.get(line_id, 0)} still waiting, FIFO says {back - want}")
        if len(problems) > 5:
            break
    on_hand, allocated = conn_execute("SELECT sum(on_hand), sum(allocated) FROM hq_stock WHERE product_id = 1")[0]
    allocs = sum(got.values())
    if not (allocated == allocs <= on_hand):
        problems.append(f"HqStock allocated {allocated}, allocations {allocs}, on hand {on_hand}")
    return problems


def run_app(app, quantity: int, capture: list | None = None) -> tuple[float, int, list[str], dict[int, int]]:
    """One receipt through the service, checked, then rolled back: (seconds, statements, problems, allocations)."""
    from sqlalchemy import event, text

    from portal.catalog.models import Product
    from portal.extensions import db
    from portal.inventory import hq

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.test_request_context(method="POST"):
        ex = lambda q: db.session.execute(text(q)).all()  # noqa: E731
        before = queue(ex)
        warehouse = hq.warehouse_by_code("SH")
        product = db.session.get(Product, 1)
        engine = db.session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        start = time.perf_counter()
        hq.receive(None, warehouse, product, quantity, note="bench")
        db.session.flush()
        took = time.perf_counter() - start
        event.remove(engine, "before_cursor_execute", count)
        problems = check(ex, before, quantity)
        got = held(ex)
        if capture is not None:
            capture.extend(statements)
        db.session.rollback()
        db.session.remove()
    return took, len(statements), problems, got


BASELINE = (
    "CREATE TEMP TABLE give ON COMMIT DROP AS"
    " SELECT id, order_id, LEAST(backordered, GREATEST(0, %(q)s - (cum - backordered))) AS take FROM ("
    "  SELECT l.id, l.order_id, l.backordered, sum(l.backordered) OVER (ORDER BY o.moved_up_at ASC NULLS LAST,"
    "   o.approved_at ASC NULLS LAST, o.id, l.line_no) AS cum"
    "  FROM order_lines l JOIN orders o ON o.id = l.order_id"
    "  WHERE l.product_id = 1 AND l.backordered > 0 AND o.status IN ('approved', 'in_production', 'built')) q",
    "DELETE FROM give WHERE take = 0",
    "INSERT INTO stock_allocations (order_line_id, warehouse_id, quantity) SELECT id, 1, take FROM give"
    " ON CONFLICT (order_line_id, warehouse_id)"
    " DO UPDATE SET quantity = stock_allocations.quantity + EXCLUDED.quantity",
    "INSERT INTO hq_stock_moves (warehouse_id, product_id, kind, on_hand_delta, allocated_delta, moved_on, order_id,"
    " created_by, created_at) SELECT 1, 1, 'allocation', 0, take, current_date, order_id, 'bench', now() FROM give",
    "INSERT INTO hq_stock_moves (warehouse_id, product_id, kind, on_hand_delta, allocated_delta, moved_on,"
    " created_by, created_at) VALUES (1, 1, 'receipt', %(q)s, 0, current_date, 'bench', now())",
    "UPDATE order_lines l SET backordered = l.backordered - g.take,"
    " promised_on = CASE WHEN l.backordered = g.take THEN NULL ELSE l.promised_on END FROM give g WHERE l.id = g.id",
    "UPDATE hq_stock SET on_hand = on_hand + %(q)s, allocated = allocated + (SELECT coalesce(sum(take), 0) FROM give)"
    " WHERE warehouse_id = 1 AND product_id = 1",
)


def run_baseline(url: str, quantity: int) -> tuple[float, dict[int, int]]:
    with connect(url) as conn:
        ex = lambda q: conn.execute(q).fetchall()  # noqa: E731
        conn.execute("SELECT 1")
        start = time.perf_counter()
        conn.execute("SELECT * FROM hq_stock WHERE product_id = 1 ORDER BY warehouse_id FOR UPDATE")
        for statement in BASELINE:
            conn.execute(statement, {"q": quantity})
        took = time.perf_counter() - start
        got = held(ex)
        conn.rollback()
    return took, got


# ---------------------------------------------------------------- the run


def run(quick: bool = False) -> dict:
    url = database_url()
    started = time.perf_counter()
    ensure_database(url)
    app = make_app(url)
    from portal.platform.timeutil import today as portal_today

    with app.app_context():
        today = portal_today()
    settings = server_settings(url)
    say("=" * 100)
    say(f"backorders benchmark  database {url}  PostgreSQL {settings['server_version']}")
    say(f"  shared_buffers {settings['shared_buffers']}, work_mem {settings['work_mem']}, jit {settings['jit']};"
        f" Python {python_version()}; {load()}")  # fmt: skip
    timings: dict = {}
    data = build_data(app, url, today, timings)
    demand = data["demand"]
    runs = 3 if quick else RUNS
    results: dict = {}
    for label, quantity in (("all of the queue", demand), ("half of the queue", demand // 2)):
        run_app(app, quantity)  # warm-up
        times, counts, problems = [], set(), []
        got = {}
        for _ in range(runs):
            took, n, probs, got = run_app(app, quantity)
            times.append(took)
            counts.add(n)
            problems += probs
        served = sum(1 for q in got.values() if q)
        results[label] = {"quantity": quantity, "median": statistics.median(times), "max": max(times),
                          "statements": sorted(counts), "problems": problems, "served": served, "got": got}  # fmt: skip
    run_baseline(url, demand)  # warm-up
    base_times, base_got = [], {}
    for _ in range(runs):
        took, base_got = run_baseline(url, demand)
        base_times.append(took)
    results["baseline"] = {"median": statistics.median(base_times), "max": max(base_times)}
    same = base_got == results["all of the queue"]["got"]
    capture: list[str] = []
    run_app(app, demand, capture)
    rows = []
    for label in ("all of the queue", "half of the queue"):
        r = results[label]
        rows.append([f"app: receipt of {r['quantity']:,} ({label})", f"{r['served']:,}", ms(r["median"]), ms(r["max"]),
                     "/".join(map(str, r["statements"])), "yes" if not r["problems"] else "NO"])  # fmt: skip
    b = results["baseline"]
    rows.append([f"baseline SQL: receipt of {demand:,}", f"{len(base_got):,}", ms(b["median"]), ms(b["max"]),
                 str(len(BASELINE) + 1), "same allocations" if same else "DIFFERENT"])  # fmt: skip
    say("")
    say(f"== one receipt allocating to the waiting backorders of {SKU}, one transaction, rolled back; median of"
        f" {runs} after a warm-up; {load()}")  # fmt: skip
    say(table(["what", "lines served", "median", "max", "statements", "FIFO checks"], rows))
    full = results["all of the queue"]
    ratio = full["median"] / b["median"] if b["median"] else float("inf")
    say(f"  app / baseline: {ratio:.1f}x; target ≤ {TARGET_SECONDS:.0f} s for 1,000 lines:"
        f" {'met' if full['median'] <= TARGET_SECONDS else 'NOT MET'}")  # fmt: skip
    for label in ("all of the queue", "half of the queue"):
        for problem in results[label]["problems"][:5]:
            say(f"  PROBLEM ({label}): {problem}")
    say("  statements of the full receipt (app):")
    for statement in capture:
        say(f"    {' '.join(statement.split())[:150]}")
    say(f"  whole run: {time.perf_counter() - started:.0f} s")
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --backorders-only")
    p.add_argument("--quick", action="store_true", help="3 runs instead of 5")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(quick=args.quick)
