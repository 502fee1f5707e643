"""Orders benchmark (issue 4): POST /api/v1/orders under gunicorn, against a baseline endpoint, and the credit gate.

The data (built through the app's migrations, loaded with COPY): a region tree (HQ → 6 regions → 30 provinces),
200 dealers with a large `dealer_credit` limit, 3 dealer_staff users each with a bearer token (its SHA-256 in
`api_tokens`), a catalogue of 200 products in 8 categories, price lists of every scope kind (all, tier, region and
province, dealer; plus an expired, a future and an inactive one that resolution must skip) with SKU and category
rules and quantity breaks, two years of settled invoices and payments per dealer (the credit gate sums the
ledger) and 40 past orders per dealer. One seeded `random.Random`; money is integer cents.

Measured, for each number of gunicorn workers (sync workers, 127.0.0.1, PORTAL_BENCH_ENDPOINTS=1):

1. 16 HTTP clients (threads, `http.client`) spread over the 200 dealers post 5-line orders (random SKUs,
   quantities 1-20, a unique Idempotency-Key each) for 30 s: orders/s, p50/p99 latency, errors; then the same
   request bodies to `POST /api/v1/bench/baseline` (same auth and JSON validation, one insert) for 30 s; the ratio.
   Afterwards, in the database: one order per 201 (same numbers, same keys), 5 lines and 2 events each, line sums,
   an audit entry each, prices equal to what `quote()` gives; replayed keys create nothing, a reused key with
   another body is refused (422).
2. 50 simultaneous submissions for one dealer (no receivables, no open orders) whose limit is exactly 10 × the
   order's gross: 10 approved, 40 credit_review, and the approved gross never above the limit (checked order by
   order in lock order from `available_at_submit`), and the wall time.

The CPU used by gunicorn's workers, the database's backends and the clients during each load is read from /proc.

Then, in this process: what the credit gate's row lock also locks (another dealer of the province, an audit entry
for the dealer), and through the Flask test client where the time of an order goes against the baseline: the SQL
statements (count, client-side time, EXPLAIN ANALYZE of the reads), wall time per function of the order path, a
cProfile, and what-ifs (one change each, made at run time in this process only, interleaved with the app as is).

Last, a dealer's click on "submit" of a server-side draft (PRODUCT.md §12) against the same order placed directly:
`PUT /api/v1/orders/draft` + `POST /api/v1/orders/draft/submit` against `POST /api/v1/orders`, interleaved in this
process (`profile_drafts`; `--drafts-only` builds the data and runs only that).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import http.client
import io
import itertools
import json
import os
import pstats
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from psycopg import sql

from bench.common import (
    cents,
    connect,
    copy_rows,
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
)
from bench.receivables import REGIONS, copy_regions, plan_regions, save_explain

SEED = 4  # issue 4
DEALERS = 200
USERS_PER_DEALER = 3
CLIENTS = 16
LINES_PER_ORDER = 5
GATE_SUBMISSIONS = 50
GATE_FITS = 10
HISTORY_DAYS = 730
PAST_ORDERS = 40
ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
ORDERS_PATH = "/api/v1/orders"
DRAFT_PATH = "/api/v1/orders/draft"
SUBMIT_PATH = "/api/v1/orders/draft/submit"
DRAFT_GOAL = 1.2  # submitting a draft may cost at most 1.2 x placing the same order directly (PRODUCT.md §12)
BASELINE_PATH = "/api/v1/bench/baseline"
LARGE_LIMIT = 500_000_000_00  # cents: 500 million CNY, every order of the run fits

# category: (zh name, en name, unit, list price range in CNY, build to order, tax basis points)
CATEGORIES = {
    "ebike": ("电动自行车", "E-bike", "辆", (2_500, 6_000), True, 1300),
    "scooter": ("电动滑板车", "Scooter", "辆", (1_500, 4_500), True, 1300),
    "motorcycle": ("电动摩托车", "E-motorcycle", "辆", (6_000, 25_000), True, 1300),
    "battery": ("锂电池", "Battery pack", "块", (300, 2_500), False, 1300),
    "charger": ("充电器", "Charger", "个", (80, 400), False, 1300),
    "tyre": ("轮胎", "Tyre", "条", (40, 300), False, 1300),
    "helmet": ("头盔", "Helmet", "顶", (60, 500), False, 1300),
    "accessory": ("配件", "Accessory", "件", (10, 200), False, 900),
}
PRODUCTS_PER_CATEGORY = 25
TIERS = {"A": 15, "B": 45, "C": 40}
CHANNELS = ("4s_store", "chain", "department_store", "franchise", "specialty")
TERMS = (30, 30, 45, 60, 60, 90)
PASSWORD = "bench-pass-2026"  # noqa: S105  (the benchmark users' password, never used to log in)


@dataclass
class Catalogue:
    skus: list[str]
    products: dict[str, tuple[int, int, int]]  # sku: (id, list price cents, tax basis points)


@dataclass
class Dealer:
    id: int
    code: str
    region_id: int
    tier: str
    tokens: list[str] = field(default_factory=list)


@dataclass
class Data:
    dealers: list[Dealer]  # the 200 of the load
    gate: Dealer  # the credit-gate dealer (not in the load)
    catalogue: Catalogue
    history_max_order: int
    counts: dict


# ---------------------------------------------------------------- the data


def money_text(value: int) -> str:
    return cents(value)


def half_up(numerator: int, denominator: int) -> int:
    """Round numerator/denominator to the nearest integer, halves away from zero (for positive values)."""
    return (2 * numerator + denominator) // (2 * denominator)


def build_data(app, url: str, today: dt.date, timings: dict) -> Data:
    rng = random.Random(SEED)
    t_all = time.perf_counter()
    with stopwatch("schema (drop, alembic upgrade)", timings):
        reset_schema(app, url)
    created = f"{today - dt.timedelta(days=HISTORY_DAYS + 30)} 02:00:00+00"
    regions, provinces = plan_regions()
    province_weights = [rng.randint(1, 10) for _ in provinces]
    counts: dict = {}
    t0 = time.perf_counter()
    with connect(url) as conn:
        copy_regions(conn, regions, created)
        # dealers: 200 spread unevenly over the provinces, and the gate dealer (Shanghai, tier B)
        dealers: list[Dealer] = []
        rows = []
        per_province: Counter = Counter()
        terms: dict[int, int] = {}
        for i in range(1, DEALERS + 1):
            pid, pcode, pname = rng.choices(provinces, province_weights)[0]
            per_province[pcode] += 1
            tier = rng.choices(list(TIERS), list(TIERS.values()))[0]
            dealers.append(Dealer(i, f"{pcode}-{per_province[pcode]:03d}", pid, tier))
            terms[i] = rng.choice(TERMS)
            rows.append((i, dealers[-1].code, f"{pname}{tier}级经销商{per_province[pcode]:03d}", pid, tier))
        sh = next(p for p in provinces if p[1] == "SH")
        gate = Dealer(DEALERS + 1, "SH-900", sh[0], "B")
        terms[gate.id] = 30
        rows.append((gate.id, gate.code, "上海信用闸门测试经销商", sh[0], "B"))
        copy_rows(
            conn,
            "dealers",
            ("id", "code", "name", "region_id", "tier", "channel_type", "payment_terms_days", "status",
             "contact_name", "contact_phone", "contact_email", "address", "created_at"),
            (
                f"{did}\t{code}\t{name}\t{rid}\t{tier}\t{CHANNELS[did % len(CHANNELS)]}\t{terms[did]}\tactive\t"
                f"联系人{did}\t139{did:08d}\tdealer{did}@example.cn\t{name}地址\t{created}\n"
                for did, code, name, rid, tier in rows
            ),
        )  # fmt: skip
        copy_rows(
            conn,
            "dealer_credit",
            ("dealer_id", "credit_limit", "on_hold", "hold_source", "hold_reason", "held_at", "held_by"),
            (f"{did}\t{money_text(LARGE_LIMIT)}\tf\t\\N\t\\N\t\\N\t\\N\n" for did, *_rest in rows),
        )
        # users and tokens: 3 dealer_staff per dealer (5 for the gate dealer), one personal token each
        from werkzeug.security import generate_password_hash

        password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        users, tokens = [], []
        expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
        uid = 0
        for d in [*dealers, gate]:
            for k in range(1, (5 if d is gate else USERS_PER_DEALER) + 1):
                uid += 1
                name = f"{d.code.lower()}.staff{k}"
                users.append(
                    f"{uid}\t{name}\t{d.code} 员工{k}\t{name}@example.cn\t{password_hash}\tdealer_staff\t{d.id}\t\\N\t"
                    f"{'zh_CN' if k % 3 else 'en'}\tt\t{created}\t{created}\t{secrets.token_hex(16)}\n"
                )
                raw = "drp_u_" + secrets.token_urlsafe(32)
                d.tokens.append(raw)
                digest = hashlib.sha256(raw.encode()).hexdigest()
                tokens.append(f"{uid}\tpersonal\tapi:{name}\t{digest}\t{uid}\t\\N\t{created}\t{expires}\t\\N\n")
        copy_rows(
            conn,
            "users",
            ("id", "username", "display_name", "email", "password_hash", "role", "dealer_id", "region_id", "locale",
             "active", "created_at", "password_changed_at", "session_key"),
            users,
        )  # fmt: skip
        copy_rows(
            conn,
            "api_tokens",
            ("id", "kind", "name", "token_hash", "user_id", "scope", "created_at", "expires_at", "revoked_at"),
            tokens,
        )
        counts["users"] = uid
        catalogue = load_catalogue(conn, rng, created)
        counts["price lists"], counts["price rules"] = load_price_lists(conn, rng, dealers, gate, catalogue, today)
        conn.commit()
    timings["channel, catalogue, prices"] = time.perf_counter() - t0
    say(f"  channel, users, tokens, catalogue, price lists: {timings['channel, catalogue, prices']:.1f} s")
    with stopwatch("ledger history and past orders", timings), connect(url) as conn:
        counts.update(load_ledger(conn, rng, dealers, terms, today))
        counts.update(load_past_orders(conn, rng, dealers, catalogue, today))
        conn.commit()
        reset_sequences(
            conn,
            ("regions", "dealers", "users", "api_tokens", "products", "price_lists", "price_rules", "ledger_entries",
             "applications", "orders", "order_lines"),
        )  # fmt: skip
        history_max = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
    with stopwatch("VACUUM ANALYZE", timings), connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["data total"] = time.perf_counter() - t_all
    say(f"  data ready in {timings['data total']:.1f} s: {DEALERS} dealers (+ the gate dealer), {counts['users']}"
        f" users with tokens, {len(catalogue.skus)} products, {counts['price lists']} price lists with"
        f" {counts['price rules']} rules, {counts['invoices']:,} invoices ({counts['open invoices']:,} open),"
        f" {counts['payments']:,} payments, {counts['past orders']:,} past orders")  # fmt: skip
    return Data(dealers, gate, catalogue, history_max, counts)


def load_catalogue(conn, rng: random.Random, created: str) -> Catalogue:
    rows = []
    products: dict[str, tuple[int, int, int]] = {}
    pid = 0
    for category, (zh, en, unit, (lo, hi), bto, tax_bp) in CATEGORIES.items():
        for n in range(1, PRODUCTS_PER_CATEGORY + 1):
            pid += 1
            sku = f"{category[:3].upper()}-{n:04d}"
            price = rng.randint(lo, hi) * 100 + rng.choice((0, 0, 50, 90))
            floor = f"{money_text(price * 115 // 100)}" if rng.random() < 0.5 else "\\N"
            lead = rng.randint(7, 30) if bto else rng.randint(0, 5)
            products[sku] = (pid, price, tax_bp)
            rows.append(
                f"{pid}\t{sku}\t{zh} {sku}\t{en} {sku}\t{category}\t{unit}\t{money_text(price)}\t"
                f"{tax_bp / 10000:.4f}\t{floor}\t{'t' if bto else 'f'}\t{lead}\tt\t{created}\n"
            )
    copy_rows(
        conn,
        "products",
        ("id", "sku", "name", "name_en", "category", "unit", "list_price", "tax_rate", "min_resale_price",
         "build_to_order", "lead_time_days", "active", "created_at"),
        rows,
    )  # fmt: skip
    return Catalogue(list(products), products)


def load_price_lists(conn, rng, dealers: list[Dealer], gate: Dealer, cat: Catalogue, today: dt.date):
    """Price lists of every scope kind with SKU and category rules, some from a minimum quantity."""
    lists: list[str] = []
    rules: list[str] = []
    categories = list(CATEGORIES)
    year_start = today.replace(month=1, day=1)
    stamp = f"{today - dt.timedelta(days=60)} 02:00:00+00"

    def add_list(name, kind, value, priority, valid_from=year_start, valid_to=None, active=True) -> int:
        lid = len(lists) + 1
        lists.append(
            f"{lid}\t{name}\t{kind}\t{value if value else chr(92) + 'N'}\t{valid_from or chr(92) + 'N'}\t"
            f"{valid_to or chr(92) + 'N'}\t{priority}\t{'t' if active else 'f'}\tbench\t{stamp}\n"
        )
        return lid

    def sku_rule(lid: int, sku: str, min_qty: int = 1, fixed: bool | None = None) -> None:
        _pid, price, _tax = cat.products[sku]
        if fixed if fixed is not None else rng.random() < 0.5:
            unit = price * rng.randint(80, 97) // 100
            rules.append(f"{len(rules) + 1}\t{lid}\t{sku}\t\\N\t{min_qty}\t{money_text(unit)}\t\\N\n")
        else:
            pct = f"{rng.randint(10, 150) / 10:.3f}"
            rules.append(f"{len(rules) + 1}\t{lid}\t{sku}\t\\N\t{min_qty}\t\\N\t{pct}\n")

    def category_rule(lid: int, category: str, pct_range: tuple[int, int], min_qty: int = 1) -> None:
        pct = f"{rng.randint(*pct_range) / 10:.3f}"
        rules.append(f"{len(rules) + 1}\t{lid}\t\\N\t{category}\t{min_qty}\t\\N\t{pct}\n")

    # all: the standard list (category discounts, volume breaks, SKU promotions), a clearance list of higher
    # priority, and three that resolution must skip (expired, not yet valid, inactive)
    std = add_list("2026 标准价", "all", None, 0)
    for c in categories[:6]:  # helmets and accessories: list price unless a SKU rule applies
        category_rule(std, c, (10, 40))
        category_rule(std, c, (50, 80), min_qty=10)
    for sku in rng.sample(cat.skus, 40):
        sku_rule(std, sku, min_qty=rng.choice((1, 1, 5, 10)))
    clearance = add_list("清仓", "all", None, 5)
    for sku in rng.sample(cat.skus, 20):
        sku_rule(clearance, sku, fixed=True)
    for name, start, end, active in (
        ("春季促销(已过期)", today - dt.timedelta(days=120), today - dt.timedelta(days=30), True),
        ("下季度价格(未生效)", today + dt.timedelta(days=30), None, True),
        ("停用的价目表", None, None, False),
    ):
        lid = add_list(name, "all", None, 10, valid_from=start, valid_to=end, active=active)
        for c in categories:
            category_rule(lid, c, (150, 300))
    # tiers: bigger discounts for A
    for tier, (lo, hi) in {"A": (60, 100), "B": (40, 70), "C": (20, 40)}.items():
        lid = add_list(f"{tier} 级经销商价", "tier", tier, 0)
        for c in rng.sample(categories, 4):
            category_rule(lid, c, (lo, hi))
            category_rule(lid, c, (hi, hi + 30), min_qty=10)
        for sku in rng.sample(cat.skus, 20):
            sku_rule(lid, sku, min_qty=rng.choice((1, 5)))
    # regions (the six) and ten provinces (a deeper region beats its parent)
    for code in REGIONS:
        lid = add_list(f"{code} 区域价", "region", code, rng.randint(0, 3))
        for c in rng.sample(categories, 2):
            category_rule(lid, c, (30, 90))
        for sku in rng.sample(cat.skus, 10):
            sku_rule(lid, sku)
    provinces = [p for _r, (_n, children) in REGIONS.items() for p, _pn in children]
    for code in rng.sample(provinces, 10):
        lid = add_list(f"{code} 省级价", "region", code, 0)
        for sku in rng.sample(cat.skus, 5):
            sku_rule(lid, sku)
    # dealers: 40 of the load with their own list, and the gate dealer (a fixed price for its SKU)
    for d in rng.sample(dealers, 40):
        lid = add_list(f"{d.code} 专属价", "dealer", d.code, 0)
        for sku in rng.sample(cat.skus, 8):
            sku_rule(lid, sku, min_qty=rng.choice((1, 1, 3)))
    lid = add_list(f"{gate.code} 专属价", "dealer", gate.code, 0)
    sku_rule(lid, gate_sku(cat), fixed=True)
    copy_rows(
        conn,
        "price_lists",
        ("id", "name", "scope_kind", "scope_value", "valid_from", "valid_to", "priority", "active", "created_by",
         "created_at"),
        lists,
    )  # fmt: skip
    copy_rows(
        conn,
        "price_rules",
        ("id", "price_list_id", "sku", "category", "min_qty", "unit_price", "discount_pct"),
        rules,
    )
    return len(lists), len(rules)


def gate_sku(cat: Catalogue) -> str:
    return next(s for s in cat.skus if s.startswith("MOT-"))


def load_ledger(conn, rng, dealers: list[Dealer], terms: dict[int, int], today: dt.date) -> dict:
    """Two years of invoices per dealer; each invoice past due (but the last few weeks') paid in full by one
    payment, applied on the payment date. The gate dealer has no ledger at all."""
    start = today - dt.timedelta(days=HISTORY_DAYS)
    ledger: list[str] = []
    apps: list[str] = []
    lid = aid = 0
    counts = Counter()
    for d in dealers:
        n = rng.randint(120, 360)
        days = sorted(rng.randrange(HISTORY_DAYS) for _ in range(n))
        for seq, day in enumerate(days, 1):
            amount = rng.randint(20_000, 500_000) * 100 + rng.randrange(100)
            date = start + dt.timedelta(days=day)
            due = date + dt.timedelta(days=terms[d.id])
            stamp = f"{date} 02:00:00+00"
            lid += 1
            invoice_id = lid
            ledger.append(
                f"{lid}\t{d.id}\tinvoice\tINV{d.id:04d}-{seq:05d}\t{date}\t{due}\t{money_text(amount)}\t"
                f"SO{d.id:04d}-{seq:05d}\t\\N\t\\N\torder\tbench\t{stamp}\n"
            )
            counts["invoices"] += 1
            paid = due + dt.timedelta(days=rng.randint(-10, 15))
            if paid >= today - dt.timedelta(days=1):
                counts["open invoices"] += 1
                continue
            paid = max(paid, date)
            lid += 1
            ledger.append(
                f"{lid}\t{d.id}\tpayment\tPAY{d.id:04d}-{seq:05d}\t{paid}\t\\N\t{money_text(amount)}\t"
                f"\\N\t\\N\t\\N\timport\tbench\t{paid} 02:00:00+00\n"
            )
            counts["payments"] += 1
            aid += 1
            apps.append(
                f"{aid}\t{d.id}\t{lid}\t{invoice_id}\t{money_text(amount)}\t{paid}\t\\N\tbench\t{paid} 02:00:00+00\n"
            )
    copy_rows(
        conn,
        "ledger_entries",
        ("id", "dealer_id", "type", "number", "entry_date", "due_on", "amount", "order_number", "invoice_id",
         "reason", "source", "created_by", "created_at"),
        ledger,
    )  # fmt: skip
    copy_rows(
        conn,
        "applications",
        ("id", "dealer_id", "credit_id", "invoice_id", "amount", "applied_on", "reverses_id", "created_by",
         "created_at"),
        apps,
    )  # fmt: skip
    return dict(counts)


def load_past_orders(conn, rng, dealers: list[Dealer], cat: Catalogue, today: dt.date) -> dict:
    """40 past orders per dealer at list price: delivered, a few rejected or cancelled, the last two still open
    (approved / in production: part of the exposure)."""
    orders: list[str] = []
    lines: list[str] = []
    oid = line_id = 0
    for d in dealers:
        days = sorted(rng.randrange(HISTORY_DAYS) for _ in range(PAST_ORDERS))
        for k, day in enumerate(days):
            oid += 1
            at = dt.datetime.combine(today - dt.timedelta(days=HISTORY_DAYS - day), dt.time(3), dt.UTC)
            status = (
                ("approved", "in_production")[k % 2]
                if k >= PAST_ORDERS - 2
                else rng.choices(("delivered", "rejected", "cancelled"), (90, 4, 6))[0]
            )
            net_total = tax_total = 0
            for n, sku in enumerate(rng.sample(cat.skus, rng.randint(3, 8)), 1):
                pid, price, tax_bp = cat.products[sku]
                qty = rng.randint(1, 20)
                net = price * qty
                tax = half_up(net * tax_bp, 10000)
                net_total += net
                tax_total += tax
                line_id += 1
                lines.append(
                    f"{line_id}\t{oid}\t{n}\t{pid}\t{sku}\t{qty}\t{money_text(price)}\t{money_text(price)}\t"
                    f"{tax_bp / 10000:.4f}\t{money_text(net)}\t{money_text(tax)}\t{money_text(net + tax)}\t\\N\n"
                )
            orders.append(
                f"{oid}\tSO-{at:%Y%m}-{oid:06d}\t{d.id}\t{status}\t{money_text(net_total)}\t{money_text(tax_total)}\t"
                f"{money_text(net_total + tax_total)}\t\\N\t\\N\t\\N\t\\N\tbench\t{at.isoformat()}\n"
            )
    copy_rows(
        conn,
        "orders",
        ("id", "number", "dealer_id", "status", "net", "tax", "gross", "note", "idempotency_key", "request_hash",
         "available_at_submit", "created_by", "created_at"),
        orders,
    )  # fmt: skip
    copy_rows(
        conn,
        "order_lines",
        ("id", "order_id", "line_no", "product_id", "sku", "quantity", "list_price", "unit_price", "tax_rate", "net",
         "tax", "gross", "rule"),
        lines,
    )  # fmt: skip
    return {"past orders": oid, "past order lines": line_id}


def reset_run(url: str, data: Data, gate_limit: int | None = None) -> None:
    """Back to the data as built: the run's orders (lines, events, units and their stage events) and audit entries
    removed."""
    with connect(url) as conn:
        if conn.execute("SELECT to_regclass('units')").fetchone()[0] is not None:
            conn.execute(
                "DELETE FROM stage_events WHERE unit_id IN (SELECT id FROM units WHERE order_id > %s)",
                (data.history_max_order,),
            )
            conn.execute("DELETE FROM units WHERE order_id > %s", (data.history_max_order,))
        conn.execute("DELETE FROM orders WHERE id > %s", (data.history_max_order,))
        if conn.execute("SELECT to_regclass('order_drafts')").fetchone()[0] is not None:
            conn.execute("DELETE FROM order_drafts")  # left by a draft run that stopped half-way
        conn.execute("DELETE FROM audit_log")
        if gate_limit is not None:
            conn.execute("UPDATE dealer_credit SET credit_limit = %s WHERE dealer_id = %s", (gate_limit, data.gate.id))
        conn.commit()
    with connect(url, autocommit=True) as conn:
        for t in ("orders", "order_lines", "order_events", "audit_log", "dealer_credit"):
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(t)))


# ---------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, workers: int):
    """gunicorn with `workers` sync workers on a free port; always stopped on the way out."""
    OUT.mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=url, PORTAL_BENCH_ENDPOINTS="1", SECRET_KEY=secrets.token_hex(32))
    log_path = OUT / f"gunicorn-{workers}w.log"
    # no control socket: its default path (~/.gunicorn/gunicorn.ctl) is shared with any other gunicorn of the user
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
               "--no-control-socket", "portal:create_app()"]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def terminate(signum, frame):  # a SIGTERM to the benchmark still stops gunicorn (through the finally below)
        raise SystemExit(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        wait_ready(proc, port, workers, log_path)
        yield port, proc.pid
    finally:
        stop(proc)
        signal.signal(signal.SIGTERM, previous)


def wait_ready(proc: subprocess.Popen, port: int, workers: int, log_path: Path, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        booted = log_path.read_text().count("Booting worker")
        if booted >= workers:
            with suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/api/v1/openapi.json")
                conn.getresponse().read()
                conn.close()
                return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {limit:.0f} s:\n{log_path.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's master (it stops its workers); SIGKILL to its process group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError), open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """user + system CPU ticks of each process (from /proc/<pid>/stat)."""
    ticks = {}
    for pid in pids:
        with suppress(OSError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def backend_pids(url: str) -> list[int]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        ).fetchall()
    return [r[0] for r in rows]


def with_cpu(url: str, master: int, fn) -> tuple[object, dict[str, float]]:
    """Run fn() and say how much CPU (seconds) gunicorn's workers, the database's backends and this process
    (the HTTP clients) used meanwhile."""
    workers, backends = children(master), backend_pids(url)
    w0, b0, c0 = cpu_ticks(workers), cpu_ticks(backends), time.process_time()
    result = fn()
    c1 = time.process_time()
    w1, b1 = cpu_ticks(workers), cpu_ticks(sorted(set(backends) | set(backend_pids(url))))
    hz = os.sysconf("SC_CLK_TCK")
    return result, {
        "gunicorn workers": sum(t - w0.get(p, 0) for p, t in w1.items()) / hz,
        "PostgreSQL backends": sum(t - b0.get(p, 0) for p, t in b1.items()) / hz,
        "clients (this process)": c1 - c0,
    }


# ---------------------------------------------------------------- HTTP clients


@dataclass
class Request:
    token: str
    key: str
    body: bytes
    dealer_id: int


@dataclass
class Outcome:
    request: Request
    status: int  # 0: no answer (connection error)
    elapsed: float
    answer: dict | None
    started: float = 0.0
    ended: float = 0.0


def post(conn: http.client.HTTPConnection, path: str, req: Request) -> Outcome:
    headers = {"Authorization": f"Bearer {req.token}", "Content-Type": "application/json", "Idempotency-Key": req.key}
    start = time.perf_counter()
    try:
        conn.request("POST", path, body=req.body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return Outcome(req, 0, time.perf_counter() - start, None, start, time.perf_counter())
    end = time.perf_counter()
    if response.will_close:
        conn.close()
    try:
        answer = json.loads(payload) if payload else None
    except ValueError:
        answer = {"raw": payload[:300].decode(errors="replace")}
    return Outcome(req, status, end - start, answer, start, end)


def request_stream(client: int, dealers: list[Dealer], skus: list[str], tag: str):
    """The requests of one client, always the same for a client number: its dealers in turn, a random user of the
    dealer, 5 distinct random SKUs, quantities 1-20."""
    rng = random.Random(SEED * 1000 + client)
    k = 0
    while True:
        d = dealers[k % len(dealers)]
        lines = [{"sku": s, "quantity": rng.randint(1, 20)} for s in rng.sample(skus, LINES_PER_ORDER)]
        body = json.dumps({"lines": lines, "note": f"bench client {client} #{k}"}).encode()
        yield Request(rng.choice(d.tokens), f"bench-{tag}-{client}-{k}", body, d.id)
        k += 1


def run_load(port: int, path: str, data: Data, seconds: float, tag: str, clients: int = CLIENTS) -> dict:
    """`clients` threads post for `seconds`; each starts no new request after the deadline."""
    per_client = [data.dealers[c::clients] for c in range(clients)]
    outcomes: list[list[Outcome]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    start_box: list[float] = []

    def work(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        stream = request_stream(c, per_client[c], data.catalogue.skus, tag)
        barrier.wait()
        deadline = start_box[0] + seconds
        while time.perf_counter() < deadline:
            outcomes[c].append(post(conn, path, next(stream)))
        conn.close()

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    start_box.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join()
    every = [o for per in outcomes for o in per]
    wall = max(o.ended for o in every) - start_box[0]
    ok = [o for o in every if o.status == 201]
    times = [o.elapsed for o in every]
    return {
        "outcomes": every,
        "wall": wall,
        "requests": len(every),
        "ok": len(ok),
        "rate": len(ok) / wall,
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "errors": len(every) - len(ok),
        "statuses": Counter(o.status for o in every),
    }


def describe_errors(result: dict) -> str:
    bad = [o for o in result["outcomes"] if o.status != 201]
    if not bad:
        return ""
    sample = bad[0].answer
    return f" (statuses {dict(result['statuses'])}; first error: {str(sample)[:200]})"


# ---------------------------------------------------------------- checks in the database


def check_orders(app, url: str, data: Data, created: list[Outcome]) -> list[str]:
    """Every 201 made exactly one order (same number, same key, same dealer) and nothing else was made."""
    problems: list[str] = []
    by_number = {o.answer["number"]: o for o in created}
    if len(by_number) != len(created):
        problems.append(f"{len(created) - len(by_number)} responses share an order number")
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT o.number, o.dealer_id, o.idempotency_key, o.status, o.gross,"
            " (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id),"
            " (SELECT sum(gross) FROM order_lines l WHERE l.order_id = o.id),"
            " (SELECT count(*) FROM order_events e WHERE e.order_id = o.id)"
            " FROM orders o WHERE o.id > %s",
            (data.history_max_order,),
        ).fetchall()
        audits = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'order.submit'").fetchone()[0]
    if len(rows) != len(created):
        problems.append(f"{len(rows)} orders in the database for {len(created)} answers 201")
    seen = set()
    for number, dealer_id, key, status, gross, n_lines, line_gross, n_events in rows:
        o = by_number.get(number)
        seen.add(number)
        if o is None:
            problems.append(f"order {number} in the database was never answered 201")
            continue
        if (dealer_id, key) != (o.request.dealer_id, o.request.key):
            sent = f"{o.request.dealer_id}/{o.request.key}"
            problems.append(f"order {number}: dealer/key {dealer_id}/{key} but sent {sent}")
        if n_lines != LINES_PER_ORDER or line_gross != gross or n_events != 2:
            problems.append(f"order {number}: {n_lines} lines (sum {line_gross} vs gross {gross}), {n_events} events")
        if str(gross) != o.answer["gross"] or status != o.answer["status"]:
            answered = f"{o.answer['status']} {o.answer['gross']}"
            problems.append(f"order {number}: answered {answered}, stored {status} {gross}")
    missing = set(by_number) - seen
    if missing:
        problems.append(f"{len(missing)} orders answered 201 are not in the database, e.g. {sorted(missing)[:3]}")
    if audits != len(rows):
        problems.append(f"{audits} order.submit audit entries for {len(rows)} orders")
    problems += check_prices(app, url, data, created)
    return problems


def check_prices(app, url: str, data: Data, created: list[Outcome], sample: int = 40) -> list[str]:
    """The stored prices of a sample of orders are what `quote()` gives for the same lines today."""
    from portal.dealers.models import Dealer as DealerModel
    from portal.extensions import db
    from portal.orders.services import quote

    problems = []
    rng = random.Random(SEED + 7)
    with app.test_request_context():
        for o in rng.sample(created, min(sample, len(created))):
            lines = json.loads(o.request.body)["lines"]
            priced = quote(db.session.get(DealerModel, o.request.dealer_id), lines)
            answered = [(ln["sku"], ln["unit_price"], ln["gross"]) for ln in o.answer["lines"]]
            expected = [(ln["sku"], str(ln["unit_price"]), str(ln["gross"])) for ln in priced["lines"]]
            if answered != expected:
                problems.append(f"order {o.answer['number']}: priced {answered}, quote() gives {expected}")
        db.session.rollback()
    return problems


def pricing_mix(url: str, data: Data) -> dict[str, int]:
    """Which kind of rule priced the run's order lines (None: list price)."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT coalesce(split_part(l.rule->>'scope', ':', 1), 'list price'), count(*) FROM order_lines l"
            " JOIN orders o ON o.id = l.order_id WHERE o.id > %s GROUP BY 1 ORDER BY 2 DESC",
            (data.history_max_order,),
        ).fetchall()
    return dict(rows)


