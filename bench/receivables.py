"""Receivables benchmark (issue 3): ageing, the credit figures and payment posting on a large ledger.

The data: 2,000 dealers in a region tree (HQ → 6 regions → 30 provinces), each with a credit row; invoices
over 24 months (due = issue date + the dealer's payment terms) and as many payments (bank reference unique per
dealer), and the applications exactly as `portal.credit.services.auto_apply` makes them when the documents
are posted one after the other: each credit goes to the oldest open invoices by due date, applied on the later
of the two documents' dates; what is left stays unapplied cash until the next invoice. Dealers follow payment
profiles (prompt, slow, late, partial, distressed, prepaying) so that every ageing bucket and unapplied cash
are populated. Everything comes from one seeded RNG, money is integer cents, and the rows are loaded with
COPY (keys and indexes dropped during the load and put back exactly as the migrations made them).

Measured, in this process: ageing through `portal.credit.reports.ageing` against the best hand-written SQL
(same connection, same totals to the cent, and total = ledger balance), at 100k and 1M invoices; the same scoped to
one dealer, to a region manager and to HQ's region filter, against the best SQL given the same dealers (interleaved);
the credit figures of one dealer (the API endpoint when it exists, else `credit_summary`); payment posting through
`post_payment`, one transaction each, into 10k invoices (a database of its own, `<name>_small`, dropped at the end)
and 1M invoices in turns (issue 24: 1M within 1.5× of 10k).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.copy import QueuedLibpqWriter

from bench.common import (
    cents,
    connect,
    copy_rows,
    database_url,
    ensure_database,
    load,
    make_app,
    median_of,
    ms,
    percentile,
    reset_schema,
    reset_sequences,
    say,
    server_settings,
    stopwatch,
    table,
    without_keys,
)

SEED = 3  # issue 3
DEALERS = 2000
DAYS = 730  # 24 months
OUT = Path(__file__).resolve().parent / "out"
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
COLUMNS = (*BUCKETS, "unapplied", "total")

REGIONS = {  # code: (name, [(province code, name)])
    "EAST": ("华东", [("SH", "上海"), ("JS", "江苏"), ("ZJ", "浙江"), ("AH", "安徽"), ("SD", "山东")]),
    "NORTH": ("华北", [("BJ", "北京"), ("TJ", "天津"), ("HE", "河北"), ("SX", "山西"), ("NM", "内蒙古")]),
    "SOUTH": ("华南", [("GD", "广东"), ("GX", "广西"), ("HI", "海南"), ("FJ", "福建"), ("JX", "江西")]),
    "WEST": ("西部", [("SC", "四川"), ("CQ", "重庆"), ("YN", "云南"), ("GZ", "贵州"), ("XJ", "新疆")]),
    "CENTRAL": ("华中", [("HA", "河南"), ("HB", "湖北"), ("HN", "湖南"), ("SN", "陕西"), ("GS", "甘肃")]),
    "NE": ("东北", [("LN", "辽宁"), ("JL", "吉林"), ("HL", "黑龙江"), ("NX", "宁夏"), ("QH", "青海")]),
}

# name: (share in %, days paid after the due date (None: before the invoice date), paid per mille of the invoice)
PROFILES = {
    "prompt": (45, (-7, 3), (1000, 1000)),
    "slow": (20, (5, 45), (1000, 1000)),
    "late": (12, (30, 100), (1000, 1000)),
    "partial": (10, (0, 30), None),  # per dealer: 75-95 % of each invoice
    "distressed": (5, (90, 200), (1000, 1000)),
    "prepay": (8, None, (1000, 1020)),
}
TIERS = {"A": (15, (300, 600), 15_000_000), "B": (45, (120, 300), 6_000_000), "C": (40, (50, 150), 2_000_000)}
CHANNELS = ("4s_store", "chain", "department_store", "franchise", "specialty")
TERMS = (30, 30, 30, 45, 60, 60, 90)

LEDGER_COLUMNS = (
    "id", "dealer_id", "type", "number", "entry_date", "due_on", "amount", "order_number",
    "invoice_id", "reason", "source", "created_by", "created_at", "settled",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "id", "dealer_id", "credit_id", "invoice_id", "amount", "applied_on", "reverses_id", "created_by", "created_at",
)  # fmt: skip


@dataclass
class DealerPlan:
    id: int
    code: str
    name: str
    region_id: int
    tier: str
    channel: str
    terms: int
    status: str
    profile: str
    weight: int
    mean_cents: int
    delay: tuple[int, int] | None
    ratio: tuple[int, int]


# ---------------------------------------------------------------- the channel


def copy_regions(conn, regions: list[tuple], created: str) -> None:
    """COPY the planned regions (rows of plan_regions) into `regions`."""
    copy_rows(
        conn,
        "regions",
        ("id", "code", "name", "parent_id", "path", "approval_limit", "created_at"),
        (
            f"{rid}\t{code}\t{name}\t{parent if parent else chr(92) + 'N'}\t{path}\t0.00\t{created}\n"
            for rid, code, name, parent, path in regions
        ),
    )


def plan_regions() -> tuple[list[tuple], list[tuple]]:
    """HQ → regions → provinces: rows (id, code, name, parent_id, path), and the provinces (id, code, name)."""
    regions = [(1, "HQ", "总部", None, "/HQ/")]
    provinces = []
    for code, (name, children) in REGIONS.items():
        rid = len(regions) + 1
        regions.append((rid, code, name, 1, f"/HQ/{code}/"))
        for pcode, pname in children:
            pid = len(regions) + 1
            regions.append((pid, pcode, pname, rid, f"/HQ/{code}/{pcode}/"))
            provinces.append((pid, pcode, pname))
    return regions, provinces


def plan_channel(rng: random.Random) -> tuple[list[tuple], list[DealerPlan]]:
    """Regions (id, code, name, parent_id, path) and the dealers, spread unevenly over the provinces."""
    regions, provinces = plan_regions()
    province_weights = [rng.randint(1, 10) for _ in provinces]
    profile_names = list(PROFILES)
    profile_weights = [PROFILES[p][0] for p in profile_names]
    tier_names = list(TIERS)
    tier_weights = [TIERS[t][0] for t in tier_names]
    dealers: list[DealerPlan] = []
    per_province: dict[str, int] = {}
    for i in range(1, DEALERS + 1):
        pid, pcode, pname = rng.choices(provinces, province_weights)[0]
        per_province[pcode] = per_province.get(pcode, 0) + 1
        tier = rng.choices(tier_names, tier_weights)[0]
        profile = rng.choices(profile_names, profile_weights)[0]
        _share, delay, ratio = PROFILES[profile]
        if ratio is None:
            low = rng.randint(750, 950)
            ratio = (low, low + 40)
        lo, hi = TIERS[tier][1]
        dealers.append(
            DealerPlan(
                id=i,
                code=f"{pcode}-{per_province[pcode]:03d}",
                name=f"{pname}{tier}级经销商{per_province[pcode]:03d}",
                region_id=pid,
                tier=tier,
                channel=rng.choice(CHANNELS),
                terms=rng.choice(TERMS),
                status="suspended" if rng.randrange(100) < 2 else "active",
                profile=profile,
                weight=rng.randint(lo, hi),
                mean_cents=TIERS[tier][2] * rng.randint(70, 130) // 100,
                delay=delay,
                ratio=ratio,
            )
        )
    return regions, dealers


def split_counts(total: int, weights: list[int]) -> list[int]:
    """`total` documents shared out in proportion to integer weights (largest remainders first)."""
    whole = sum(weights)
    counts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -(total * weights[i] % whole))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def dealer_documents(rng: random.Random, d: DealerPlan, n: int, days: int):
    """The dealer's n invoices (day, cents) and n payments (day, cents), each in date order."""
    inv_days = sorted(rng.randrange(days) for _ in range(n))
    inv_cents = [max(100, d.mean_cents * rng.randint(30, 170) // 100) for _ in range(n)]
    last = days - 1
    rlo, rhi = d.ratio
    pays: list[list[int]] = []
    for day, amount in zip(inv_days, inv_cents, strict=True):
        # prepaying dealers (no delay) pay before the invoice is issued
        pday = max(0, day - rng.randint(0, 20)) if d.delay is None else day + d.terms + rng.randint(*d.delay)
        if pday > last:
            continue
        pays.append([pday, max(1, amount * rng.randint(rlo, rhi) // 1000)])
    if not pays:
        pays.append([last, inv_cents[0]])
    while len(pays) < n:  # the rest as instalments: one payment split in two, the second some days later
        j = rng.randrange(len(pays))
        pday, amount = pays[j]
        if amount < 2:
            continue
        part = rng.randint(1, amount - 1)
        pays[j][1] = amount - part
        pays.append([min(last, pday + rng.randint(1, 20)), part])
    pays.sort()
    return inv_days, inv_cents, pays


def load_channel(url: str, regions, dealers: list[DealerPlan], counts: list[int], start: dt.date) -> None:
    created = f"{start - dt.timedelta(days=30)} 02:00:00+00"
    with connect(url) as conn:
        copy_regions(conn, regions, created)
        copy_rows(
            conn,
            "dealers",
            ("id", "code", "name", "region_id", "tier", "channel_type", "payment_terms_days", "status",
             "contact_name", "contact_phone", "contact_email", "address", "created_at"),
            (
                f"{d.id}\t{d.code}\t{d.name}\t{d.region_id}\t{d.tier}\t{d.channel}\t{d.terms}\t{d.status}\t"
                f"联系人{d.id}\t138{d.id:08d}\tdealer{d.id}@example.cn\t{d.name}地址\t{created}\n"
                for d in dealers
            ),
        )  # fmt: skip
        # credit limit: 1.5-3 months of the dealer's expected sales, in whole 10,000 CNY
        limits = []
        rng = random.Random(SEED + 1)
        for d, n in zip(dealers, counts, strict=True):
            monthly = d.mean_cents * n // 24
            limit = monthly * rng.randint(15, 30) // 10 // 1_000_000 * 1_000_000
            limits.append(f"{d.id}\t{cents(max(limit, 1_000_000))}\tf\t\\N\t\\N\t\\N\t\\N\n")
        copy_rows(
            conn,
            "dealer_credit",
            ("dealer_id", "credit_limit", "on_hold", "hold_source", "hold_reason", "held_at", "held_by"),
            limits,
        )
        conn.commit()
        reset_sequences(conn, ("regions", "dealers"))


# ---------------------------------------------------------------- the ledger


def generate_ledger(url: str, dealers: list[DealerPlan], counts: list[int], start: dt.date, rng) -> dict:
    """Invoices, payments and applications, posted day by day in the app's order, streamed with COPY."""
    t0 = time.perf_counter()
    inv_by_day: list[list[tuple]] = [[] for _ in range(DAYS)]
    pay_by_day: list[list[tuple]] = [[] for _ in range(DAYS)]
    for index, (d, n) in enumerate(zip(dealers, counts, strict=True)):
        inv_days, inv_cents, pays = dealer_documents(rng, d, n, DAYS)
        for seq, (day, amount) in enumerate(zip(inv_days, inv_cents, strict=True), 1):
            inv_by_day[day].append((index, seq, amount))
        for seq, (day, amount) in enumerate(pays, 1):
            pay_by_day[day].append((index, seq, amount))
    planned = time.perf_counter() - t0

    dates = [str(start + dt.timedelta(days=i)) for i in range(DAYS + 200)]
    open_invoices = [deque() for _ in dealers]  # [id, residual cents]; oldest due first (terms are per dealer)
    open_credits = [deque() for _ in dealers]  # [id, unapplied cents]; oldest first
    ids = {"ledger": 0, "application": 0}
    stats = {"invoices": 0, "payments": 0, "applications": 0}
    ledger_stmt = sql.SQL("COPY ledger_entries ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, LEDGER_COLUMNS))
    )
    app_stmt = sql.SQL("COPY applications ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, APPLICATION_COLUMNS))
    )
    with (
        connect(url) as lconn,
        connect(url) as aconn,
        lconn.cursor() as lcur,
        aconn.cursor() as acur,
        lcur.copy(ledger_stmt, writer=QueuedLibpqWriter(lcur)) as lcopy,
        acur.copy(app_stmt, writer=QueuedLibpqWriter(acur)) as acopy,
    ):
        lbuf: list[str] = []
        abuf: list[str] = []
        lid = aid = 0
        for day in range(DAYS):
            date = dates[day]
            stamp = f"{date} 02:00:00+00"
            # applications made today are dated today: the later of the two documents is today's
            app_tail = f"\t{date}\t\\N\tbench\t{stamp}\n"
            for index, seq, amount in inv_by_day[day]:
                d = dealers[index]
                lid += 1
                lbuf.append(
                    f"{lid}\t{d.id}\tinvoice\tINV{d.id:04d}-{seq:05d}\t{date}\t{dates[day + d.terms]}\t"
                    f"{cents(amount)}\tSO{d.id:04d}-{seq:05d}\t\\N\t\\N\torder\tbench\t{stamp}\tt\n"
                )
                credits = open_credits[index]
                while credits and amount:
                    credit = credits[0]
                    take = min(amount, credit[1])
                    aid += 1
                    abuf.append(f"{aid}\t{d.id}\t{credit[0]}\t{lid}\t{cents(take)}{app_tail}")
                    amount -= take
                    credit[1] -= take
                    if not credit[1]:
                        credits.popleft()
                if amount:
                    open_invoices[index].append([lid, amount, day + d.terms])
            for index, seq, amount in pay_by_day[day]:
                d = dealers[index]
                lid += 1
                lbuf.append(
                    f"{lid}\t{d.id}\tpayment\tPAY{d.id:04d}-{seq:05d}\t{date}\t\\N\t{cents(amount)}\t"
                    f"\\N\t\\N\t\\N\timport\tbench\t{stamp}\tt\n"
                )
                invoices = open_invoices[index]
                while invoices and amount:
                    invoice = invoices[0]
                    take = min(amount, invoice[1])
                    aid += 1
                    abuf.append(f"{aid}\t{d.id}\t{lid}\t{invoice[0]}\t{cents(take)}{app_tail}")
                    amount -= take
                    invoice[1] -= take
                    if not invoice[1]:
                        invoices.popleft()
                if amount:
                    open_credits[index].append([lid, amount])
            stats["invoices"] += len(inv_by_day[day])
            stats["payments"] += len(pay_by_day[day])
            if len(lbuf) >= 20000:
                lcopy.write("".join(lbuf))
                lbuf.clear()
            if len(abuf) >= 20000:
                acopy.write("".join(abuf))
                abuf.clear()
        lcopy.write("".join(lbuf))
        acopy.write("".join(abuf))
        ids["ledger"], ids["application"] = lid, aid
    stats["applications"] = aid
    # the `settled` marker (every entry fully applied): all but what is still open at the end
    stats["open_ids"] = [item[0] for queue in (*open_invoices, *open_credits) for item in queue]
    # what the daily overdue scan would have done by today (the day after the last one): hold every dealer
    # with an invoice more than PORTAL_OVERDUE_HOLD_DAYS (90) past due
    stats["held"] = [d.id for d, q in zip(dealers, open_invoices, strict=True) if q and DAYS - q[0][2] > 90]
    stats["plan_s"] = planned
    stats["stream_s"] = time.perf_counter() - t0 - planned
    return stats


def build_data(app, url: str, invoices: int, end: dt.date, timings: dict) -> dict:
    """Empty database → migrations → channel → ledger → keys and indexes → VACUUM ANALYZE."""
    rng = random.Random(SEED)
    start = end - dt.timedelta(days=DAYS - 1)
    say(f"- building {invoices:,} invoices + {invoices:,} payments, {start} .. {end}")
    t_all = time.perf_counter()
    with stopwatch("schema (drop, alembic upgrade)", timings):
        reset_schema(app, url)
    regions, dealers = plan_channel(rng)
    counts = split_counts(invoices, [d.weight for d in dealers])
    with stopwatch("regions, dealers, credit rows", timings):
        load_channel(url, regions, dealers, counts, start)
    with connect(url) as conn, without_keys(conn, ("ledger_entries", "applications")):
        with stopwatch("generate + COPY ledger and applications", timings):
            stats = generate_ledger(url, dealers, counts, start, rng)
        say(
            f"    {stats['invoices']:,} invoices, {stats['payments']:,} payments, {stats['applications']:,} "
            f"applications (plan {stats['plan_s']:.1f} s, generate+stream {stats['stream_s']:.1f} s)"
        )
        conn.execute("SET maintenance_work_mem = '256MB'")
        t_keys = time.perf_counter()
    timings["keys, indexes, foreign keys"] = time.perf_counter() - t_keys
    say(f"  keys, indexes, foreign keys: {timings['keys, indexes, foreign keys']:.1f} s")
    with connect(url) as conn:
        # the `settled` marker: every entry is copied settled, the open items are marked open now that the indexes
        # are back. (Updating rows *before* the indexes are built leaves broken HOT chains: PostgreSQL then builds
        # them with indcheckxmin, and no transaction whose snapshot is older than the index — anyone's open
        # transaction on this server — may use them: at 10k every query of the posting ran as a sequential scan.)
        with stopwatch("settled marker (the open items)", timings):
            conn.execute(
                "UPDATE ledger_entries l SET settled = false FROM unnest(%s::bigint[]) AS o(id) WHERE l.id = o.id",
                (stats.pop("open_ids"),),
            )
        unusable = conn.execute(
            "SELECT count(*) FROM pg_index WHERE indcheckxmin AND indrelid IN"
            " ('ledger_entries'::regclass, 'applications'::regclass)"
        ).fetchone()[0]
        if unusable:
            say(f"  WARNING: {unusable} indexes of the ledger built with indcheckxmin (unusable by older snapshots)")
        reset_sequences(conn, ("ledger_entries", "applications"))
        conn.execute(
            "UPDATE dealer_credit SET on_hold = true, hold_source = 'overdue', held_by = 'system', held_at = %(at)s,"
            " hold_reason = 'Invoices more than 90 days past due.' WHERE dealer_id = ANY(%(ids)s)",
            {"ids": stats["held"], "at": dt.datetime.combine(end, dt.time(18), dt.UTC)},
        )
    say(f"  {len(stats['held'])} dealers on overdue hold (as the daily scan leaves them)")
    with stopwatch("check applications and holds against auto_apply and the overdue rule (6 dealers)", timings):
        stats["rule_check"] = check_application_rule(app, dealers, set(stats["held"]))
    with stopwatch("VACUUM ANALYZE", timings), connect(url, autocommit=True) as conn:
        for t in ("regions", "dealers", "dealer_credit", "ledger_entries", "applications"):
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(t)))
    timings["data total"] = time.perf_counter() - t_all
    with connect(url) as conn:
        stats["size"] = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('ledger_entries')),"
            " pg_size_pretty(pg_total_relation_size('applications')),"
            " pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    say(f"  data ready in {timings['data total']:.1f} s; ledger_entries {stats['size'][0]}, applications "
        f"{stats['size'][1]}, database {stats['size'][2]}")  # fmt: skip
    stats["dealers"] = dealers
    return stats


def check_application_rule(app, dealers: list[DealerPlan], held: set[int]) -> str:
    """For one dealer of each profile: delete its applications, let the app's auto_apply redo them, compare (the
    applications and the `settled` markers), roll back. Matching two FIFO queues depends only on their order and
    amounts, so posting the documents one at a time (as generated) and applying everything at once give the same
    applications."""
    from sqlalchemy import delete, text

    from portal.credit.models import Application
    from portal.credit.services import auto_apply, oldest_overdue_days, refresh_settled
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.platform.timeutil import today

    query = text(
        "SELECT credit_id, invoice_id, amount, applied_on FROM applications WHERE dealer_id = :d"
        " ORDER BY credit_id, invoice_id, applied_on, amount"
    )
    settled = text("SELECT id, settled FROM ledger_entries WHERE dealer_id = :d ORDER BY id")
    chosen = {}
    for d in dealers:
        chosen.setdefault(d.profile, d)
    checked = []
    with app.test_request_context():
        for profile, d in chosen.items():
            before = db.session.execute(query, {"d": d.id}).all()
            marked = db.session.execute(settled, {"d": d.id}).all()
            refresh_settled([d.id])
            if db.session.execute(settled, {"d": d.id}).all() != marked:
                raise SystemExit(f"generated settled markers of {d.code} ({profile}) differ from refresh_settled's")
            db.session.execute(delete(Application).where(Application.dealer_id == d.id))
            refresh_settled([d.id])  # nothing applied: everything open
            auto_apply(db.session.get(Dealer, d.id), "bench")
            after = db.session.execute(query, {"d": d.id}).all()
            remarked = db.session.execute(settled, {"d": d.id}).all()
            db.session.rollback()
            if before != after:
                raise SystemExit(f"generated applications of {d.code} ({profile}) differ from auto_apply's")
            if marked != remarked:
                raise SystemExit(f"generated settled markers of {d.code} ({profile}) differ from auto_apply's")
            # and the hold, as the daily scan decides it
            days = oldest_overdue_days(d.id, today())
            if (days > app.config["PORTAL_OVERDUE_HOLD_DAYS"]) != (d.id in held):
                raise SystemExit(f"{d.code}: {days} days overdue but {'held' if d.id in held else 'not held'}")
            checked.append(f"{d.code} {profile} {len(before)} applications{', held' if d.id in held else ''}")
    return ", ".join(checked)


# ---------------------------------------------------------------- ageing: the app and the baselines


def bucket_params(as_of: dt.date) -> dict:
    return {"d": as_of, **{f"d{n}": as_of - dt.timedelta(days=n) for n in (30, 60, 90)}}


# Best found: nothing is grouped per invoice except the invoices due in the last 90 days or later. Per dealer,
#   open residuals = invoiced - applied, unapplied = applied - credits (<= 0)   (applications dated <= D)
# because every application is dated on or after both of its documents (reports.py); so over_90 is the open
# residuals minus the four recent buckets, and total = invoiced - credits (the ledger balance).
BEST_PER_DEALER = """
WITH led AS (
    SELECT dealer_id,
           sum(amount) FILTER (WHERE type = 'invoice') AS invoiced,
           sum(amount) FILTER (WHERE type <> 'invoice') AS credits
    FROM ledger_entries
    WHERE entry_date <= %(d)s{only}
    GROUP BY dealer_id
), app AS (
    SELECT dealer_id, sum(amount) AS applied
    FROM applications
    WHERE applied_on <= %(d)s{only}
    GROUP BY dealer_id
), recent AS (
    SELECT i.dealer_id,
           sum(i.amount - coalesce(a.applied, 0)) FILTER (WHERE i.due_on >= %(d)s) AS not_due,
           sum(i.amount - coalesce(a.applied, 0)) FILTER (WHERE i.due_on < %(d)s AND i.due_on >= %(d30)s) AS b1_30,
           sum(i.amount - coalesce(a.applied, 0)) FILTER (WHERE i.due_on < %(d30)s AND i.due_on >= %(d60)s) AS b31_60,
           sum(i.amount - coalesce(a.applied, 0)) FILTER (WHERE i.due_on < %(d60)s) AS b61_90
    FROM ledger_entries i
    LEFT JOIN LATERAL (
        SELECT sum(x.amount) AS applied FROM applications x WHERE x.invoice_id = i.id AND x.applied_on <= %(d)s
    ) a ON true
    WHERE i.type = 'invoice' AND i.entry_date <= %(d)s AND i.due_on >= %(d90)s{only_i}
    GROUP BY i.dealer_id
), per_dealer AS (
    SELECT led.dealer_id,
           coalesce(r.not_due, 0) AS not_due, coalesce(r.b1_30, 0) AS b1_30,
           coalesce(r.b31_60, 0) AS b31_60, coalesce(r.b61_90, 0) AS b61_90,
           coalesce(led.invoiced, 0) - coalesce(app.applied, 0)
             - coalesce(r.not_due, 0) - coalesce(r.b1_30, 0) - coalesce(r.b31_60, 0) - coalesce(r.b61_90, 0)
             AS over_90,
           coalesce(app.applied, 0) - coalesce(led.credits, 0) AS unapplied,
           coalesce(led.invoiced, 0) - coalesce(led.credits, 0) AS total
    FROM led LEFT JOIN app ON app.dealer_id = led.dealer_id LEFT JOIN recent r ON r.dealer_id = led.dealer_id
)
"""

# The textbook shape, for reference: every invoice's residual (applications grouped per invoice).
DIRECT_PER_DEALER = """
WITH applied AS (
    SELECT invoice_id, sum(amount) AS applied FROM applications WHERE applied_on <= %(d)s GROUP BY invoice_id
), inv AS (
    SELECT i.dealer_id, i.due_on, i.amount - coalesce(a.applied, 0) AS residual
    FROM ledger_entries i LEFT JOIN applied a ON a.invoice_id = i.id
    WHERE i.type = 'invoice' AND i.entry_date <= %(d)s
), inv_dealer AS (
    SELECT dealer_id,
           sum(residual) FILTER (WHERE due_on >= %(d)s) AS not_due,
           sum(residual) FILTER (WHERE due_on < %(d)s AND due_on >= %(d30)s) AS b1_30,
           sum(residual) FILTER (WHERE due_on < %(d30)s AND due_on >= %(d60)s) AS b31_60,
           sum(residual) FILTER (WHERE due_on < %(d60)s AND due_on >= %(d90)s) AS b61_90,
           sum(residual) FILTER (WHERE due_on < %(d90)s) AS over_90,
           sum(residual) AS residual
    FROM inv GROUP BY dealer_id
), cash AS (
    SELECT dealer_id, sum(amount) AS credits FROM ledger_entries
    WHERE type <> 'invoice' AND entry_date <= %(d)s GROUP BY dealer_id
), app AS (
    SELECT dealer_id, sum(amount) AS applied FROM applications WHERE applied_on <= %(d)s GROUP BY dealer_id
), per_dealer AS (
    SELECT coalesce(i.dealer_id, c.dealer_id) AS dealer_id,
           coalesce(i.not_due, 0) AS not_due, coalesce(i.b1_30, 0) AS b1_30, coalesce(i.b31_60, 0) AS b31_60,
           coalesce(i.b61_90, 0) AS b61_90, coalesce(i.over_90, 0) AS over_90,
           coalesce(app.applied, 0) - coalesce(c.credits, 0) AS unapplied,  -- negative: owed to the dealer
           coalesce(i.residual, 0) - coalesce(c.credits, 0) + coalesce(app.applied, 0) AS total
    FROM inv_dealer i FULL JOIN cash c ON c.dealer_id = i.dealer_id
    LEFT JOIN app ON app.dealer_id = coalesce(i.dealer_id, c.dealer_id)
)
"""

BY_DEALER = """
SELECT d.code AS key, d.name, p.not_due, p.b1_30, p.b31_60, p.b61_90, p.over_90, p.unapplied, p.total
FROM per_dealer p JOIN dealers d ON d.id = p.dealer_id
ORDER BY d.code
"""

# Child regions of the (single) root, each rolling up its subtree; dealers directly in the root under the root.
BY_REGION = """
SELECT g.code AS key, g.name, sum(p.not_due), sum(p.b1_30), sum(p.b31_60), sum(p.b61_90), sum(p.over_90),
       sum(p.unapplied), sum(p.total)
FROM per_dealer p
JOIN dealers d ON d.id = p.dealer_id
JOIN regions r ON r.id = d.region_id
JOIN regions g ON g.code = coalesce(nullif(split_part(r.path, '/', 3), ''), split_part(r.path, '/', 2))
GROUP BY g.code, g.name
ORDER BY g.code
"""


def baseline_sql(shape: str, group_by: str, scoped: bool = False) -> str:
    """The hand-written query; `scoped`: only the dealers in %(dealers)s (the best shape only)."""
    if shape == "best":
        only = " AND dealer_id = ANY(%(dealers)s)" if scoped else ""
        per_dealer = BEST_PER_DEALER.format(only=only, only_i=only.replace("dealer_id", "i.dealer_id"))
    else:
        per_dealer = DIRECT_PER_DEALER
    return per_dealer + {"dealer": BY_DEALER, "region": BY_REGION}[group_by]


def ageing_of(scope, as_of: dt.date, group_by: str, region=None) -> dict:
    from portal.credit.reports import ageing

    return ageing(scope, as_of, group_by, region=region)


def run_app_ageing(app, as_of: dt.date, group_by: str, scope=None) -> dict:
    from portal.platform.tenancy import Scope

    with app.test_request_context():
        return ageing_of(scope or Scope("hq"), as_of, group_by)


def run_baseline(app, as_of: dt.date, shape: str, group_by: str, dealers: list[int] | None = None) -> dict:
    from portal.extensions import db
    from portal.platform.money import money

    statement = baseline_sql(shape, group_by, scoped=dealers is not None)
    params = {**bucket_params(as_of), "dealers": dealers}
    with app.test_request_context():
        conn = db.session.connection()
        result = conn.exec_driver_sql(statement, params).all()
        rows = [
            {"key": r[0], "name": r[1], **{c: money(v) for c, v in zip(COLUMNS, r[2:], strict=True)}} for r in result
        ]
        db.session.rollback()
    totals = {c: money(sum((r[c] for r in rows), Decimal(0))) for c in COLUMNS}
    return {"rows": rows, "totals": totals}


def ledger_balance(app, as_of: dt.date) -> Decimal:
    from portal.extensions import db
    from portal.platform.money import money

    with app.test_request_context():
        value = (
            db.session.connection()
            .exec_driver_sql(
                "SELECT coalesce(sum(CASE WHEN type = 'invoice' THEN amount ELSE -amount END), 0)"
                " FROM ledger_entries WHERE entry_date <= %(d)s",
                {"d": as_of},
            )
            .scalar_one()
        )
    return money(value)


def compare(app_result: dict, other: dict, label: str) -> list[str]:
    """Differences between two ageing results, row by row and column by column (to the cent)."""
    problems = []
    mine = {r["key"]: r for r in app_result["rows"]}
    theirs = {r["key"]: r for r in other["rows"]}
    if mine.keys() != theirs.keys():
        problems.append(f"{label}: rows differ: {sorted(mine.keys() ^ theirs.keys())[:5]}")
    for key in sorted(mine.keys() & theirs.keys()):
        for c in COLUMNS:
            if mine[key][c] != theirs[key][c]:
                problems.append(f"{label}: {key} {c}: app {mine[key][c]} vs {theirs[key][c]}")
    for c in COLUMNS:
        if app_result["totals"][c] != other["totals"][c]:
            problems.append(f"{label}: total {c}: app {app_result['totals'][c]} vs {other['totals'][c]}")
    return problems[:20]


def capture_app_sql(app, as_of: dt.date, group_by: str, scope=None) -> list[tuple[str, dict]]:
    """The statements the app's ageing sends, with their parameters (for EXPLAIN)."""
    from sqlalchemy import event

    from portal.extensions import db

    seen: list[tuple[str, dict]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        run_app_ageing(app, as_of, group_by, scope)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def explain(app, statement: str, params) -> str:
    from portal.extensions import db

    with app.test_request_context():
        conn = db.session.connection()
        lines = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).scalars().all()
        db.session.rollback()
    return "\n".join(lines)


def save_explain(app, name: str, statement: str, params) -> str:
    OUT.mkdir(exist_ok=True)
    plan = explain(app, statement, params)
    path = OUT / f"{name}.txt"
    path.write_text(f"{statement}\n\n-- params: {params}\n\n{plan}\n")
    execution = plan.splitlines()[-1].strip()
    jit = next((line.strip() for line in plan.splitlines() if line.strip().startswith("Timing:")), "no JIT")
    return f"{execution} ({jit}) -> bench/out/{path.name}"


def measure_ageing(apps: dict, as_of: dt.date, scale: str, explain_plans: bool, results: dict) -> None:
    """HQ ageing by dealer and by region: the app's function against the hand-written queries, under the
    server's settings and again with JIT off for the session (both sides alike)."""
    app = apps["defaults"]
    balance = ledger_balance(app, as_of)
    for setting, shapes in (("defaults", ("best", "direct")), ("jit off", ("best",))):
        say(f"- ageing as of {as_of} ({scale} invoices, HQ scope, server {setting}), median of 5 runs after"
            f" 1 warm-up; {load()}")  # fmt: skip
        rows = []
        for group_by in ("dealer", "region"):
            target = apps[setting]
            t_app, _runs, r_app = median_of(lambda g=group_by, a=target: run_app_ageing(a, as_of, g))
            entry = {"app": t_app, "rows": len(r_app["rows"]), "totals": r_app["totals"], "problems": []}
            for shape in shapes:
                t, _runs, r = median_of(lambda g=group_by, sh=shape, a=target: run_baseline(a, as_of, sh, g))
                entry[shape] = t
                entry["problems"] += compare(r_app, r, shape)
            if r_app["totals"]["total"] != balance:
                entry["problems"].append(f"app total {r_app['totals']['total']} != ledger balance {balance}")
            for p in entry["problems"]:
                say(f"  MISMATCH {p}")
            results[(scale, setting, group_by)] = entry
            rows.append(
                [
                    group_by,
                    str(entry["rows"]),
                    ms(t_app),
                    *[ms(entry[sh]) for sh in shapes],
                    *[f"{t_app / entry[sh]:.2f}x" for sh in shapes],
                    "yes" if not entry["problems"] else "NO",
                ]
            )
        say(
            table(
                ["group by", "rows", "app ageing()", *[f"{sh} SQL" for sh in shapes], *[f"app/{sh}" for sh in shapes],
                 "same to the cent"],
                rows,
            )
        )  # fmt: skip
    totals = results[(scale, "defaults", "dealer")]["totals"]
    say("  totals: " + ", ".join(f"{c} {totals[c]:,}" for c in COLUMNS))
    say(f"  ledger balance on {as_of} (invoices - credits dated <= as_of): {balance:,} -> "
        f"{'equals' if totals['total'] == balance else 'DIFFERS FROM'} the ageing total")  # fmt: skip
    empty = [c for c in COLUMNS if totals[c] == 0]
    if empty:
        say(f"  WARNING: empty columns {empty}")
    if explain_plans:
        heavy = max(capture_app_sql(app, as_of, "dealer"), key=lambda s: len(s[0]))
        params = bucket_params(as_of)
        for setting in ("defaults", "jit off"):
            suffix = "" if setting == "defaults" else "-jitoff"
            target = apps[setting]
            for name, (statement, p) in {
                "app": heavy,
                "best": (baseline_sql("best", "dealer"), params),
                "direct": (baseline_sql("direct", "dealer"), params),
            }.items():
                if setting == "jit off" and name == "direct":
                    continue
                line = save_explain(target, f"ageing-by-dealer-{scale}-{name}{suffix}", statement, p)
                say(f"  EXPLAIN ANALYZE {name}, {setting}: {line}")


def interleaved(fns: dict, rounds: int = 7) -> dict:
    """{name: (median wall time, last result)} of each function run once per round, in turn, after one warm-up
    round: both sides of a ratio see the same load (the machine is shared)."""
    times: dict = {name: [] for name in fns}
    results: dict = {name: fn() for name, fn in fns.items()}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in fns}


