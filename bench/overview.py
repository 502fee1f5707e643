"""Dealer overview benchmark (一户一档, PRODUCT.md §12): the busiest dealer's overview at 100k and 1M invoices.

The data: the receivables benchmark's channel and ledger (`bench.receivables.build_data`: 2,000 dealers, invoices
and as many payments over 24 months, applications as `auto_apply` makes them, overdue holds), plus what the other
sections of the overview read:

- orders for every dealer (one for every five invoices, shared out like the invoices, COPY): mostly delivered,
  the most recent ones open (credit review, approved, in production, built, shipped) or cancelled; one line each;
  a tenth of the busiest dealer's open stock lines waiting for stock (backordered, with a promised date);
- for the busiest dealer: five shipments in transit (on its last open orders, each with its invoice), its stock
  (receipts and sales over 90 days) and sell-through lines, the last 12 months' statements issued through
  `portal.statements.services.issue`, a rebate programme covering every dealer (its progress reads the quarter's
  sell-through of all of them), contacts, ship-to addresses and a note made through the portal's services.

Measured in this process (median of warm runs; p50/p95 of `--runs`, default 200):

1. `portal.dealers.overview.build` for the busiest dealer as HQ sees it, in a request context of its own each time
   (nothing cached between runs), with the number of SQL statements it runs;
2. `GET /api/v1/dealers/{code}/overview` through the Flask test client with an hq_admin bearer token (JSON included)
   and `GET /dealers/{code}` (the HTML page, a logged-in session);
3. the baseline: one hand-written SQL statement (CTEs, json_build_object) computing the same figures — the credit
   position, the ageing, the open invoices and the first of them, orders per status, backorders, shipments in
   transit, statements per status, stock and 30-day sell-through — on the app's connection; its figures must equal
   the app's to the cent;
4. the HQ dealer list sorted by overdue amount and by code (`portal.dealers.services.dealer_rows`, 50 rows).

`python -m bench --overview-only [--quick] [--runs N]`; the target is p50 <= 150 ms at 1M invoices.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import time
from decimal import Decimal

from bench.common import (
    connect,
    copy_rows,
    database_url,
    ensure_database,
    load,
    make_app,
    ms,
    percentile,
    reset_sequences,
    say,
    server_settings,
    table,
)

SEED = 12
ORDERS_PER_INVOICE = 5  # one order for every five invoices
OPEN_STATUSES = ("credit_review", "approved", "in_production", "built", "shipped")


# ---------------------------------------------------------------- data


def add_orders(url: str, dealers, invoices: int, end: dt.date, busiest_id: int) -> dict:
    """Orders (one line each) for every dealer, by COPY: the last ones of each dealer open, the rest delivered."""
    from bench.receivables import split_counts

    rng = random.Random(SEED)
    counts = split_counts(invoices // ORDERS_PER_INVOICE, [d.weight for d in dealers])
    order_rows, line_rows = [], []
    oid = 0
    waiting = 0
    for d, n in zip(dealers, counts, strict=True):
        for k in range(n):
            oid += 1
            days_ago = (n - k) * 700 // max(n, 1)
            created = dt.datetime.combine(end - dt.timedelta(days=days_ago), dt.time(2, rng.randrange(60)), dt.UTC)
            recent = n - k <= max(3, n // 10)
            status = rng.choice(OPEN_STATUSES) if recent else ("cancelled" if rng.random() < 0.03 else "delivered")
            qty = rng.randint(1, 20)
            unit = rng.randint(5_000, 200_000)  # cents
            net = unit * qty
            tax = net * 13 // 100
            gross = net + tax
            approved = "\\N" if status in ("credit_review", "cancelled") else created.isoformat()
            order_rows.append(
                f"{oid}\tSO-B{oid:08d}\t{d.id}\t{status}\t{net / 100:.2f}\t{tax / 100:.2f}\t"
                f"{gross / 100:.2f}\tbench\t{created.isoformat()}\t{approved}\n"
            )
            backordered, promised = 0, "\\N"
            if d.id == busiest_id and status in ("approved", "in_production") and rng.random() < 0.5:
                backordered, promised = rng.randint(1, qty), (end + dt.timedelta(days=rng.randint(3, 40))).isoformat()
                waiting += 1
            line_rows.append(
                f"{oid}\t{oid}\t1\t1\tPART-1\t{qty}\t{unit / 100:.2f}\t{unit / 100:.2f}\t0.1300\t"
                f"{net / 100:.2f}\t{tax / 100:.2f}\t{gross / 100:.2f}\t{backordered}\t{promised}\n"
            )
    created = dt.datetime.combine(end - dt.timedelta(days=760), dt.time(2), dt.UTC).isoformat()
    products = [
        f"1\tPART-1\t机油滤清器\tOil filter\tparts\tpc\t500.00\t0.1300\tf\t0\tt\t{created}\n",
        f"2\tPART-2\t刹车片\tBrake pads\tparts\tset\t800.00\t0.1300\tf\t0\tt\t{created}\n",
    ]
    with connect(url) as conn:
        copy_rows(
            conn,
            "products",
            (
                "id",
                "sku",
                "name",
                "name_en",
                "category",
                "unit",
                "list_price",
                "tax_rate",
                "build_to_order",
                "lead_time_days",
                "active",
                "created_at",
            ),
            products,
        )
        reset_sequences(conn, ("products",))
        copy_rows(
            conn,
            "orders",
            ("id", "number", "dealer_id", "status", "net", "tax", "gross", "created_by", "created_at", "approved_at"),
            order_rows,
        )
        copy_rows(
            conn,
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
                "backordered",
                "promised_on",
            ),
            line_rows,
        )
        conn.commit()
        reset_sequences(conn, ("orders", "order_lines"))
        conn.execute("ANALYZE orders")
        conn.execute("ANALYZE order_lines")
        conn.commit()
    return {"orders": oid, "waiting": waiting}


def add_busiest_dealers_world(app, dealer_id: int, end: dt.date) -> dict:
    """Products, shipments in transit, stock and sell-through, statements, a rebate programme, contacts, addresses
    and a note for one dealer (the services where the portal has them)."""
    from sqlalchemy import select

    from portal.credit.models import LedgerEntry
    from portal.dealers import services as dealer_services
    from portal.dealers.models import Dealer, User
    from portal.extensions import db
    from portal.inventory.models import DealerStockMove, SellThroughLine
    from portal.orders.models import Order
    from portal.platform.uow import commit
    from portal.rebates import services as rebates
    from portal.shipping.models import Shipment
    from portal.statements import services as statements

    rng = random.Random(SEED + 1)
    made: dict = {}
    with app.test_request_context(method="POST"):
        dealer = db.session.get(Dealer, dealer_id)
        # five shipments in transit: its last open orders, each invoiced by one of its latest invoices
        orders = (
            db.session.execute(
                select(Order)
                .where(Order.dealer_id == dealer_id, Order.status.in_(("approved", "in_production", "built")))
                .order_by(Order.id.desc())
                .limit(5)
            )
            .unique()
            .scalars()
            .all()
        )
        invoices = (
            db.session.execute(
                select(LedgerEntry)
                .where(LedgerEntry.dealer_id == dealer_id, LedgerEntry.type == "invoice")
                .order_by(LedgerEntry.entry_date.desc(), LedgerEntry.id.desc())
                .limit(len(orders))
            )
            .unique()
            .scalars()
            .all()
        )
        for n, (order, invoice) in enumerate(zip(orders, invoices, strict=False), 1):
            db.session.add(
                Shipment(
                    number=f"DN-B{n:06d}",
                    order_id=order.id,
                    dealer_id=dealer_id,
                    status="in_transit",
                    shipped_on=invoice.entry_date,
                    net=order.net,
                    tax=order.tax,
                    gross=order.gross,
                    invoice_id=invoice.id,
                    request_hash="bench",
                    created_by="bench",
                )
            )
        # stock: receipts every few days over 90 days, sales most days (each sale with its sell-through line)
        start = end - dt.timedelta(days=90)
        for day in range(91):
            on = start + dt.timedelta(days=day)
            for pid, sku in ((1, "PART-1"), (2, "PART-2")):
                if day % 7 == 0:
                    db.session.add(
                        DealerStockMove(
                            dealer_id=dealer_id,
                            product_id=pid,
                            sku=sku,
                            quantity=40,
                            kind="receipt",
                            moved_on=on,
                            created_by="bench",
                        )
                    )
                elif rng.random() < 0.8:
                    qty = rng.randint(1, 4)
                    move = DealerStockMove(
                        dealer_id=dealer_id,
                        product_id=pid,
                        sku=sku,
                        quantity=-qty,
                        kind="sale",
                        moved_on=on,
                        created_by="bench",
                    )
                    db.session.add(move)
                    db.session.flush()
                    price = Decimal(rng.randint(550, 900))
                    db.session.add(
                        SellThroughLine(
                            dealer_id=dealer_id,
                            product_id=pid,
                            sku=sku,
                            quantity=qty,
                            unit_price=price,
                            amount=price * qty,
                            sold_on=on,
                            source="portal",
                            stock_move_id=move.id,
                            created_by="bench",
                        )
                    )
        db.session.flush()
        hq = User(
            username="bench.overview",
            display_name="渠道经理 基准",
            role="channel_manager",
            locale="zh_CN",
            password_hash="!",  # noqa: S106 (no hash matches it: this user cannot log in)
        )
        db.session.add(hq)
        db.session.flush()
        for role, name, phone, email in (
            ("owner", "张强", "13900000001", None),
            ("purchasing", "王伟", "13800138000", "buy@dealer.example.cn"),
            ("finance", "林静", "021-6234 5678", "fin@dealer.example.cn"),
        ):
            dealer_services.add_contact(hq, dealer, {"role": role, "name": name, "phone": phone, "email": email})
        dealer_services.add_address(hq, dealer, {"label": "展厅", "address": "上海市浦东新区世纪大道1号"})
        dealer_services.add_address(hq, dealer, {"label": "仓库", "address": "上海市嘉定区安亭镇2号"})
        dealer_services.add_note(hq, dealer, {"body": "月度拜访：回款节奏正常"})
        dealer.account_manager = hq
        quarter = end.replace(month=(end.month - 1) // 3 * 3 + 1, day=1)
        programme = rebates.save_programme(
            None,
            {
                "code": "RB-BENCH",
                "name": "季度动销返利",
                "period_start": quarter,
                "period_end": (quarter + dt.timedelta(days=95)).replace(day=1) - dt.timedelta(days=1),
                "scope": "all",
                "basis": "sell_through_amount",
                "tier_kind": "percent",
                "cap": None,
                "targets": {},
                "tiers": [
                    {"threshold": Decimal("0"), "rate": Decimal("1")},
                    {"threshold": Decimal("100000"), "rate": Decimal("2")},
                ],
            },
        )
        rebates.activate(None, programme)
        commit()
    # the last 12 months' statements, through the service (one transaction each, as the monthly run does)
    t0 = time.perf_counter()
    first = end.replace(day=1)
    periods = []
    for _ in range(12):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        periods.append(first.strftime("%Y-%m"))
    for period in reversed(periods):
        with app.test_request_context(method="POST"):
            statements.issue("bench", db.session.get(Dealer, dealer_id), period)
            commit()
    made["statements_s"] = time.perf_counter() - t0
    with connect(database_url()) as conn:
        for t in ("shipments", "dealer_stock_moves", "sell_through_lines", "statements", "products"):
            conn.execute(f"ANALYZE {t}")
        conn.commit()
    return made


# ---------------------------------------------------------------- the baseline: one hand-written statement

BASELINE = """
WITH d AS (SELECT %(dealer)s::int AS id, %(on)s::date AS on_, %(on)s::date - 30 AS d30, %(on)s::date - 60 AS d60,
                  %(on)s::date - 90 AS d90, %(on)s::date - 29 AS since),