def check_idempotency(port: int, url: str, created: list[Outcome], replays: int = 20) -> list[str]:
    """Replaying a key with its body answers the same order and creates nothing; another body is refused."""
    problems: list[str] = []
    with connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rng = random.Random(SEED + 9)
    chosen = rng.sample(created, min(replays, len(created)))
    for o in chosen:
        again = post(conn, ORDERS_PATH, o.request)
        if again.status != 201 or (again.answer or {}).get("number") != o.answer["number"]:
            problems.append(f"replay of {o.request.key}: {again.status} {str(again.answer)[:120]}")
    first = chosen[0].request
    changed = json.loads(first.body)
    changed["lines"][0]["quantity"] = changed["lines"][0]["quantity"] % 20 + 1
    other = post(conn, ORDERS_PATH, Request(first.token, first.key, json.dumps(changed).encode(), first.dealer_id))
    if other.status != 422:
        problems.append(f"key reused with another body: {other.status} {str(other.answer)[:120]}")
    conn.close()
    with connect(url) as conn:
        after = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    if after != before:
        problems.append(f"replays created {after - before} orders")
    return problems


# ---------------------------------------------------------------- the credit gate


def gate_gross(app, data: Data) -> tuple[str, int, Decimal]:
    """The gate's fixed line and its gross as the app prices it for the gate dealer today."""
    from portal.dealers.models import Dealer as DealerModel
    from portal.extensions import db
    from portal.orders.services import quote

    sku, qty = gate_sku(data.catalogue), 2
    with app.test_request_context():
        priced = quote(db.session.get(DealerModel, data.gate.id), [{"sku": sku, "quantity": qty}])
        db.session.rollback()
    return sku, qty, priced["gross"]


