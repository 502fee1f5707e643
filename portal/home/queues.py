"""Work queues (PRODUCT.md §12): what waits for this person, oldest first, with its age, one click from its action.

Each queue is a function `(ctx, limit, offset) -> (total, items)` that reads through the caller's scope with a fixed
number of statements — one: a page of rows with the total beside each row (a window count, `_paged`; the region
manager's approvals add two for the dealers' credit, a page of returns one for their lines) — never one per item.
`queues_for(user)` answers the queues of the user's role, each capped at `CAP` items with its total and a link to see
them all: the filtered list where one shows exactly the queue, else the queue's own page (`/home/queues/<key>`), which
pages through every item.

Per role (decisions in docs/guide/*.md, "Work queues"):

- finance: open disputes; current statements unconfirmed `STALE_STATEMENT_DAYS` days after issue; unapplied cash
  (payments not fully applied); orders in credit review (finance approves them); dealers on credit hold; failed jobs
  of finance's kinds in the last `FAILED_JOB_DAYS` days. Unmatched payment notices wait for §14.
- region manager: orders of its region in credit review within its approval limit; those beyond it, "waiting for
  HQ" (there is no separate credit request yet). Broken payment promises wait for §14.
- channel manager: orders in credit review; backorders; built units waiting to ship. Returns wait for §13.
- HQ administrator: failed jobs (every kind), orders in credit review, dealers on credit hold.
- dealer administrator: statements to confirm, shipments to receive, backorders; dealer staff: the last two.
  A distributor's administrator (§16) first of all: its sub-dealers' orders in credit review, which it decides.

HQ's queues of orders in credit review hold HQ's orders only: a sub-dealer's order is decided by its distributor, never
by HQ or the region. A distributor's scope covers its sub-dealers, but what waits for a dealer's own people — its
statements to confirm, shipments to receive, returns to ship, backorders — is its own dealer's only (`_own`): the
sub-dealers' are theirs to handle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, literal, select, type_coerce
from sqlalchemy.orm import joinedload, lazyload, selectinload

from portal.credit import reports
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.auth import can
from portal.platform.i18n import number_text
from portal.platform.money import ZERO, money, sql_round, sql_sum
from portal.platform.timeutil import UTCDateTime, portal_tz, today, utcnow

CAP = 10  # items of each queue shown on the home page and in the API
PAGE = 50  # items per page on a queue's own page
STALE_STATEMENT_DAYS = 10  # finance follows up a statement still unconfirmed this many days after its issue
FAILED_JOB_DAYS = 14  # a failed job stays in the queue this long (nothing closes a failed job)
AWAITING_CONFIRMATION = ("issued", "resolved")  # a current statement the dealer still has to confirm
BACKORDER_STATUSES = ("approved", "in_production", "built")
FINANCE_JOB_KINDS = ("payment_import", "overdue_scan", "statement_run", "rebate_settlement", "bank_statement_import")

# The few labels the queues say, as the pages say them (same msgids as portal.platform.web and the statements pages;
# this module stays out of the web layer, tests/test_wiring.py)
STATUS_TO_CONFIRM = {"issued": _l("Issued"), "resolved": _l("Resolved")}
JOB_KINDS = {
    "payment_import": _l("Bank file import"),
    "overdue_scan": _l("Overdue scan"),
    "sell_through_import": _l("Sell-through import"),
    "statement_run": _l("Monthly statement run"),
    "rebate_settlement": _l("Rebate settlement"),
    "bank_statement_import": _l("Bank statement import"),
}

ROLE_QUEUES: dict[str, tuple[str, ...]] = {
    "finance": ("disputes", "stale_statements", "payment_notices", "unmatched_receipts", "unapplied_cash",
                "approvals", "credit_requests", "credit_holds", "failed_jobs"),
    "region_manager": ("approvals", "waiting_for_hq", "credit_requests", "broken_promises"),
    "channel_manager": ("approvals", "backorders", "built_units", "returns_to_decide", "returns_to_receive",
                        "discrepancies"),
    "hq_admin": ("failed_jobs", "approvals", "credit_holds", "returns_to_receive"),
    "dealer_admin": ("statements_to_confirm", "shipments_to_receive", "returns_to_ship", "backorders"),
    "dealer_staff": ("shipments_to_receive", "backorders"),
}
DISTRIBUTOR_ADMIN_QUEUES = ("sales_to_decide",)  # before its own dealer's queues (§16)


# A part of an item's description: segments of text, each kept on one line or not (codes, amounts and dates never
# break across lines; names and comments wrap).
Part = list[tuple[str, bool]]


def keep(text: str) -> Part:
    return [(text, True)]


def wrap(text: str) -> Part:
    return [(text, False)]


@dataclass
class Item:
    key: str  # the object's identifier (on the page as the queue's item attribute, e.g. data-order="SO-…")
    label: str  # the object's code (order, statement, shipment number, dealer code...)
    parts: list[Part]  # what it is about, in the reader's language: parts shown separated by " · "
    since: dt.datetime | None  # when it started waiting (a business date counts from its midnight, portal time)
    link: str  # the page where the action is done
    date_only: bool = False  # `since` is a business date: its age is counted in days
    code: bool = True  # the label is a code (shown in monospace); False for words (a job's kind)

    @property
    def detail(self) -> str:
        return " · ".join("".join(text for text, _nowrap in part) for part in self.parts)

    @property
    def since_day(self) -> str:
        """The business date it has waited since, as YYYY-MM-DD."""
        return self.since.astimezone(portal_tz()).date().isoformat() if self.since else ""

    def age_seconds(self, now: dt.datetime) -> int | None:
        return None if self.since is None else max(0, int((now - self.since).total_seconds()))

    def age_class(self, now: dt.datetime) -> str:
        """fresh (under a day), days (a day to a week), old (a week or more)."""
        seconds = self.age_seconds(now)
        if seconds is None or seconds < 86400:
            return "age-fresh"
        return "age-days" if seconds < 7 * 86400 else "age-old"

    def age(self, now: dt.datetime) -> str:
        """How long it has waited, as people say it: 3 d, 5 h, 12 min (a business date: today, or days)."""
        if self.since is None:
            return "—"
        if self.date_only:
            days = (now.astimezone(portal_tz()).date() - self.since.astimezone(portal_tz()).date()).days
            return _("today") if days <= 0 else _("%(n)s d", n=days)
        return age_label(self.age_seconds(now))


def age_label(seconds: int) -> str:
    if seconds >= 86400:
        return _("%(n)s d", n=seconds // 86400)
    if seconds >= 3600:
        return _("%(n)s h", n=seconds // 3600)
    return _("%(n)s min", n=max(1, seconds // 60))


@dataclass
class Queue:
    key: str
    title: str
    total: int
    items: list[Item]
    see_all: str
    item_attr: str = "data-item"
    card_attr: str | None = None
    note: str | None = None  # one line under the title: what the queue holds
    now: dt.datetime = field(default_factory=utcnow)


@dataclass
class Ctx:
    scope: object
    user: object
    memo: dict = field(default_factory=dict)  # what two queues of one page share (the region's credit-review split)


Fetch = Callable[[Ctx, int, int], tuple[int, list[Item]]]


@dataclass(frozen=True)
class QueueDef:
    key: str
    title: Callable[[Ctx], str]
    fetch: Fetch
    see_all: Callable[[Ctx], str]
    item_attr: str  # the attribute naming each item on the page (data-order, data-statement...)
    note: Callable[[Ctx], str | None] = lambda ctx: None
    card_attr: str | None = None  # an attribute of the queue's card that pages and tests look for


# ------------------------------------------------------------------ helpers


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), portal_tz()).astimezone(dt.UTC)


def _count(stmt) -> int:
    return db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


def _paged(stmt, limit: int, offset: int) -> tuple[int, list]:
    """(total, one page of the rows) in one statement: the total is a window count over the same rows, taken before
    the LIMIT; only a page past the end (no rows, not the first page) counts on its own."""
    rows = db.session.execute(stmt.add_columns(func.count().over()).limit(limit).offset(offset)).all()
    if rows:
        return rows[0][-1], rows
    return (_count(stmt) if offset else 0), rows


def _paged_objects(stmt, limit: int, offset: int) -> tuple[int, list]:
    """`_paged` for a statement selecting ORM objects: (total, the page's objects)."""
    rows = db.session.execute(stmt.add_columns(func.count().over()).limit(limit).offset(offset)).unique().all()
    if rows:
        return rows[0][-1], [r[0] for r in rows]
    return (_count(stmt) if offset else 0), []


def _own(ctx: Ctx, model):
    """The scope's condition on a dealer-owned model, narrowed for a dealer's users to their own dealer: a
    distributor's scope covers its sub-dealers (§16), but their statements, shipments, returns and backorders wait
    for the sub-dealers' own people."""
    return ctx.scope.own_clause(model.dealer_id) if ctx.scope.is_dealer else ctx.scope.clause(model)


def _dealer(code: str, name: str) -> Part:
    return [(code, True), (f" {name}", False)]


def _money(value) -> str:
    """An amount as every page shows it: 1,234.50."""
    return number_text(value, 2)


def _queue_page(key: str) -> Callable[[Ctx], str]:
    return lambda ctx: url_for("home.queue", key=key)


# ------------------------------------------------------------------ finance


def _disputes(ctx: Ctx, limit: int, offset: int):
    from portal.statements.models import Dispute, Statement

    stmt = (
        select(
            Dispute.id,
            Dispute.statement_id,
            Dispute.raised_at,
            Dispute.comment,
            Statement.number,
            Dealer.code,
            Dealer.name,
        )
        .join(Statement, Statement.id == Dispute.statement_id)
        .join(Dealer, Dealer.id == Dispute.dealer_id)
        .where(ctx.scope.clause(Dispute), Dispute.status == "open")
        .order_by(Dispute.raised_at, Dispute.id)
    )
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.number,
            parts=[_dealer(r.code, r.name), wrap(_shorten(r.comment))],
            since=r.raised_at,
            link=url_for("statements.detail", statement_id=r.statement_id, _anchor=f"dispute-{r.id}"),
        )
        for r in rows
    ]
    return total, items