credit AS (
  SELECT c.credit_limit, c.on_hold,
         (SELECT coalesce(sum(i.amount), 0) FROM credit_increases i, d
           WHERE i.dealer_id = d.id AND i.valid_from <= d.on_ AND i.valid_until >= d.on_) AS temporary,
         (SELECT coalesce(sum(CASE WHEN e.type = 'invoice' THEN e.amount ELSE -e.amount END), 0)
            FROM ledger_entries e, d WHERE e.dealer_id = d.id) AS balance,
         (SELECT coalesce(sum(o.gross), 0) FROM orders o, d
           WHERE o.dealer_id = d.id AND o.status IN ('approved', 'in_production', 'built'))
         - (SELECT coalesce(sum(s.gross), 0) FROM shipments s JOIN orders o ON o.id = s.order_id, d
             WHERE s.dealer_id = d.id AND o.status IN ('approved', 'in_production', 'built')) AS open_orders
    FROM dealer_credit c, d WHERE c.dealer_id = d.id
),
invoices AS (
  SELECT e.id, e.number, e.due_on, e.amount,
         e.amount - coalesce((SELECT sum(a.amount) FROM applications a, d
                               WHERE a.invoice_id = e.id AND a.applied_on <= d.on_), 0) AS open
    FROM ledger_entries e, d
   WHERE e.dealer_id = d.id AND e.type = 'invoice' AND e.entry_date <= d.on_
),
open_invoices AS (SELECT * FROM invoices WHERE open > 0),
cash AS (
  SELECT (SELECT coalesce(sum(a.amount), 0) FROM applications a, d WHERE a.dealer_id = d.id AND a.applied_on <= d.on_)
       - (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e, d
           WHERE e.dealer_id = d.id AND e.type <> 'invoice' AND e.entry_date <= d.on_) AS unapplied
),
ageing AS (
  SELECT coalesce(sum(open) FILTER (WHERE due_on >= d.on_), 0) AS not_due,
         coalesce(sum(open) FILTER (WHERE due_on < d.on_ AND due_on >= d.d30), 0) AS b1_30,
         coalesce(sum(open) FILTER (WHERE due_on < d.d30 AND due_on >= d.d60), 0) AS b31_60,
         coalesce(sum(open) FILTER (WHERE due_on < d.d60 AND due_on >= d.d90), 0) AS b61_90,
         coalesce(sum(open) FILTER (WHERE due_on < d.d90), 0) AS over_90,
         count(*) AS open_count, coalesce(sum(open), 0) AS open_total
    FROM open_invoices, d GROUP BY d.on_
),
orders_by AS (SELECT o.status, count(*) AS n, sum(o.gross) AS gross FROM orders o, d WHERE o.dealer_id = d.id
               GROUP BY o.status),