def gate_figures(app, dealer_id: int) -> dict:
    from portal.credit.services import credit_summary
    from portal.dealers.models import Dealer as DealerModel
    from portal.extensions import db

    with app.test_request_context():
        figures = credit_summary(db.session.get(DealerModel, dealer_id))
        db.session.rollback()
    return figures


def run_gate(app, url: str, port: int, data: Data, tag: str) -> dict:
    """50 submissions at the same moment for a dealer whose limit fits exactly 10 of them."""
    sku, qty, gross = gate_gross(app, data)
    limit = gross * GATE_FITS
    reset_run(url, data, gate_limit=limit)  # nothing else open: no ledger, no orders, no increases
    before = gate_figures(app, data.gate.id)
    problems = []
    if before["available"] != limit or before["exposure"] != 0 or before["temporary"] != 0:
        problems.append(f"the gate dealer is not clean before the test: {before}")
    body = json.dumps({"lines": [{"sku": sku, "quantity": qty}]}).encode()
    requests = [
        Request(data.gate.tokens[i % len(data.gate.tokens)], f"gate-{tag}-{i}", body, data.gate.id)
        for i in range(GATE_SUBMISSIONS)
    ]
    outcomes: list[Outcome | None] = [None] * GATE_SUBMISSIONS
    barrier = threading.Barrier(GATE_SUBMISSIONS + 1)

    def work(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        outcomes[i] = post(conn, ORDERS_PATH, requests[i])
        conn.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(GATE_SUBMISSIONS)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = max(o.ended for o in outcomes) - t0
    answered = Counter((o.answer or {}).get("status") if o.status == 201 else f"HTTP {o.status}" for o in outcomes)
    # in lock order (ids are taken after the lock): each order saw every earlier one, approved ones fit
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT number, status, gross, available_at_submit FROM orders WHERE dealer_id = %s ORDER BY id",
            (data.gate.id,),
        ).fetchall()
    approved_sum = Decimal(0)
    peak = Decimal(0)
    for number, status, order_gross, available in rows:
        expected = limit - approved_sum
        if available != expected:
            problems.append(f"{number}: available at submit {available}, expected {expected}")
        if status == "approved":
            if order_gross > available:
                problems.append(f"{number} approved with gross {order_gross} > available {available}")
            approved_sum += order_gross
            peak = max(peak, approved_sum)
        elif status == "credit_review" and order_gross <= available:
            problems.append(f"{number} sent to credit review although it fitted ({order_gross} <= {available})")
    stored = Counter(r[1] for r in rows)
    after = gate_figures(app, data.gate.id)
    if stored != Counter({"approved": GATE_FITS, "credit_review": GATE_SUBMISSIONS - GATE_FITS}):
        problems.append(f"stored statuses {dict(stored)}")
    if answered != stored:
        problems.append(f"answered {dict(answered)} but stored {dict(stored)}")
    if peak > limit or after["exposure"] > limit:
        problems.append(f"exposure above the limit: peak approved {peak}, exposure {after['exposure']} > {limit}")
    if after["available"] != limit - approved_sum:
        problems.append(f"available after {after['available']} != {limit - approved_sum}")
    return {
        "sku": sku,
        "qty": qty,
        "gross": gross,
        "limit": limit,
        "answered": answered,
        "stored": stored,
        "approved_sum": approved_sum,
        "peak": peak,
        "exposure_after": after["exposure"],
        "available_after": after["available"],
        "wall": wall,
        "p50": percentile([o.elapsed for o in outcomes], 50),
        "max": max(o.elapsed for o in outcomes),
        "problems": problems,
    }