def region_dealers(app, region_path: str) -> list[int]:
    from portal.extensions import db

    with app.test_request_context():
        return (
            db.session.connection()
            .exec_driver_sql(
                "SELECT d.id FROM dealers d JOIN regions r ON r.id = d.region_id WHERE r.path LIKE %(p)s ORDER BY d.id",
                {"p": region_path + "%"},
            )
            .scalars()
            .all()
        )


def measure_scoped_ageing(apps: dict, as_of: dt.date, scale: str, explain_plans: bool, results: dict) -> None:
    """Ageing as a dealer user, as a region manager, and as HQ narrowed to a region (`region=`, as the receivables
    page's region filter asks), by dealer: the app against the best query restricted to the same dealers (their ids
    given to it as an array: finding them is the app's cost alone). Under the server's settings and with JIT off
    (both sides alike); interleaved, 7 rounds, medians."""
    from portal.dealers.models import Region
    from portal.extensions import db
    from portal.platform.tenancy import Scope

    app = apps["defaults"]
    dealer_id, code, _entries = busiest_dealer(app)
    region_path = "/HQ/EAST/"
    in_region = region_dealers(app, region_path)
    with app.test_request_context():
        region_id = db.session.execute(db.select(Region.id).filter_by(path=region_path)).scalar_one()

    def hq_in_region(target):
        with target.test_request_context():
            return ageing_of(Scope("hq"), as_of, "dealer", db.session.get(Region, region_id))

    cases = (
        ("dealer", f"dealer {code}", lambda t: run_app_ageing(t, as_of, "dealer", Scope("dealer", dealer_id=dealer_id)),
         [dealer_id]),
        ("region", f"region manager {region_path} ({len(in_region)} dealers)",
         lambda t: run_app_ageing(t, as_of, "dealer", Scope("region", region_path=region_path)), in_region),
        ("hq-region", f"HQ, region={region_path}", hq_in_region, in_region),
    )  # fmt: skip
    for setting, target in apps.items():
        say(f"- scoped ageing as of {as_of} ({scale} invoices, by dealer, server {setting}), 7 interleaved rounds;"
            f" {load()}")  # fmt: skip
        rows = []
        for kind, label, app_fn, dealers in cases:
            measured = interleaved(
                {
                    "app": lambda f=app_fn, t=target: f(t),
                    "best": lambda d=dealers, t=target: run_baseline(t, as_of, "best", "dealer", d),
                }
            )
            (t_app, r_app), (t_best, r_best) = measured["app"], measured["best"]
            problems = compare(r_app, r_best, "best")
            for p in problems:
                say(f"  MISMATCH {p}")
            results[(scale, "scoped", kind, setting)] = {"app": t_app, "best": t_best, "label": label,
                                                         "problems": problems}  # fmt: skip
            rows.append([label, ms(t_app), ms(t_best), f"{t_app / t_best:.2f}x", "yes" if not problems else "NO"])
        say(table(["scope", "app ageing()", "best SQL", "app/best", "same to the cent"], rows))
    if explain_plans:
        for kind, scope in (
            ("one-dealer", Scope("dealer", dealer_id=dealer_id)),
            ("region-manager", Scope("region", region_path=region_path)),
        ):
            heavy = max(capture_app_sql(apps["jit off"], as_of, "dealer", scope), key=lambda s: len(s[0]))
            line = save_explain(apps["jit off"], f"ageing-{kind}-{scale}-app-jitoff", *heavy)
            say(f"  EXPLAIN ANALYZE app, {kind}, jit off: {line}")
        params = {**bucket_params(as_of), "dealers": in_region}
        line = save_explain(apps["jit off"], f"ageing-region-manager-{scale}-best-jitoff",
                            baseline_sql("best", "dealer", True), params)  # fmt: skip
        say(f"  EXPLAIN ANALYZE best, region manager, jit off: {line}")


