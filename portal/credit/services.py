"""Posting to the ledger, applying credits to invoices, and credit control. Services flush, never commit.

Every posting for a dealer first locks the dealer's credit row (`lock_credit`): on PostgreSQL with
SELECT … FOR UPDATE, on SQLite by the write lock every writing transaction takes at BEGIN. So payments
posted in parallel for one dealer apply one after the other, never twice to the same residual.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, func, literal, select, update
from sqlalchemy.orm import lazyload

from portal.audit.services import record
from portal.credit import events
from portal.credit.models import (
    CREDIT_TYPES,
    Application,
    CreditIncrease,
    CreditLimitChange,
    DealerCredit,
    LedgerEntry,
)
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.errors import Conflict, Invalid
from portal.platform.money import ZERO, money, sql_round, sql_sum
from portal.platform.timeutil import today, utcnow


def actor_name(actor) -> str:
    return getattr(actor, "username", None) or "system"


# ---------------------------------------------------------------- locking


def lock_credit(dealer: Dealer) -> DealerCredit:
    """The dealer's credit row, created if missing, locked for the rest of the transaction."""
    # FOR UPDATE OF dealer_credit: only this row; the joined dealer and region rows stay unlocked, so other dealers
    # of the same region (and inserts referencing the dealer) never wait for this transaction
    stmt = select(DealerCredit).where(DealerCredit.dealer_id == dealer.id).with_for_update(of=DealerCredit)
    credit = db.session.execute(stmt).unique().scalar_one_or_none()
    if credit is None:
        db.session.add(DealerCredit(dealer_id=dealer.id, credit_limit=ZERO, on_hold=False))
        db.session.flush()
        credit = db.session.execute(stmt).unique().scalar_one()
    return credit


def credit_row(dealer: Dealer) -> DealerCredit | None:
    return db.session.get(DealerCredit, dealer.id)


# ---------------------------------------------------------------- residuals


def _open_credits(dealer_ids: list[int]) -> dict[int, list]:
    """{dealer id: [(payment or credit note, unapplied)]} with unapplied > 0, each dealer's oldest first. Only the
    entries not marked `settled` are read (`ix_ledger_entries_open`), and only their applications summed: the cost
    follows what is open, not the dealer's history."""
    found: dict[int, list] = {d: [] for d in dealer_ids}
    for start in range(0, len(dealer_ids), 500):
        chunk = dealer_ids[start : start + 500]
        open_ids = select(LedgerEntry.id).where(
            LedgerEntry.dealer_id.in_(chunk), LedgerEntry.type.in_(CREDIT_TYPES), ~LedgerEntry.settled
        )
        applied = (
            select(Application.credit_id, func.sum(Application.amount).label("applied"))
            .where(Application.credit_id.in_(open_ids))
            .group_by(Application.credit_id)
            .subquery()
        )
        unapplied = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0)).label("unapplied")
        stmt = (
            select(LedgerEntry, unapplied)
            .outerjoin(applied, applied.c.credit_id == LedgerEntry.id)
            .where(
                LedgerEntry.dealer_id.in_(chunk),
                LedgerEntry.type.in_(CREDIT_TYPES),
                ~LedgerEntry.settled,
                unapplied > 0,
            )
            .order_by(LedgerEntry.dealer_id, LedgerEntry.entry_date, LedgerEntry.id)
        )
        for credit, amount in db.session.execute(stmt.options(lazyload(LedgerEntry.dealer))).unique().all():
            found[credit.dealer_id].append((credit, money(amount)))
    return found