# ---------------------------------------------------------------- what the credit gate's lock covers


@contextmanager
def lock_of_credit_row_only():
    """What-if: `lock_credit` with FOR UPDATE OF dealer_credit (the app's statement joins dealers and regions for
    the eager-loaded DealerCredit.dealer → Dealer.region, and a bare FOR UPDATE locks the rows of all three)."""
    from sqlalchemy import select

    from portal.credit import services as credit
    from portal.credit.models import DealerCredit
    from portal.extensions import db

    original = credit.lock_credit

    def lock_credit(dealer):
        stmt = select(DealerCredit).where(DealerCredit.dealer_id == dealer.id).with_for_update(of=DealerCredit)
        return db.session.execute(stmt).unique().scalar_one()

    credit.lock_credit = lock_credit
    try:
        yield
    finally:
        credit.lock_credit = original


def check_lock_scope(app, data: Data) -> list[tuple[str, str, str, float]]:
    """While one transaction holds `lock_credit` for dealer X (as place_order does from the lock to the commit),
    what else has to wait: another dealer of X's province, a dealer of another province, an audit entry for X
    (its foreign key check). lock_timeout 1 s; as the app is and with the lock limited to the credit row."""
    import psycopg.errors
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from portal.credit import services as credit
    from portal.dealers.models import Dealer as DealerModel
    from portal.extensions import db

    by_province: dict[int, list[Dealer]] = defaultdict(list)
    for d in data.dealers:
        by_province[d.region_id].append(d)
    province, members = max(by_province.items(), key=lambda kv: len(kv[1]))
    x, y = members[0], members[1]
    z = next(d for d in data.dealers if d.region_id != province)
    attempts = (
        (f"lock_credit({y.code}): another dealer of the same province", lambda: credit.lock_credit(
            db.session.get(DealerModel, y.id))),
        (f"lock_credit({z.code}): a dealer of another province", lambda: credit.lock_credit(
            db.session.get(DealerModel, z.id))),
        (f"an audit entry for {x.code} (foreign key check)", lambda: db.session.execute(text(
            "INSERT INTO audit_log (at, actor, action, object_type, object_key, dealer_id)"
            " VALUES (now(), 'bench', 'bench.lock', 'bench', 'x', :d)"), {"d": x.id})),
    )  # fmt: skip
    outcomes = []
    for variant, manager in (("as it is", nullcontext), ("FOR UPDATE OF dealer_credit", lock_of_credit_row_only)):
        with manager():
            held, release = threading.Event(), threading.Event()

            def hold(held=held, release=release):
                with app.test_request_context():
                    credit.lock_credit(db.session.get(DealerModel, x.id))
                    held.set()
                    release.wait(30)
                    db.session.rollback()

            holder = threading.Thread(target=hold, daemon=True)
            holder.start()
            held.wait(30)
            for label, attempt in attempts:
                with app.test_request_context():
                    db.session.execute(text("SET LOCAL lock_timeout = '1s'"))
                    start = time.perf_counter()
                    try:
                        attempt()
                        outcome = "went through"
                    except OperationalError as exc:
                        if not isinstance(exc.orig, psycopg.errors.LockNotAvailable):
                            raise
                        outcome = "WAITED (lock timeout)"
                    outcomes.append((variant, label, outcome, time.perf_counter() - start))
                    db.session.rollback()
            release.set()
            holder.join()
    return outcomes


