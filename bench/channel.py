"""Channel flow benchmark (issue 7): `channel_flow` on 10,000,000 sell-through lines against hand-written SQL.

The data (built through the app's migrations, loaded with COPY, one seeded `random.Random`, money in integer
cents, streamed: never the whole data set in memory): the region tree of the receivables benchmark (HQ → 3 top
regions → provinces), 2,000 dealers spread unevenly over the provinces, 500 products in 10 categories, and
10,000,000 sell-through lines (1,000,000 with `--quick`) over 24 months. Skew: each dealer sells an assortment of
10–80 products (popular products in more assortments), dealers differ in size (a few large ones), months follow a
seasonality curve. The dealers' stock: receipts every 3 months per dealer and product (what the next 3 months
should sell, +10 %), a few adjustments. The `sale` stock movements written with each line are NOT loaded (the
report never reads them: it takes the sales from the sell-through sums), nor shipments (sell-in is 0 here: a
shipment needs an order and an invoice; the sell-in source is a small join and not what is measured), and a few
payments (cash received). `sell_through_monthly` is built with one INSERT … SELECT … GROUP BY from the lines
(exactly what the service keeps), then VACUUM ANALYZE.

Measured (median of 5 after one warm-up, the app's code in this process):

(a) `channel_flow(Scope("hq"), year, ["region", "category", "month"])`;
(b) `channel_flow(Scope("hq"), year, ["dealer"], region=<largest top region>)`;
(c) (a) for a partial-month period (the 15th to the 14th, 12 months: two partial months read from the lines).

Baseline, same run: one hand-written GROUP BY over the raw `sell_through_lines` (joined to dealers, regions,
products) for the same groups and period, psycopg directly. Ratio = app / baseline; the goal with the
pre-aggregated table is ≤ 0.2×. The app's sell-through quantity and amount per group must equal the baseline's.
Then the home pages, `GET /home` through the test client (session cookie), 1 warm-up + 20 requests each: an hq_admin
cold (`PORTAL_SCORECARD_CACHE_SECONDS` 0: every report card computed on every request) and warm (the default 300 s:
the cards kept per process), a region manager of the largest top region cold; p50/p95 and statements per request.

`--home-only` measures only the home pages, on the data a previous run left in the database (built first when there
is none; brought to the current migration); with `--profile` it also writes the cold HQ home's cProfile, each
statement's time and the slowest statements' `EXPLAIN (ANALYZE, BUFFERS)` to bench/out/home_*.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time
from pathlib import Path

from bench.common import (
    connect,
    copy_rows,
    database_url,
    ensure_database,
    load,
    make_app,
    median_of,
    ms,
    percentile,
    python_version,
    reset_schema,
    say,
    server_settings,
    stopwatch,
    table,
    without_keys,
)
from bench.receivables import plan_regions

SEED = 7  # issue 7
DEALERS = 2_000
PRODUCTS = 500
LINES = 10_000_000
QUICK_LINES = 1_000_000
FIRST_MONTH = dt.date(2024, 11, 1)
MONTHS = 24
YEAR = (dt.date(2025, 11, 1), dt.date(2026, 10, 31))  # the last 12 whole months of the data
PARTIAL = (dt.date(2025, 5, 15), dt.date(2026, 5, 14))  # mid-month to mid-month
GOAL = 0.2
SUB_SHARE = 0.2  # §16: the share of dealers that are sub-dealers
LEVEL_GOAL = 1.2  # channel flow by level within 1.2× of the same report without levels
LEVEL_ROUNDS = 11
HOME_REQUESTS = 20
OUT = Path(__file__).resolve().parent / "out"
CATEGORIES = ("SUV", "轿车", "MPV", "皮卡", "新能源SUV", "新能源轿车", "轻客", "配件", "轮胎", "养护用品")
SEASON = (1.3, 0.7, 1.0, 1.0, 1.05, 1.0, 0.9, 0.9, 1.1, 1.2, 1.1, 1.4)  # January … December
CREATED = "2024-10-01 08:00:00+00"
STAMP = "bench"


def months() -> list[dt.date]:
    out, m = [], FIRST_MONTH
    for _ in range(MONTHS):
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def days_in(m: dt.date) -> int:
    return ((m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - m).days


# ---------------------------------------------------------------- data


class Plan:
    def __init__(self, rng: random.Random) -> None:
        self.regions, provinces = plan_regions()
        weights = [rng.randint(1, 10) for _ in provinces]
        self.dealers = []  # (id, code, name, region_id, size weight)
        seen: dict[str, int] = {}
        for i in range(1, DEALERS + 1):
            pid, pcode, pname = rng.choices(provinces, weights)[0]
            seen[pcode] = seen.get(pcode, 0) + 1
            size = rng.paretovariate(1.5)  # a few large dealers
            self.dealers.append((i, f"{pcode}-{seen[pcode]:03d}", f"{pname}经销商{seen[pcode]:03d}", pid, size))
        # §16: 20 % of the dealers are sub-dealers of another dealer of their province (one level deep)
        self.parent: dict[int, int] = {}
        by_province: dict[int, list[int]] = {}
        for d in self.dealers:
            by_province.setdefault(d[3], []).append(d[0])
        for ids in by_province.values():
            distributors = ids[: max(1, len(ids) // 3)]
            for i in ids[len(distributors):]:
                if len(self.parent) < DEALERS * SUB_SHARE and rng.random() < 0.5:
                    self.parent[i] = rng.choice(distributors)
        self.products = []  # (id, sku, category, price cents, popularity)
        for i in range(1, PRODUCTS + 1):
            cat = CATEGORIES[i % len(CATEGORIES)]
            price = rng.randint(50, 30_000) * 100 if i % len(CATEGORIES) < 7 else rng.randint(50, 5_000) * 100
            self.products.append((i, f"SKU-{i:05d}", cat, price, 1 / (1 + (i * 7919 % PRODUCTS)) ** 0.6))
        popularity = [p[4] for p in self.products]
        self.assortment = {}
        for d in self.dealers:
            k = rng.randint(10, 80)
            self.assortment[d[0]] = sorted(set(rng.choices(range(PRODUCTS), popularity, k=k)))
        self.months = months()
        self.month_weights = [SEASON[m.month - 1] * (1 + 0.01 * i) for i, m in enumerate(self.months)]


def line_rows(plan: Plan, rng: random.Random, total: int, counts: dict):
    """The sell-through lines, dealer by dealer, as COPY text; `counts` gets (dealer, product index) → quantity."""
    sizes = [d[4] for d in plan.dealers]
    scale = total / sum(sizes)
    line_id = 0
    created = f"{plan.months[-1]} 23:00:00+00"
    remaining = total
    for n_d, d in enumerate(plan.dealers):
        n = remaining if n_d == len(plan.dealers) - 1 else min(remaining, round(d[4] * scale))
        remaining -= n
        if n <= 0:
            continue
        assort = plan.assortment[d[0]]
        weights = [plan.products[p][4] for p in assort]
        prods = rng.choices(assort, weights, k=n)
        mons = rng.choices(range(MONTHS), plan.month_weights, k=n)
        for p, mi in zip(prods, mons, strict=True):
            line_id += 1
            pid, sku, _cat, price, _pop = plan.products[p]
            m = plan.months[mi]
            qty = 1 if rng.random() < 0.8 else rng.randint(2, 5)
            unit = price * rng.randint(92, 108) // 100
            counts[(d[0], p)] = counts.get((d[0], p), 0) + qty
            day = m + dt.timedelta(days=rng.randrange(days_in(m)))
            yield (f"{line_id}\t{d[0]}\t{pid}\t{sku}\t{qty}\t{unit // 100}.{unit % 100:02d}\t"
                   f"{unit * qty // 100}.{unit * qty % 100:02d}\tf\t{day}\timport\t{STAMP}\t{created}\n")  # fmt: skip


def move_rows(plan: Plan, rng: random.Random, counts: dict, out: dict):
    """Receipts every 3 months per dealer and product (the 2 years' sales spread evenly, +10 %), some adjustments."""
    move_id = 0
    for (dealer_id, p), qty in counts.items():
        sku = plan.products[p][1]
        per = qty / (MONTHS / 3) * 1.1
        for q in range(MONTHS // 3):
            m = plan.months[q * 3]
            n = max(1, round(per * rng.uniform(0.8, 1.2)))
            move_id += 1
            day = m + dt.timedelta(days=rng.randrange(5))
            yield f"{move_id}\t{dealer_id}\t{p + 1}\t{sku}\t{n}\treceipt\t{day}\t{STAMP}\t{day} 09:00:00+00\n"
            parent = plan.parent.get(dealer_id)
            if parent is not None:  # a sub-dealer's goods: received by its distributor, transferred on the same day
                for quantity, kind in ((n, "receipt"), (-n, "transfer")):
                    move_id += 1
                    yield (f"{move_id}\t{parent}\t{p + 1}\t{sku}\t{quantity}\t{kind}\t{day}\t{STAMP}\t"
                           f"{day} 09:00:00+00\n")  # fmt: skip
        if rng.random() < 0.05:
            move_id += 1
            m = plan.months[rng.randrange(MONTHS)]
            n = -rng.randint(1, 3)
            yield f"{move_id}\t{dealer_id}\t{p + 1}\t{sku}\t{n}\tadjustment\t{m}\t{STAMP}\t{m} 09:00:00+00\n"
    out["moves"] = move_id


def build(url: str, app, quick: bool, timings: dict) -> dict:
    rng = random.Random(SEED)
    total = QUICK_LINES if quick else LINES
    plan = Plan(rng)
    info: dict = {"lines": total}
    with stopwatch("schema (migrations)", timings):
        reset_schema(app, url)
    with connect(url) as conn:
        with stopwatch("regions, dealers, products", timings):
            copy_rows(conn, "regions", ("id", "code", "name", "parent_id", "path", "approval_limit", "created_at"),
                      (f"{i}\t{c}\t{n}\t{p if p else chr(92) + 'N'}\t{path}\t0\t{CREATED}\n"
                       for i, c, n, p, path in plan.regions))  # fmt: skip
            copy_rows(
                conn, "dealers",
                ("id", "code", "name", "region_id", "tier", "channel_type", "payment_terms_days", "status",
                 "created_at", "parent_id"),
                (f"{i}\t{c}\t{n}\t{r}\t{'ABC'[i % 3]}\tfranchise\t30\tactive\t{CREATED}\t"
                 f"{plan.parent.get(i, chr(92) + 'N')}\n" for i, c, n, r, _s in plan.dealers),
            )  # fmt: skip
            copy_rows(
                conn, "products",
                ("id", "sku", "name", "name_en", "category", "unit", "list_price", "tax_rate", "min_resale_price",
                 "build_to_order", "lead_time_days", "active", "created_at"),
                (f"{i}\t{sku}\t产品{i:05d}\tProduct {i:05d}\t{cat}\tpcs\t{price // 100}.{price % 100:02d}\t0.13\t"
                 f"\\N\tf\t0\tt\t{CREATED}\n" for i, sku, cat, price, _p in plan.products),
            )  # fmt: skip
            for t in ("regions", "dealers", "products"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
            conn.commit()
        counts: dict = {}
        with stopwatch(f"{total:,} sell-through lines (COPY, keys and indexes dropped)", timings):
            with without_keys(conn, ["sell_through_lines"]):
                copy_rows(conn, "sell_through_lines",
                          ("id", "dealer_id", "product_id", "sku", "quantity", "unit_price", "amount", "below_floor",
                           "sold_on", "source", "created_by", "created_at"),
                          line_rows(plan, rng, total, counts))  # fmt: skip
                conn.commit()
                timings["lines_copy_only"] = time.perf_counter()
            timings["lines_indexes"] = time.perf_counter() - timings.pop("lines_copy_only")
        say(f"    (of which rebuilding the keys and indexes: {timings['lines_indexes']:.1f} s)")
        info["pairs"] = len(counts)
        with stopwatch("receipts and adjustments (dealer_stock_moves)", timings), without_keys(
            conn, ["dealer_stock_moves"]
        ):
            copy_rows(conn, "dealer_stock_moves",
                      ("id", "dealer_id", "product_id", "sku", "quantity", "kind", "moved_on", "created_by",
                       "created_at"),
                      move_rows(plan, rng, counts, info))  # fmt: skip
            conn.commit()
        del counts
        with stopwatch("payments (ledger_entries)", timings):
            rows, lid = [], 0
            for d in plan.dealers:
                for mi in range(0, MONTHS, 2):
                    lid += 1
                    day = plan.months[mi] + dt.timedelta(days=rng.randrange(28))
                    amount = rng.randint(1_000, 900_000)
                    rows.append(f"{lid}\t{d[0]}\tpayment\tBANK-{lid:08d}\t{day}\t\\N\t{amount}.00\t"
                                f"\\N\t\\N\t\\N\terp\t{STAMP}\t{day} 10:00:00+00\n")  # fmt: skip
            copy_rows(conn, "ledger_entries", ("id", "dealer_id", "type", "number", "entry_date", "due_on", "amount",
                                               "order_number", "invoice_id", "reason", "source", "created_by",
                                               "created_at"), rows)  # fmt: skip
            info["payments"] = lid
            for t in ("sell_through_lines", "dealer_stock_moves", "ledger_entries"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
            conn.commit()
        with stopwatch("sell_through_monthly (one INSERT … SELECT … GROUP BY, work_mem 256MB)", timings), \
                without_keys(conn, ["sell_through_monthly"]):  # fmt: skip
            conn.execute("SET work_mem = '256MB'")
            conn.execute("""
                INSERT INTO sell_through_monthly (dealer_id, product_id, month, lines, quantity, amount,
                    below_floor_lines, below_floor_quantity, below_floor_gap)
                SELECT dealer_id, product_id, date_trunc('month', sold_on)::date, count(*), sum(quantity),
                       sum(amount), count(*) FILTER (WHERE below_floor),
                       coalesce(sum(quantity) FILTER (WHERE below_floor), 0),
                       coalesce(sum((floor_price - unit_price) * quantity) FILTER (WHERE below_floor), 0)
                FROM sell_through_lines GROUP BY 1, 2, 3
            """)
            conn.commit()
            info["monthly"] = conn.execute("SELECT count(*) FROM sell_through_monthly").fetchone()[0]
        with stopwatch("channel_monthly (the app's rebuild_channel, work_mem 256MB)", timings):
            from sqlalchemy import text

            from portal.extensions import db
            from portal.inventory.sums import rebuild_channel

            with app.app_context():
                db.session.execute(text("SET LOCAL work_mem = '256MB'"))
                info["channel_monthly"] = rebuild_channel()
                db.session.commit()
    with connect(url, autocommit=True) as conn, stopwatch("VACUUM ANALYZE", timings):
        conn.execute("VACUUM ANALYZE")
    return info


# ---------------------------------------------------------------- measuring


BASE_SELECT = """
    SELECT {keys}, sum(s.quantity), sum(s.amount)
    FROM sell_through_lines s
    JOIN dealers d ON d.id = s.dealer_id
    {joins}
    WHERE s.sold_on BETWEEN %(a)s AND %(b)s {where}
    GROUP BY {keys}
"""


def baseline_region_category_month(conn, a: dt.date, b: dt.date) -> dict:
    """Top region (the child of HQ whose subtree holds the dealer) × category × month, over the raw lines."""
    q = BASE_SELECT.format(
        keys="top.code, p.category, date_trunc('month', s.sold_on)::date",
        joins="JOIN regions dr ON dr.id = d.region_id "
        "JOIN regions top ON top.path = '/HQ/' || split_part(dr.path, '/', 3) || '/' "
        "JOIN products p ON p.id = s.product_id",
        where="",
    )
    return {(r[0], r[1], r[2].strftime("%Y-%m")): (int(r[3]), r[4]) for r in conn.execute(q, {"a": a, "b": b})}


def baseline_dealer(conn, a: dt.date, b: dt.date, region_path: str) -> dict:
    q = BASE_SELECT.format(
        keys="d.code",
        joins="",
        where="AND d.region_id IN (SELECT id FROM regions WHERE path LIKE %(path)s)",
    )
    return {(r[0],): (int(r[1]), r[2]) for r in conn.execute(q, {"a": a, "b": b, "path": region_path + "%"})}


def app_figures(result: dict, keys: tuple[str, ...]) -> dict:
    out = {}
    for r in result["rows"]:
        if r["sell_through_qty"] or r["sell_through_amount"]:
            out[tuple(r[k] for k in keys)] = (r["sell_through_qty"], r["sell_through_amount"])
    return out


def explain(app, args: tuple, kwargs: dict, label: str) -> None:
    from portal.analytics.reports import channel_flow_select
    from portal.extensions import db
    from portal.platform.tenancy import Scope

    with app.app_context():
        stmt, *_rest = channel_flow_select(Scope("hq"), *args, **kwargs)
        compiled = stmt.compile(db.engine, compile_kwargs={"render_postcompile": True})
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SET jit = off")  # as the app's report settings (SET LOCAL in its transaction)
            conn.exec_driver_sql("SET work_mem = '64MB'")
            plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), compiled.params).fetchall()
    OUT.mkdir(exist_ok=True)
    path = OUT / f"channel_explain_{label}.txt"
    text = "\n".join(r[0] for r in plan)
    path.write_text(str(compiled) + "\n\n" + text + "\n")
    say(f"    EXPLAIN ANALYZE of the app's query → {path.relative_to(OUT.parent.parent)}; its slowest nodes:")
    nodes = [r[0] for r in plan if "actual time" in r[0]]

    def total(line: str) -> float:
        try:
            return float(line.split("actual time=")[1].split("..")[1].split(" ")[0])
        except (IndexError, ValueError):
            return 0.0

    for line in sorted(nodes, key=total, reverse=True)[:8]:
        say("      " + line.strip()[:170])
    for r in plan[-3:]:
        say("      " + r[0].strip())


def measure_queries(app, url: str, results: dict) -> None:
    from portal.analytics.reports import channel_flow
    from portal.platform.tenancy import Scope

    with connect(url) as conn:
        region = conn.execute(
            "SELECT top.code, top.path, count(*) FROM dealers d JOIN regions dr ON dr.id = d.region_id "
            "JOIN regions top ON top.path = '/HQ/' || split_part(dr.path, '/', 3) || '/' "
            "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1"
        ).fetchone()
    code, path, n_dealers = region
    cases = [
        ("(a) region×category×month, 12 whole months", YEAR, ["region", "category", "month"], {},
         ("region_code", "category", "month"), lambda c, a, b: baseline_region_category_month(c, a, b)),
        (f"(b) dealer, region {code} ({n_dealers} dealers), 12 whole months", YEAR, ["dealer"], {"region": code},
         ("dealer_code",), lambda c, a, b: baseline_dealer(c, a, b, path)),
        ("(c) region×category×month, 15th → 14th (partial months)", PARTIAL, ["region", "category", "month"], {},
         ("region_code", "category", "month"), lambda c, a, b: baseline_region_category_month(c, a, b)),
        (f"(d) dealer, region {code}, 15th → 14th (partial months)", PARTIAL, ["dealer"], {"region": code},
         ("dealer_code",), lambda c, a, b: baseline_dealer(c, a, b, path)),
    ]  # fmt: skip
    rows = []
    for label, (a, b), group_by, kwargs, keys, base in cases:
        say(f"- {label}: {a} … {b}")

        def run_app(a=a, b=b, group_by=group_by, kwargs=kwargs):
            with app.app_context():
                return channel_flow(Scope("hq"), a, b, group_by, **kwargs)

        t_app, times_app, result = median_of(run_app)
        with connect(url) as conn:
            t_base, times_base, base_rows = median_of(lambda conn=conn, a=a, b=b, base=base: base(conn, a, b))
        mine = app_figures(result, keys)
        if mine != base_rows:
            diff = [k for k in set(mine) | set(base_rows) if mine.get(k) != base_rows.get(k)][:5]
            shown = "; ".join(f"{k}: app {mine.get(k)} vs raw {base_rows.get(k)}" for k in diff)
            raise SystemExit(f"channel_flow's sell-through differs from the raw GROUP BY for {label}: {shown}")
        qty = sum(v[0] for v in base_rows.values())
        ratio = t_app / t_base
        say(f"    app {ms(t_app)} (runs {', '.join(f'{t * 1000:.0f}' for t in times_app)} ms), raw GROUP BY "
            f"{ms(t_base)} (runs {', '.join(f'{t * 1000:.0f}' for t in times_base)} ms): {ratio:.2f}× — "
            f"{len(result['rows'])} rows, sell-through {qty:,} pcs, equal to the raw sums: yes; {load()}")  # fmt: skip
        rows.append([label.split(" ")[0], f"{len(result['rows']):,}", ms(t_app), ms(t_base), f"{ratio:.2f}×",
                     "met" if ratio <= GOAL else "NOT met"])  # fmt: skip
        results[label] = (t_app, t_base, ratio)
        if ratio > GOAL:
            explain(app, (a, b, group_by), kwargs, label.split(" ")[0].strip("()"))
    results["table"] = rows


def _level_sums(result: dict, keys: tuple[str, ...]) -> dict:
    """The rows of a report by level summed over the levels, keyed like the report without levels."""
    out: dict = {}
    for r in result["rows"]:
        key = tuple(r[k] for k in keys)
        acc = out.setdefault(key, [0, 0, 0, 0])
        for i, m in enumerate(("sell_through_qty", "sell_through_amount", "opening_stock", "ending_stock")):
            acc[i] += r[m]
    return out


def measure_levels(app, results: dict) -> None:
    """§16: the report grouped by level against the same report without it, in this process, on the same data."""
    from portal.analytics.reports import channel_flow
    from portal.platform.tenancy import Scope

    cases = [
        ("(e) level×category×month vs category×month, 12 whole months", YEAR, ["category", "month"]),
        ("(f) region×level vs region, 12 whole months", YEAR, ["region"]),
        ("(g) level×category×month vs category×month, 15th → 14th", PARTIAL, ["category", "month"]),
    ]
    rows = []
    for label, (a, b), plain in cases:
        leveled = (["region", "level"] if plain == ["region"] else ["level", *plain])
        keys = tuple({"region": "region_code"}.get(k, k) for k in plain)

        def run_report(group_by, a=a, b=b):
            with app.app_context():
                return channel_flow(Scope("hq"), a, b, group_by)

        # interleaved (one of each per round, after a warm-up of each), so load on the shared machine hits both alike
        times_plain, times_level = [], []
        r_plain, r_level = run_report(plain), run_report(leveled)
        for _ in range(LEVEL_ROUNDS):
            for times, keys_ in ((times_plain, plain), (times_level, leveled)):
                start = time.perf_counter()
                run_report(keys_)
                times.append(time.perf_counter() - start)
        t_plain, t_level = statistics.median(times_plain), statistics.median(times_level)
        if _level_sums(r_level, keys) != _level_sums(r_plain, keys):
            raise SystemExit(f"{label}: the rows by level do not add up to the report without levels")
        levels = sorted({r["level"] for r in r_level["rows"]})
        ratio = t_level / t_plain
        say(f"- {label}: by level {ms(t_level)}, without {ms(t_plain)} (medians of {LEVEL_ROUNDS} interleaved rounds): "
            f"{ratio:.2f}× — "
            f"{len(r_level['rows'])} vs {len(r_plain['rows'])} rows, levels {levels}, sums equal: yes; {load()}")
        rows.append([label.split(" ")[0], f"{len(r_level['rows']):,}", ms(t_level), ms(t_plain), f"{ratio:.2f}×",
                     "met" if ratio <= LEVEL_GOAL else "NOT met"])  # fmt: skip
    results["levels"] = rows


LATE_DEALERS = 20


def measure_late_rows(app, url: str, results: dict) -> None:
    """Late sell-through through the service (a sale of January reported now, per dealer): the monthly sums and
    the channel roll-up follow in the same transaction, so (a) equals the raw GROUP BY again right after."""
    from decimal import Decimal

    from portal.analytics.reports import channel_flow
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.inventory import sellthrough
    from portal.platform.tenancy import Scope

    late_day = dt.date(2026, 1, 10)
    with connect(url) as conn:
        pairs = conn.execute(
            "SELECT DISTINCT ON (s.dealer_id) s.dealer_id, s.sku FROM sell_through_lines s "
            "JOIN products p ON p.id = s.product_id WHERE NOT p.build_to_order "
            "AND s.sold_on BETWEEN '2026-01-01' AND '2026-01-31' ORDER BY s.dealer_id, s.sku LIMIT %(n)s",
            {"n": LATE_DEALERS},
        ).fetchall()
    times = []
    with app.app_context():
        before = channel_flow(Scope("hq"), *YEAR, ["region", "category", "month"])["totals"]
        db.session.commit()
        for dealer_id, sku in pairs:
            start = time.perf_counter()
            sellthrough.record(None, db.session.get(Dealer, dealer_id),
                               [{"sold_on": late_day, "sku": sku, "quantity": 2, "unit_price": Decimal("123.45")}],
                               source="api")  # fmt: skip
            db.session.commit()
            times.append(time.perf_counter() - start)
        after = channel_flow(Scope("hq"), *YEAR, ["region", "category", "month"])
        db.session.commit()
    with connect(url) as conn:
        base_rows = baseline_region_category_month(conn, *YEAR)
    mine = app_figures(after, ("region_code", "category", "month"))
    if mine != base_rows:
        raise SystemExit("after the late lines, channel_flow differs from the raw GROUP BY")
    added = after["totals"]["sell_through_qty"] - before["sell_through_qty"]
    if added != 2 * len(pairs):
        raise SystemExit(f"after {len(pairs)} late lines of 2 pcs the year's sell-through grew by {added}")
    results["late"] = (len(pairs), percentile(times, 50))
    say(f"- {len(pairs)} late lines (sold {late_day}, reported now) through the service, one transaction each: "
        f"p50 {ms(percentile(times, 50))} per line; (a) again equals the raw GROUP BY, the year's sell-through "
        f"+{added} pcs")  # fmt: skip


HOME_CASES = (  # (label, user, keep the cards: PORTAL_SCORECARD_CACHE_SECONDS)
    ("hq_admin, cold (cards computed every request)", "hq", 0),
    ("hq_admin, warm (cards kept 300 s, the default)", "hq", 300),
    ("region manager of the largest top region, cold", "rm", 0),
)


def _largest_top_region(url: str) -> tuple[int, str, str, int]:
    """(id, code, path, dealers) of the top region (a child of HQ) whose subtree holds the most dealers."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT top.id, top.code, top.path, count(*) FROM dealers d JOIN regions dr ON dr.id = d.region_id "
            "JOIN regions top ON top.path = '/HQ/' || split_part(dr.path, '/', 3) || '/' "
            "GROUP BY 1, 2, 3 ORDER BY 4 DESC, 2 LIMIT 1"
        ).fetchone()


def _home_client(app, username: str, role: str, region_id: int | None = None):
    """A test client logged in (session cookie) as the benchmark's user `username`, made when missing."""
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from portal.dealers.models import User
    from portal.extensions import db

    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).unique().scalar_one_or_none()
        if user is None:
            password = generate_password_hash("bench-pass-2026", method="pbkdf2:sha256:1000")
            user = User(username=username, display_name=f"Benchmark {role}", role=role, region_id=region_id,
                        locale="zh_CN", password_hash=password)  # fmt: skip
            db.session.add(user)
            db.session.commit()
        session_id = user.get_id()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = session_id
        sess["_fresh"] = True
    return client


class _Statements:
    """Every statement the app's engine sends while listening, with its duration (settings and savepoints apart)."""

    SKIP = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET ")

    def __init__(self, app) -> None:
        from portal.extensions import db

        with app.app_context():
            self.engine = db.engine
        self.seen: list[tuple[str, object, float]] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(self.SKIP):
            self.seen.append((statement, parameters, time.perf_counter() - conn.info.pop("bench_started")))

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def _get_home(client) -> None:
    response = client.get("/home")
    if response.status_code != 200:
        raise SystemExit(f"GET /home answered {response.status_code}: {response.get_data(as_text=True)[:300]}")


def measure_home(app, url: str, results: dict, requests: int = HOME_REQUESTS) -> None:
    """GET /home through the test client (session cookie), 1 warm-up + `requests` each: HQ cold (every card computed
    on every request: PORTAL_SCORECARD_CACHE_SECONDS=0) and warm (the default 300 s: the report cards kept per
    process, computed by the warm-up), and a region manager of the largest top region, cold. p50/p95 and the
    statements per request (settings and savepoints apart, as tests/querycount.py counts them)."""
    from portal.home import cache as home_cache

    region_id, code, _path, n_dealers = _largest_top_region(url)
    clients = {"hq": _home_client(app, "bench.hq", "hq_admin"),
               "rm": _home_client(app, f"bench.rm.{code.lower()}", "region_manager", region_id)}  # fmt: skip
    rows = []
    saved = app.config.get("PORTAL_SCORECARD_CACHE_SECONDS")
    try:
        for label, who, ttl in HOME_CASES:
            app.config["PORTAL_SCORECARD_CACHE_SECONDS"] = ttl
            home_cache.clear()
            times, counts = [], []
            for i in range(requests + 1):
                with _Statements(app) as sent:
                    start = time.perf_counter()
                    _get_home(clients[who])
                    elapsed = time.perf_counter() - start
                if i >= 1:
                    times.append(elapsed)
                    counts.append(len(sent.seen))
            label = label.replace("largest top region", f"{code} ({n_dealers:,} dealers)")
            p50, p95 = percentile(times, 50), percentile(times, 95)
            stmts = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"
            results.setdefault("home", {})[(who, ttl)] = (p50, p95, stmts)
            rows.append([label, ms(p50), ms(p95), stmts, load()])
            say(f"- GET /home, {label}: p50 {ms(p50)}, p95 {ms(p95)}, {stmts} statements per request "
                f"(1 warm-up, {requests} requests); {load()}")  # fmt: skip
    finally:
        app.config["PORTAL_SCORECARD_CACHE_SECONDS"] = saved
        home_cache.clear()
    results["home_table"] = rows


def profile_home(app, url: str, explain_top: int = 6) -> None:
    """The cold HQ home under cProfile (bench/out/home_profile.txt), its statements with their durations (median of
    3 requests: bench/out/home_statements.txt), the slowest under EXPLAIN (ANALYZE, BUFFERS) (home_explain_<n>.txt)."""
    import cProfile
    import io
    import pstats

    from portal.extensions import db
    from portal.home import cache as home_cache

    OUT.mkdir(exist_ok=True)
    client = _home_client(app, "bench.hq", "hq_admin")
    saved = app.config.get("PORTAL_SCORECARD_CACHE_SECONDS")
    app.config["PORTAL_SCORECARD_CACHE_SECONDS"] = 0
    home_cache.clear()
    try:
        _get_home(client)  # warm-up
        runs = []
        for _ in range(3):
            with _Statements(app) as sent:
                _get_home(client)
            runs.append(sent.seen)
        profiler = cProfile.Profile()
        profiler.enable()
        _get_home(client)
        profiler.disable()
    finally:
        app.config["PORTAL_SCORECARD_CACHE_SECONDS"] = saved
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(60)
    (OUT / "home_profile.txt").write_text(buf.getvalue())
    stats = [(statistics.median(r[i][2] for r in runs), i, runs[0][i]) for i in range(len(runs[0]))]
    total = sum(t for t, _i, _s in stats)
    lines = [f"{len(stats)} statements, {total * 1000:.1f} ms in the database (medians of 3 cold requests; {load()})",
             ""]  # fmt: skip
    for t, i, (stmt, _params, _t) in stats:
        lines.append(f"{i + 1:3d} {t * 1000:8.1f} ms  {' '.join(stmt.split())[:220]}")
    (OUT / "home_statements.txt").write_text("\n".join(lines) + "\n")
    say(f"    profile → bench/out/home_profile.txt; statements → bench/out/home_statements.txt: {lines[0]}")
    for t, i, _s in sorted(stats, reverse=True)[:8]:
        say(f"      #{i + 1:<3d} {t * 1000:7.1f} ms  {' '.join(runs[0][i][0].split())[:120]}")
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SET jit = off")  # as the reports' own transactions
            cur.execute("SET work_mem = '64MB'")
            for n, (t, i, (stmt, params, _t)) in enumerate(sorted(stats, reverse=True)[:explain_top], start=1):
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
                plan = "\n".join(r[0] for r in cur.fetchall())
                (OUT / f"home_explain_{n}.txt").write_text(f"-- statement #{i + 1}, {t * 1000:.1f} ms in the "
                                                           f"request\n{stmt}\n-- {params!r}\n\n{plan}\n")  # fmt: skip
            raw.rollback()
        finally:
            raw.close()
    say(f"    EXPLAIN (ANALYZE, BUFFERS) of the {explain_top} slowest → bench/out/home_explain_1..{explain_top}.txt")
    say(f"    the profiled request: {pstats.Stats(profiler).total_tt * 1000:.0f} ms under cProfile")


def _has_channel_data(url: str) -> bool:
    with connect(url) as conn:
        if not conn.execute("SELECT to_regclass('public.channel_monthly') IS NOT NULL").fetchone()[0]:
            return False
        return conn.execute("SELECT EXISTS (SELECT 1 FROM channel_monthly)").fetchone()[0]


def home_only(url: str, app, quick: bool, profile: bool, requests: int) -> dict:
    """The home pages on the data a previous run left in the database (built first when there is none), brought to
    the current migration; with `profile`, the cold HQ home profiled too."""
    import flask_migrate

    results: dict = {}
    if not _has_channel_data(url):
        say("  no channel data in the database: building it first")
        build(url, app, quick, {})
    with app.app_context():
        flask_migrate.upgrade()
    with connect(url) as conn:
        n = conn.execute("SELECT count(*) FROM sell_through_lines").fetchone()[0]
    say(f"Home pages on the data already built ({n:,} sell-through lines; {load()}):")
    measure_home(app, url, results, requests)
    if profile:
        say("Profile of the cold HQ home:")
        profile_home(app, url)
    say(table(["GET /home", "p50", "p95", "statements", "load"], results["home_table"]))
    return results


def run(
    quick: bool = False,
    levels_only: bool = False,
    home: bool = False,
    profile: bool = False,
    requests: int = HOME_REQUESTS,
) -> dict:
    url = database_url()
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    total = QUICK_LINES if quick else LINES
    size = " (QUICK: 1,000,000 instead of 10,000,000)" if quick else ""
    say(f"Channel flow benchmark: {total:,} sell-through lines{size}, {DEALERS:,} dealers, {PRODUCTS} products, "
        f"{MONTHS} months; Python {python_version()}, {os.cpu_count()} CPUs, "
        f"{load()} at the start (other processes share the machine)")  # fmt: skip
    say("  PostgreSQL: " + ", ".join(f"{k} {v}" for k, v in server_settings(url).items()))
    app = make_app(url)
    timings: dict = {}
    results: dict = {"quick": quick}
    if home:
        return home_only(url, app, quick, profile, requests)
    if levels_only:  # the data a previous run left in the database
        say(f"Levels only, on the data already loaded ({load()}):")
        measure_levels(app, results)
        say(table(["case", "rows", "by level", "without", "ratio", f"≤ {LEVEL_GOAL}×"], results["levels"]))
        return results
    say("Data:")
    start = time.perf_counter()
    info = build(url, app, quick, timings)
    results["build"] = time.perf_counter() - start
    say(f"  total {results['build']:.1f} s: {info['lines']:,} lines, {info['pairs']:,} dealer×product pairs, "
        f"{info['moves']:,} receipts/adjustments, {info['payments']:,} payments, "
        f"{info['monthly']:,} sell_through_monthly rows, {info['channel_monthly']:,} channel_monthly rows")  # fmt: skip
    say(f"Queries (median of 5 after one warm-up; goal app ≤ {GOAL}× the raw GROUP BY):")
    measure_queries(app, url, results)
    say(f"Levels (§16: {len(Plan(random.Random(SEED)).parent):,} of {DEALERS:,} dealers are sub-dealers; "
        f"goal ≤ {LEVEL_GOAL}× the report without levels):")
    measure_levels(app, results)
    say("Late rows:")
    measure_late_rows(app, url, results)
    say("Home pages:")
    measure_home(app, url, results)
    say()
    say(f"SUMMARY (channel{', quick' if quick else ''}; {info['lines']:,} lines; data built in "
        f"{results['build']:.0f} s; {load()} at the end)")  # fmt: skip
    say(table(["case", "rows", "app", "raw GROUP BY", "ratio", f"≤ {GOAL}×"], results["table"]))
    say(table(["case", "rows", "by level", "without", "ratio", f"≤ {LEVEL_GOAL}×"], results["levels"]))
    say(table(["GET /home", "p50", "p95", "statements", "load"], results["home_table"]))
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --channel-only", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"{QUICK_LINES:,} lines instead of {LINES:,}")
    p.add_argument("--levels-only", action="store_true",
                   help="only the §16 by-level cases, on the data a previous run left in the database")  # fmt: skip
    p.add_argument("--home-only", action="store_true",
                   help="only the home pages (HQ cold and warm, a region manager cold) on the data a previous run "
                        "left in the database (built first when missing)")  # fmt: skip
    p.add_argument("--profile", action="store_true",
                   help="with --home-only: profile the cold HQ home too (cProfile, statement timings, EXPLAIN "
                        "ANALYZE of the slowest, into bench/out/)")  # fmt: skip
    p.add_argument(
        "--requests",
        type=int,
        default=HOME_REQUESTS,
        help=f"home requests per case after one warm-up (default {HOME_REQUESTS})",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(
        quick=args.quick,
        levels_only=args.levels_only,
        home=args.home_only,
        profile=args.profile,
        requests=args.requests,
    )
