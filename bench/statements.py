"""Statements benchmark (PRODUCT.md §6): a monthly statement run on real RQ workers, against bare ReportLab.

The data (built through the app's migrations, loaded with COPY, one seeded `random.Random`, money in integer
cents): the region tree of the receivables benchmark, 1,000 dealers (Chinese names, one in ten very long) with a
`dealer_credit` row and one dealer_admin user each (with an e-mail address: issuing notifies them), and a finance
user who starts the run. Each dealer's ledger: a few invoices and payments in July and August (so the opening
balance and the ageing are not empty), then exactly 40 entries dated in the stated month, 2026-09: invoices (a
unique number, `due_on` = date + the dealer's terms, the order number as reference), payments (bank references,
some long enough to wrap) and one to three credit notes against an invoice of the month (a reason as reference,
some long). Applications are made as `portal.credit.services` makes them when the documents are posted one after
the other: a credit note first goes to its own invoice, then every credit goes to the oldest open invoices,
`applied_on` = the later of the two documents' dates; what is left is unapplied cash, taken by the next invoice.

Measured:

1. In this process, one dealer job's parts (50 dealers, each rolled back): `issue` (with its SQL statements),
   `document`, `render_statement`, writing the file.
2. End to end: 2 `flask --app portal worker --no-cron` processes (inline SimpleWorker, the default) on a real Redis;
   the run is started through `runs.start_run` (finance user) and committed, which queues the fan-out job; timed
   until the run's JobRecord is `finished` (polled every 50 ms). Statements/s = dealers / seconds. Each worker's
   RSS (with any children) is sampled every ~100 ms, and its VmHWM read at the end; the CPU the workers and the
   PostgreSQL backends used. Then checked in the database and the storage folder: one statement (version 1) and
   one PDF per dealer, 40 lines each, closing = opening + debits - credits, opening and closing = the ledger
   balance at the two month ends, debits and credits = the lines' sums, ageing total = closing.
3. Baseline, same run: the same statements' `document()` dicts built from the database (not timed), then
   `render_statement(doc)` for all of them one after the other in this process (no database, no queue, no file).
   Ratio = end-to-end seconds / baseline seconds; the goal is <= 1.5x.
4. A single statement of 2,000 lines (another dealer, loaded after the run): `issue` + `store_pdf` + commit in
   this process, its pages, and the bare render of the same document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    cents,
    connect,
    copy_rows,
    database_url,
    ensure_database,
    load,
    ms,
    python_version,
    reset_schema,
    reset_sequences,
    say,
    server_settings,
    stopwatch,
    table,
)
from bench.orders import backend_pids, children, cpu_ticks
from bench.receivables import copy_regions, plan_regions

SEED = 6  # PRODUCT.md §6
DEALERS = 1_000
QUICK_DEALERS = 100
ENTRIES = 40  # ledger entries per dealer in the stated month
BIG_LINES = 2_000  # the single large statement
WORKERS = 2
PERIOD = "2026-09"
MONTH_START, MONTH_END = dt.date(2026, 9, 1), dt.date(2026, 9, 30)
HISTORY_START = dt.date(2026, 7, 1)  # July and August: the opening balance and older invoices for the ageing
BREAKDOWN = 50  # dealers whose job is taken apart in this process
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
PASSWORD = "bench-pass-2026"  # noqa: S105  (the benchmark users' password, never used to log in)
TERMS = (30, 30, 45, 60, 60, 90)
CHANNELS = ("4s_store", "chain", "department_store", "franchise", "specialty")
BRANDS = ("远航", "华驰", "恒通", "东风顺", "金桥", "瑞丰", "宏达", "中汇", "鑫源", "长城路")
BANKS = ("ICBC", "CCB", "BOC", "ABC", "CMB", "BCM")
CN_REASONS = (
    "价格调整",
    "退货",
    "运输损坏补偿",
    "九月促销返利补差",
    "季度返利：按 2026 年第三季度实际提车量计算的阶梯返利，含新能源车型额外奖励部分",
    "质量问题折让（经销商索赔单已审批，详见售后系统）",
)
LEDGER_COLUMNS = (
    "id", "dealer_id", "type", "number", "entry_date", "due_on", "amount", "order_number",
    "invoice_id", "reason", "source", "created_by", "created_at",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "id", "dealer_id", "credit_id", "invoice_id", "amount", "applied_on", "reverses_id", "created_by", "created_at",
)  # fmt: skip


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS


@dataclass
class DealerPlan:
    id: int
    code: str
    name: str
    region_id: int
    terms: int


@dataclass
class Ids:
    ledger: int = 0
    application: int = 0
    user: int = 0


# ---------------------------------------------------------------- data


def plan_dealers(rng: random.Random, n: int, first_id: int = 1, seen: dict | None = None) -> list[DealerPlan]:
    """`n` dealers spread unevenly over the provinces; one in ten with a very long name."""
    _regions, provinces = plan_regions()
    weights = [random.Random(SEED).randint(1, 10) for _ in provinces]
    seen = {} if seen is None else seen
    dealers = []
    for i in range(first_id, first_id + n):
        pid, pcode, pname = rng.choices(provinces, weights)[0]
        seen[pcode] = seen.get(pcode, 0) + 1
        k = seen[pcode]
        brand = rng.choice(BRANDS)
        if i % 10 == 0:
            name = (f"{pname}{brand}汽车销售服务有限公司第{k}分公司（{pname}省级授权经销商·新能源与传统燃油车型"
                    f"整车销售、售后服务、配件供应及二手车置换综合服务中心）")  # fmt: skip
        else:
            name = f"{pname}{brand}汽车销售服务有限公司{k:03d}"
        dealers.append(DealerPlan(i, f"{pcode}-{k:03d}", name[:200], pid, rng.choice(TERMS)))
    return dealers


def load_dealers(conn, dealers: list[DealerPlan], ids: Ids, created: str) -> None:
    """Dealers, their credit rows and one dealer_admin each (with an e-mail address: issuing notifies them)."""
    from werkzeug.security import generate_password_hash

    copy_rows(
        conn,
        "dealers",
        ("id", "code", "name", "region_id", "tier", "channel_type", "payment_terms_days", "status",
         "contact_name", "contact_phone", "contact_email", "address", "created_at"),
        (
            f"{d.id}\t{d.code}\t{d.name}\t{d.region_id}\t{'ABC'[d.id % 3]}\t{CHANNELS[d.id % len(CHANNELS)]}\t"
            f"{d.terms}\tactive\t联系人{d.id}\t139{d.id:08d}\tdealer{d.id}@example.cn\t"
            f"{d.name[:20]}工业园区创业大道 {d.id} 号\t{created}\n"
            for d in dealers
        ),
    )  # fmt: skip
    copy_rows(
        conn,
        "dealer_credit",
        ("dealer_id", "credit_limit", "on_hold", "hold_source", "hold_reason", "held_at", "held_by"),
        (f"{d.id}\t50000000.00\tf\t\\N\t\\N\t\\N\t\\N\n" for d in dealers),
    )
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    users = []
    for d in dealers:
        ids.user += 1
        name = f"{d.code.lower()}.admin"
        users.append(
            f"{ids.user}\t{name}\t{d.code} 管理员\t{name}@example.cn\t{password_hash}\tdealer_admin\t{d.id}\t\\N\t"
            f"{'en' if d.id % 5 == 0 else 'zh_CN'}\tt\t{created}\t{created}\t{secrets.token_hex(16)}\n"
        )
    copy_users(conn, users)


def copy_users(conn, users: list[str]) -> None:
    copy_rows(
        conn,
        "users",
        ("id", "username", "display_name", "email", "password_hash", "role", "dealer_id", "region_id", "locale",
         "active", "created_at", "password_changed_at", "session_key"),
        users,
    )  # fmt: skip


def month_plan(rng: random.Random, entries: int) -> list[tuple[dt.date, str]]:
    """The month's documents (date, kind), in posting order: about 60 % invoices, 5 % credit notes (1 to 3 for
    40 entries), the rest payments."""
    notes = rng.randint(1, 3) if entries <= 100 else entries // 20
    payments = entries * rng.randint(30, 40) // 100
    kinds = ["invoice"] * (entries - notes - payments) + ["payment"] * payments + ["credit_note"] * notes
    days = sorted(rng.randrange(30) for _ in range(entries))
    rng.shuffle(kinds)
    docs = [(MONTH_START + dt.timedelta(days=day), kind) for day, kind in zip(days, kinds, strict=True)]
    # a credit note needs an invoice of the month before it
    first_invoice = next((i for i, (_d, k) in enumerate(docs) if k == "invoice"), None)
    for i, (day, kind) in enumerate(docs):
        if kind == "credit_note" and (first_invoice is None or i < first_invoice):
            docs[i] = (day, "payment")
    return docs


def history_plan(rng: random.Random) -> list[tuple[dt.date, str]]:
    """July and August: 3-5 invoices and 1-3 payments (the opening balance, and invoices old enough to be due)."""
    docs = [(HISTORY_START + dt.timedelta(days=rng.randrange(45)), "invoice") for _ in range(rng.randint(3, 5))]
    docs += [(HISTORY_START + dt.timedelta(days=rng.randrange(30, 62)), "payment") for _ in range(rng.randint(1, 3))]
    return sorted(docs)


def dealer_ledger(rng: random.Random, d: DealerPlan, docs, ids: Ids, lbuf: list[str], abuf: list[str]) -> dict:
    """The dealer's documents posted one after the other, with the applications `auto_apply` would make."""
    open_invoices: deque = deque()  # [id, residual cents]; oldest due first (one term per dealer: posting order)
    open_credits: deque = deque()  # [id, unapplied cents]; oldest first
    month_invoices: list[list] = []  # [id, amount, residual holder] of the month, for the credit notes
    seq = {"invoice": 0, "payment": 0, "credit_note": 0}
    counts = {"invoice": 0, "payment": 0, "credit_note": 0}

    def apply(credit_id: int, invoice_id: int, take: int, on: dt.date) -> None:
        ids.application += 1
        abuf.append(f"{ids.application}\t{d.id}\t{credit_id}\t{invoice_id}\t{cents(take)}\t{on}\t\\N\tbench\t"
                    f"{on} 03:00:00+00\n")  # fmt: skip

    def settle_credit(credit_id: int, amount: int, on: dt.date) -> None:
        while open_invoices and amount:
            invoice = open_invoices[0]
            take = min(amount, invoice[1])
            apply(credit_id, invoice[0], take, on)
            amount -= take
            invoice[1] -= take
            if not invoice[1]:
                open_invoices.popleft()
        if amount:
            open_credits.append([credit_id, amount])

    for on, kind in docs:
        seq[kind] += 1
        counts[kind] += 1
        ids.ledger += 1
        lid, stamp = ids.ledger, f"{on} 02:00:00+00"
        if kind == "invoice":
            amount = rng.randint(8_000, 400_000) * 100 + rng.randrange(100)
            number = f"INV{d.id:04d}-{seq[kind]:05d}"
            lbuf.append(f"{lid}\t{d.id}\tinvoice\t{number}\t{on}\t{on + dt.timedelta(days=d.terms)}\t{cents(amount)}\t"
                        f"SO{on:%y%m}-{d.id:04d}-{seq[kind]:04d}\t\\N\t\\N\terp\tbench\t{stamp}\n")  # fmt: skip
            invoice = [lid, amount]
            while open_credits and invoice[1]:  # unapplied cash (a prepayment) goes to the new invoice
                credit = open_credits[0]
                take = min(invoice[1], credit[1])
                apply(credit[0], lid, take, on)
                invoice[1] -= take
                credit[1] -= take
                if not credit[1]:
                    open_credits.popleft()
            if invoice[1]:
                open_invoices.append(invoice)
            if on >= MONTH_START:
                month_invoices.append([lid, amount, invoice])
        elif kind == "payment":
            if open_invoices:  # pays its oldest 1-3 invoices, one time in five only part of them
                amount = sum(inv[1] for inv in list(open_invoices)[: rng.randint(1, 3)])
                if rng.randrange(5) == 0:
                    amount = max(100, amount * rng.randint(40, 95) // 100)
            else:  # paying ahead
                amount = rng.randint(5_000, 100_000) * 100
            bank = BANKS[(d.id + seq[kind]) % len(BANKS)]
            number = (f"{bank}{on:%Y%m%d}{d.id:05d}{seq[kind]:04d}{rng.randrange(10**6):06d}" if seq[kind] % 3 == 0
                      else f"{bank}-{on:%m%d}-{seq[kind]:04d}")  # fmt: skip
            lbuf.append(f"{lid}\t{d.id}\tpayment\t{number}\t{on}\t\\N\t{cents(amount)}\t\\N\t\\N\t\\N\timport\t"
                        f"bench\t{stamp}\n")  # fmt: skip
            settle_credit(lid, amount, on)
        else:  # a credit note against one of the month's invoices: first to that invoice, the rest like cash
            target_id, target_amount, target = rng.choice(month_invoices)
            amount = max(100, target_amount * rng.randint(2, 10) // 100)
            reason = rng.choice(CN_REASONS)
            lbuf.append(f"{lid}\t{d.id}\tcredit_note\tCN-{on:%Y%m}-{lid:06d}\t{on}\t\\N\t{cents(amount)}\t\\N\t"
                        f"{target_id}\t{reason}\tportal\tbench\t{stamp}\n")  # fmt: skip
            if target[1] > 0:
                take = min(amount, target[1])
                apply(lid, target_id, take, on)
                amount -= take
                target[1] -= take
                if not target[1]:
                    open_invoices.remove(target)
            settle_credit(lid, amount, on)
    return counts


def load_ledger(conn, rng: random.Random, dealers: list[DealerPlan], entries: int, ids: Ids) -> dict:
    lbuf: list[str] = []
    abuf: list[str] = []
    totals = {"invoice": 0, "payment": 0, "credit_note": 0, "month": 0}
    for d in dealers:
        month = month_plan(rng, entries)
        counts = dealer_ledger(rng, d, [*history_plan(rng), *month], ids, lbuf, abuf)
        for k, v in counts.items():
            totals[k] += v
        totals["month"] += len(month)
    first_application = ids.application - len(abuf) + 1
    copy_rows(conn, "ledger_entries", LEDGER_COLUMNS, lbuf)
    copy_rows(conn, "applications", APPLICATION_COLUMNS, abuf)
    totals["applications"] = ids.application - first_application + 1
    return totals


def build_data(app, url: str, n_dealers: int, timings: dict) -> dict:
    rng = random.Random(SEED)
    t_all = time.perf_counter()
    with stopwatch("schema (drop, alembic upgrade)", timings):
        reset_schema(app, url)
    created = f"{HISTORY_START - dt.timedelta(days=400)} 02:00:00+00"
    regions, _provinces = plan_regions()
    ids = Ids()
    seen: dict = {}
    dealers = plan_dealers(rng, n_dealers, seen=seen)
    t0 = time.perf_counter()
    with connect(url) as conn:
        copy_regions(conn, regions, created)
        load_dealers(conn, dealers, ids, created)
        ids.user += 1
        copy_users(conn, [f"{ids.user}\tbench.finance\t财务 Finance\tfinance@example.cn\tx\tfinance\t\\N\t\\N\tzh_CN\t"
                          f"t\t{created}\t{created}\t{secrets.token_hex(16)}\n"])  # fmt: skip
        counts = load_ledger(conn, rng, dealers, ENTRIES, ids)
        conn.commit()
        reset_sequences(conn, ("regions", "dealers", "users", "ledger_entries", "applications"))
        finance_id = ids.user
    timings["generate + COPY"] = time.perf_counter() - t0
    say(f"  generate + COPY: {timings['generate + COPY']:.1f} s")
    with stopwatch("VACUUM ANALYZE", timings), connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    timings["data total"] = time.perf_counter() - t_all
    say(f"  data ready in {timings['data total']:.1f} s: {n_dealers:,} dealers, {counts['month']:,} entries in"
        f" {PERIOD} ({counts['invoice']:,} invoices, {counts['payment']:,} payments, {counts['credit_note']:,}"
        f" credit notes in all, July-September), {counts['applications']:,} applications")  # fmt: skip
    return {"dealers": dealers, "ids": ids, "seen": seen, "rng": rng, "finance_id": finance_id, "counts": counts,
            "created": created}  # fmt: skip


def load_big_dealer(url: str, data: dict) -> tuple[DealerPlan, dict]:
    """One more dealer with BIG_LINES entries in the month (loaded after the run, so the run does not include it)."""
    ids: Ids = data["ids"]
    big = plan_dealers(data["rng"], 1, first_id=len(data["dealers"]) + 1, seen=data["seen"])[0]
    with connect(url) as conn:
        load_dealers(conn, [big], ids, data["created"])
        counts = load_ledger(conn, data["rng"], [big], BIG_LINES, ids)
        conn.commit()
        reset_sequences(conn, ("dealers", "users", "ledger_entries", "applications"))
        for t in ("ledger_entries", "applications"):
            conn.execute(f"ANALYZE {t}")
        conn.commit()
    return big, counts


# ---------------------------------------------------------------- the app in this process


def bench_app(url: str, redis: str | None, storage: Path):
    """The portal on the benchmark database, queueing to `redis` and keeping files in `storage`."""
    from portal import create_app
    from portal.config import normalise_database_url

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "REDIS_URL": redis,
            "PORTAL_STORAGE": str(storage),
            "MAIL_SERVER": None,
        }
    )