# ---------------------------------------------------------------- one gunicorn configuration


def run_config(app, url: str, data: Data, workers: int, seconds: float) -> dict:
    reset_run(url, data)
    say("")
    say(f"== gunicorn -w {workers} (sync workers), {CLIENTS} clients, {seconds:.0f} s per endpoint; {load()}")
    result: dict = {"workers": workers}
    with gunicorn(url, workers) as (port, master):
        warm_orders = run_load(port, ORDERS_PATH, data, 2, f"w{workers}-warm")
        warm_base = run_load(port, BASELINE_PATH, data, 2, f"w{workers}-warm")
        say(f"  warm-up: {warm_orders['ok']} orders, {warm_base['ok']} baseline calls; {load()}")
        for name, path in (("orders", ORDERS_PATH), ("baseline", BASELINE_PATH)):
            r, cpu = with_cpu(url, master, lambda p=path: run_load(port, p, data, seconds, f"w{workers}"))
            r["cpu"] = cpu
            result[name] = r
            unit = "orders/s" if name == "orders" else "calls/s"
            say(f"  POST {path}: {r['ok']:,} x 201 in {r['wall']:.1f} s = {r['rate']:.1f} {unit}; p50 {ms(r['p50'])},"
                f" p99 {ms(r['p99'])}; {r['errors']} errors{describe_errors(r)}; {load()}")  # fmt: skip
            busy = sum(cpu.values()) / (r["wall"] * (os.cpu_count() or 1))
            say("    CPU per request: " + ", ".join(f"{k} {ms(v / r['requests'])}" for k, v in cpu.items())
                + f" (together {busy * 100:.0f} % of the machine's {os.cpu_count()} cores)")  # fmt: skip
        result["ratio"] = result["orders"]["rate"] / result["baseline"]["rate"]
        say(f"  orders/s / baseline/s = {result['ratio'] * 100:.0f} % (goal >= 50 %)")
        created = [o for r in (warm_orders, result["orders"]) for o in r["outcomes"] if o.status == 201]
        problems = check_orders(app, url, data, created)
        with connect(url) as conn:
            base_rows = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'bench.baseline'").fetchone()[0]
        base_ok = warm_base["ok"] + result["baseline"]["ok"]
        if base_rows != base_ok:
            problems.append(f"{base_rows} baseline rows for {base_ok} answers 201")
        result["mix"] = pricing_mix(url, data)
        problems += check_idempotency(port, url, created)
        result["check"] = problems
        result["created"] = len(created)
        say(f"  database: {len(created):,} answers 201 -> {len(created):,} orders (warm-up included), each with"
            f" {LINES_PER_ORDER} lines and 2 events, gross = sum of its lines, one audit entry each, 40 sampled"
            f" orders priced as quote() prices them, 20 replayed keys created nothing, a key reused with another"
            f" body -> 422: {'all true' if not problems else 'PROBLEMS'}")  # fmt: skip
        for p in problems[:20]:
            say(f"    PROBLEM {p}")
        mix = result["mix"]
        total = sum(mix.values())
        say("  lines priced by: " + ", ".join(f"{k} {v * 100 / total:.0f} %" for k, v in mix.items()))
        g = run_gate(app, url, port, data, f"w{workers}")
        result["gate"] = g
        say(f"  credit gate: {GATE_SUBMISSIONS} simultaneous orders of {g['qty']} x {g['sku']} (gross {g['gross']})"
            f" for {data.gate.code}, limit {g['limit']} = {GATE_FITS} x gross: answered {dict(g['answered'])};"
            f" approved gross {g['approved_sum']} (peak {g['peak']}) <= limit; exposure after {g['exposure_after']},"
            f" available {g['available_after']}; wall {ms(g['wall'])} (per request p50 {ms(g['p50'])},"
            f" max {ms(g['max'])}): {'all true' if not g['problems'] else 'PROBLEMS'}")  # fmt: skip
        for p in g["problems"][:20]:
            say(f"    PROBLEM {p}")
    return result