def _shorten(text: str | None, length: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _statements(ctx: Ctx, limit: int, offset: int, *, stale: bool):
    from portal.statements.models import Statement

    stmt = (
        select(
            Statement.id,
            Statement.number,
            Statement.period,
            Statement.status,
            Statement.closing,
            Statement.issued_on,
            Dealer.code,
            Dealer.name,
        )
        .join(Dealer, Dealer.id == Statement.dealer_id)
        .where(
            _own(ctx, Statement),
            Statement.superseded_by_id.is_(None),
            Statement.status.in_(AWAITING_CONFIRMATION),
        )
        .order_by(Statement.issued_on, Statement.id)
    )
    if stale:
        stmt = stmt.where(Statement.issued_on <= today() - dt.timedelta(days=STALE_STATEMENT_DAYS))
    total, rows = _paged(stmt, limit, offset)
    items = []
    for r in rows:
        parts = [
            keep(r.period),
            keep(str(STATUS_TO_CONFIRM[r.status])),
            keep(_("closing %(amount)s CNY", amount=_money(r.closing))),
        ]
        if stale:
            parts.insert(0, _dealer(r.code, r.name))
        items.append(
            Item(
                key=str(r.id),
                label=r.number,
                parts=parts,
                since=_midnight(r.issued_on),
                link=url_for("statements.detail", statement_id=r.id),
                date_only=True,
            )
        )
    return total, items


def _unapplied_cash(ctx: Ctx, limit: int, offset: int):
    from portal.credit.models import Application, LedgerEntry

    applied = (
        select(Application.credit_id, func.sum(Application.amount).label("applied"))
        .where(ctx.scope.clause(Application))
        .group_by(Application.credit_id)
        .subquery()
    )
    unapplied = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0))
    stmt = (
        select(
            LedgerEntry.id,
            LedgerEntry.number,
            LedgerEntry.entry_date,
            LedgerEntry.amount,
            unapplied.label("unapplied"),
            Dealer.code,
            Dealer.name,
        )
        .join(Dealer, Dealer.id == LedgerEntry.dealer_id)
        .outerjoin(applied, applied.c.credit_id == LedgerEntry.id)
        .where(ctx.scope.clause(LedgerEntry), LedgerEntry.type == "payment", unapplied > 0,
               reports.scoped_clause(ctx.scope)(LedgerEntry.dealer_id))  # HQ: not the sub-dealers' (§16)
        .order_by(LedgerEntry.entry_date, LedgerEntry.id)
    )
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.number,
            parts=[
                _dealer(r.code, r.name),
                keep(
                    _(
                        "%(unapplied)s of %(amount)s CNY unapplied",
                        unapplied=_money(money(r.unapplied)),
                        amount=_money(r.amount),
                    )
                ),
            ],
            since=_midnight(r.entry_date),
            link=url_for("credit.entry", entry_id=r.id),
            date_only=True,
        )
        for r in rows
    ]
    return total, items