# ---------------------------------------------------------------- credit figures and payments


def credit_route(app) -> str | None:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/dealers/<") and rule.rule.endswith("/credit") and "GET" in rule.methods:
            return rule.rule
    return None


def bench_user(app):
    """An hq_admin user and a personal bearer token for it."""
    from werkzeug.security import generate_password_hash

    from portal.dealers.models import User
    from portal.extensions import db
    from portal.platform.auth import issue_personal_token

    with app.test_request_context():
        user = db.session.execute(db.select(User).filter_by(username="bench.hq")).unique().scalar_one_or_none()
        if user is None:
            user = User(
                username="bench.hq",
                display_name="Benchmark HQ",
                password_hash=generate_password_hash("bench-pass-2026", method="pbkdf2:sha256:1000"),
                role="hq_admin",
                locale="en",
            )
            db.session.add(user)
            db.session.flush()
        token, _expires = issue_personal_token(user)
        db.session.commit()
        return user.id, token


def busiest_dealer(app) -> tuple[int, str, int]:
    from portal.extensions import db

    with app.test_request_context():
        row = (
            db.session.connection()
            .exec_driver_sql(
                "SELECT d.id, d.code, count(*) FROM ledger_entries e JOIN dealers d ON d.id = e.dealer_id"
                " GROUP BY d.id, d.code ORDER BY count(*) DESC, d.code LIMIT 1"
            )
            .one()
        )
    return row[0], row[1], row[2]