# ---------------------------------------------------------------- where the time goes (in this process)


def normalise(statement: str) -> str:
    text = " ".join(statement.split())
    text = re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)
    text = re.sub(r"%\([^)]*\)s", "?", text)
    text = re.sub(r"\((?:\?, )*\?\)", "(…)", text)
    text = re.sub(r"VALUES \(…\)(?:, \(…\))+", "VALUES (…), …", text)
    return text[:150]


# (label, module, attribute[, only when]): wrapped at run time in this process only (portal/ is not changed)
SECTIONS = (
    ("auth: principal_for_token", "portal.platform.auth", "principal_for_token"),
    ("place_order", "portal.orders.services", "place_order"),
    ("  quote (check lines, price them)", "portal.orders.services", "quote"),
    ("    _check_lines (products query)", "portal.orders.services", "_check_lines"),
    ("    candidates_for (the rules for these products)", "portal.catalog.pricing", "candidates_for"),
    ("    resolve_with (per line)", "portal.catalog.pricing", "resolve_with"),
    ("  lock_credit (FOR UPDATE)", "portal.credit.services", "lock_credit"),
    ("  credit_summary", "portal.credit.services", "credit_summary"),
    ("  _approved (its hooks: the build-to-order units)", "portal.orders.services", "_approved"),
    ("  record (audit entry)", "portal.orders.services", "record"),
    ("  record (audit entry)", "portal.platform.benchprobe", "record"),
    ("response: OrderSchema.dump", "portal.orders.schemas", "OrderSchema.dump"),
    ("commit", "portal.platform.uow", "commit"),
    ("Session.execute (every ORM query, also inside the above)", "sqlalchemy.orm.session", "Session.execute"),
    ("Session.flush (every call, also inside the above)", "sqlalchemy.orm.session", "Session.flush"),
    (
        "  of which flushes with rows to write",
        "sqlalchemy.orm.session",
        "Session.flush",
        lambda s, *a, **k: not s._is_clean(),
    ),
)


@contextmanager
def timed_sections():
    """Wall time spent in each of SECTIONS (outermost call only when a function re-enters itself)."""
    import functools
    import importlib

    totals: dict[str, float] = defaultdict(float)
    calls: Counter = Counter()
    undo = []
    for label, module_name, attribute, *when in SECTIONS:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
        own = name in vars(owner)  # a class attribute may be inherited: then the wrapper is deleted afterwards
        depth = [0]

        def wrapper(*args, _original=original, _label=label, _depth=depth, _when=when[0] if when else None, **kwargs):
            if _depth[0] or (_when is not None and not _when(*args, **kwargs)):
                return _original(*args, **kwargs)
            _depth[0] += 1
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - start
                calls[_label] += 1
                _depth[0] -= 1

        functools.update_wrapper(wrapper, original)
        setattr(owner, name, wrapper)
        undo.append((owner, name, original, own))
    try:
        yield totals, calls
    finally:
        for owner, name, original, own in reversed(undo):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


# ---------------------------------------------------------------- what would fix it (tried in this process only)


@contextmanager
def without_units():
    """What-if: no build-to-order units made when an order is approved (production's receiver of `order_approved`
    disconnected): what the units of the build line (issue 5) add to an order."""
    from portal.orders.events import order_approved
    from portal.production.services import create_units

    order_approved.disconnect(create_units)
    try:
        yield
    finally:
        order_approved.connect(create_units, weak=False)  # last, as in portal.wiring


@contextmanager
def dealer_from_token():
    """What-if: the caller's dealer as loaded with its token (User.dealer is joined) instead of selecting it
    again through the scope (for a dealer user the scope is that same dealer)."""
    from flask_login import current_user

    from portal.orders import api

    original = api.own_dealer
    api.own_dealer = lambda: current_user.dealer
    try:
        yield
    finally:
        api.own_dealer = original


@contextmanager
def combined(*managers):
    with ExitStack() as stack:
        for manager in managers:
            stack.enter_context(manager)
        yield


def _capturing_app(url: str, **config):
    """The portal on `url` in this process, its test client, and `capture`: while `capture["on"]`, every SQL
    statement run goes to `capture["statements"]` as (statement, parameters, seconds on the client side);
    `capture["stop"]()` stops listening."""
    from sqlalchemy import event

    from portal import create_app
    from portal.config import normalise_database_url
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": normalise_database_url(url), "PASSWORD_HASH_METHOD":
                      "pbkdf2:sha256:1000", "REDIS_URL": None, **config})  # fmt: skip
    with app.app_context():
        engine = db.engine
    capture: dict = {"on": False, "statements": []}
    starts: dict = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        starts[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        if capture["on"]:
            capture["statements"].append((statement, parameters, time.perf_counter() - starts.pop(id(cursor), 0)))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)

    def stop():
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)

    capture["stop"] = stop
    return app, app.test_client(), capture