def _credit_holds(ctx: Ctx, limit: int, offset: int):
    from portal.credit.models import DealerCredit
    from portal.credit.services import hold_reason

    stmt = (
        ctx.scope.select(DealerCredit)
        .where(DealerCredit.on_hold.is_(True), reports.scoped_clause(ctx.scope)(DealerCredit.dealer_id))
        # oldest first; a hold of unknown date (set before holds were dated) first of all, on both databases
        .order_by(case((DealerCredit.held_at.is_(None), 0), else_=1), DealerCredit.held_at, DealerCredit.dealer_id)
    )
    total, rows = _paged_objects(stmt, limit, offset)
    items = [
        Item(
            key=row.dealer.code,
            label=row.dealer.code,
            parts=[wrap(p) for p in (row.dealer.name, hold_reason(row)) if p],
            since=row.held_at,
            link=url_for("credit.credit", code=row.dealer.code),
        )
        for row in rows
    ]
    return total, items


def _failed_jobs(ctx: Ctx, limit: int, offset: int):
    from portal.background.models import JobRecord
    from portal.dealers.models import User

    ended = type_coerce(func.coalesce(JobRecord.finished_at, JobRecord.created_at), UTCDateTime())
    stmt = (
        select(JobRecord.id, JobRecord.kind, ended.label("ended"), User.username)
        .outerjoin(User, User.id == JobRecord.started_by_id)
        .where(
            ctx.scope.clause(JobRecord),
            JobRecord.status == "failed",
            ended >= utcnow() - dt.timedelta(days=FAILED_JOB_DAYS),
        )
        .order_by(ended, JobRecord.id)
    )
    if getattr(ctx.user, "role", None) == "finance":
        stmt = stmt.where(JobRecord.kind.in_(FINANCE_JOB_KINDS))
    may_retry = can("statements.issue")
    total, rows = _paged(stmt, limit, offset)
    items = []
    for r in rows:
        who = _("started by %(who)s", who=r.username) if r.username else _("started by the schedule")
        link = (
            url_for("statements.run", job_id=r.id)
            if r.kind == "statement_run" and may_retry
            else url_for("jobs.detail", job_id=r.id)
        )
        items.append(
            Item(
                key=r.id,
                label=str(JOB_KINDS.get(r.kind, r.kind)),
                parts=[wrap(who)],
                since=r.ended,
                link=link,
                code=False,
            )
        )
    return total, items