def measure_credit(app, results: dict, requests: int = 200) -> None:
    from portal.credit.reports import dealer_balance
    from portal.credit.services import credit_summary
    from portal.dealers.models import Dealer
    from portal.extensions import db

    dealer_id, code, entries = busiest_dealer(app)
    route = credit_route(app)
    say(f"- credit figures of {code} (the busiest dealer, {entries:,} ledger entries), {requests} calls; {load()}")

    def summary():
        with app.test_request_context():
            return credit_summary(db.session.get(Dealer, dealer_id))

    times = []
    figures = None
    for i in range(requests + 5):
        start = time.perf_counter()
        figures = summary()
        if i >= 5:
            times.append(time.perf_counter() - start)
    with app.test_request_context():
        balance = dealer_balance(dealer_id, None)
    say(f"  credit_summary(dealer) directly: p50 {ms(percentile(times, 50))}, p99 {ms(percentile(times, 99))}"
        f" (open receivables {figures['open_receivables']:,} = ledger balance {balance:,}:"
        f" {'yes' if figures['open_receivables'] == balance else 'NO'})")  # fmt: skip
    results["credit_summary"] = (percentile(times, 50), percentile(times, 99))
    if route is None:
        say("  GET /api/v1/dealers/{code}/credit does not exist in this checkout yet: measured credit_summary only")
        results["credit_endpoint"] = None
        return
    measure_credit_endpoint(app, route, code, requests, results)