def profile_in_process(url: str, data: Data, count: int = 300) -> dict:
    """Statements and time per request through the Flask test client: orders (with and without an
    Idempotency-Key) and the baseline; EXPLAIN ANALYZE of the order's reads; a cProfile of the order path."""


    app, client, capture = _capturing_app(url, PORTAL_BENCH_ENDPOINTS=True)

    def calls(path: str, tag: str, with_key: bool, n: int):
        per_client = [data.dealers[c::CLIENTS] for c in range(CLIENTS)]
        streams = [request_stream(c, per_client[c], data.catalogue.skus, tag) for c in range(CLIENTS)]
        for k in range(n):
            req = next(streams[k % CLIENTS])
            headers = {"Authorization": f"Bearer {req.token}"}
            if with_key:
                headers["Idempotency-Key"] = req.key
            yield lambda req=req, headers=headers: client.post(
                path, data=req.body, headers=headers, content_type="application/json"
            )

    out: dict = {}
    kinds = (
        ("orders, Idempotency-Key", ORDERS_PATH, True),
        ("orders, no key", ORDERS_PATH, False),
        ("baseline", BASELINE_PATH, False),
    )
    # interleaved in rounds of 5 requests of each kind (the machine is shared), the first two rounds warm up
    batch = 5
    rounds = count // batch
    streams = {name: calls(path, f"prof-{name}", key, (rounds + 2) * batch) for name, path, key in kinds}
    walls: dict[str, list[float]] = defaultdict(list)
    sql_times: dict[str, list[float]] = defaultdict(list)
    n_statements: dict[str, list[int]] = defaultdict(list)
    per_statement: dict[str, dict[str, list]] = {name: defaultdict(lambda: [0, 0.0, None]) for name, _p, _k in kinds}
    for r in range(rounds + 2):
        for name, path, _key in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            for _ in range(batch):
                capture["statements"] = []
                capture["on"] = True
                start = time.perf_counter()
                response = next(streams[name])()
                took = time.perf_counter() - start
                capture["on"] = False
                if response.status_code != 201:
                    raise SystemExit(f"{path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
                if r < 2:
                    continue
                walls[name].append(took)
                sql_times[name].append(sum(st[2] for st in capture["statements"]))
                n_statements[name].append(len(capture["statements"]))
                for statement, params, spent in capture["statements"]:
                    entry = per_statement[name][normalise(statement)]
                    entry[0] += 1
                    entry[1] += spent
                    entry[2] = (statement, params)
    for name, _path, _key in kinds:
        n = len(walls[name])
        out[name] = {
            "wall": sum(walls[name]) / n,
            "p50": percentile(walls[name], 50),
            "sql": sum(sql_times[name]) / n,
            "statements": sum(n_statements[name]) / n,
            "per_statement": dict(per_statement[name]),
            "n": n,
        }
    # wall time per section of the order path and of the baseline (no profiler: the functions are wrapped)
    for name, path, with_key in (("orders, Idempotency-Key", ORDERS_PATH, True), ("baseline", BASELINE_PATH, False)):
        with timed_sections() as (totals, ncalls):
            start = time.perf_counter()
            for call in calls(path, f"prof-sections-{name}", with_key, count):
                call()
            elapsed = time.perf_counter() - start
        out[name]["sections"] = {k: (v / count, ncalls[k] / count) for k, v in totals.items()}
        out[name]["sections wall"] = elapsed / count
    # what-ifs: orders (with a key) with one change each against the app as it is, interleaved in rounds of 5
    # orders per variant (the machine is shared: interleaving keeps the comparison fair)
    checks: list[str] = []
    variants = (
        ("as it is", nullcontext),
        ("no build-to-order units", without_units),
        ("dealer from the token", dealer_from_token),
        ("both", lambda: combined(without_units(), dealer_from_token())),
    )
    rounds, batch = 30, 5
    streams = {label: calls(ORDERS_PATH, f"prof-whatif-{label}", True, (rounds + 2) * batch) for label, _m in variants}
    walls: dict[str, list[float]] = defaultdict(list)
    for r in range(rounds + 2):  # the first two rounds warm up
        for label, manager in variants[r % len(variants) :] + variants[: r % len(variants)]:
            with manager():
                for _ in range(batch):
                    start = time.perf_counter()
                    response = next(streams[label])()
                    took = time.perf_counter() - start
                    if response.status_code != 201:
                        raise SystemExit(f"what-if {label}: {response.status_code} {response.get_data(as_text=True)}")
                    if r >= 2:
                        walls[label].append(took)
    out["whatifs"] = [
        (label, sum(walls[label]) / len(walls[label]), percentile(walls[label], 50)) for label, _m in variants
    ]
    out["whatif_checks"] = checks
    # cProfile of the order path (with a key), the top functions by own and cumulative time
    profiler = cProfile.Profile()
    profiled = list(calls(ORDERS_PATH, "prof-cprofile", True, 200))
    profiler.enable()
    for call in profiled:
        call()
    profiler.disable()
    OUT.mkdir(exist_ok=True)
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    (OUT / "orders-profile.txt").write_text(buffer.getvalue())
    # EXPLAIN ANALYZE of the reads an order makes, on the data as it stands
    explained = []
    for n, (label, (_count, _total, (statement, params))) in enumerate(
        sorted(out["orders, Idempotency-Key"]["per_statement"].items(), key=lambda kv: -kv[1][1])
    ):
        if not statement.lstrip().upper().startswith("SELECT") or n >= 12:
            continue
        line = save_explain(app, f"orders-statement-{len(explained) + 1:02d}", statement, params)
        explained.append((label, line))
    out["explained"] = explained
    capture["stop"]()
    return out


# ---------------------------------------------------------------- the draft's submit against a direct order


def profile_drafts(url: str, data: Data, rounds: int = 60, batch: int = 5) -> dict:
    """What a dealer's click costs (PRODUCT.md §12): an order placed directly (`POST /api/v1/orders`) against the same
    lines put in the user's draft (`PUT /api/v1/orders/draft`, what the builder saves as the dealer edits) and then
    submitted (`POST /api/v1/orders/draft/submit`, the click). Through the Flask test client in this process (no
    HTTP, no gunicorn), interleaved in rounds of `batch` of each kind in turn (the machine is shared), the first two
    rounds warming up; every order and every submit carries its own Idempotency-Key. Per request: wall time, SQL
    statements and their client-side time.

    Checked afterwards: each submit answered 201 with the draft's lines and left no draft, as many new orders as
    answers 201, and 10 submits replayed with their key answer 200 with the same order and create nothing."""


    app, client, capture = _capturing_app(url)

    def timed(method: str, path: str, headers: dict, body: bytes | None, expect: int) -> tuple[float, int, float, dict]:
        capture["statements"] = []
        capture["on"] = True
        start = time.perf_counter()
        response = client.open(path, method=method, data=body, headers=headers, content_type="application/json")
        took = time.perf_counter() - start
        capture["on"] = False
        if response.status_code != expect:
            answer = response.get_data(as_text=True)[:300]
            raise SystemExit(f"{method} {path} answered {response.status_code}: {answer}")
        sql_time = sum(spent for _statement, _params, spent in capture["statements"])
        return took, len(capture["statements"]), sql_time, response.get_json() or {}

    def stream(tag: str):
        per_client = [data.dealers[c::CLIENTS] for c in range(CLIENTS)]
        streams = [request_stream(c, per_client[c], data.catalogue.skus, tag) for c in range(CLIENTS)]
        for k in itertools.count():
            yield next(streams[k % CLIENTS])

    with connect(url) as conn:
        orders_before = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    kinds = ("direct", "draft")
    streams = {kind: stream(f"drafts-{kind}") for kind in kinds}
    samples: dict[str, list[tuple[float, int, float]]] = defaultdict(list)
    created, submitted, problems = 0, [], []
    for r in range(rounds + 2):
        for kind in kinds[r % 2 :] + kinds[: r % 2]:
            for _ in range(batch):
                req = next(streams[kind])
                auth = {"Authorization": f"Bearer {req.token}"}
                keyed = {**auth, "Idempotency-Key": req.key}
                if kind == "direct":
                    took = timed("POST", ORDERS_PATH, keyed, req.body, 201)
                    measured = {"direct": took[:3]}
                else:
                    lines = json.loads(req.body)["lines"]
                    put = timed("PUT", DRAFT_PATH, auth, json.dumps({"lines": lines}).encode(), 200)
                    sub = timed("POST", SUBMIT_PATH, keyed, None, 201)
                    measured = {"put": put[:3], "submit": sub[:3]}
                    answer = sub[3]
                    got = [(ln["sku"], ln["quantity"]) for ln in answer.get("lines", [])]
                    if got != [(ln["sku"], ln["quantity"]) for ln in lines]:
                        problems.append(f"submit {req.key}: lines {got} are not the draft's")
                    submitted.append((keyed, answer.get("number")))
                created += 1
                if r >= 2:
                    for name, sample in measured.items():
                        samples[name].append(sample)
    for keyed, number in submitted[-10:]:  # replays: the same order, nothing created
        again = timed("POST", SUBMIT_PATH, keyed, None, 200)[3]
        if again.get("number") != number:
            problems.append(f"replayed submit answered {again.get('number')}, not {number}")
    capture["stop"]()
    with connect(url) as conn:
        orders_after = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        drafts_left = conn.execute("SELECT count(*) FROM order_drafts").fetchone()[0]
    if orders_after - orders_before != created:
        problems.append(f"{orders_after - orders_before} new orders for {created} answers 201")
    if drafts_left:
        problems.append(f"{drafts_left} drafts left after their submit")

    def figures(values: list[tuple[float, int, float]]) -> dict:
        walls = [v[0] for v in values]
        return {"n": len(values), "mean": statistics.fmean(walls), "p50": percentile(walls, 50),
                "p95": percentile(walls, 95), "statements": statistics.fmean(v[1] for v in values),
                "sql": statistics.fmean(v[2] for v in values)}  # fmt: skip

    out = {name: figures(values) for name, values in samples.items()}
    click = [(p[0] + s[0], p[1] + s[1], p[2] + s[2]) for p, s in zip(samples["put"], samples["submit"], strict=True)]
    out["put + submit"] = figures(click)
    direct = out["direct"]
    out["ratios"] = {name: (out[name]["p50"] / direct["p50"], out[name]["mean"] / direct["mean"])
                     for name in ("submit", "put + submit")}  # fmt: skip
    out["problems"] = problems
    out["rounds"], out["batch"] = rounds, batch
    return out


def report_drafts(result: dict) -> None:
    rows = []
    labels = {"direct": f"POST {ORDERS_PATH}", "put": f"PUT {DRAFT_PATH}", "submit": f"POST {SUBMIT_PATH}",
              "put + submit": "PUT draft + POST draft/submit"}  # fmt: skip
    for name, label in labels.items():
        f = result[name]
        ratio = result["ratios"].get(name)
        rows.append([label, ms(f["p50"]), ms(f["mean"]), ms(f["p95"]), f"{f['statements']:.1f}", ms(f["sql"]),
                     f"{ratio[0]:.2f}x / {ratio[1]:.2f}x" if ratio else "-"])  # fmt: skip
    say(table(["request", "p50", "mean", "p95", "statements", "in SQL", "÷ direct (p50 / mean)"], rows))
    submit_p50 = result["ratios"]["submit"][0]
    verdict = "met" if submit_p50 <= DRAFT_GOAL else "NOT met"
    say(f"  goal: the submit <= {DRAFT_GOAL}x the direct order (p50): {submit_p50:.2f}x, {verdict}; with the PUT before"
        f" it {result['ratios']['put + submit'][0]:.2f}x. Checks (lines, no draft left, one order per 201, replays):"
        f" {'all true' if not result['problems'] else 'PROBLEMS'}")  # fmt: skip
    for p in result["problems"][:20]:
        say(f"    PROBLEM {p}")


# ---------------------------------------------------------------- the run


def run(
    quick: bool = False,
    seconds: float | None = None,
    workers: tuple[int, ...] | None = None,
    drafts_only: bool = False,
) -> dict:
    url = database_url()
    started = time.perf_counter()
    seconds = seconds or (10 if quick else 30)
    workers = workers or ((2,) if quick else (2, 4))
    ensure_database(url)
    app = make_app(url)
    from portal.platform.timeutil import today as portal_today

    with app.app_context():
        today = portal_today()
    settings = server_settings(url)
    say("=" * 100)
    say(f"orders benchmark  database {url}  PostgreSQL {settings['server_version']}")
    say(f"  shared_buffers {settings['shared_buffers']}, work_mem {settings['work_mem']}, jit {settings['jit']};"
        f" {os.cpu_count()} cores, Python {python_version()}; gunicorn workers {', '.join(map(str, workers))};"
        f" {CLIENTS} clients x {seconds:.0f} s per endpoint; {load()}")  # fmt: skip
    results: dict = {"timings": {}, "configs": [], "seconds": seconds}
    data = build_data(app, url, today, results["timings"])
    if drafts_only:
        results["drafts"] = run_drafts(url, data, quick)
        reset_run(url, data)
        say(f"  whole run: {time.perf_counter() - started:.0f} s; {load()}")
        return results
    for w in workers:
        results["configs"].append(run_config(app, url, data, w, seconds))
    reset_run(url, data)
    say("")
    say(f"== what the credit gate's lock holds while an order of dealer X is being placed (in this process); {load()}")
    results["locks"] = check_lock_scope(app, data)
    for variant, label, outcome, took in results["locks"]:
        say(f"  {variant:<28} {label:<58} {outcome} after {ms(took)}")
    say("")
    say(f"== in this process (Flask test client, no HTTP, no gunicorn), 300 requests each; {load()}")
    prof = profile_in_process(url, data)
    results["profile"] = prof
    report_profile(prof)
    reset_run(url, data)
    results["drafts"] = run_drafts(url, data, quick)
    reset_run(url, data)
    results["total"] = time.perf_counter() - started
    summary(results)
    return results


def run_drafts(url: str, data: Data, quick: bool) -> dict:
    rounds = 20 if quick else 60
    say("")
    say(f"== a draft's submit against the same order placed directly (in this process, Flask test client, {rounds} x 5"
        f" of each, interleaved); {load()}")  # fmt: skip
    result = profile_drafts(url, data, rounds=rounds)
    report_drafts(result)
    return result


def report_profile(prof: dict) -> None:
    rows = []
    for name in ("orders, Idempotency-Key", "orders, no key", "baseline"):
        p = prof[name]
        rows.append([name, ms(p["wall"]), ms(p["p50"]), ms(p["sql"]), f"{p['statements']:.1f}",
                     ms(p["wall"] - p["sql"])])  # fmt: skip
    say(table(["request", "mean", "p50", "in SQL (client side)", "statements", "outside SQL"], rows))
    orders = prof["orders, Idempotency-Key"]
    say("  statements of one order (with a key), by total time:")
    n = orders["n"]
    for label, (count_, total, _example) in sorted(orders["per_statement"].items(), key=lambda kv: -kv[1][1]):
        say(f"    {count_ / n:4.1f} x {ms(total / count_):>8} = {ms(total / n):>8}  {label}")
    for name in ("orders, Idempotency-Key", "baseline"):
        p = prof[name]
        say(f"  where the time of one request goes ({name}, {ms(p['sections wall'])} a request in this pass):")
        for label in dict.fromkeys(section[0] for section in SECTIONS):
            if label in p["sections"]:
                took, n = p["sections"][label]
                say(f"    {ms(took):>9}  {label}{f'  ({n:.1f} calls)' if n != 1 else ''}")
    say("  cProfile of 200 orders -> bench/out/orders-profile.txt")
    whatifs = prof["whatifs"]
    base = whatifs[0][2]
    baseline = prof["baseline"]["p50"]
    problems = "; ".join(prof["whatif_checks"])
    say(f"  what-ifs (150 orders each, interleaved, in this process; baseline call p50 {ms(baseline)}; changes made"
        f" at run time here, portal/ untouched){': ' + problems if problems else ''}")  # fmt: skip
    for label, mean, p50 in whatifs:
        say(f"    {label:<34} p50 {ms(p50):>9}  mean {ms(mean):>9}  ({(p50 - base) * 1000:+.1f} ms;"
            f" baseline time / order time {baseline / p50 * 100:.0f} %)")  # fmt: skip
    for label, line in prof["explained"]:
        say(f"  EXPLAIN ANALYZE {label[:90]}: {line}")


def summary(results: dict) -> None:
    say("")
    say("=" * 100)
    say(f"SUMMARY (orders; {load()} at the end)")
    rows = []
    for r in results["configs"]:
        o, b = r["orders"], r["baseline"]
        rows.append(
            [
                f"-w {r['workers']}",
                f"{o['rate']:.1f}",
                ms(o["p50"]),
                ms(o["p99"]),
                str(o["errors"]),
                f"{b['rate']:.1f}",
                ms(b["p50"]),
                ms(b["p99"]),
                str(b["errors"]),
                f"{r['ratio'] * 100:.0f} %",
                "yes" if not r["check"] else "NO",
            ]
        )
    say(
        table(
            ["gunicorn", "orders/s", "p50", "p99", "errors", "baseline/s", "p50", "p99", "errors", "ratio", "checks"],
            rows,
        )
    )
    for r in results["configs"]:
        g = r["gate"]
        say(f"  credit gate -w {r['workers']}: {dict(g['answered'])}, approved {g['approved_sum']} of limit"
            f" {g['limit']}, wall {ms(g['wall'])}: {'ok' if not g['problems'] else 'PROBLEMS'}")  # fmt: skip
    for variant, label, outcome, _took in results["locks"]:
        if "another dealer" in label or "audit" in label:
            say(f"  while an order holds the credit lock, {variant}: {label.split(': ')[-1]} {outcome}")
    p = results["profile"]
    o = p["orders, Idempotency-Key"]
    say(f"  in-process order {ms(o['wall'])} ({o['statements']:.0f} statements), baseline"
        f" {ms(p['baseline']['wall'])} ({p['baseline']['statements']:.0f} statements)")  # fmt: skip
    d = results["drafts"]
    submit, click = d["ratios"]["submit"][0], d["ratios"]["put + submit"][0]
    say(f"  draft submit {ms(d['submit']['p50'])} vs direct order {ms(d['direct']['p50'])} (p50): {submit:.2f}x"
        f" (goal <= {DRAFT_GOAL}x); PUT + submit {click:.2f}x")  # fmt: skip
    t = results["timings"]
    say(f"  data: {t['data total']:.1f} s; whole run: {results['total']:.0f} s")


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    workers = tuple(int(w) for w in args.workers.split(",")) if args.workers else None
    run(quick=args.quick, seconds=args.seconds, workers=workers, drafts_only=args.drafts_only)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --orders-only")
    p.add_argument("--quick", action="store_true", help="2 workers only, 10 s per endpoint")
    p.add_argument("--seconds", type=float, help="seconds of load per endpoint (default 30, quick 10)")
    p.add_argument("--workers", help="gunicorn worker counts, comma-separated (default 2,4; quick 2)")
    p.add_argument("--drafts-only", action="store_true",
                   help="build the data, then only a draft's submit against a direct order (in process)")  # fmt: skip
    return p