# ------------------------------------------------------------------ orders in credit review


def review_since_subquery():
    """(order_id, since): when each order in credit review last entered it (its latest event to credit_review)."""
    from portal.orders.models import Order, OrderEvent

    return (
        select(OrderEvent.order_id.label("order_id"), func.max(OrderEvent.at).label("since"))
        .where(
            OrderEvent.to_status == "credit_review",
            OrderEvent.order_id.in_(select(Order.id).where(Order.status == "credit_review")),
        )
        .group_by(OrderEvent.order_id)
        .subquery("review_since")
    )


def review_since_column(sub):
    from portal.orders.models import Order

    return type_coerce(func.coalesce(sub.c.since, Order.created_at), UTCDateTime())


def review_since(order_ids: list[int]) -> dict[int, dt.datetime]:
    """When each of these orders entered credit review (its creation when no event says so): one statement."""
    from portal.orders.models import Order

    if not order_ids:
        return {}
    sub = review_since_subquery()
    since = review_since_column(sub)
    rows = db.session.execute(
        select(Order.id, since).outerjoin(sub, sub.c.order_id == Order.id).where(Order.id.in_(order_ids))
    ).all()
    return dict(rows)


def _review_rows(ctx: Ctx):
    """Orders in credit review the caller decides, oldest first: HQ's orders for HQ and the regions; for a
    distributor's admin, its sub-dealers' orders with it (§16)."""
    from portal.orders.models import Order

    sub = review_since_subquery()
    since = review_since_column(sub)
    seller = Order.seller_id == ctx.scope.dealer_id if ctx.scope.is_dealer else Order.seller_id.is_(None)
    return (
        select(Order.id, Order.number, Order.gross, Order.dealer_id, since.label("since"), Dealer.code, Dealer.name)
        .join(Dealer, Dealer.id == Order.dealer_id)
        .outerjoin(sub, sub.c.order_id == Order.id)
        .where(ctx.scope.clause(Order), Order.status == "credit_review", seller)
        .order_by(since, Order.id)
    )


def _review_item(r, excess: Decimal | None = None) -> Item:
    parts = [_dealer(r.code, r.name), keep(_("%(amount)s CNY", amount=_money(r.gross)))]
    if excess is not None:
        parts.append(keep(_("%(amount)s CNY over available credit", amount=_money(excess))))
    link = url_for("orders.detail", number=r.number)
    return Item(key=r.number, label=r.number, parts=parts, since=r.since, link=link)


def available_by_dealer(dealer_ids: list[int], on: dt.date | None = None) -> dict[int, Decimal]:
    """Available credit of these dealers (as credit_summary computes it: limit + temporary increases − exposure), in
    two statements whatever their number."""
    from portal.credit.models import CreditIncrease, DealerCredit
    from portal.credit.reports import balance_sql
    from portal.credit.services import open_orders_by_dealer

    if not dealer_ids:
        return {}
    on = on or today()
    temporary = (
        select(sql_sum(CreditIncrease.amount))
        .where(CreditIncrease.dealer_id == Dealer.id, CreditIncrease.valid_from <= on, CreditIncrease.valid_until >= on)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Dealer.id, func.coalesce(DealerCredit.credit_limit, literal(0)), temporary, balance_sql(Dealer.id))
        .outerjoin(DealerCredit, DealerCredit.dealer_id == Dealer.id)
        .where(Dealer.id.in_(dealer_ids))
    ).all()
    orders = open_orders_by_dealer(dealer_ids)
    out = {}
    for dealer_id, limit, temp, balance in rows:
        exposure = money(money(Decimal(str(balance or 0))) + orders.get(dealer_id, ZERO))
        out[dealer_id] = money(Decimal(str(limit or 0)) + money(Decimal(str(temp or 0))) - exposure)
    return out


