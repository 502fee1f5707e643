"""Bank statement import benchmark (PRODUCT.md §14, bench/README.md "banking"): a statement of 10,000 lines, as a bank
exports it (GB18030 CSV, ICBC headers, title lines), imported and applied in one job's transaction against the
receivables data set (`bench.receivables.build_data`) at 10k and at 1M invoices.

`python -m bench --banking-only [--quick] [--no-build] [--lines N]`: `--quick` builds 10k and 100k invoices;
`--no-build` imports into the data already in the database (new serials each run).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import random
import time

from bench import receivables
from bench.common import connect, copy_rows, database_url, ensure_database, load, make_app, say, server_settings, table

SEED = 14
LINES = 10_000
SHARES = {"account": 0.85, "name": 0.05, "unknown": 0.04, "debit": 0.04, "interest": 0.02}
ACCOUNT_COLUMNS = ("id", "dealer_id", "account_number", "account_name", "active", "created_by", "created_at")


def account_number(dealer_id: int) -> str:
    return f"6222{dealer_id:012d}"


def register_accounts(url: str) -> list[tuple[int, str, str]]:
    """One payer account per dealer (COPY); [(dealer id, account number, dealer name)]."""
    with connect(url) as conn:
        dealers = conn.execute("SELECT id, name FROM dealers ORDER BY id").fetchall()
        conn.execute("DELETE FROM payer_accounts")
        now = dt.datetime.now(dt.UTC).isoformat()
        lines = (
            f"{i}\t{d}\t{account_number(d)}\t{name}付款户\ttrue\tbench\t{now}\n"
            for i, (d, name) in enumerate(dealers, start=1)
        )
        copy_rows(conn, "payer_accounts", ACCOUNT_COLUMNS, lines)
        conn.execute("SELECT setval('payer_accounts_id_seq', (SELECT max(id) FROM payer_accounts))")
    return [(d, account_number(d), name) for d, name in dealers]


def statement(rng: random.Random, dealers: list[tuple[int, str, str]], lines: int, on: dt.date, tag: str) -> bytes:
    """The statement's bytes: GB18030 CSV, ICBC layout, three title lines, a summary line at the end."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["中国工商银行 账户明细查询"])
    w.writerow(["账号：1001 2345 6789 0000", "户名：某某汽车集团"])
    w.writerow([f"起止日期：{on} 至 {on}"])
    w.writerow(["凭证号", "本方账号", "对方账号", "交易时间", "借/贷", "借方发生额", "贷方发生额", "对方单位名称",
                "摘要", "余额"])  # fmt: skip
    kinds, weights = zip(*SHARES.items(), strict=True)
    for k in range(lines):
        kind = rng.choices(kinds, weights)[0]
        dealer_id, number, name = rng.choice(dealers)
        amount = f"{rng.randint(50_000, 20_000_000) / 100:,.2f}"
        serial = f"{tag}{k:06d}"
        when = f"{on} {rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00"
        if kind == "account":
            grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
            row = [serial, "100123456789", grouped, when, "贷", "", amount, name + "付款户", "货款", ""]
        elif kind == "name":
            row = [serial, "100123456789", "", when, "贷", "", amount, name, "货款", ""]
        elif kind == "unknown":
            row = [serial, "100123456789", f"9{rng.randint(10**14, 10**15 - 1)}", when, "贷", "", amount,
                   f"个人{k}", "转账", ""]  # fmt: skip
        elif kind == "debit":
            row = [serial, "100123456789", "1111222233334444", when, "借", amount, "", "某物流公司", "运费", ""]
        else:
            row = [serial, "100123456789", "", when, "贷", "", "12.34", "", "结息", ""]
        w.writerow(row)
    w.writerow(["合计", "", "", "", "", "", "", "", "", ""])
    return out.getvalue().encode("gb18030")


def import_once(app, data: bytes) -> tuple[float, dict]:
    """The job's work and its one commit, timed."""
    from portal.banking.imports import import_statement
    from portal.dealers.models import User
    from portal.extensions import db
    from portal.platform.uow import commit

    user_id, _token = receivables.bench_user(app)
    start = time.perf_counter()
    with app.test_request_context(method="POST"):
        actor = db.session.get(User, user_id)
        result = import_statement(actor, data, "statement.csv")
        commit()
    return time.perf_counter() - start, result


def measure(app, url: str, label: str, lines: int, results: dict) -> None:
    from portal.platform.timeutil import today

    with app.app_context():
        on = today() - dt.timedelta(days=1)
    dealers = register_accounts(url)
    with connect(url) as conn:
        invoices = conn.execute("SELECT count(*) FROM ledger_entries WHERE type = 'invoice'").fetchone()[0]
    data = statement(random.Random(SEED), dealers, lines, on, f"BS{time.strftime('%H%M%S')}")
    say(
        f"- importing a statement of {lines:,} lines ({len(data) / 1e6:.1f} MB) against {invoices:,} invoices; {load()}"
    )
    seconds, first = import_once(app, data)
    assert first["applied"], first["broken"][:3]
    again_s, again = import_once(app, data)
    assert again["matched"] == [] and again["unmatched"] == [], "a statement imported twice posted twice"
    matched, unmatched, skipped = len(first["matched"]), len(first["unmatched"]), len(first["skipped"])
    say(
        f"  {lines / seconds:,.0f} lines/s ({seconds:.1f} s): {matched:,} posted ({matched / seconds:,.0f}/s), "
        f"{unmatched:,} unmatched, {skipped:,} skipped; the same statement again: {again_s:.1f} s, nothing posted"
    )
    results[label] = {
        "invoices": invoices,
        "seconds": seconds,
        "lines_s": lines / seconds,
        "matched": matched,
        "posted_s": matched / seconds,
        "unmatched": unmatched,
        "skipped": skipped,
        "again": again_s,
    }


def run(quick: bool = False, build: bool = True, lines: int = LINES) -> dict:
    from portal.platform.timeutil import today

    url = database_url()
    ensure_database(url)
    app = make_app(url)
    settings = server_settings(url)
    say("=" * 100)
    say(f"banking benchmark  database {url}  PostgreSQL {settings['server_version']}; {load()}")
    results: dict = {}
    with app.app_context():
        end = today() - dt.timedelta(days=2)
    scales = [("10k", 10_000), ("100k", 100_000)] if quick else [("10k", 10_000), ("1M", 1_000_000)]
    if not build:
        scales = [("as loaded", 0)]
    for label, invoices in scales:
        say("")
        say(f"== {label} invoices")
        if build:
            receivables.build_data(app, url, invoices, end, {})
        measure(app, url, label, lines, results)
    say("")
    rows = [[label, f"{r['invoices']:,}", f"{r['seconds']:.1f} s", f"{r['lines_s']:,.0f}", f"{r['matched']:,}",
             f"{r['posted_s']:,.0f}", f"{r['unmatched']:,}", f"{r['skipped']:,}", f"{r['again']:.1f} s"]
            for label, r in results.items()]  # fmt: skip
    say(table(["data", "invoices", "import", "lines/s", "posted", "posted/s", "unmatched", "skipped", "again"], rows))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench --banking-only")
    parser.add_argument("--quick", action="store_true", help="10k and 100k invoices")
    parser.add_argument("--no-build", action="store_true", help="import into the data already loaded")
    parser.add_argument("--lines", type=int, default=LINES)
    args = parser.parse_args(argv)
    run(quick=args.quick, build=not args.no_build, lines=args.lines)