backorders AS (
  SELECT count(*) AS lines, coalesce(sum(l.backordered), 0) AS quantity, count(DISTINCT l.order_id) AS orders
    FROM order_lines l JOIN orders o ON o.id = l.order_id, d
   WHERE o.dealer_id = d.id AND l.backordered > 0 AND o.status IN ('approved', 'in_production', 'built')
),
transit AS (SELECT count(*) AS n, coalesce(sum(s.gross), 0) AS gross FROM shipments s, d
             WHERE s.dealer_id = d.id AND s.status = 'in_transit'),
statements_by AS (SELECT s.status, count(*) AS n FROM statements s, d
                   WHERE s.dealer_id = d.id AND s.superseded_by_id IS NULL GROUP BY s.status),
stock AS (SELECT coalesce(sum(m.quantity), 0) AS on_hand FROM dealer_stock_moves m, d WHERE m.dealer_id = d.id),
sold AS (SELECT count(*) AS lines, coalesce(sum(t.quantity), 0) AS quantity, coalesce(sum(t.amount), 0) AS amount
           FROM sell_through_lines t, d WHERE t.dealer_id = d.id AND t.sold_on >= d.since)
SELECT json_build_object(
  'credit', (SELECT row_to_json(credit) FROM credit),
  'unapplied', (SELECT unapplied FROM cash),
  'ageing', (SELECT row_to_json(ageing) FROM ageing),
  'first_invoices', (SELECT json_agg(x) FROM (SELECT number, open FROM open_invoices ORDER BY due_on, id LIMIT 8) x),
  'orders', (SELECT json_object_agg(status, json_build_object('n', n, 'gross', gross)) FROM orders_by),
  'recent_orders', (SELECT json_agg(x) FROM (SELECT o.number FROM orders o, d WHERE o.dealer_id = d.id
      AND o.status IN ('submitted', 'credit_review', 'approved', 'in_production', 'built', 'shipped')
      ORDER BY o.created_at DESC, o.id DESC LIMIT 6) x),
  'backorders', (SELECT row_to_json(backorders) FROM backorders),
  'transit', (SELECT row_to_json(transit) FROM transit),
  'statements', (SELECT json_object_agg(status, n) FROM statements_by),
  'stock', (SELECT on_hand FROM stock),
  'sold', (SELECT row_to_json(sold) FROM sold)
)
"""


def run_baseline(app, dealer_id: int, on: dt.date) -> dict:
    from portal.extensions import db

    with app.app_context():
        raw = db.session.connection().exec_driver_sql(BASELINE, {"dealer": dealer_id, "on": on}).scalar_one()
        db.session.rollback()
    return raw if isinstance(raw, dict) else json.loads(raw)


def compare(o: dict, b: dict) -> list[str]:
    """Where the app's overview and the baseline's figures differ (empty: the same to the cent)."""
    cents = lambda v: Decimal(str(v)).quantize(Decimal("0.01"))  # noqa: E731
    credit, ageing = b["credit"], b["ageing"] or {}
    pairs = [
        ("credit limit", o["credit"]["credit_limit"], credit["credit_limit"]),
        ("temporary", o["credit"]["temporary"], credit["temporary"]),
        ("balance", o["credit"]["open_receivables"], credit["balance"]),
        ("open orders", o["credit"]["open_orders"], credit["open_orders"]),
        ("on hold", o["credit"]["on_hold"], credit["on_hold"]),
        ("not due", o["ageing"]["not_due"], ageing.get("not_due", 0)),
        ("1-30", o["ageing"]["1_30"], ageing.get("b1_30", 0)),
        ("31-60", o["ageing"]["31_60"], ageing.get("b31_60", 0)),
        ("61-90", o["ageing"]["61_90"], ageing.get("b61_90", 0)),
        ("over 90", o["ageing"]["over_90"], ageing.get("over_90", 0)),
        ("unapplied", o["ageing"]["unapplied"], b["unapplied"]),
        ("open invoices", o["open_invoices"]["count"], ageing.get("open_count", 0)),
        ("open total", o["open_invoices"]["total"], ageing.get("open_total", 0)),
        (
            "first invoices",
            [(i["number"], cents(i["open"])) for i in o["open_invoices"]["items"]],
            [(i["number"], cents(i["open"])) for i in b["first_invoices"] or []],
        ),
        (
            "orders",
            {s["status"]: (s["count"], cents(s["gross"])) for s in o["orders"]["by_status"] + o["orders"]["closed"]},
            {k: (v["n"], cents(v["gross"])) for k, v in (b["orders"] or {}).items()},
        ),
        (
            "recent orders",
            [r["number"] for r in o["orders"]["recent"]],
            [r["number"] for r in b["recent_orders"] or []],
        ),
        (
            "backorders",
            (o["backorders"]["lines"], o["backorders"]["quantity"], o["backorders"]["orders"]),
            (b["backorders"]["lines"], b["backorders"]["quantity"], b["backorders"]["orders"]),
        ),
        (
            "in transit",
            (o["shipments"]["count"], cents(o["shipments"]["gross"])),
            (b["transit"]["n"], cents(b["transit"]["gross"])),
        ),
        (
            "statements",
            {s["status"]: s["count"] for s in o["statements"]["by_status"] if s["count"]},
            b["statements"] or {},
        ),
        ("on hand", o["stock"]["on_hand"], b["stock"]),
        (
            "sold 30 days",
            (o["sell_through"]["lines"], o["sell_through"]["quantity"], cents(o["sell_through"]["amount"])),
            (b["sold"]["lines"], b["sold"]["quantity"], cents(b["sold"]["amount"])),
        ),
    ]
    problems = []
    for label, app_value, base_value in pairs:
        if (
            isinstance(app_value, Decimal)
            or isinstance(base_value, (int, float, str))
            and not isinstance(base_value, bool)
        ):
            same = cents(app_value) == cents(base_value)
        else:
            same = app_value == base_value
        if not same:
            problems.append(f"{label}: app {app_value} != baseline {base_value}")
    return problems


# ---------------------------------------------------------------- timing


def timed(fn, runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure(app, label: str, dealer_id: int, code: str, entries: int, runs: int) -> dict:
    from sqlalchemy import event

    from portal.dealers import overview
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.platform.tenancy import Scope
    from portal.platform.timeutil import today

    on = today()

    def build() -> dict:
        with app.test_request_context():
            dealer = db.session.get(Dealer, dealer_id)
            return overview.build(Scope("hq"), dealer, internal=True)

    # what it costs in statements, and the figures against the baseline's
    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    figures = build()
    event.remove(engine, "before_cursor_execute", listener)
    problems = compare(figures, run_baseline(app, dealer_id, on))
    say(
        f"  {len(seen)} SQL statements for one overview; figures equal to the baseline's: "
        f"{'yes' if not problems else 'NO: ' + '; '.join(problems)}"
    )
    say(
        f"    ({figures['open_invoices']['count']} open invoices, {figures['orders']['open_count']} open orders, "
        f"{figures['backorders']['lines']} backordered lines, {figures['shipments']['count']} shipments in transit, "
        f"{figures['statements']['count']} statements, {figures['stock']['on_hand']} pieces on hand)"
    )

    results: dict = {"label": label, "code": code, "entries": entries, "statements": len(seen), "problems": problems}
    say(f"- {runs} runs each, interleaved by kind; {load()}")
    results["build"] = timed(build, runs)
    results["baseline"] = timed(lambda: run_baseline(app, dealer_id, on), runs)

    from bench.receivables import bench_user

    _user_id, token = bench_user(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/dealers/{code}/overview"

    def api():
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]

    results["api"] = timed(api, runs)
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = browser.post("/login", data={"username": "bench.hq", "password": "bench-pass-2026", "csrf_token": csrf})
    assert resp.status_code == 302, resp.status_code

    def html():
        resp = browser.get(f"/dealers/{code}")
        assert resp.status_code == 200

    results["page"] = timed(html, max(20, runs // 4))

    from portal.dealers import services

    def listing(sort: str):
        def run():
            with app.test_request_context():
                services.dealer_rows(services.dealers_query(Scope("hq")), sort=sort, direction="desc", per_page=50)

        return run

    results["list_overdue"] = timed(listing("overdue"), 5, warmup=1)
    results["list_code"] = timed(listing("code"), 20, warmup=2)
    for kind in ("build", "api", "page", "baseline", "list_overdue", "list_code"):
        t = results[kind]
        say(f"  {kind:13s} p50 {ms(percentile(t, 50))}  p95 {ms(percentile(t, 95))}")
    return results


# ---------------------------------------------------------------- the run


def run(quick: bool, runs: int) -> list[dict]:
    from bench.receivables import build_data, busiest_dealer
    from portal.platform.timeutil import today

    url = database_url()
    ensure_database(url)
    app = make_app(url)
    with app.app_context():
        end = today() - dt.timedelta(days=1)
    settings = server_settings(url)
    say("=" * 100)
    say(f"dealer overview benchmark  database {url}  PostgreSQL {settings['server_version']}; {load()}")
    scales = [("100k", 100_000)] if quick else [("100k", 100_000), ("1M", 1_000_000)]
    out = []
    for label, invoices in scales:
        say("")
        say(f"== {label} invoices")
        started = time.perf_counter()
        stats = build_data(app, url, invoices, end, {})
        dealer_id, code, entries = busiest_dealer(app)
        orders = add_orders(url, stats["dealers"], invoices, end, dealer_id)
        extra = add_busiest_dealers_world(app, dealer_id, end)
        say(
            f"  + {orders['orders']:,} orders ({orders['waiting']} backordered lines of {code}); {code}'s shipments, "
            f"stock, sell-through, 12 statements ({extra['statements_s']:.1f} s), rebate programme, contacts; "
            f"data in {time.perf_counter() - started:.0f} s"
        )
        say(f"- the busiest dealer: {code}, {entries:,} ledger entries")
        out.append(measure(app, label, dealer_id, code, entries, runs))
    summary(out)
    return out


def summary(results: list[dict]) -> None:
    say("")
    say("=" * 100)
    say(f"SUMMARY (dealer overview; {load()} at the end)")
    rows = []
    for r in results:
        rows.append(
            [
                r["label"],
                r["code"],
                f"{r['entries']:,}",
                str(r["statements"]),
                *[
                    f"{ms(percentile(r[k], 50))} / {ms(percentile(r[k], 95))}"
                    for k in ("build", "api", "page", "baseline")
                ],
                f"{percentile(r['build'], 50) / percentile(r['baseline'], 50):.2f}x",
                ms(percentile(r["list_overdue"], 50)),
                ms(percentile(r["list_code"], 50)),
                "yes" if not r["problems"] else "NO",
            ]
        )
    say(
        table(
            [
                "invoices",
                "dealer",
                "entries",
                "SQL",
                "build p50/p95",
                "API p50/p95",
                "page p50/p95",
                "baseline p50/p95",
                "build/base",
                "list by overdue",
                "list by code",
                "same",
            ],
            rows,
        )
    )
    last = results[-1]
    target = "met" if percentile(last["build"], 50) <= 0.150 else "NOT met"
    say(f"  target p50 <= 150 ms at {last['label']}: {target} (overview.build p50 {ms(percentile(last['build'], 50))})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench --overview-only")
    parser.add_argument("--quick", action="store_true", help="100k invoices only")
    parser.add_argument("--runs", type=int, default=200, help="timed runs of the overview (and the API, the baseline)")
    args = parser.parse_args(argv)
    run(args.quick, args.runs)