def measure_credit_endpoint(app, route: str, code: str, requests: int, results: dict) -> None:
    _user_id, token = bench_user(app)
    client = app.test_client()
    url = route.split("<")[0] + code + "/credit"
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    body = None
    for i in range(requests + 5):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        body = response.get_json()
        if i >= 5:
            times.append(elapsed)
    say(f"  GET {url} (test client, bearer token): p50 {ms(percentile(times, 50))}, p99 {ms(percentile(times, 99))}")
    say(f"    answer: {body}")
    results["credit_endpoint"] = (percentile(times, 50), percentile(times, 99))


class Poster:
    """Posts payments through `post_payment` into one data set, one request context and one commit each, the same
    random dealers and amounts in every data set (its own RNG with the same seed)."""

    def __init__(self, app, scale: str):
        from portal.dealers.models import Dealer
        from portal.extensions import db
        from portal.platform.timeutil import today

        self.app, self.scale = app, scale
        self.user_id, _token = bench_user(app)
        self.rng = random.Random(SEED + 2)
        with app.test_request_context():
            self.dealer_ids = db.session.execute(db.select(Dealer.id).order_by(Dealer.id)).scalars().all()
            self.on = today()
            self.audit_before = self.audit_count()
        self.tag = time.strftime("%Y%m%d%H%M%S")
        self.times: list[float] = []

    @staticmethod
    def audit_count(like: str = "%") -> int:
        from portal.extensions import db

        return (
            db.session.connection()
            .exec_driver_sql("SELECT count(*) FROM audit_log WHERE action LIKE %(like)s", {"like": like})
            .scalar_one()
        )

    def post(self, count: int) -> None:
        from portal.credit.services import post_payment
        from portal.dealers.models import Dealer, User
        from portal.extensions import db
        from portal.platform.uow import commit

        for _ in range(count):
            dealer_id = self.rng.choice(self.dealer_ids)
            amount = Decimal(self.rng.randint(100_000, 20_000_000)) / 100
            reference = f"BENCH-{self.tag}-{len(self.times):05d}"
            start = time.perf_counter()
            with self.app.test_request_context(method="POST"):
                actor = db.session.get(User, self.user_id)
                dealer = db.session.get(Dealer, dealer_id)
                post_payment(actor, dealer, amount=amount, received_on=self.on, reference=reference)
                commit()
            self.times.append(time.perf_counter() - start)

    def report(self, results: dict) -> None:
        with self.app.test_request_context():
            holds = self.audit_count("credit.%")
            audit = self.audit_count() - self.audit_before
        total = sum(self.times)
        p50, p99 = percentile(self.times, 50), percentile(self.times, 99)
        say(f"  {self.scale}: {len(self.times) / total:.1f} payments/s ({total:.1f} s posting); per payment p50 "
            f"{ms(p50)}, p99 {ms(p99)}; {audit:,} audit entries ({holds} hold changes by the overdue re-evaluation)")
        results[("posting", self.scale)] = (len(self.times) / total, p50, p99, total)  # fmt: skip