@contextmanager
def sql_counter(app, per_statement: dict | None = None):
    """Count the SQL statements run and their client-side time (SQLAlchemy cursor events) while inside; with
    `per_statement`, also per statement shape: {label: [count, seconds]}."""
    from sqlalchemy import event

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    stats = {"n": 0, "s": 0.0}
    starts: list[float] = []

    def before(*_args):
        starts.append(time.perf_counter())

    def after(_conn, _cursor, statement, *_args):
        took = time.perf_counter() - starts.pop()
        stats["n"] += 1
        stats["s"] += took
        if per_statement is not None:
            entry = per_statement.setdefault(label_of(statement), [0, 0.0])
            entry[0] += 1
            entry[1] += took

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def label_of(statement: str) -> str:
    """A short name for a SQL statement: its verb and main table (e.g. "SELECT ledger_entries", "INSERT
    statement_lines"), and whether it locks."""
    words = " ".join(statement.split())
    verb = words.split(" ", 1)[0].upper()
    upper = words.upper()
    if verb in ("INSERT", "UPDATE", "DELETE"):
        target = words.split(" ")[2 if verb != "UPDATE" else 1]
    else:  # the first table read (not a subquery)
        tables = [w.split(" ")[0] for w in words.split(" FROM ")[1:]]
        target = next((t for t in tables if t and not t.startswith("(")), "?")
    lock = " FOR UPDATE" if "FOR UPDATE" in upper else (" FOR NO KEY UPDATE" if "FOR NO KEY" in upper else "")
    return f"{verb} {target}{lock}"


