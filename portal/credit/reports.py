"""Receivables reports in SQL: balances, the ledger with running balance, ageing as of any date, DSO.

Definitions (PRODUCT.md §5), for a date D:
- an invoice's residual on D = its amount − its applications dated ≤ D (invoices issued ≤ D);
- unapplied cash on D = credits (payments, credit notes) dated ≤ D − their applications dated ≤ D, answered
  NEGATIVE (§5: "a separate negative column"): it is owed to the dealer. One sign everywhere — API, pages, PDFs,
  exports — so that the buckets plus the unapplied column equal the total, the ledger balance on D, to the cent
  (every application is dated on or after both of its documents).
Buckets compare dates, not day differences, so the same SQL runs on PostgreSQL and SQLite.

Whose receivables (§16): a sub-dealer's ledger is its account with its distributor, not with HQ. Every sum and list
over many dealers reads through `scoped_clause` (or `hq_dealers` directly): HQ's and a region's receivables are those
of the dealers HQ sells to; `seller` names a distributor whose sub-dealers' ledgers are read instead; a dealer user
reads its own account with whom it buys from (a distributor's with HQ, a sub-dealer's with its distributor).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

from sqlalchemy import Integer, all_, and_, any_, bindparam, case, false, func, literal, or_, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import True_

from portal.credit.models import Application, LedgerEntry
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.money import ZERO, money, sql_round, sql_sum

BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")


def signed_amount():
    """An entry's effect on the balance: + invoices, − payments and credit notes."""
    return case((LedgerEntry.type == "invoice", LedgerEntry.amount), else_=-LedgerEntry.amount)


def balance_sql(dealer_id, on: dt.date | None = None):
    """Ledger balance (what the dealer owes) at the end of `on` (None: everything posted), as a scalar subquery."""
    stmt = select(sql_sum(signed_amount())).where(LedgerEntry.dealer_id == dealer_id)
    if on is not None:
        stmt = stmt.where(LedgerEntry.entry_date <= on)
    return stmt.scalar_subquery()


def dealer_balance(dealer_id: int, on: dt.date | None) -> Decimal:
    return money(db.session.execute(select(balance_sql(dealer_id, on))).scalar_one())


def ledger_select(dealer_id: int, date_from: dt.date | None, date_to: dt.date | None, types: tuple[str, ...] | None):
    """The entries in [from, to] of the given types, in date order, each with the account's running balance."""
    running = sql_round(func.sum(signed_amount()).over(order_by=(LedgerEntry.entry_date, LedgerEntry.id)))
    inner = select(
        LedgerEntry.id,
        LedgerEntry.entry_date,
        LedgerEntry.type,
        LedgerEntry.number,
        LedgerEntry.amount,
        LedgerEntry.due_on,
        LedgerEntry.reason,
        LedgerEntry.memo,
        LedgerEntry.order_number,
        running.label("balance"),
    ).where(LedgerEntry.dealer_id == dealer_id)
    if date_to is not None:
        inner = inner.where(LedgerEntry.entry_date <= date_to)
    sub = inner.subquery()
    stmt = select(sub).order_by(sub.c.entry_date, sub.c.id)
    if date_from is not None:
        stmt = stmt.where(sub.c.entry_date >= date_from)
    if types:
        stmt = stmt.where(sub.c.type.in_(types))
    return stmt


def ledger_item(row) -> dict:
    debit = row.amount if row.type == "invoice" else None
    return {
        "id": row.id,
        "date": row.entry_date,
        "type": row.type,
        "number": row.number,
        "debit": money(debit) if debit is not None else None,
        "credit": money(row.amount) if debit is None else None,
        "balance": money(row.balance),
        "due_on": row.due_on,
        "reason": row.reason,
        "memo": row.memo,
        "order_number": row.order_number,
    }