def measure_posting(apps: dict, count: int, results: dict, rounds: int = 10) -> None:
    """`count` payments posted into each data set ({scale: app}, smallest first), in `rounds` batches taking turns
    (the machine is shared: both sides see the same load); payments/s from the time spent posting, p50/p99."""
    posters = [Poster(app, scale) for scale, app in apps.items()]
    say(f"- posting {count:,} payments into each of {', '.join(apps)} invoices through post_payment, one transaction"
        f" each (received {posters[0].on}), {rounds} batches in turn; {load()}")  # fmt: skip
    batch = max(1, count // rounds)
    while len(posters[0].times) < count:
        for poster in posters:
            poster.post(min(batch, count - len(poster.times)))
    for poster in posters:
        poster.report(results)


def sibling_url(url: str, suffix: str) -> str:
    """The URL of a database named like `url`'s with `suffix` (the small data set of the posting comparison)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def drop_database(app, url: str) -> None:
    from portal.extensions import db

    with app.app_context():
        db.engine.dispose()
    name = conninfo_to_dict(url)["dbname"]
    with connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    say(f"  dropped the database {name}")


# ---------------------------------------------------------------- the run


def last_month_end(day: dt.date) -> dt.date:
    return day.replace(day=1) - dt.timedelta(days=1)


# the sizes: 10k only for the posting comparison (its own database, `<name>_small`, dropped at the end), 100k and 1M
# for the ageing; a quick run: 10k and 100k
SCALES = (("10k", 10_000), ("100k", 100_000), ("1M", 1_000_000))


def run(quick: bool = False) -> dict:
    from portal.platform.timeutil import today

    url = database_url()
    small_url = sibling_url(url, "_small")
    started = time.perf_counter()
    ensure_database(url)
    ensure_database(small_url)
    apps = {"defaults": make_app(url), "jit off": make_app(url, "-c jit=off")}
    app = apps["defaults"]
    small_app = make_app(small_url)
    with app.app_context():
        end = today() - dt.timedelta(days=1)
    as_of = last_month_end(end + dt.timedelta(days=1))
    settings = server_settings(url)
    say("=" * 100)
    say(f"receivables benchmark  database {url}  PostgreSQL {settings['server_version']}")
    say(f"  shared_buffers {settings['shared_buffers']}, work_mem {settings['work_mem']}, "
        f"max_parallel_workers_per_gather {settings['max_parallel_workers_per_gather']}, jit {settings['jit']}; "
        f"{'quick: ' if quick else ''}{', '.join(label for label, _n in (SCALES[:2] if quick else SCALES))} invoices"
        f" (the smallest in {conninfo_to_dict(small_url)['dbname']}, for the posting); {load()}")  # fmt: skip
    route = credit_route(app)
    say(f"  credit endpoint: {route or 'not in this checkout yet'}")
    (small_label, small_n), *scales = SCALES[:2] if quick else SCALES
    results: dict = {"timings": {}, "scales": [label for label, _n in scales], "posting_scales": []}
    try:
        say("")
        say(f"== {small_label} invoices (for the posting comparison)")
        timings: dict = {}
        stats = build_data(small_app, small_url, small_n, end, timings)
        say(f"  application rule checked against auto_apply for: {stats['rule_check']}")
        results["timings"][small_label] = timings
        for index, (label, invoices) in enumerate(scales):
            last = index == len(scales) - 1
            timings = {}
            say("")
            say(f"== {label} invoices")
            stats = build_data(app, url, invoices, end, timings)
            say(f"  application rule checked against auto_apply for: {stats['rule_check']}")
            results["timings"][label] = timings
            measure_ageing(apps, as_of, label, explain_plans=last, results=results)
            measure_scoped_ageing(apps, as_of, label, explain_plans=last, results=results)
            if last:
                measure_credit(app, results)
                measure_posting({small_label: small_app, label: app}, 300 if quick else 2000, results)
                results["posting_scales"] = [small_label, label]
    finally:
        drop_database(small_app, small_url)
    results["total"] = time.perf_counter() - started
    summary(results)
    if results.get("credit_endpoint") is None and not quick:
        say("")
        say("- the credit endpoint was missing at start; checking the checkout again in a fresh process")
        subprocess.run([sys.executable, "-m", "bench", "--credit-endpoint-only"], check=False)  # noqa: S603
    return results


def summary(results: dict) -> None:
    say("")
    say("=" * 100)
    say(f"SUMMARY (receivables; {load()} at the end)")
    rows = []
    for label in results["scales"]:
        for setting in ("defaults", "jit off"):
            for group_by in ("dealer", "region"):
                r = results[(label, setting, group_by)]
                rows.append(
                    [
                        label,
                        setting,
                        group_by,
                        ms(r["app"]),
                        ms(r["best"]),
                        ms(r["direct"]) if "direct" in r else "-",
                        f"{r['app'] / r['best']:.2f}x",
                        f"{r['app'] / r['direct']:.2f}x" if "direct" in r else "-",
                        "yes" if not r["problems"] else "NO",
                    ]
                )
    say(
        table(
            ["invoices", "server", "ageing by", "app", "best SQL", "direct SQL", "app/best", "app/direct", "same"],
            rows,
        )
    )
    if len(results["scales"]) == 2:
        for group_by in ("dealer", "region"):
            small, big = results[("100k", "defaults", group_by)], results[("1M", "defaults", group_by)]
            say(f"  growth 100k -> 1M, by {group_by}: app x{big['app'] / small['app']:.1f}, "
                f"best SQL x{big['best'] / small['best']:.1f}")  # fmt: skip
    rows = []
    for label in results["scales"]:
        for kind in ("dealer", "region", "hq-region"):
            for setting in ("defaults", "jit off"):
                r = results.get((label, "scoped", kind, setting))
                if r:
                    ratio = f"{r['app'] / r['best']:.2f}x"
                    same = "yes" if not r["problems"] else "NO"
                    rows.append([label, setting, r["label"], ms(r["app"]), ms(r["best"]), ratio, same])
    if rows:
        say(table(["invoices", "server", "scoped ageing", "app", "best SQL", "app/best", "same"], rows))
    cs = results.get("credit_summary")
    if cs:
        say(f"  credit_summary(dealer): p50 {ms(cs[0])}, p99 {ms(cs[1])}")
    ce = results.get("credit_endpoint")
    say(f"  GET /api/v1/dealers/{{code}}/credit: p50 {ms(ce[0])}, p99 {ms(ce[1])}" if ce else
        "  GET /api/v1/dealers/{code}/credit: not available in this checkout")  # fmt: skip
    posted = [(label, results[("posting", label)]) for label in results["posting_scales"]]
    for label, p in posted:
        say(f"  post_payment at {label} invoices: {p[0]:.1f} payments/s (p50 {ms(p[1])}, p99 {ms(p[2])})")
    if len(posted) == 2:
        (small_label, small), (big_label, big) = posted
        say(f"  posting {small_label} -> {big_label}: rate {small[0] / big[0]:.2f}x slower, "
            f"p50 {big[1] / small[1]:.2f}x (goal: within 1.5x)")  # fmt: skip
    for label, timings in results["timings"].items():
        say(f"  data {label}: {timings['data total']:.1f} s (generate+COPY "
            f"{timings['generate + COPY ledger and applications']:.1f} s, "
            f"keys {timings['keys, indexes, foreign keys']:.1f} s, "
            f"VACUUM ANALYZE {timings['VACUUM ANALYZE']:.1f} s)")  # fmt: skip
    say(f"  whole run: {results['total']:.0f} s")


def credit_endpoint_only() -> None:
    """Measure GET /api/v1/dealers/{code}/credit on the data already in the benchmark database."""
    url = database_url()
    app = make_app(url)
    route = credit_route(app)
    if route is None:
        say("  GET /api/v1/dealers/{code}/credit: still not in this checkout")
        return
    results: dict = {}
    dealer_id, code, entries = busiest_dealer(app)
    say(f"- {route} for {code} (the busiest dealer, {entries:,} ledger entries), 200 requests")
    measure_credit_endpoint(app, route, code, 200, results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="100k invoices only, fewer payments")
    parser.add_argument("--credit-endpoint-only", action="store_true", help="measure the credit endpoint on the data")
    args = parser.parse_args(argv)
    if args.credit_endpoint_only:
        credit_endpoint_only()
    else:
        run(quick=args.quick)