def _open_invoices(dealer_ids: list[int], cover: dict[int, Decimal] | None = None) -> dict[int, list]:
    """{dealer id: [(invoice, residual)]} with residual > 0, each dealer's oldest due date first; read as
    `_open_credits` reads the credits (what is open, through the marker). With `cover` ({dealer id: an amount}),
    only each dealer's oldest invoices that this amount reaches (FIFO needs no more): the residuals are read as plain
    numbers and only those invoices loaded whole — a payment costs what it pays, not what is open."""
    found: dict[int, list] = {d: [] for d in dealer_ids}
    for start in range(0, len(dealer_ids), 500):
        chunk = dealer_ids[start : start + 500]
        open_ids = select(LedgerEntry.id).where(
            LedgerEntry.dealer_id.in_(chunk), LedgerEntry.type == "invoice", ~LedgerEntry.settled
        )
        applied = (
            select(Application.invoice_id, func.sum(Application.amount).label("applied"))
            .where(Application.invoice_id.in_(open_ids))
            .group_by(Application.invoice_id)
            .subquery()
        )
        residual = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0)).label("residual")
        stmt = (
            select(LedgerEntry.id, LedgerEntry.dealer_id, residual)
            .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
            .where(
                LedgerEntry.dealer_id.in_(chunk),
                LedgerEntry.type == "invoice",
                ~LedgerEntry.settled,
                residual > 0,
            )
            .order_by(LedgerEntry.dealer_id, LedgerEntry.due_on, LedgerEntry.entry_date, LedgerEntry.id)
        )
        wanted: list[tuple[int, int, Decimal]] = []
        reached: dict[int, Decimal] = {}
        for id_, dealer_id, amount in db.session.execute(stmt):
            if cover is not None:
                if reached.get(dealer_id, ZERO) >= cover.get(dealer_id, ZERO):
                    continue
                reached[dealer_id] = reached.get(dealer_id, ZERO) + money(amount)
            wanted.append((id_, dealer_id, money(amount)))
        entries = _entries([id_ for id_, _d, _a in wanted])
        for id_, dealer_id, amount in wanted:
            found[dealer_id].append((entries[id_], amount))
    return found


# the first page of a dealer's oldest open invoices that a payment may reach; each further page 4× the last
FIFO_PAGE = 8