def ledger(
    dealer_id: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
    types: tuple[str, ...] | None = None,
    *,
    page: int | None = None,
    per_page: int | None = None,
) -> dict:
    """Opening balance, the entries in [from, to] in date order with the running balance, closing balance, and how
    many entries there are (`total`). With `page` and `per_page`: only that page's entries are read (LIMIT/OFFSET,
    the total counted by the same statement).

    The running balance is the account's, whatever the type filter shows."""
    stmt = ledger_select(dealer_id, date_from, date_to, types)
    opening = dealer_balance(dealer_id, date_from - dt.timedelta(days=1)) if date_from else ZERO
    if page is None or per_page is None:
        items = [ledger_item(row) for row in db.session.execute(stmt).all()]
        total = len(items)
    else:
        rows = db.session.execute(
            stmt.add_columns(func.count().over().label("total_rows")).limit(per_page).offset((page - 1) * per_page)
        ).all()
        items = [ledger_item(row) for row in rows]
        if rows:
            total = rows[0].total_rows
        else:  # a page past the end: how many there are, for the last page
            total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    closing = dealer_balance(dealer_id, date_to)
    return {"opening": opening, "items": items, "closing": closing, "total": total}


def dealer_ageing_select(dealer_clause, as_of: dt.date):
    """One row per dealer with a position on `as_of`: dealer_id, the five buckets, unapplied (≤ 0), total.

    Only invoices due in the last 90 days (or later) are looked at one by one. For the rest, per dealer:
    open residuals = invoiced − applied and unapplied = credits − applied (all dated ≤ D), because every
    application is dated on or after both of its documents; so over_90 = open residuals − the four recent
    buckets, and total = invoiced − credits, the ledger balance. (Benchmarked against hand-written SQL in bench/.)
    """
    d30, d60, d90 = (as_of - dt.timedelta(days=n) for n in (30, 60, 90))
    zero = literal(0)
    is_invoice = LedgerEntry.type == "invoice"
    led = (
        select(
            LedgerEntry.dealer_id.label("dealer_id"),
            func.sum(case((is_invoice, LedgerEntry.amount), else_=zero)).label("invoiced"),
            func.sum(case((is_invoice, zero), else_=LedgerEntry.amount)).label("credits"),
        )
        .where(LedgerEntry.entry_date <= as_of, dealer_clause(LedgerEntry.dealer_id))
        .group_by(LedgerEntry.dealer_id)
        .subquery("led")
    )
    app = (
        select(Application.dealer_id.label("dealer_id"), func.sum(Application.amount).label("applied"))
        .where(Application.applied_on <= as_of, dealer_clause(Application.dealer_id))
        .group_by(Application.dealer_id)
        .subquery("app")
    )
    # each recent invoice's applications dated ≤ D: one lookup per invoice (`ix_applications_invoice_date`), a
    # correlated subquery evaluated once per row (the bucket conditions are exclusive, a CASE evaluates one branch) —
    # not a join with the applications grouped per invoice, which read them all (a region's ageing: 1.3 s of 2 s)
    applied_by_then = (
        select(func.sum(Application.amount))
        .where(Application.invoice_id == LedgerEntry.id, Application.applied_on <= as_of)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    residual = LedgerEntry.amount - func.coalesce(applied_by_then, 0)
    bounds = {
        "not_due": LedgerEntry.due_on >= as_of,
        "1_30": and_(LedgerEntry.due_on < as_of, LedgerEntry.due_on >= d30),
        "31_60": and_(LedgerEntry.due_on < d30, LedgerEntry.due_on >= d60),
        "61_90": LedgerEntry.due_on < d60,
    }
    recent = (
        select(
            LedgerEntry.dealer_id.label("dealer_id"),
            *[func.sum(case((cond, residual), else_=zero)).label(f"r_{b}") for b, cond in bounds.items()],
        )
        .where(
            LedgerEntry.type == "invoice",
            LedgerEntry.entry_date <= as_of,
            LedgerEntry.due_on >= d90,
            dealer_clause(LedgerEntry.dealer_id),
        )
        .group_by(LedgerEntry.dealer_id)
        .subquery("recent")
    )
    invoiced = func.coalesce(led.c.invoiced, 0)
    credits = func.coalesce(led.c.credits, 0)
    applied = func.coalesce(app.c.applied, 0)
    recent_cols = {b: func.coalesce(recent.c[f"r_{b}"], 0) for b in bounds}
    over_90 = (
        invoiced - applied - recent_cols["not_due"] - recent_cols["1_30"] - recent_cols["31_60"] - recent_cols["61_90"]
    )
    return (
        select(
            led.c.dealer_id,
            *[sql_round(col).label(b) for b, col in recent_cols.items()],
            sql_round(over_90).label("over_90"),
            sql_round(applied - credits).label("unapplied"),  # negative: cash the dealer has paid ahead
            sql_round(invoiced - credits).label("total"),
        )
        .select_from(led)
        .outerjoin(app, app.c.dealer_id == led.c.dealer_id)
        .outerjoin(recent, recent.c.dealer_id == led.c.dealer_id)
    )



@functools.lru_cache(maxsize=16)
def one_dealer_ageing_select(as_of: dt.date):
    """`dealer_ageing_select` for one dealer, bound at execution (`{"dealer_id": …}`), built once per date: building
    the expression costs more than running it for one dealer (statements, the dealer overview)."""
    return dealer_ageing_select(lambda col: col == bindparam("dealer_id"), as_of)


def dealer_ageing(dealer_id: int, as_of: dt.date) -> dict:
    """One dealer's own account aged on `as_of` (the five buckets, unapplied, total) with its overdue part: the
    ageing's rows for that dealer alone, through the statement built once per date (a dealer's home, its overview)."""
    row = db.session.execute(one_dealer_ageing_select(as_of), {"dealer_id": dealer_id}).first()
    out = {k: money(getattr(row, k) or 0) if row else ZERO for k in (*BUCKETS, "unapplied", "total")}
    out["overdue"] = money(out["1_30"] + out["31_60"] + out["61_90"] + out["over_90"])
    return out


def _row(key: str, name: str, values) -> dict:
    out = {"key": key, "name": name}
    for b in (*BUCKETS, "unapplied", "total"):
        out[b] = money(getattr(values, b) or 0)
    return out


def _totals(rows: list[dict]) -> dict:
    return {b: money(sum((r[b] for r in rows), ZERO)) for b in (*BUCKETS, "unapplied", "total")}


# A NOT IN of literal ids up to this many sub-dealers; beyond, a sub-select (a bind parameter each would not scale)
SUB_DEALER_LITERALS = 1000


def hq_dealers():
    """A condition-maker on a dealer-id column: the dealers HQ sells to (those without a distributor, §16).

    Sub-dealers are few next to the dealers HQ sells to (and none until a distributor has some): their ids are read
    first, by the `parent_id` index, and left out by a NOT IN of literals (on PostgreSQL `<> ALL` of one array
    parameter: at 400 sub-dealers, rendering the list into each of HQ's home statements cost ~70 ms of Python) — with
    none, the condition is TRUE and HQ's statements keep the shape they were benchmarked with (bench/README.md)."""
    subs = select(Dealer.id).where(Dealer.parent_id.is_not(None))
    ids = _sub_dealer_ids(subs)
    if not ids:
        return lambda col: true()
    if len(ids) > SUB_DEALER_LITERALS:
        return lambda col: col.not_in(subs)
    if db.session.get_bind().dialect.name == "postgresql":  # one array parameter: no list of ids rendered per statement
        values = bindparam(None, list(ids), type_=ARRAY(Integer))
        return lambda col: col != all_(values)
    return lambda col: col.not_in(ids)


def _sub_dealer_ids(subs) -> list[int]:
    """The first SUB_DEALER_LITERALS + 1 sub-dealers' ids; read once per page view (HQ's home asks three times) — a
    GET writes no dealer, other requests read them each time."""
    from flask import g, has_request_context, request

    kept = has_request_context() and request.method in ("GET", "HEAD")
    if kept and "_sub_dealer_ids" in g:
        return g._sub_dealer_ids
    ids = db.session.execute(subs.limit(SUB_DEALER_LITERALS + 1)).scalars().all()
    if kept:
        g._sub_dealer_ids = ids
    return ids


def buyers_of(seller: Dealer):
    """A condition-maker on a dealer-id column: the sub-dealers of the distributor `seller` (its receivables)."""
    return lambda col: col.in_(select(Dealer.id).where(Dealer.parent_id == seller.id))


def scoped_clause(scope, region: Region | None = None, seller: Dealer | None = None):
    """A condition-maker on a dealer-id column: whose receivables the caller reads, in its scope, narrowed to a
    region's subtree.

    - `seller` (a distributor in the caller's scope, `channel.seller_in_scope`): its sub-dealers' ledgers with it;
    - a dealer user: its own account with whom it buys from (never its sub-dealers' with it, nor the two summed);
    - HQ and region managers: the dealers HQ sells to (`hq_dealers`)."""
    if seller is not None:
        whose = buyers_of(seller)
    elif scope.is_dealer:
        whose = scope.own_clause
    else:
        whose = hq_dealers()

    def clause(col):
        parts = [scope.dealer_clause(col), whose(col)]
        if region is not None:
            in_region = (
                select(Dealer.id)
                .join(Region, Dealer.region_id == Region.id)
                .where(Region.path.startswith(region.path, autoescape=True))
            )
            parts.append(col.in_(in_region))
        parts = [c for c in parts if not isinstance(c, True_)]  # HQ's with no sub-dealers: the statement as it was
        return and_(*parts) if parts else true()

    return clause


def scoped_dealers(scope, region: Region | None = None, seller: Dealer | None = None):
    """`scoped_clause`, with the dealers it keeps read once when finding them takes a sub-select (a region's subtree,
    a region manager's, a distributor's sub-dealers): then a condition-maker on those ids, given as values.

    What a statement filtering several branches by the scope (the ageing: ledger sums, application sums, recent
    invoices) needs: the sub-select repeated in each branch was planned blind (a region's dealers estimated from a
    LIKE on region paths), and a region manager's ageing took 3× the best SQL given the same dealers (bench/README.md,
    "receivables"). The rule stays `scoped_clause`'s (`Scope.dealer_clause`), evaluated here on the dealers table —
    the same dealers, since every dealer-id column references it. HQ's own receivables (TRUE, or a NOT IN of its
    sub-dealers) and a dealer's own account (its id) need no sub-select and keep their statements."""
    clause = scoped_clause(scope, region, seller)
    if region is None and seller is None and not scope.is_region:
        return clause
    ids = db.session.execute(select(Dealer.id).where(clause(Dealer.id)).order_by(Dealer.id)).scalars().all()
    return dealer_ids_clause(ids)


def _no_jit(scope) -> None:
    """PostgreSQL, for this transaction: no JIT compilation. The ageing over many dealers is estimated costly (a
    lookup per recent invoice, counted once per bucket) and PostgreSQL's stock JIT then compiles it for about as
    long as it runs (bench/README.md, "receivables"); channel flow does the same (analytics.reports). A dealer
    user's ageing (its own account, a distributor's few sub-dealers) stays below the JIT's threshold: not asked."""
    if not scope.is_dealer and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def dealer_ids_clause(ids: list[int]):
    """A condition-maker on a dealer-id column: one of `ids`. On PostgreSQL one array parameter (`= ANY(…)`: the
    planner sees the values, and any number of them is one parameter however many branches use it); elsewhere an
    IN of the values; FALSE for none."""
    if not ids:
        return lambda col: false()
    if db.session.get_bind().dialect.name == "postgresql":
        values = bindparam("scoped_dealer_ids", list(ids), type_=ARRAY(Integer))
        return lambda col: col == any_(values)
    return lambda col: col.in_(list(ids))


def ageing(
    scope, as_of: dt.date, group_by: str = "dealer", region: Region | None = None, seller: Dealer | None = None
) -> dict:
    """Ageing in the caller's scope, grouped by dealer, by region (each child region of `region`, or of the
    top of the caller's tree, rolling up its subtree), by account manager or for the whole channel (`total`); HQ's
    receivables, or `seller`'s (`scoped_clause`, its dealers read once: `scoped_dealers`)."""

    _no_jit(scope)
    per_dealer = dealer_ageing_select(scoped_dealers(scope, region, seller), as_of).subquery()
    if group_by == "dealer":
        stmt = (
            select(Dealer.code, Dealer.name, *[per_dealer.c[b] for b in (*BUCKETS, "unapplied", "total")])
            .join(per_dealer, per_dealer.c.dealer_id == Dealer.id)
            .order_by(Dealer.code)
        )
        rows = [_row(r.code, r.name, r) for r in db.session.execute(stmt).all()]
    elif group_by == "region":
        return ageing_by_region_and_dealer(scope, as_of, region, seller)[0]
    elif group_by == "account_manager":  # §14: each account manager's dealers; "" for dealers nobody looks after
        manager = func.coalesce(User.username, "")
        stmt = (
            select(manager.label("key"), *[sql_sum(per_dealer.c[b]).label(b) for b in (*BUCKETS, "unapplied", "total")])
            .select_from(per_dealer)
            .join(Dealer, per_dealer.c.dealer_id == Dealer.id)
            .outerjoin(User, User.id == Dealer.account_manager_id)
            .group_by(manager)
            .order_by(manager)
        )
        labels = dict(db.session.execute(select(User.username, User.display_name)).all())
        rows = [_row(r.key, labels.get(r.key) or "", r) for r in db.session.execute(stmt).all()]
    else:
        stmt = select(*[sql_sum(per_dealer.c[b]).label(b) for b in (*BUCKETS, "unapplied", "total")])
        values = db.session.execute(stmt).one()
        rows = [_row("total", "", values)]
    return {"as_of": as_of, "group_by": group_by, "rows": rows, "totals": _totals(rows)}


def ageing_by_region_and_dealer(
    scope, as_of: dt.date, region: Region | None = None, seller: Dealer | None = None
) -> tuple[dict, dict]:
    """`ageing(…, "region")` and `ageing(…, "dealer")` from one computation of the per-dealer ageing.

    Each dealer row comes with the region row it rolls up into (a child region of `region`, or of the top of the
    caller's tree, holding it in its subtree; `region` itself for its own dealers; a root when there are several
    trees); the region rows are the sums of their dealers' rounded rows, as a GROUP BY of them would give."""
    _no_jit(scope)
    per_dealer = dealer_ageing_select(scoped_dealers(scope, region, seller), as_of).subquery()
    if region is None:
        if scope.is_region:
            region = db.session.execute(select(Region).where(Region.path == scope.region_path)).unique().scalar_one()
        else:
            roots = db.session.execute(select(Region).where(Region.parent_id.is_(None))).unique().scalars().all()
            region = roots[0] if len(roots) == 1 else None
    dealer_region = Region.__table__.alias("dealer_region")
    group = Region.__table__.alias("group_region")
    under = func.substr(dealer_region.c.path, 1, func.length(group.c.path)) == group.c.path
    if region is None:  # several trees: one row per root
        belongs = and_(group.c.parent_id.is_(None), under)
    else:  # one row per child region (its whole subtree), and one for dealers directly in `region`
        belongs = or_(
            and_(group.c.parent_id == region.id, under),
            and_(group.c.id == region.id, dealer_region.c.id == region.id),
        )
    dealers = Dealer.__table__
    stmt = (
        select(
            dealers.c.code,
            dealers.c.name,
            group.c.code.label("group_code"),
            group.c.name.label("group_name"),
            *[per_dealer.c[b] for b in (*BUCKETS, "unapplied", "total")],
        )
        .select_from(per_dealer)
        .join(dealers, dealers.c.id == per_dealer.c.dealer_id)
        .join(dealer_region, dealer_region.c.id == dealers.c.region_id)
        .outerjoin(group, belongs)
        .order_by(dealers.c.code)
    )
    dealer_rows: list[dict] = []
    groups: dict[str, dict] = {}
    for r in db.session.execute(stmt).all():
        row = _row(r.code, r.name, r)
        dealer_rows.append(row)
        if r.group_code is None:
            continue
        into = groups.setdefault(r.group_code, {"key": r.group_code, "name": r.group_name, **_totals([])})
        for b in (*BUCKETS, "unapplied", "total"):
            into[b] += row[b]
    region_rows = [groups[k] for k in sorted(groups)]
    return (
        {"as_of": as_of, "group_by": "region", "rows": region_rows, "totals": _totals(region_rows)},
        {"as_of": as_of, "group_by": "dealer", "rows": dealer_rows, "totals": _totals(dealer_rows)},
    )


def dso(dealer_clause, on: dt.date) -> Decimal | None:
    """Days sales outstanding: receivables ÷ gross sales of the last 90 days × 90 (None without sales)."""
    return dso_trend(dealer_clause, [on])[0]


def dso_trend(dealer_clause, ends: list[dt.date]) -> list[Decimal | None]:
    """DSO on each of `ends`, from one statement over the ledger entries up to the last of them.

    The statement sums the signed amounts and the invoices per day from the first sales window's start on (all that
    comes before is one row); the receivables on a date (Σ signed amounts dated ≤ it) and its sales (the invoices
    of the 90 days ending on it) are then added up from those day rows, exactly (the receivables page's 12-month
    trend was 24 scans of the ledger: bench/README.md, "mixed")."""
    if not ends:
        return []
    floor = min(ends) - dt.timedelta(days=89)
    day = case((LedgerEntry.entry_date < floor, literal(floor - dt.timedelta(days=1))), else_=LedgerEntry.entry_date)
    invoiced = case((LedgerEntry.type == "invoice", LedgerEntry.amount), else_=literal(0))
    rows = db.session.execute(
        select(day.label("day"), func.sum(signed_amount()), func.sum(invoiced))
        .where(LedgerEntry.entry_date <= max(ends), dealer_clause(LedgerEntry.dealer_id))
        .group_by(day)
    ).all()
    days = [(_as_date(d), Decimal(signed or 0), Decimal(inv or 0)) for d, signed, inv in rows]
    out: list[Decimal | None] = []
    for on in ends:
        start = on - dt.timedelta(days=89)
        sales = money(sum((inv for d, _, inv in days if start <= d <= on), ZERO))
        receivables = money(sum((signed for d, signed, _ in days if d <= on), ZERO))
        out.append(None if sales == 0 else (receivables / sales * 90).quantize(Decimal("0.1")))
    return out


def _as_date(value) -> dt.date:
    """A date from SQL (SQLite gives a CASE over dates back as text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def month_ends(on: dt.date, count: int) -> list[dt.date]:
    """The last `count - 1` month ends before `on`, then `on` itself (for trends)."""
    ends = []
    first = on.replace(day=1)
    for _ in range(count - 1):
        end = first - dt.timedelta(days=1)
        ends.append(end)
        first = end.replace(day=1)
    return [*reversed(ends), on]


def credit_utilisation(scope, region: Region | None, on: dt.date, seller: Dealer | None = None) -> list[dict]:
    """Dealers by how much of their credit (limit + temporary increases valid on `on`) is used, most first: HQ's
    dealers, or `seller`'s sub-dealers (`scoped_clause`)."""
    from portal.credit.models import CreditIncrease, DealerCredit
    from portal.credit.services import open_orders_by_dealer

    clause = scoped_clause(scope, region, seller)
    balance = (
        select(LedgerEntry.dealer_id, sql_sum(signed_amount()).label("balance"))
        .where(clause(LedgerEntry.dealer_id))
        .group_by(LedgerEntry.dealer_id)
        .subquery()
    )
    temporary = (
        select(CreditIncrease.dealer_id, sql_sum(CreditIncrease.amount).label("temporary"))
        .where(CreditIncrease.valid_from <= on, CreditIncrease.valid_until >= on, clause(CreditIncrease.dealer_id))
        .group_by(CreditIncrease.dealer_id)
        .subquery()
    )
    stmt = (
        select(
            Dealer.code,
            Dealer.name,
            Dealer.id,
            DealerCredit.credit_limit,
            DealerCredit.on_hold,
            sql_round(func.coalesce(temporary.c.temporary, 0)).label("temporary"),
            sql_round(func.coalesce(balance.c.balance, 0)).label("balance"),
        )
        .join(DealerCredit, DealerCredit.dealer_id == Dealer.id)
        .outerjoin(balance, balance.c.dealer_id == Dealer.id)
        .outerjoin(temporary, temporary.c.dealer_id == Dealer.id)
        .where(clause(Dealer.id))
    )
    rows = []
    found = db.session.execute(stmt).all()
    orders = open_orders_by_dealer([r.id for r in found])
    for r in found:
        total_credit = money(r.credit_limit + r.temporary)
        exposure = money(r.balance + orders.get(r.id, ZERO))
        ratio = (exposure / total_credit * 100).quantize(Decimal("0.1")) if total_credit > 0 else None
        rows.append(
            {
                "code": r.code,
                "name": r.name,
                "credit_limit": money(r.credit_limit),
                "temporary": money(r.temporary),
                "credit": total_credit,
                "exposure": exposure,
                "available": money(total_credit - exposure),
                "ratio": ratio,
                "on_hold": r.on_hold,
            }
        )
    rows.sort(key=lambda r: (r["ratio"] is None, -(r["ratio"] or 0)))
    return rows


def open_invoices_page(dealer_clause, on: dt.date, page: int, per_page: int) -> dict:
    """The invoices with something open today of the dealers `dealer_clause` keeps (`scoped_clause`), oldest due
    first: amount, paid (payments and credit notes applied), open, days overdue on `on`. Only entries not marked
    `settled` are read (`ix_ledger_entries_open`), and only their applications summed."""
    is_open = and_(LedgerEntry.type == "invoice", ~LedgerEntry.settled, dealer_clause(LedgerEntry.dealer_id))
    applied = (
        select(Application.invoice_id, func.sum(Application.amount).label("applied"))
        .where(Application.invoice_id.in_(select(LedgerEntry.id).where(is_open)))
        .group_by(Application.invoice_id)
        .subquery()
    )
    residual = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0))
    stmt = (
        select(
            Dealer.code,
            LedgerEntry.number,
            LedgerEntry.entry_date,
            LedgerEntry.due_on,
            LedgerEntry.amount,
            residual.label("residual"),
        )
        .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
        .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
        .where(is_open, residual > 0)
    )
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    offset = (page - 1) * per_page
    rows = (
        []
        if offset >= total
        else db.session.execute(
            stmt.order_by(LedgerEntry.due_on, LedgerEntry.id).limit(per_page).offset(offset)
        ).all()
    )
    items = [
        {
            "dealer_code": r.code,
            "number": r.number,
            "issued_on": r.entry_date,
            "due_on": r.due_on,
            "amount": money(r.amount),
            "paid": money(r.amount - money(r.residual)),
            "open": money(r.residual),
            "days_overdue": max((on - r.due_on).days, 0),
        }
        for r in rows
    ]
    return {"items": items, "page": page, "per_page": per_page, "total": total}