def _region_split(ctx: Ctx) -> tuple[list, list]:
    """The region's orders in credit review: (within the manager's approval limit, beyond it) with their excess,
    oldest first. The region's credit-review orders are few: all of them, in three statements, read once for both
    of the region manager's queues of them."""
    if "region_split" not in ctx.memo:
        ctx.memo["region_split"] = _read_region_split(ctx)
    return ctx.memo["region_split"]


def _read_region_split(ctx: Ctx) -> tuple[list, list]:
    rows = db.session.execute(_review_rows(ctx)).all()
    available = available_by_dealer(sorted({r.dealer_id for r in rows}))
    limit = ctx.user.region.approval_limit if ctx.user.region is not None else ZERO
    mine, beyond = [], []
    for r in rows:
        excess = max(ZERO, money(r.gross - available.get(r.dealer_id, ZERO)))
        (mine if excess <= limit else beyond).append((r, excess))
    return mine, beyond


def _approvals(ctx: Ctx, limit: int, offset: int):
    if ctx.scope.is_region:
        mine, _beyond = _region_split(ctx)
        return len(mine), [_review_item(r, excess) for r, excess in mine[offset : offset + limit]]
    total, rows = _paged(_review_rows(ctx), limit, offset)
    return total, [_review_item(r) for r in rows]


def _sales_to_decide(ctx: Ctx, limit: int, offset: int):
    """A distributor's admin: its sub-dealers' orders in credit review, with how far each exceeds the sub-dealer's
    available credit with it (§16). Its sub-dealers are few: all of them, in three statements."""
    total, rows = _paged(_review_rows(ctx), limit, offset)
    available = available_by_dealer(sorted({r.dealer_id for r in rows}))
    items = [_review_item(r, max(ZERO, money(r.gross - available.get(r.dealer_id, ZERO)))) for r in rows]
    return total, items


def _waiting_for_hq(ctx: Ctx, limit: int, offset: int):
    _mine, beyond = _region_split(ctx)
    return len(beyond), [_review_item(r, excess) for r, excess in beyond[offset : offset + limit]]


# ------------------------------------------------------------------ goods


def _backorders(ctx: Ctx, limit: int, offset: int):
    from portal.orders.models import Order, OrderLine

    since = type_coerce(func.coalesce(Order.approved_at, Order.created_at), UTCDateTime())
    stmt = (
        select(
            Order.number,
            OrderLine.sku,
            OrderLine.backordered,
            OrderLine.promised_on,
            since.label("since"),
            Dealer.code,
            Dealer.name,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(Dealer, Dealer.id == Order.dealer_id)
        .where(_own(ctx, Order), OrderLine.backordered > 0, Order.status.in_(BACKORDER_STATUSES))
        .order_by(since, Order.id, OrderLine.line_no)
    )
    total, rows = _paged(stmt, limit, offset)
    items = []
    for r in rows:
        parts = [keep(_("%(sku)s × %(n)s backordered", sku=r.sku, n=r.backordered))]
        promised = _("promised %(day)s", day=r.promised_on.isoformat()) if r.promised_on else _("no date yet")
        parts.append(keep(promised))
        if not ctx.scope.is_dealer:
            parts.insert(0, _dealer(r.code, r.name))
        items.append(
            Item(
                key=r.number,
                label=r.number,
                parts=parts,
                since=r.since,
                link=url_for("orders.detail", number=r.number),
            )
        )
    return total, items


def _built_units(ctx: Ctx, limit: int, offset: int):
    from portal.orders.models import Order
    from portal.production.models import Unit
    from portal.production.stages import build_stages

    built = (
        select(Unit.order_id, func.count().label("units"), func.min(Unit.stage_at).label("since"))
        .where(ctx.scope.clause(Unit), Unit.stage == build_stages()[-1])
        .group_by(Unit.order_id)
        .subquery("built")
    )
    since = type_coerce(built.c.since, UTCDateTime())
    stmt = (
        select(Order.number, built.c.units, since.label("since"), Dealer.code, Dealer.name)
        .join(built, built.c.order_id == Order.id)
        .join(Dealer, Dealer.id == Order.dealer_id)
        .where(Order.status != "cancelled")  # a cancelled order's built units never ship
        .order_by(since, Order.id)
    )
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=r.number,
            label=r.number,
            parts=[_dealer(r.code, r.name), keep(_("%(n)s built unit(s)", n=r.units))],
            since=r.since,
            link=url_for("shipping.ship", number=r.number),
        )
        for r in rows
    ]
    return total, items