def _reached_invoices(dealer_id: int, cover: Decimal) -> list:
    """[(invoice, residual)] of one dealer: its oldest open invoices (due date, issue date, id) until their residuals
    reach `cover` — what `_open_invoices(…, cover)` answers for one dealer, without summing the applications of the
    open invoices the money does not reach. Read a page at a time (8, then 32, 128, …): a page sorts the dealer's
    open items (`ix_ledger_entries_open`) and sums the applications of its own invoices only (one
    `ix_applications_invoice_date` lookup each, evaluated after the LIMIT). An open-marked invoice with nothing left
    (a stale marker) is passed over, as the residual > 0 of the other readers does."""
    applied = (
        select(func.sum(Application.amount))
        .where(Application.invoice_id == LedgerEntry.id)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    page = (
        select(LedgerEntry.id, sql_round(LedgerEntry.amount - func.coalesce(applied, 0)))
        .where(LedgerEntry.dealer_id == dealer_id, LedgerEntry.type == "invoice", ~LedgerEntry.settled)
        .order_by(LedgerEntry.due_on, LedgerEntry.entry_date, LedgerEntry.id)
    )
    wanted: list[tuple[int, Decimal]] = []
    reached, offset, size = ZERO, 0, FIFO_PAGE
    while reached < cover:
        rows = db.session.execute(page.offset(offset).limit(size)).all()
        for id_, residual in rows:
            residual = money(residual)
            if residual > 0 and reached < cover:
                wanted.append((id_, residual))
                reached += residual
        if len(rows) < size:
            break
        offset, size = offset + size, size * 4
    entries = _entries([id_ for id_, _r in wanted])
    return [(entries[id_], residual) for id_, residual in wanted]


def _entries(ids: list[int]) -> dict[int, LedgerEntry]:
    """{id: entry} for these ledger entries, 1,000 per query; their dealers come from the session (already there
    for the callers), not joined into every row."""
    loaded: dict[int, LedgerEntry] = {}
    for start in range(0, len(ids), 1000):
        stmt = select(LedgerEntry).where(LedgerEntry.id.in_(ids[start : start + 1000]))
        loaded.update((e.id, e) for e in db.session.execute(stmt.options(lazyload(LedgerEntry.dealer))).scalars())
    return loaded


def _invoice_residuals(dealer_id: int, on: dt.date | None = None):
    """(invoice, residual) for the dealer's invoices with residual > 0, oldest due first; with `on`, counting only
    the applications dated on or before it. An invoice open on `on` is either not settled now or has an application
    dated after `on` (settled since): those two sets, both index-backed (`ix_ledger_entries_open`,
    `ix_applications_dealer_date`), are all that is read — as of today, usually just the open items."""
    if on is None:
        return _open_invoices([dealer_id])[dealer_id]
    residual, where, applied = _as_of_residual(dealer_id, on)
    stmt = (
        select(LedgerEntry, residual.label("residual"))
        .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
        .where(where)
        .order_by(LedgerEntry.due_on, LedgerEntry.entry_date, LedgerEntry.id)
        .options(lazyload(LedgerEntry.dealer))
    )
    return [(inv, money(res)) for inv, res in db.session.execute(stmt).unique().all()]


def _as_of_residual(dealer_id: int, on: dt.date):
    """(residual, condition, applied): what `_invoice_residuals(dealer, on)` selects — the invoices open on `on` (not
    settled now, or with an application dated after `on`), residual > 0 counting the applications dated ≤ `on`;
    `applied` is to be outer-joined on `invoice_id`."""
    candidates = (
        select(LedgerEntry.id)
        .where(LedgerEntry.dealer_id == dealer_id, LedgerEntry.type == "invoice", ~LedgerEntry.settled)
        .union(select(Application.invoice_id).where(Application.dealer_id == dealer_id, Application.applied_on > on))
        .subquery()
    )
    applied = (
        select(Application.invoice_id, func.sum(Application.amount).label("applied"))
        .where(Application.invoice_id.in_(select(candidates.c.id)), Application.applied_on <= on)
        .group_by(Application.invoice_id)
        .subquery()
    )
    residual = sql_round(LedgerEntry.amount - func.coalesce(applied.c.applied, 0))
    return residual, and_(LedgerEntry.id.in_(select(candidates.c.id)), residual > 0), applied


def _credit_unapplied(dealer_id: int):
    """(payment or credit note, unapplied) with unapplied > 0, oldest first."""
    return _open_credits([dealer_id])[dealer_id]


def refresh_settled(dealer_ids: list[int] | None = None) -> None:
    """Set the `settled` marker of these dealers' entries (all entries: None) from their applications, in one
    statement: for what writes applications in bulk rather than through this module (the benchmark's COPY)."""
    applied = (
        select(sql_sum(Application.amount))
        .where(
            ((LedgerEntry.type == "invoice") & (Application.invoice_id == LedgerEntry.id))
            | ((LedgerEntry.type != "invoice") & (Application.credit_id == LedgerEntry.id))
        )
        .scalar_subquery()
    )
    stmt = update(LedgerEntry).values(settled=sql_round(LedgerEntry.amount - applied) == 0)
    if dealer_ids is not None:
        stmt = stmt.where(LedgerEntry.dealer_id.in_(dealer_ids))
    db.session.execute(stmt.execution_options(synchronize_session=False))
    for obj in list(db.session.identity_map.values()):  # what the session holds reads the new marker
        if isinstance(obj, LedgerEntry):
            db.session.expire(obj, ["settled"])


def residual_of(invoice: LedgerEntry) -> Decimal:
    applied = db.session.execute(
        select(sql_sum(Application.amount)).where(Application.invoice_id == invoice.id)
    ).scalar_one()
    return money(invoice.amount - applied)


def unapplied_of(credit: LedgerEntry) -> Decimal:
    applied = db.session.execute(
        select(sql_sum(Application.amount)).where(Application.credit_id == credit.id)
    ).scalar_one()
    return money(credit.amount - applied)


def _latest_application_on(credit: LedgerEntry, invoice: LedgerEntry) -> dt.date:
    """The latest date of any application touching this credit or this invoice (date.min if none)."""
    latest = db.session.execute(
        select(func.max(Application.applied_on)).where(
            (Application.credit_id == credit.id) | (Application.invoice_id == invoice.id)
        )
    ).scalar_one()
    return latest or dt.date.min


def _application_date(credit: LedgerEntry, invoice: LedgerEntry, on: dt.date) -> dt.date:
    """When a new application (or reversal) counts from: not before either document, and not before any earlier
    application of either. So for every date D the applications counted on D are a prefix of the history of each
    invoice and each credit, and no past day's position can show an invoice or a credit over-applied."""
    return max(on, credit.entry_date, invoice.entry_date, _latest_application_on(credit, invoice))


def _apply(
    credit: LedgerEntry,
    invoice: LedgerEntry,
    amount: Decimal,
    on: dt.date,
    by: str,
    *,
    credit_left: Decimal,
    invoice_left: Decimal,
    latest: dict | None = None,
) -> Application:
    """`credit_left`, `invoice_left`: what stays unapplied on the credit and open on the invoice after this
    application — the `settled` marker of each follows them. `latest`: the latest application date of each credit
    and invoice concerned ({("c"|"i", id): date}, as `_latest_application_dates` reads them), kept up to date here;
    without it, they are asked for."""
    if latest is None:
        applied_on = _application_date(credit, invoice, on)
    else:
        known = max(latest.get(("c", credit.id), dt.date.min), latest.get(("i", invoice.id), dt.date.min))
        applied_on = max(on, credit.entry_date, invoice.entry_date, known)
        latest[("c", credit.id)] = latest[("i", invoice.id)] = applied_on
    app = Application(
        dealer_id=credit.dealer_id,
        credit=credit,
        invoice=invoice,
        amount=amount,
        applied_on=applied_on,
        created_by=by,
    )
    db.session.add(app)
    credit.settled = credit_left == 0
    invoice.settled = invoice_left == 0
    return app


def _latest_application_dates(credit_ids: set[int], invoice_ids: set[int]) -> dict:
    """{("c", credit id) | ("i", invoice id): the latest date of its applications} in one query per 1,000 of each
    (index-backed: by credit, by invoice): what `_latest_application_on` answers pair by pair."""
    found: dict = {}
    credit_ids, invoice_ids = sorted(credit_ids), sorted(invoice_ids)
    for start in range(0, max(len(credit_ids), len(invoice_ids)), 1000):
        by_credit = (
            select(literal("c").label("kind"), Application.credit_id.label("id"), func.max(Application.applied_on))
            .where(Application.credit_id.in_(credit_ids[start : start + 1000]))
            .group_by(Application.credit_id)
        )
        by_invoice = (
            select(literal("i").label("kind"), Application.invoice_id.label("id"), func.max(Application.applied_on))
            .where(Application.invoice_id.in_(invoice_ids[start : start + 1000]))
            .group_by(Application.invoice_id)
        )
        found.update({(kind, id_): day for kind, id_, day in db.session.execute(by_credit.union_all(by_invoice))})
    return found


Pair = tuple[LedgerEntry, LedgerEntry, Decimal, Decimal, Decimal]  # credit, invoice, amount, credit left, invoice left


def _fifo_pairs(credits: list, invoices: list) -> list[Pair]:
    """(credit, invoice, amount, left on the credit, left on the invoice) matching the unapplied credits, oldest
    first, to the open invoices, oldest due date first: who pays what depends on the amounts alone."""
    credits, invoices = list(credits), list(invoices)
    pairs: list[Pair] = []
    ci = ii = 0
    while ci < len(credits) and ii < len(invoices):
        credit, unapplied = credits[ci]
        invoice, residual = invoices[ii]
        amount = min(unapplied, residual)
        credits[ci] = (credit, unapplied - amount)
        invoices[ii] = (invoice, residual - amount)
        pairs.append((credit, invoice, amount, credits[ci][1], invoices[ii][1]))
        if credits[ci][1] == 0:
            ci += 1
        if invoices[ii][1] == 0:
            ii += 1
    return pairs


def _make_applications(pairs: list[Pair], by: str) -> list[Application]:
    # the dates: the latest application of every credit and invoice concerned, read at once (not once per pair)
    latest = _latest_application_dates({p[0].id for p in pairs}, {p[1].id for p in pairs}) if pairs else {}
    made = [
        _apply(credit, invoice, amount, dt.date.min, by, credit_left=c_left, invoice_left=i_left, latest=latest)
        for credit, invoice, amount, c_left, i_left in pairs
    ]
    db.session.flush()
    return made


def auto_apply(dealer: Dealer, by: str) -> list[Application]:
    """Apply every unapplied credit, oldest first, to the open invoices, oldest due date first."""
    return auto_apply_many([dealer], by)


def auto_apply_many(dealers: list[Dealer], by: str) -> list[Application]:
    """`auto_apply` for each of these dealers (their credit rows locked by the caller), their open items read in a
    few set-based queries instead of two per dealer: what a bank statement's import posts for many dealers at once."""
    ids = sorted({d.id for d in dealers})
    credits = _open_credits(ids)
    with_credit = [d for d in ids if credits[d]]
    if not with_credit:
        return []
    cover = {d: sum((amount for _credit, amount in credits[d]), ZERO) for d in with_credit}
    if len(with_credit) == 1:  # a posting: only the invoices the money reaches (many dealers: all at once, below)
        invoices = {with_credit[0]: _reached_invoices(with_credit[0], cover[with_credit[0]])}
    else:
        invoices = _open_invoices(with_credit, cover)
    return _make_applications([p for d in with_credit for p in _fifo_pairs(credits[d], invoices[d])], by)


# ---------------------------------------------------------------- posting


def _check_amount_date(amount: Decimal, date_field: str, date: dt.date) -> None:
    errors = {}
    if amount is None or amount <= 0:
        errors["amount"] = [_("Must be greater than zero.")]
    if date > today() + dt.timedelta(days=1):
        errors[date_field] = [_("Cannot be in the future.")]
    if errors:
        raise Invalid(fields=errors)


def _number_taken(dealer: Dealer, type_: str, number: str) -> bool:
    return (
        db.session.execute(
            select(LedgerEntry.id).where(
                LedgerEntry.dealer_id == dealer.id, LedgerEntry.type == type_, LedgerEntry.number == number
            )
        ).first()
        is not None
    )


def post_invoice(
    actor,
    dealer: Dealer,
    *,
    number: str,
    issued_on: dt.date,
    amount: Decimal,
    due_on: dt.date | None = None,
    order_number: str | None = None,
    source: str = "portal",
) -> LedgerEntry:
    """Post an invoice (debit). Due date defaults to the dealer's payment terms; unapplied cash is applied."""
    _check_amount_date(amount, "issued_on", issued_on)
    number = number.strip()
    if not number:
        raise Invalid(fields={"number": [_("Required.")]})
    due_on = due_on or issued_on + dt.timedelta(days=dealer.payment_terms_days)
    if due_on < issued_on:
        raise Invalid(fields={"due_on": [_("The due date cannot be before the issue date.")]})
    lock_credit(dealer)
    if _number_taken(dealer, "invoice", number):
        raise Conflict(
            _("Invoice %(number)s is already posted for this dealer.", number=number),
            code="duplicate_invoice",
            fields={"number": [_("Already posted.")]},
        )
    invoice = LedgerEntry(
        dealer=dealer,
        type="invoice",
        number=number,
        entry_date=issued_on,
        due_on=due_on,
        amount=money(amount),
        order_number=order_number,
        source=source,
        created_by=actor_name(actor),
    )
    db.session.add(invoice)
    db.session.flush()
    auto_apply(dealer, actor_name(actor))
    record(
        actor,
        "invoice.post",
        "invoice",
        number,
        after={"amount": str(invoice.amount), "issued_on": issued_on.isoformat(), "due_on": due_on.isoformat()},
        dealer_id=dealer.id,
    )
    return invoice


def post_payment(
    actor, dealer: Dealer, *, amount: Decimal, received_on: dt.date, reference: str, source: str = "portal"
) -> LedgerEntry:
    """Post a payment (credit) and apply it to the oldest open invoices; the rest stays unapplied cash."""
    _check_amount_date(amount, "received_on", received_on)
    reference = reference.strip()
    if not reference:
        raise Invalid(fields={"reference": [_("Required.")]})
    credit = lock_credit(dealer)
    if _number_taken(dealer, "payment", reference):
        raise Conflict(
            _("Payment reference %(ref)s was already recorded for this dealer.", ref=reference),
            code="duplicate_reference",
            fields={"reference": [_("Already recorded.")]},
        )
    payment = LedgerEntry(
        dealer=dealer,
        type="payment",
        number=reference,
        entry_date=received_on,
        amount=money(amount),
        source=source,
        created_by=actor_name(actor),
    )
    db.session.add(payment)
    db.session.flush()
    auto_apply(dealer, actor_name(actor))
    reevaluate_overdue_hold(dealer, today(), actor, may_set=False, credit=credit)
    record(
        actor,
        "payment.post",
        "payment",
        reference,
        after={"amount": str(payment.amount), "received_on": received_on.isoformat()},
        dealer_id=dealer.id,
    )
    events.payment_posted.send(actor, payments=[payment])  # a payment notice with this reference and amount is matched
    return payment


def post_credit_note(
    actor,
    dealer: Dealer,
    *,
    amount: Decimal,
    issued_on: dt.date,
    reason: str,
    invoice_number: str | None = None,
    source: str = "portal",
    memo: dict | None = None,
) -> LedgerEntry:
    """Post a credit note (credit): first against the named invoice, the rest like cash. `memo`: what the portal
    says of it as a code and parameters (portal/credit/memos.py), shown in the reader's language."""
    _check_amount_date(amount, "issued_on", issued_on)
    if not (reason or "").strip():
        raise Invalid(fields={"reason": [_("Say why the credit note is given.")]})
    lock_credit(dealer)
    invoice = None
    if invoice_number:
        invoice = (
            db.session.execute(
                select(LedgerEntry).where(
                    LedgerEntry.dealer_id == dealer.id,
                    LedgerEntry.type == "invoice",
                    LedgerEntry.number == invoice_number,
                )
            )
            .unique()
            .scalar_one_or_none()
        )
        if invoice is None:
            raise Invalid(fields={"invoice_number": [_("No such invoice for this dealer.")]})
    note = LedgerEntry(
        dealer=dealer,
        type="credit_note",
        number=f"TMP-{utcnow().timestamp()}",
        entry_date=issued_on,
        amount=money(amount),
        invoice_id=invoice.id if invoice else None,
        reason=reason.strip(),
        memo=memo,
        source=source,
        created_by=actor_name(actor),
    )
    db.session.add(note)
    db.session.flush()
    note.number = f"CN-{issued_on:%Y%m}-{note.id:06d}"
    if invoice is not None:
        residual = residual_of(invoice)
        if residual > 0:
            amount = min(residual, note.amount)
            left = {"credit_left": note.amount - amount, "invoice_left": residual - amount}
            _apply(note, invoice, amount, dt.date.min, actor_name(actor), **left)
            db.session.flush()
    auto_apply(dealer, actor_name(actor))
    reevaluate_overdue_hold(dealer, today(), actor, may_set=False)
    record(
        actor,
        "credit_note.post",
        "credit_note",
        note.number,
        after={
            "amount": str(note.amount),
            "issued_on": issued_on.isoformat(),
            "reason": note.reason,
            "invoice_number": invoice_number,
        },
        dealer_id=dealer.id,
    )
    return note


def reverse_application(actor, application: Application, on: dt.date | None = None) -> Application:
    """Undo an application from a date on (a new, negative application); the credit becomes unapplied."""
    if application.amount < 0:
        raise Invalid(fields={"application": [_("A reversal cannot be reversed.")]})
    lock_credit(application.credit.dealer)
    if db.session.execute(select(Application.id).where(Application.reverses_id == application.id)).first():
        raise Conflict(_("This application is already reversed."), code="already_reversed")
    reversal = Application(
        dealer_id=application.dealer_id,
        credit_id=application.credit_id,
        invoice_id=application.invoice_id,
        amount=-application.amount,
        applied_on=_application_date(application.credit, application.invoice, on or today()),
        reverses_id=application.id,
        created_by=actor_name(actor),
    )
    db.session.add(reversal)
    application.credit.settled = application.invoice.settled = False  # both have the amount open again
    db.session.flush()
    record(
        actor,
        "application.reverse",
        "payment",
        application.credit.number,
        before={"invoice": application.invoice.number, "amount": str(application.amount)},
        after={"invoice": application.invoice.number, "amount": "0.00"},
        dealer_id=application.dealer_id,
    )
    return reversal


def apply_credit(
    actor, credit: LedgerEntry, invoice: LedgerEntry, amount: Decimal, on: dt.date | None = None
) -> Application:
    """Apply (part of) a credit's unapplied amount to a chosen invoice of the same dealer."""
    if credit.type not in CREDIT_TYPES or invoice.type != "invoice" or credit.dealer_id != invoice.dealer_id:
        raise Invalid(fields={"invoice_number": [_("Choose an invoice of the same dealer.")]})
    lock_credit(credit.dealer)
    if amount <= 0:
        raise Invalid(fields={"amount": [_("Must be greater than zero.")]})
    amount = money(amount)
    unapplied, residual = unapplied_of(credit), residual_of(invoice)
    if amount > unapplied:
        raise Invalid(fields={"amount": [_("More than the unapplied amount of this credit.")]})
    if amount > residual:
        raise Invalid(fields={"amount": [_("More than what is still open on this invoice.")]})
    left = {"credit_left": unapplied - amount, "invoice_left": residual - amount}
    app = _apply(credit, invoice, amount, on or today(), actor_name(actor), **left)
    db.session.flush()
    reevaluate_overdue_hold(credit.dealer, today(), actor, may_set=False)
    record(
        actor,
        "application.apply",
        "payment",
        credit.number,
        after={"invoice": invoice.number, "amount": str(app.amount)},
        dealer_id=credit.dealer_id,
    )
    return app


# ---------------------------------------------------------------- credit control


def _temporary_sql(dealer_id: ColumnElement, on: dt.date) -> ColumnElement:
    return (
        select(sql_sum(CreditIncrease.amount))
        .where(CreditIncrease.dealer_id == dealer_id, CreditIncrease.valid_from <= on, CreditIncrease.valid_until >= on)
        .scalar_subquery()
    )


def _open_orders_sql(dealer_id: ColumnElement) -> ColumnElement:
    total = literal(0)
    for _provider, expression in events.open_order_exposure.send(dealer_id):  # orders, shipping (portal.wiring)
        total = total + func.coalesce(expression, 0)
    return sql_round(total)


def open_orders_by_dealer(dealer_ids: list[int]) -> dict[int, Decimal]:
    stmt = select(Dealer.id, _open_orders_sql(Dealer.id)).where(Dealer.id.in_(dealer_ids))
    return {dealer_id: money(total) for dealer_id, total in db.session.execute(stmt).all() if total}


def open_orders(dealer_id: int) -> Decimal:
    return money(db.session.execute(select(_open_orders_sql(literal(dealer_id)))).scalar_one())


def credit_summary(dealer: Dealer, on: dt.date | None = None) -> dict:
    """The figures of PRODUCT.md §3: available = limit + active temporary increases − exposure. One statement: the
    credit row comes from the session when the credit gate has just locked it, else with the sums."""
    from sqlalchemy.orm.util import identity_key

    from portal.credit.reports import balance_sql

    on = on or today()
    dealer_id = literal(dealer.id)
    sums = (_temporary_sql(dealer_id, on), balance_sql(dealer_id), _open_orders_sql(dealer_id))
    if identity_key(DealerCredit, dealer.id) in db.session.identity_map:
        temporary, receivables, orders = db.session.execute(select(*sums)).one()
        row = credit_row(dealer)
    else:
        temporary, receivables, orders, row = db.session.execute(
            select(*sums, DealerCredit)
            .select_from(Dealer)
            .outerjoin(DealerCredit, DealerCredit.dealer_id == Dealer.id)
            .where(Dealer.id == dealer.id)
            .options(lazyload(DealerCredit.dealer))  # the dealer asked about (its joined load would drop a missing row)
        ).one()
    limit = row.credit_limit if row else ZERO
    temporary, receivables, orders = money(temporary), money(receivables), money(orders)
    exposure = money(receivables + orders)  # receivables: open invoice residuals − unapplied cash, all posted
    return {
        "dealer_code": dealer.code,
        "credit_limit": money(limit),
        "temporary": temporary,
        "exposure": exposure,
        "open_receivables": receivables,
        "open_orders": orders,
        "available": money(limit + temporary - exposure),
        "on_hold": bool(row and row.on_hold),
        "hold_reason": hold_reason(row),
        "hold_source": row.hold_source if row and row.on_hold else None,
    }


def hold_reason(row: DealerCredit | None) -> str | None:
    """The reason in the reader's language for automatic holds; as finance wrote it for manual ones."""
    from flask import current_app

    if row is None or not row.on_hold:
        return None
    if row.hold_source == "overdue":
        return _("Invoices more than %(n)s days past due.", n=current_app.config["PORTAL_OVERDUE_HOLD_DAYS"])
    return row.hold_reason


def set_credit_limit(actor, dealer: Dealer, amount: Decimal, reason: str) -> DealerCredit:
    if not (reason or "").strip():
        raise Invalid(fields={"reason": [_("Say why the limit changes.")]})
    credit = lock_credit(dealer)
    old = credit.credit_limit
    if old == amount:
        return credit
    credit.credit_limit = money(amount)
    db.session.add(
        CreditLimitChange(
            dealer_id=dealer.id,
            old_limit=old,
            new_limit=credit.credit_limit,
            reason=reason.strip(),
            changed_by=actor_name(actor),
        )
    )
    db.session.flush()
    record(
        actor,
        "credit.limit",
        "dealer",
        dealer.code,
        before={"credit_limit": str(old)},
        after={"credit_limit": str(credit.credit_limit), "reason": reason.strip()},
        dealer_id=dealer.id,
    )
    return credit


def add_credit_increase(
    actor, dealer: Dealer, *, amount: Decimal, valid_from: dt.date, valid_until: dt.date, reason: str
) -> CreditIncrease:
    errors = {}
    if amount is None or amount <= 0:
        errors["amount"] = [_("Must be greater than zero.")]
    if valid_until < valid_from:
        errors["valid_until"] = [_("The end cannot be before the start.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the increase is granted.")]
    if errors:
        raise Invalid(fields=errors)
    lock_credit(dealer)
    increase = CreditIncrease(
        dealer_id=dealer.id,
        amount=money(amount),
        valid_from=valid_from,
        valid_until=valid_until,
        reason=reason.strip(),
        approved_by=actor_name(actor),
    )
    db.session.add(increase)
    db.session.flush()
    record(
        actor,
        "credit.increase",
        "dealer",
        dealer.code,
        after={
            "amount": str(increase.amount),
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
            "reason": increase.reason,
        },
        dealer_id=dealer.id,
    )
    return increase


def set_hold(actor, dealer: Dealer, reason: str, source: str = "manual") -> DealerCredit:
    if not (reason or "").strip():
        raise Invalid(fields={"reason": [_("Say why the dealer is put on hold.")]})
    credit = lock_credit(dealer)
    before = {"on_hold": credit.on_hold, "hold_source": credit.hold_source}
    credit.on_hold, credit.hold_source, credit.hold_reason = True, source, reason.strip()
    credit.held_at, credit.held_by = utcnow(), actor_name(actor)
    db.session.flush()
    record(
        actor,
        "credit.hold",
        "dealer",
        dealer.code,
        before=before,
        after={"on_hold": True, "hold_source": source, "reason": credit.hold_reason},
        dealer_id=dealer.id,
    )
    return credit


def lift_hold(actor, dealer: Dealer, reason: str) -> DealerCredit:
    credit = lock_credit(dealer)
    if not credit.on_hold:
        raise Conflict(_("The dealer is not on hold."), code="not_on_hold")
    before = {"on_hold": True, "hold_source": credit.hold_source, "reason": credit.hold_reason}
    credit.on_hold, credit.hold_source, credit.hold_reason, credit.held_at, credit.held_by = (
        False,
        None,
        None,
        None,
        None,
    )
    db.session.flush()
    record(
        actor,
        "credit.release",
        "dealer",
        dealer.code,
        before=before,
        after={"on_hold": False, "reason": (reason or "").strip()},
        dealer_id=dealer.id,
    )
    return credit


def oldest_overdue_days(dealer_id: int, on: dt.date) -> int:
    """Days past due of the oldest invoice still open on `on` (0 when nothing is overdue): the earliest due date
    among `_invoice_residuals(dealer, on)` issued by `on` and due before it, found in SQL (a held dealer's payment
    asks this; it loaded every open invoice of the dealer)."""
    _residual, where, applied = _as_of_residual(dealer_id, on)
    oldest = db.session.execute(
        select(func.min(LedgerEntry.due_on))
        .select_from(LedgerEntry)
        .outerjoin(applied, applied.c.invoice_id == LedgerEntry.id)
        .where(where, LedgerEntry.entry_date <= on, LedgerEntry.due_on < on)
    ).scalar_one()
    return (on - oldest).days if oldest is not None else 0


def reevaluate_overdue_hold(
    dealer: Dealer, on: dt.date, actor=None, may_set: bool = True, credit: DealerCredit | None = None
) -> str | None:
    """Set the automatic hold when something is more than N days past due (the daily scan); lift it (only an
    automatic one) once nothing is — also right after a payment, so a dealer who pays can order again at once.
    Returns "set", "lifted" or None. `credit`: the dealer's credit row when the caller has locked it in this
    transaction already (`lock_credit`), else it is locked here."""
    from flask import current_app

    limit_days = current_app.config["PORTAL_OVERDUE_HOLD_DAYS"]
    credit = credit if credit is not None else lock_credit(dealer)
    change = overdue_hold_change(dealer, credit, on, may_set)
    if change == "set":
        set_hold(actor, dealer, _("Invoices more than %(n)s days past due.", n=limit_days), source="overdue")
    elif change == "lifted":
        lift_hold(actor, dealer, _("Overdue invoices paid."))
    return change


def overdue_hold_change(dealer: Dealer, credit: DealerCredit | None, on: dt.date, may_set: bool = True) -> str | None:
    """What the overdue rule asks of this dealer's hold on `on` — "set", "lifted" or None — without changing it
    (the scan's dry run asks this alone; `reevaluate_overdue_hold` asks it with the credit row locked)."""
    from flask import current_app

    limit_days = current_app.config["PORTAL_OVERDUE_HOLD_DAYS"]
    on_hold = credit is not None and credit.on_hold
    auto_held = on_hold and credit.hold_source == "overdue"
    if not may_set and not auto_held:
        return None  # nothing this call may change: skip reading the dealer's open items
    days = oldest_overdue_days(dealer.id, on)
    if days > limit_days and not on_hold and may_set:
        return "set"
    if days <= limit_days and auto_held:
        return "lifted"
    return None


def entry_view(entry: LedgerEntry) -> dict:
    """An entry with what is still open on it and its applications."""
    column = Application.invoice_id if entry.type == "invoice" else Application.credit_id
    apps = (
        db.session.execute(
            select(Application).where(column == entry.id).order_by(Application.applied_on, Application.id)
        )
        .unique()
        .scalars()
        .all()
    )
    view = {
        c: getattr(entry, c)
        for c in ("id", "type", "number", "entry_date", "due_on", "amount", "order_number", "reason", "memo", "dealer")
    }
    view["applications"] = apps
    if entry.type == "invoice":
        view["residual"] = residual_of(entry)
    else:
        view["unapplied"] = unapplied_of(entry)
    return view