def measure_breakdown(app, dealers: list[DealerPlan], scratch: Path, results: dict) -> None:
    """One dealer job taken apart, in this process, for BREAKDOWN dealers (each rolled back): issue (and its SQL),
    document, render, writing the file; what the worker does minus the queue, the run items and the commit."""
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.platform.pdf import cjk_font
    from portal.statements import services
    from portal.statements.pdf import render_statement

    parts: dict[str, list[float]] = {"issue": [], "issue SQL": [], "document": [], "render": [], "write": []}
    statements_per_issue = []
    per_statement: dict[str, list] = {}
    with app.app_context():
        cjk_font()
        sample = dealers[:: max(1, len(dealers) // BREAKDOWN)][:BREAKDOWN]
        for i, d in enumerate([sample[0], *sample]):  # the first one again as a warm-up, not counted
            dealer = db.session.get(Dealer, d.id)
            with sql_counter(app, per_statement if i else None) as counted:
                t0 = time.perf_counter()
                statement, outcome = services.issue("bench", dealer, PERIOD)
                t1 = time.perf_counter()
            assert outcome == "issued", outcome
            doc = services.document(statement)
            t2 = time.perf_counter()
            pdf, _pages = render_statement(doc)
            t3 = time.perf_counter()
            target = scratch / f"{d.code}.pdf"
            target.write_bytes(pdf)
            t4 = time.perf_counter()
            db.session.rollback()
            if i:
                for key, took in zip(parts, (t1 - t0, counted["s"], t2 - t1, t3 - t2, t4 - t3), strict=True):
                    parts[key].append(took)
                statements_per_issue.append(counted["n"])
        db.session.remove()
    results["breakdown"] = {k: statistics.mean(v) for k, v in parts.items()}
    results["breakdown statements"] = statistics.mean(statements_per_issue)
    results["issue SQL"] = {k: (c / len(sample), t / len(sample)) for k, (c, t) in per_statement.items()}
    b = results["breakdown"]
    total = b["issue"] + b["document"] + b["render"] + b["write"]
    say(f"  one dealer job in this process (mean of {len(sample)}, rolled back): issue {ms(b['issue'])}"
        f" ({results['breakdown statements']:.0f} statements, {ms(b['issue SQL'])} of it in SQL client-side),"
        f" document {ms(b['document'])}, render {ms(b['render'])}, write {ms(b['write'])};"
        f" total {ms(total)} (render {b['render'] / total * 100:.0f} %)")  # fmt: skip
    say("  the SQL of one issue, by client-side time (statements per issue x mean = per issue):")
    for label, (count, took) in sorted(results["issue SQL"].items(), key=lambda kv: -kv[1][1])[:8]:
        say(f"    {count:4.1f} x {ms(took / count):>8} = {ms(took):>8}  {label}")


# ---------------------------------------------------------------- workers


def status_kb(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in kB (VmRSS, VmHWM); 0 when the process is gone."""
    with suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def machine_ticks() -> tuple[int, int]:
    """(busy, iowait) CPU ticks of the whole machine since boot, from /proc/stat (every core together)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return user + nice + system + irq + softirq + steal, iowait


def pss_kb(pid: int) -> int:
    """Proportional set size (shared pages divided among the processes sharing them), from smaps_rollup."""
    with suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


@contextmanager
def workers(url: str, redis: str, storage: Path, count: int):
    """`count` `flask --app portal worker --no-cron` processes, ready (registered in Redis) when this yields;
    always stopped on the way out (SIGTERM, then SIGKILL to their own process groups)."""
    from redis import Redis
    from rq import Worker

    OUT.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "MAIL_SERVER")}
    env.update(DATABASE_URL=url, REDIS_URL=redis, PORTAL_STORAGE=str(storage), SECRET_KEY=secrets.token_hex(32))
    command = [sys.executable, "-m", "flask", "--app", "portal", "worker", "--no-cron"]
    procs: list[subprocess.Popen] = []
    logs = [OUT / f"statements-worker-{i + 1}.log" for i in range(count)]

    def terminate(signum, frame):  # a SIGTERM to the benchmark still stops the workers (the finally below)
        raise SystemExit(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        for log_path in logs:
            with open(log_path, "w") as log:
                procs.append(
                    subprocess.Popen(  # noqa: S603
                        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        connection = Redis.from_url(redis)
        deadline = time.monotonic() + 60
        while True:
            for proc, log_path in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    raise SystemExit(f"a worker exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            registered = {w.pid for w in Worker.all(connection=connection)}
            if all(p.pid in registered for p in procs):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the workers did not register within 60 s:\n{logs[0].read_text()[-3000:]}")
            time.sleep(0.1)
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        signal.signal(signal.SIGTERM, previous)


def measure_run(app, url: str, redis: str, storage: Path, data: dict, results: dict) -> None:
    """The monthly run on WORKERS real workers, timed from the start to the run's `finished`."""
    from portal.dealers.models import User
    from portal.extensions import db
    from portal.platform.uow import commit
    from portal.statements import runs

    n = len(data["dealers"])
    hz = os.sysconf("SC_CLK_TCK")
    with workers(url, redis, storage, WORKERS) as procs:
        pids = [p.pid for p in procs]
        at_rest = ", ".join(f"{status_kb(p, 'VmRSS') / 1024:.0f} MB" for p in pids)
        say(f"  {WORKERS} workers ready (pids {', '.join(map(str, pids))}; RSS at rest {at_rest}); starting the run")
        peak = dict.fromkeys(pids, 0)  # the worker process's own RSS
        peak_children = dict.fromkeys(pids, 0)  # its children's (RQ's scheduler, forked by the worker that leads)
        peak_pss = dict.fromkeys(pids, 0)  # PSS of the worker and its children: shared pages counted once
        samples = 0
        ticks0, machine0, own0 = cpu_ticks(pids), machine_ticks(), time.process_time()
        with connect(url, autocommit=True) as poll, app.app_context():
            finance = db.session.get(User, data["finance_id"])
            t0 = time.perf_counter()
            run_id = runs.start_run(finance, PERIOD).id
            commit()  # queues the fan-out job
            started = time.perf_counter() - t0
            db.session.remove()
            fanned_out = None
            last_sample = last_tree = 0.0
            trees = {pid: [pid] for pid in pids}
            deadline = t0 + 3600
            while True:
                now = time.perf_counter()
                status, done, total = poll.execute(
                    "SELECT status, progress_done, progress_total FROM job_records WHERE id = %s", (run_id,)
                ).fetchone()
                if fanned_out is None and total:
                    fanned_out = now - t0
                if status in ("finished", "failed"):
                    elapsed = now - t0
                    break
                if now - last_sample >= 0.1:  # RSS every 100 ms; the children (a /proc scan) and PSS every second
                    last_sample = now
                    samples += 1
                    every_second = now - last_tree >= 1
                    if every_second:
                        last_tree = now
                        trees = {pid: process_tree(pid) for pid in pids}
                    for pid in pids:
                        tree = trees[pid]
                        peak[pid] = max(peak[pid], status_kb(pid, "VmRSS"))
                        peak_children[pid] = max(peak_children[pid], sum(status_kb(p, "VmRSS") for p in tree[1:]))
                        if every_second:
                            peak_pss[pid] = max(peak_pss[pid], sum(pss_kb(p) for p in tree))
                if now > deadline:
                    raise SystemExit(f"the run did not end within an hour ({done}/{total})")
                time.sleep(0.05)
        hwm = {pid: status_kb(pid, "VmHWM") for pid in pids}
        ticks1, machine1, own1 = cpu_ticks(pids), machine_ticks(), time.process_time()
        backends = cpu_ticks(backend_pids(url))  # the workers' pooled connections, opened during the run
    if status != "finished":
        raise SystemExit(f"the run ended {status}: see bench/out/statements-worker-*.log")
    worker_cpu = sum(ticks1.get(p, 0) - ticks0.get(p, 0) for p in pids) / hz
    backend_cpu = sum(backends.values()) / hz
    busy, iowait = ((a - b) / hz for a, b in zip(machine1, machine0, strict=True))
    own = own1 - own0
    others = busy - worker_cpu - backend_cpu - own
    results["run"] = {
        "dealers": n,
        "seconds": elapsed,
        "rate": n / elapsed,
        "start_call": started,
        "fanned_out": fanned_out,
        "peak_rss_mb": [peak[p] / 1024 for p in pids],
        "hwm_mb": [hwm[p] / 1024 for p in pids],
        "children_rss_mb": [peak_children[p] / 1024 for p in pids],
        "pss_mb": [peak_pss[p] / 1024 for p in pids],
        "samples": samples,
        "worker_cpu": worker_cpu,
        "backend_cpu": backend_cpu,
        "machine_busy": busy,
        "others_cpu": others,
        "own_cpu": own,
        "iowait": iowait,
        "run_id": run_id,
    }
    r = results["run"]
    say(f"  end to end: {n:,} statements in {elapsed:.1f} s = {r['rate']:.1f} statements/s ({WORKERS} workers;"
        f" start_run + commit {ms(started)}, fan-out done after {fanned_out or 0:.2f} s)")  # fmt: skip
    say(f"  CPU during the run: workers {worker_cpu:.1f} s ({worker_cpu / elapsed * 100:.0f} % of one core over the"
        f" run), PostgreSQL backends {backend_cpu:.1f} s; the machine was busy {busy:.1f} s of {os.cpu_count()} cores"
        f" x {elapsed:.1f} s: this process (polling, sampling) {own:.1f} s, other processes {others:.1f} s (WAL"
        f" writer, Redis, other work on the machine); iowait {iowait:.1f} s")  # fmt: skip
    say("  peak worker memory: " + ", ".join(
        f"worker {i + 1} RSS {rss:.0f} MB (VmHWM {h:.0f} MB; PSS with its children {pss:.0f} MB"
        + (f", its child RSS {child:.0f} MB" if child else "") + ")"
        for i, (rss, h, pss, child) in enumerate(
            zip(r["peak_rss_mb"], r["hwm_mb"], r["pss_mb"], r["children_rss_mb"], strict=True)
        )
    ) + f"  ({samples} samples)")  # fmt: skip


def check_run(url: str, storage: Path, data: dict, results: dict) -> None:
    """Fail loudly unless every dealer has one statement (v1) and one PDF, and the statements hold together."""
    n = len(data["dealers"])
    before = MONTH_START - dt.timedelta(days=1)
    p = {"period": PERIOD, "end": MONTH_END, "before": before, "run": results["run"]["run_id"]}
    problems = []
    with connect(url) as conn:
        one = lambda q: conn.execute(q, p).fetchone()  # noqa: E731
        statements, versions, lines, pdfs, pages_min, pages_max = one(
            "SELECT count(*), max(version), sum(line_count), count(pdf_path), min(pdf_pages), max(pdf_pages)"
            " FROM statements WHERE period = %(period)s"
        )
        if statements != n or versions != 1:
            problems.append(f"{statements} statements (max version {versions}), expected {n} of version 1")
        stored_lines = one("SELECT count(*) FROM statement_lines")[0]
        if lines != n * ENTRIES or stored_lines != n * ENTRIES:
            problems.append(f"{lines} lines counted, {stored_lines} stored, expected {n * ENTRIES}")
        checks = {
            "closing != opening + debits - credits": "SELECT count(*) FROM statements"
            " WHERE closing <> opening + debits - credits",
            "debits/credits != the lines' sums, or line_count != lines": """
                SELECT count(*) FROM statements s JOIN (
                    SELECT statement_id, count(*) AS n, coalesce(sum(debit), 0) AS d, coalesce(sum(credit), 0) AS c
                    FROM statement_lines GROUP BY statement_id) l ON l.statement_id = s.id
                WHERE s.debits <> l.d OR s.credits <> l.c OR s.line_count <> l.n""",
            "closing != ledger balance at month end, or opening != at the previous month end": """
                SELECT count(*) FROM statements s JOIN (
                    SELECT dealer_id,
                           sum(CASE WHEN type = 'invoice' THEN amount ELSE -amount END)
                               FILTER (WHERE entry_date <= %(end)s) AS closing,
                           coalesce(sum(CASE WHEN type = 'invoice' THEN amount ELSE -amount END)
                               FILTER (WHERE entry_date <= %(before)s), 0) AS opening
                    FROM ledger_entries GROUP BY dealer_id) l USING (dealer_id)
                WHERE s.period = %(period)s AND (s.closing <> l.closing OR s.opening <> l.opening)""",
            "ageing total != closing": "SELECT count(*) FROM statements WHERE (ageing->>'total')::numeric <> closing",
            "run item not done": "SELECT count(*) FROM statement_run_items WHERE run_id = %(run)s AND"
            " (status <> 'done' OR outcome <> 'issued')",
        }
        for label, query in checks.items():
            if bad := one(query)[0]:
                problems.append(f"{bad} statements: {label}")
        opening_zero = one("SELECT count(*) FROM statements WHERE opening = 0")[0]
        paths = [row[0] for row in conn.execute("SELECT pdf_path FROM statements WHERE period = %(period)s", p)]
        page_counts = [row[0] for row in conn.execute("SELECT pdf_pages FROM statements ORDER BY pdf_pages")]
    files = list((storage / "statements").glob(f"*/{PERIOD}-v1.pdf"))
    unreadable = [path for path in paths if not path or (storage / path).read_bytes()[:5] != b"%PDF-"]
    if len(files) != n or unreadable or pdfs != n:
        problems.append(f"{len(files)} PDF files, {pdfs} paths stored, {len(unreadable)} missing or not a PDF")
    if problems:
        raise SystemExit("statements benchmark: checks FAILED:\n  " + "\n  ".join(problems))
    size = sum(f.stat().st_size for f in files)
    median_pages = statistics.median(page_counts)
    results["check"] = {"statements": statements, "lines": stored_lines, "files": len(files), "bytes": size,
                        "pages": (pages_min, median_pages, pages_max), "opening_zero": opening_zero}  # fmt: skip
    say(f"  checks passed: {statements:,} statements v1, {stored_lines:,} lines, {len(files):,} PDF files"
        f" ({size / len(files) / 1024:.0f} kB each on average, {pages_min}-{pages_max} pages, median"
        f" {median_pages:.0f}); closing = opening + debits - credits, opening and closing = the ledger balance,"
        f" ageing total = closing, for every statement ({opening_zero} with a zero opening)")  # fmt: skip


def measure_baseline(app, results: dict) -> None:
    """The same statements drawn with bare ReportLab in this process: documents first (not timed), then renders."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.platform.pdf import cjk_font
    from portal.statements import services
    from portal.statements.models import Statement
    from portal.statements.pdf import render_statement

    with app.app_context():
        t0 = time.perf_counter()
        stmts = db.session.execute(select(Statement).where(Statement.period == PERIOD).order_by(Statement.id))
        docs = [services.document(s) for s in stmts.unique().scalars()]
        built = time.perf_counter() - t0
        db.session.remove()
        cjk_font()  # as the worker's warm_up()
    rss0 = status_kb(os.getpid(), "VmRSS")
    pages = 0
    times = []
    machine0, cpu0 = machine_ticks()[0], time.process_time()
    t0 = time.perf_counter()
    for doc in docs:
        t = time.perf_counter()
        _pdf, n = render_statement(doc)
        times.append(time.perf_counter() - t)
        pages += n
    elapsed = time.perf_counter() - t0
    cpu, busy = time.process_time() - cpu0, (machine_ticks()[0] - machine0) / os.sysconf("SC_CLK_TCK")
    results["baseline"] = {
        "cpu": cpu,
        "others_cpu": busy - cpu,
        "seconds": elapsed,
        "rate": len(docs) / elapsed,
        "pages": pages,
        "p50": statistics.median(times),
        "max": max(times),
        "documents_s": built,
        "rss_mb": status_kb(os.getpid(), "VmRSS") / 1024,
        "rss_before_mb": rss0 / 1024,
    }
    b = results["baseline"]
    say(f"  baseline: {len(docs):,} documents built from the database in {built:.1f} s (not timed); rendered in"
        f" {elapsed:.1f} s in one process = {b['rate']:.1f}/s (per statement p50 {ms(b['p50'])}, max"
        f" {ms(b['max'])}; {pages:,} pages); CPU {cpu:.1f} s, other processes {busy - cpu:.1f} s")  # fmt: skip


def measure_big(app, url: str, data: dict, results: dict) -> None:
    """One statement of BIG_LINES lines: issue + store_pdf + commit in this process, then the bare render."""
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.platform.uow import commit
    from portal.statements import services
    from portal.statements.pdf import render_statement

    with stopwatch(f"load one more dealer with {BIG_LINES:,} entries in {PERIOD}"):
        big, counts = load_big_dealer(url, data)
        say(f"    {big.code}: {counts['month']:,} entries in {PERIOD} (of {counts['invoice']:,} invoices,"
            f" {counts['payment']:,} payments, {counts['credit_note']:,} credit notes since July)")  # fmt: skip
    with app.app_context():
        dealer = db.session.get(Dealer, big.id)
        t0 = time.perf_counter()
        statement, outcome = services.issue("bench", dealer, PERIOD)
        t1 = time.perf_counter()
        path = services.store_pdf(statement)
        t2 = time.perf_counter()
        commit()
        t3 = time.perf_counter()
        pages, lines, size = statement.pdf_pages, statement.line_count, path.stat().st_size
        doc = services.document(statement)
        db.session.remove()
    if outcome != "issued" or lines != BIG_LINES:
        raise SystemExit(f"the {BIG_LINES:,}-line statement: {outcome}, {lines} lines")
    t4 = time.perf_counter()
    _pdf, bare_pages = render_statement(doc)
    bare = time.perf_counter() - t4
    results["big"] = {"issue": t1 - t0, "store_pdf": t2 - t1, "commit": t3 - t2, "total": t3 - t0, "pages": pages,
                      "bare": bare, "bytes": size, "lines": lines}  # fmt: skip
    say(f"  {lines:,}-line statement: issue {t1 - t0:.2f} s + store_pdf {t2 - t1:.2f} s + commit {t3 - t2:.2f} s ="
        f" {t3 - t0:.2f} s; {pages} pages, {size / 1024:.0f} kB; bare render of the same document {bare:.2f} s"
        f" ({bare_pages} pages)")  # fmt: skip


# ---------------------------------------------------------------- run


def run(quick: bool = False) -> dict:
    url, redis = database_url(), redis_url()
    ensure_database(url)
    n = QUICK_DEALERS if quick else DEALERS
    settings = server_settings(url)
    say("=" * 100)
    say(f"# statements benchmark (PRODUCT.md §6): monthly run of {PERIOD} for {n:,} dealers x {ENTRIES} entries"
        f" on {WORKERS} workers{' (QUICK: 100 dealers instead of 1,000)' if quick else ''}")  # fmt: skip
    say(f"  PostgreSQL {settings['server_version']}, shared_buffers {settings['shared_buffers']}, jit"
        f" {settings['jit']}; Redis {redis} (flushed); Python {python_version()}; {os.cpu_count()} CPUs (the"
        f" workers share them with PostgreSQL and this process); {load()}")  # fmt: skip
    from redis import Redis

    Redis.from_url(redis).flushdb()
    timings: dict = {}
    results: dict = {"timings": timings, "quick": quick, "cpus": os.cpu_count()}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
        storage, scratch = Path(tmp) / "storage", Path(tmp) / "scratch"
        storage.mkdir()
        scratch.mkdir()
        app = bench_app(url, redis, storage)
        from portal.platform.timeutil import today

        with app.app_context():
            if today() <= MONTH_END:
                raise SystemExit(f"{PERIOD} has not ended yet (today is {today()})")
        data = build_data(app, url, n, timings)
        with stopwatch("one dealer job taken apart, in this process", timings):
            measure_breakdown(app, data["dealers"], scratch, results)
        with stopwatch("end to end, on the workers", timings):
            measure_run(app, url, redis, storage, data, results)
        with stopwatch("checks", timings):
            check_run(url, storage, data, results)
        with stopwatch("baseline, bare ReportLab in this process", timings):
            measure_baseline(app, results)
        with stopwatch(f"a statement of {BIG_LINES:,} lines", timings):
            measure_big(app, url, data, results)
        from portal.extensions import db

        with app.app_context():
            db.engine.dispose()
    results["total"] = time.perf_counter() - t_start
    summary(results)
    return results


def summary(results: dict) -> None:
    r, b, big, c = results["run"], results["baseline"], results["big"], results["check"]
    ratio = r["seconds"] / b["seconds"]
    results["ratio"] = ratio
    say("")
    say("=" * 100)
    say(f"SUMMARY (statements{', quick' if results['quick'] else ''}; {load()} at the end)")
    say(table(
        ["", "statements", "seconds", "statements/s", "per statement"],
        [
            [f"end to end, {WORKERS} workers", f"{r['dealers']:,}", f"{r['seconds']:.1f}", f"{r['rate']:.1f}",
             ms(r["seconds"] / r["dealers"])],
            ["baseline: render_statement, 1 process", f"{r['dealers']:,}", f"{b['seconds']:.1f}", f"{b['rate']:.1f}",
             ms(b["seconds"] / r["dealers"])],
        ],
    ))  # fmt: skip
    say(f"  ratio end to end / baseline: {ratio:.2f}x (goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'});"
        f" {results['cpus']} CPUs")  # fmt: skip
    n = r["dealers"]
    per_job = (r["worker_cpu"] + r["backend_cpu"]) / n
    cpu_ratio = per_job / min(WORKERS, results["cpus"]) / (b["cpu"] / n)
    results["cpu_ratio"] = cpu_ratio
    say(f"  CPU per statement: workers {ms(r['worker_cpu'] / n)} + PostgreSQL {ms(r['backend_cpu'] / n)}, against"
        f" {ms(b['cpu'] / n)} for the bare render; on {min(WORKERS, results['cpus'])} cores of their own that is"
        f" {cpu_ratio:.2f}x (what the ratio would be without other work on the machine: during the run other"
        f" processes used {r['others_cpu']:.1f} s, during the baseline {b['others_cpu']:.1f} s)")  # fmt: skip
    say(f"  peak worker memory: {', '.join(f'{m:.0f} MB' for m in r['peak_rss_mb'])} RSS sampled, VmHWM"
        f" {', '.join(f'{m:.0f} MB' for m in r['hwm_mb'])}; PSS with children"
        f" {', '.join(f'{m:.0f} MB' for m in r['pss_mb'])}")  # fmt: skip
    say(f"  {big['lines']:,}-line statement: {big['total']:.2f} s (issue {big['issue']:.2f} s, store_pdf"
        f" {big['store_pdf']:.2f} s, commit {big['commit']:.2f} s), {big['pages']} pages; bare render"
        f" {big['bare']:.2f} s")  # fmt: skip
    bd = results["breakdown"]
    say(f"  one job in this process: issue {ms(bd['issue'])}, document {ms(bd['document'])}, render"
        f" {ms(bd['render'])}, write {ms(bd['write'])}; checks passed ({c['statements']:,} statements,"
        f" {c['files']:,} PDFs, {c['lines']:,} lines)")  # fmt: skip
    t = results["timings"]
    say(f"  data: {t['data total']:.1f} s; whole run: {results['total']:.0f} s")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --statements-only")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_DEALERS} dealers instead of {DEALERS:,}")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(quick=args.quick)