def _shipments_to_receive(ctx: Ctx, limit: int, offset: int):
    from portal.orders.models import Order
    from portal.shipping.models import Shipment, ShipmentLine

    pieces = (
        select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
        .where(ShipmentLine.shipment_id == Shipment.id)
        .scalar_subquery()
    )
    stmt = (
        select(Shipment.number, Shipment.shipped_on, Order.number.label("order_number"), pieces.label("pieces"))
        .join(Order, Order.id == Shipment.order_id)
        .where(_own(ctx, Shipment), Shipment.status == "in_transit")
        .order_by(Shipment.shipped_on, Shipment.id)
    )
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=r.number,
            label=r.number,
            parts=[
                keep(_("order %(number)s", number=r.order_number)),
                keep(_("%(n)s pieces", n=r.pieces)),
                keep(_("shipped %(date)s", date=r.shipped_on.isoformat())),
            ],
            since=_midnight(r.shipped_on),
            link=url_for("shipping.detail", number=r.number),
            date_only=True,
        )
        for r in rows
    ]
    return total, items


# ------------------------------------------------------------------ collections (§14)


def _payment_notices(ctx: Ctx, limit: int, offset: int):
    """Dealers' payment notices no posted payment matches yet, oldest first (finance matches or queries them)."""
    from portal.credit.models import PaymentNotice

    stmt = (
        select(PaymentNotice.id, PaymentNotice.amount, PaymentNotice.reference, PaymentNotice.created_at, Dealer.code,
               Dealer.name)
        .join(Dealer, Dealer.id == PaymentNotice.dealer_id)
        .where(ctx.scope.clause(PaymentNotice), PaymentNotice.status == "notified")
        .order_by(PaymentNotice.created_at, PaymentNotice.id)
    )  # fmt: skip
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.reference,
            parts=[_dealer(r.code, r.name), keep(_money(r.amount))],
            since=r.created_at,
            link=url_for("payment_notices.detail", notice_id=r.id),
        )
        for r in rows
    ]
    return total, items


def _unmatched_receipts(ctx: Ctx, limit: int, offset: int):
    """Bank receipts no dealer was matched to, oldest first (finance assigns or dismisses them)."""
    from portal.banking.models import UnmatchedReceipt

    stmt = (
        select(UnmatchedReceipt.id, UnmatchedReceipt.serial, UnmatchedReceipt.amount, UnmatchedReceipt.payer_name,
               UnmatchedReceipt.received_on)
        .where(ctx.scope.clause(UnmatchedReceipt), UnmatchedReceipt.status == "open")
        .order_by(UnmatchedReceipt.received_on, UnmatchedReceipt.id)
    )  # fmt: skip
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.serial,
            parts=[p for p in (wrap(r.payer_name) if r.payer_name else None, keep(_money(r.amount))) if p],
            since=_midnight(r.received_on),
            date_only=True,
            link=url_for("banking.receipts", _anchor=f"receipt-{r.id}"),
        )
        for r in rows
    ]
    return total, items


def _credit_requests(ctx: Ctx, limit: int, offset: int):
    """Requests for a temporary credit increase waiting for this person: a region manager those of its region
    within its limit (stage region), finance the others (stage finance)."""
    from portal.credit.models import CreditRequest

    stage = "region" if ctx.scope.is_region else "finance"
    stmt = (
        select(CreditRequest.id, CreditRequest.amount, CreditRequest.valid_until, CreditRequest.created_at, Dealer.code,
               Dealer.name)
        .join(Dealer, Dealer.id == CreditRequest.dealer_id)
        .where(ctx.scope.clause(CreditRequest), CreditRequest.status == "pending", CreditRequest.stage == stage)
        .order_by(CreditRequest.created_at, CreditRequest.id)
    )  # fmt: skip
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.code,
            parts=[wrap(r.name), keep(_money(r.amount)), keep(_("until %(day)s", day=r.valid_until.isoformat()))],
            since=r.created_at,
            link=url_for("credit_requests.index", _anchor=f"request-{r.id}"),
        )
        for r in rows
    ]
    return total, items


def _returns(status: str, since_col: str):
    """Returns of one status in scope, oldest first (§13): a channel manager decides requested ones and receives
    shipped-back ones; a dealer administrator ships approved ones back."""

    def fetch(ctx: Ctx, limit: int, offset: int):
        from portal.returns.models import Return
        from portal.returns.services import credit_amount

        since = getattr(Return, since_col)
        # what an item shows: its dealer, its shipment's number, its lines' credit (not the shipment's order and
        # lines, nor the messages the model loads with it by default)
        stmt = (
            select(Return)
            .where(_own(ctx, Return), Return.status == status)
            .order_by(since, Return.id)
            .options(
                lazyload("*"),
                joinedload(Return.dealer).lazyload("*"),
                joinedload(Return.shipment).lazyload("*"),
                selectinload(Return.lines).lazyload("*"),
            )
        )
        total, rows = _paged_objects(stmt, limit, offset)
        items = [
            Item(
                key=r.number,
                label=r.number,
                parts=[wrap(f"{r.dealer.code} {r.dealer.name}"), keep(_money(credit_amount(r))),
                       keep(r.shipment.number)],
                since=_midnight(getattr(r, since_col)) if since_col == "shipped_back_on" else getattr(r, since_col),
                link=url_for("returns.detail", number=r.number),
                date_only=since_col == "shipped_back_on",
            )
            for r in rows
        ]  # fmt: skip
        return total, items

    return fetch


def _discrepancies(ctx: Ctx, limit: int, offset: int):
    """Delivery discrepancies waiting for HQ to re-ship or credit, oldest first (§13)."""
    from portal.returns.models import DeliveryDiscrepancy

    stmt = (
        select(DeliveryDiscrepancy.number, DeliveryDiscrepancy.sku, DeliveryDiscrepancy.serial,
               DeliveryDiscrepancy.quantity, DeliveryDiscrepancy.value, DeliveryDiscrepancy.created_at, Dealer.code,
               Dealer.name)
        .join(Dealer, Dealer.id == DeliveryDiscrepancy.dealer_id)
        .where(ctx.scope.clause(DeliveryDiscrepancy), DeliveryDiscrepancy.status == "open")
        .order_by(DeliveryDiscrepancy.created_at, DeliveryDiscrepancy.id)
    )  # fmt: skip
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=r.number,
            label=r.number,
            parts=[wrap(f"{r.code} {r.name}"), keep(f"{r.serial or r.sku} ×{r.quantity}"), keep(_money(r.value))],
            since=r.created_at,
            link=url_for("returns.discrepancy_list", status="open", _anchor=f"disc-{r.number}"),
        )
        for r in rows
    ]
    return total, items


def _broken_promises(ctx: Ctx, limit: int, offset: int):
    """Promises to pay that were broken and not followed by another promise, oldest first."""
    from sqlalchemy.orm import aliased

    from portal.collections.models import PromiseToPay

    later = aliased(PromiseToPay)
    stmt = (
        select(PromiseToPay.id, PromiseToPay.amount, PromiseToPay.promised_on, PromiseToPay.settled_at, Dealer.code,
               Dealer.name)
        .join(Dealer, Dealer.id == PromiseToPay.dealer_id)
        .where(ctx.scope.clause(PromiseToPay), PromiseToPay.status == "broken",
               ~select(later.id).where(later.dealer_id == PromiseToPay.dealer_id, later.id > PromiseToPay.id)
               .exists())
        .order_by(PromiseToPay.promised_on, PromiseToPay.id)
    )  # fmt: skip
    total, rows = _paged(stmt, limit, offset)
    items = [
        Item(
            key=str(r.id),
            label=r.code,
            parts=[wrap(r.name), keep(_money(r.amount)), keep(_("due %(day)s", day=r.promised_on.isoformat()))],
            since=r.settled_at,
            link=url_for("collections.dealer", code=r.code),
        )
        for r in rows
    ]
    return total, items


# ------------------------------------------------------------------ the registry


QUEUES: dict[str, QueueDef] = {
    q.key: q
    for q in (
        QueueDef(
            "disputes",
            lambda ctx: _("Open disputes"),
            _disputes,
            lambda ctx: url_for("statements.disputes", status="open"),
            item_attr="data-dispute",
        ),
        QueueDef(
            "stale_statements",
            lambda ctx: _("Statements unconfirmed after %(n)s days", n=STALE_STATEMENT_DAYS),
            lambda ctx, limit, offset: _statements(ctx, limit, offset, stale=True),
            _queue_page("stale_statements"),
            item_attr="data-statement",
        ),
        QueueDef(
            "unapplied_cash",
            lambda ctx: _("Unapplied cash"),
            _unapplied_cash,
            _queue_page("unapplied_cash"),
            item_attr="data-entry",
            note=lambda ctx: _("Payments not fully applied to invoices."),
        ),
        QueueDef(
            "approvals",
            lambda ctx: _("Orders awaiting your approval") if ctx.scope.is_region else _("Orders in credit review"),
            _approvals,
            lambda ctx: url_for("orders.approvals"),
            item_attr="data-order",
        ),
        QueueDef(
            "sales_to_decide",
            lambda ctx: _("Sub-dealer orders to decide"),
            _sales_to_decide,
            lambda ctx: url_for("orders.approvals"),
            item_attr="data-order",
            note=lambda ctx: _("Your sub-dealers' orders beyond the credit you give them: you approve or reject them."),
            card_attr="data-sales-to-decide",
        ),
        QueueDef(
            "waiting_for_hq",
            lambda ctx: _("Beyond your limit: waiting for HQ"),
            _waiting_for_hq,
            lambda ctx: url_for("orders.approvals"),
            item_attr="data-order",
            note=lambda ctx: _("Orders of your region in credit review that only HQ may approve."),
        ),
        QueueDef(
            "payment_notices",
            lambda ctx: _("Payment notices to match"),
            _payment_notices,
            lambda ctx: url_for("payment_notices.index"),
            item_attr="data-notice",
        ),
        QueueDef(
            "unmatched_receipts",
            lambda ctx: _("Unmatched bank receipts"),
            _unmatched_receipts,
            lambda ctx: url_for("banking.receipts"),
            item_attr="data-receipt",
        ),
        QueueDef(
            "credit_requests",
            lambda ctx: _("Credit increase requests"),
            _credit_requests,
            lambda ctx: url_for("credit_requests.index"),
            item_attr="data-request",
        ),
        QueueDef(
            "returns_to_decide",
            lambda ctx: _("Returns to decide"),
            _returns("requested", "created_at"),
            lambda ctx: url_for("returns.index", status="requested"),
            item_attr="data-return",
        ),
        QueueDef(
            "returns_to_receive",
            lambda ctx: _("Returns on their way back"),
            _returns("shipped_back", "shipped_back_on"),
            lambda ctx: url_for("returns.index", status="shipped_back"),
            item_attr="data-return",
        ),
        QueueDef(
            "returns_to_ship",
            lambda ctx: _("Returns to ship back"),
            _returns("approved", "decided_at"),
            lambda ctx: url_for("returns.index", status="approved"),
            item_attr="data-return",
        ),
        QueueDef(
            "discrepancies",
            lambda ctx: _("Delivery discrepancies to resolve"),
            _discrepancies,
            lambda ctx: url_for("returns.discrepancy_list", status="open"),
            item_attr="data-discrepancy",
        ),
        QueueDef(
            "broken_promises",
            lambda ctx: _("Broken payment promises"),
            _broken_promises,
            lambda ctx: url_for("collections.worklist"),
            item_attr="data-promise",
        ),
        QueueDef(
            "credit_holds",
            lambda ctx: _("Dealers on credit hold"),
            _credit_holds,
            _queue_page("credit_holds"),
            item_attr="data-dealer",
        ),
        QueueDef(
            "failed_jobs",
            lambda ctx: _("Failed jobs"),
            _failed_jobs,
            _queue_page("failed_jobs"),
            item_attr="data-job",
            note=lambda ctx: _("Jobs that failed in the last %(n)s days.", n=FAILED_JOB_DAYS),
        ),
        QueueDef("backorders", lambda ctx: _("Backorders"), _backorders, _queue_page("backorders"), "data-order"),
        QueueDef(
            "built_units",
            lambda ctx: _("Built units waiting to ship"),
            _built_units,
            _queue_page("built_units"),
            item_attr="data-order",
        ),
        QueueDef(
            "statements_to_confirm",
            lambda ctx: _("Statements to confirm"),
            lambda ctx, limit, offset: _statements(ctx, limit, offset, stale=False),
            _queue_page("statements_to_confirm"),
            item_attr="data-statement",
            card_attr="data-statements",
        ),
        QueueDef(
            "shipments_to_receive",
            lambda ctx: _("Shipments to receive"),
            _shipments_to_receive,
            lambda ctx: url_for("shipping.index", status="in_transit"),
            item_attr="data-shipment",
            card_attr="data-incoming",
        ),
    )
}


def keys_for(user, scope=None) -> tuple[str, ...]:
    """The queues of the user's role; a distributor's admin (its scope has sub-dealers, §16) has its sales to decide
    first."""
    role = getattr(user, "role", None)
    keys = ROLE_QUEUES.get(role, ())
    if role == "dealer_admin" and scope is not None and scope.sub_dealer_ids:
        keys = DISTRIBUTOR_ADMIN_QUEUES + keys
    return keys


def build(defn: QueueDef, ctx: Ctx, limit: int = CAP, offset: int = 0) -> Queue:
    total, items = defn.fetch(ctx, limit, offset)
    return Queue(
        key=defn.key,
        title=defn.title(ctx),
        total=total,
        items=items,
        see_all=defn.see_all(ctx),
        item_attr=defn.item_attr,
        card_attr=defn.card_attr,
        note=defn.note(ctx),
        now=utcnow(),
    )


def queues_for(user, scope) -> list[Queue]:
    """The work queues of the user's role, each with its first `CAP` items (oldest first) and its total."""
    ctx = Ctx(scope=scope, user=user)
    return [build(QUEUES[key], ctx) for key in keys_for(user, scope)]


def one_queue(user, scope, key: str, page: int, per_page: int = PAGE) -> Queue | None:
    """One of the user's queues, a page of it; None when the role has no such queue."""
    if key not in keys_for(user, scope):
        return None
    return build(QUEUES[key], Ctx(scope=scope, user=user), per_page, (page - 1) * per_page)
