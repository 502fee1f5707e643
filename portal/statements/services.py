"""Issuing statements and reconciling them with the dealer (PRODUCT.md §6).

Issuing (`issue`) reads the ledger under the dealer's credit lock, so the content is one consistent cut:
opening = balance at the end of the previous month, the month's entries in date order with the running balance,
closing = balance at month end, ageing at month end. The content has a hash; issuing again with the same content
returns the current version (a re-run creates no duplicate), a changed ledger creates the next version and
supersedes the previous one. Only months that have ended can be stated.

Reconciliation: the dealer_admin confirms the current version or disputes some of its lines; finance resolves a
dispute with a credit note (posted in the disputed month, so the month is re-issued as a new version, and every
later month up to the last one stated is re-issued too, their opening having changed), with an adjustment (the
correction was posted in the ledger already; the month is re-issued from it), or rejects it with a reason. A version
is `disputed` while it has open disputes and `resolved` once they are all settled.

Whom HQ states (§16): the dealers it sells to. A sub-dealer's ledger is its account with its distributor, not with
HQ: a run leaves it out (`run_dealer_ids`) and `issue` states nothing for it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import re
from decimal import Decimal
from pathlib import Path

from flask import current_app
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import Date, bindparam, func, insert, select

from portal.audit.services import record
from portal.credit import reports
from portal.credit import services as credit
from portal.credit.models import LedgerEntry
from portal.credit.services import actor_name
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.bulk import insert_rows
from portal.platform.errors import Conflict, Invalid
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.timeutil import today, utcnow
from portal.statements.models import (
    Dispute,
    DisputeLine,
    Statement,
    StatementLine,
    StatementMessage,
)

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
AGEING_KEYS = (*reports.BUCKETS, "unapplied", "total")
MAX_COMMENT = 2000


# ---------------------------------------------------------------- periods


def period_bounds(period: str, field: str = "period") -> tuple[dt.date, dt.date]:
    """(first day, last day) of a `YYYY-MM` month; the month must have ended (today is later than its last day)."""
    match = PERIOD_RE.match(period or "")
    if not match or match.group(1) == "0000":  # there is no year 0
        raise Invalid(fields={field: [_("A month as YYYY-MM, e.g. 2026-10.")]})
    year, month = int(match.group(1)), int(match.group(2))
    start = dt.date(year, month, 1)
    end = dt.date(year, month, calendar.monthrange(year, month)[1])
    if end >= today():
        raise Invalid(fields={field: [_("Only a month that has ended can be stated.")]})
    return start, end


def previous_period(on: dt.date | None = None) -> str:
    first = (on or today()).replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def later_periods(period: str, until: dt.date) -> list[str]:
    """The months after `period` up to the last month that has ended by `until`."""
    year, month = int(period[:4]), int(period[5:])
    out = []
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        if last >= until:
            return out
        out.append(f"{year:04d}-{month:02d}")


# ---------------------------------------------------------------- content


def _no_negative_zero(value) -> Decimal:
    amount = money(value)
    return amount if amount != 0 else ZERO  # SQLite's float arithmetic can answer -0.00


# The statements below are built once (with bound parameters) and reused for every dealer: building SQLAlchemy
# expressions costs more Python time than running them (measured: ~60 ms of an issue went to building the ledger and
# ageing queries anew for each dealer).
_DEALER, _START, _END = bindparam("dealer_id"), bindparam("start", type_=Date), bindparam("end", type_=Date)
_OPENING = select(sql_sum(reports.signed_amount())).where(
    LedgerEntry.dealer_id == _DEALER, LedgerEntry.entry_date < _START
)
_MONTH_ENTRIES = (
    select(LedgerEntry.id, LedgerEntry.entry_date, LedgerEntry.type, LedgerEntry.number, LedgerEntry.amount,
           LedgerEntry.order_number, LedgerEntry.reason)  # fmt: skip
    .where(LedgerEntry.dealer_id == _DEALER, LedgerEntry.entry_date >= _START, LedgerEntry.entry_date <= _END)
    .order_by(LedgerEntry.entry_date, LedgerEntry.id)
)


_CURRENT = select(Statement.id, Statement.content_hash).where(
    Statement.dealer_id == _DEALER, Statement.period == bindparam("period"), Statement.superseded_by_id.is_(None)
)


def content(dealer_id: int, start: dt.date, end: dt.date) -> dict:
    """What a statement of [start, end] says, from the ledger as it is now: the opening (balance before `start`),
    the entries of the month in date order with the running balance, the closing (the balance at the end of `end`,
    since every entry up to `end` is in the opening or in the month) and the ageing on `end`."""
    params = {"dealer_id": dealer_id, "start": start, "end": end}
    opening = money(db.session.execute(_OPENING, params).scalar_one())
    running, lines, debits, credits = opening, [], ZERO, ZERO
    for row in db.session.execute(_MONTH_ENTRIES, params):
        amount = money(row.amount)
        is_debit = row.type == "invoice"
        running += amount if is_debit else -amount
        debits, credits = (debits + amount, credits) if is_debit else (debits, credits + amount)
        reference = row.order_number if is_debit else row.reason
        lines.append(
            {
                "entry_id": row.id,
                "entry_date": row.entry_date,
                "type": row.type,
                "number": row.number,
                "reference": reference[:200] if reference else None,
                "debit": amount if is_debit else None,
                "credit": None if is_debit else amount,
                "balance": running,
            }
        )
    closing = running
    row = db.session.execute(reports.one_dealer_ageing_select(end), {"dealer_id": dealer_id}).first()
    ageing = {key: str(_no_negative_zero(getattr(row, key) if row is not None else ZERO)) for key in AGEING_KEYS}
    digest = hashlib.sha256(
        json.dumps(
            [
                str(opening),
                str(closing),
                [
                    [ln["entry_id"], ln["entry_date"].isoformat(), ln["type"], ln["number"], str(ln["debit"]),
                     str(ln["credit"]), str(ln["balance"])]  # fmt: skip
                    for ln in lines
                ],
                # unapplied cash as a magnitude: statements stored before it was negative (migration 0012) keep
                # their hash, so a run does not issue them again for a change of sign alone
                {**ageing, "unapplied": str(abs(Decimal(ageing["unapplied"])))},
            ]
        ).encode()
    ).hexdigest()
    return {
        "opening": opening,
        "closing": closing,
        "debits": debits,
        "credits": credits,
        "lines": lines,
        "ageing": ageing,
        "hash": digest,
    }


def current_version(dealer_id: int, period: str) -> Statement | None:
    return (
        db.session.execute(
            select(Statement).where(
                Statement.dealer_id == dealer_id, Statement.period == period, Statement.superseded_by_id.is_(None)
            )
        )
        .unique()
        .scalar_one_or_none()
    )


def run_dealer_ids(dealer_ids: list[int] | None = None) -> list[int]:
    """The dealers a statement run states, in id order: those HQ sells to — all of them, or those of `dealer_ids`
    (a sub-dealer named there is left out: HQ has no account with it)."""
    stmt = select(Dealer.id).where(Dealer.parent_id.is_(None)).order_by(Dealer.id)
    if dealer_ids is not None:
        stmt = stmt.where(Dealer.id.in_(dealer_ids))
    return list(db.session.execute(stmt).scalars())


def issue(actor, dealer: Dealer, period: str, *, run_id: str | None = None) -> tuple[Statement | None, str]:
    """Issue the dealer's statement of `period` unless the current version already says the same.

    Returns (statement, outcome): outcome `issued` (a new version), `unchanged` (the current version, returned as
    it is) or `nothing` (no statement: the account never moved and nothing was ever stated for the month — or the
    dealer is a sub-dealer, whose account is with its distributor, not HQ)."""
    if dealer.parent_id is not None:
        return None, "nothing"
    start, end = period_bounds(period)
    credit.lock_credit(dealer)  # one consistent cut of the ledger; concurrent issues of a dealer take turns
    data = content(dealer.id, start, end)
    head = db.session.execute(_CURRENT, {"dealer_id": dealer.id, "period": period}).first()
    if head is not None and head.content_hash == data["hash"]:
        return db.session.get(Statement, head.id), "unchanged"
    if head is None and not data["lines"] and data["opening"] == ZERO and data["closing"] == ZERO:
        return None, "nothing"
    current = db.session.get(Statement, head.id) if head is not None else None
    statement = Statement(
        number=f"ST-{start:%Y%m}-{dealer.code}",
        dealer=dealer,
        period=period,
        period_start=start,
        period_end=end,
        version=(current.version + 1) if current is not None else 1,
        status="issued",
        opening=data["opening"],
        debits=data["debits"],
        credits=data["credits"],
        closing=data["closing"],
        ageing=data["ageing"],
        line_count=len(data["lines"]),
        content_hash=data["hash"],
        issued_on=today(),
        issued_by=actor_name(actor) if actor is not None and not isinstance(actor, str) else (actor or "system"),
        run_id=run_id,
    )
    db.session.add(statement)
    db.session.flush()
    insert_rows(
        StatementLine.__table__,
        [{"statement_id": statement.id, "position": i, **line} for i, line in enumerate(data["lines"], start=1)],
    )
    if current is not None:
        current.superseded_by_id, current.superseded_at = statement.id, utcnow()
    _message(statement, "issued", "hq", statement.issued_by, None)
    _notify_dealer(statement, "statement.issued", f"statement:{statement.id}")
    return statement, "issued"


def verify(statement: Statement) -> list[str]:
    """The §6 invariants of one stored version; the problems found (empty when all hold)."""
    problems = []
    if statement.closing != statement.opening + statement.debits - statement.credits:
        problems.append("closing != opening + debits - credits")
    running = statement.opening
    for line in statement.lines:
        running += (line.debit or ZERO) - (line.credit or ZERO)
        if running != line.balance:
            problems.append(f"running balance differs at line {line.position}")
            break
    if running != statement.closing:
        problems.append("the last running balance is not the closing")
    return problems


# ---------------------------------------------------------------- the PDF


def document(statement: Statement) -> dict:
    """The plain data the PDF is drawn from (portal.statements.pdf.render_statement)."""
    cfg = current_app.config
    dealer = statement.dealer
    return {
        "number": statement.number,
        "version": statement.version,
        "period": statement.period,
        "period_start": statement.period_start,
        "period_end": statement.period_end,
        "issued_on": statement.issued_on,
        "company": {
            "name": cfg["PORTAL_COMPANY_NAME"],
            "address": cfg.get("PORTAL_COMPANY_ADDRESS"),
            "phone": cfg.get("PORTAL_COMPANY_PHONE"),
            "bank": cfg.get("PORTAL_COMPANY_BANK"),
        },
        "dealer": {
            "code": dealer.code,
            "name": dealer.name,
            "region": dealer.region.name,
            "address": dealer.address,
            "contact": dealer.contact_name,
            "payment_terms_days": dealer.payment_terms_days,
        },
        "opening": statement.opening,
        "debits": statement.debits,
        "credits": statement.credits,
        "closing": statement.closing,
        "lines": [
            {
                "date": line.entry_date,
                "type": line.type,
                "number": line.number,
                "reference": line.reference,
                "debit": line.debit,
                "credit": line.credit,
                "balance": line.balance,
            }
            for line in db.session.execute(
                select(StatementLine).where(StatementLine.statement_id == statement.id).order_by(StatementLine.position)
            ).scalars()
        ],
        "ageing": {key: Decimal(statement.ageing[key]) for key in AGEING_KEYS},
    }


def storage_root() -> Path:
    return Path(current_app.config["PORTAL_STORAGE"])


def pdf_relative_path(statement: Statement) -> str:
    return f"statements/{statement.dealer.code}/{statement.period}-v{statement.version}.pdf"


def store_pdf(statement: Statement) -> Path:
    """Draw the version's PDF from its stored data and keep it in the storage folder (written whole, then
    renamed into place, so a reader never sees half a file)."""
    from portal.statements.pdf import render_statement

    data, pages = render_statement(document(statement))
    relative = pdf_relative_path(statement)
    target = storage_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    statement.pdf_path, statement.pdf_pages = relative, pages
    return target


def pdf_exists(statement: Statement) -> bool:
    return bool(statement.pdf_path) and (storage_root() / statement.pdf_path).is_file()


def pdf_file(statement: Statement) -> Path:
    """The stored PDF; drawn again from the stored data when the file is missing (e.g. a new storage volume)."""
    if pdf_exists(statement):
        return storage_root() / statement.pdf_path
    return store_pdf(statement)


# ---------------------------------------------------------------- reconciliation


def _locked(statement: Statement) -> Statement:
    return (
        db.session.execute(
            select(Statement)
            .where(Statement.id == statement.id)
            .with_for_update(of=Statement)
            .execution_options(populate_existing=True)  # the row as it is once locked, not as first read
        )
        .unique()
        .scalar_one()
    )


def _must_be_current(statement: Statement) -> None:
    if statement.superseded_by_id is not None:
        successor = db.session.get(Statement, statement.superseded_by_id)
        raise Conflict(
            _("Version %(version)s was superseded by version %(new)s; confirm or dispute that one.",
              version=statement.version, new=successor.version),  # fmt: skip
            code="superseded",
        )


def _clean_comment(text: str | None, field: str, required: bool) -> str | None:
    text = (text or "").strip()
    if required and not text:
        raise Invalid(fields={field: [_("Say what is wrong.") if field == "comment" else _("Say why.")]})
    if len(text) > MAX_COMMENT:
        raise Invalid(fields={field: [_("At most %(n)s characters.", n=MAX_COMMENT)]})
    return text or None


def open_disputes(statement_id: int) -> int:
    return db.session.execute(
        select(func.count()).select_from(Dispute).where(Dispute.statement_id == statement_id, Dispute.status == "open")
    ).scalar_one()


def confirm(actor, statement: Statement, comment: str | None = None) -> Statement:
    statement = _locked(statement)
    _must_be_current(statement)
    if statement.status == "confirmed":
        raise Conflict(_("This statement is confirmed already."), code="already_confirmed")
    if open_disputes(statement.id):
        raise Conflict(_("This statement has open disputes; finance settles them first."), code="open_disputes")
    comment = _clean_comment(comment, "comment", required=False)
    statement.status, statement.confirmed_at, statement.confirmed_by = "confirmed", utcnow(), actor_name(actor)
    _message(statement, "confirmed", "dealer", actor_name(actor), comment)
    record(actor, "statement.confirm", "statement", f"{statement.number} v{statement.version}",
           after={"closing": str(statement.closing)}, dealer_id=statement.dealer_id)  # fmt: skip
    _notify_finance(statement, "statement.confirmed", f"statement-confirmed:{statement.id}")
    return statement


def dispute(actor, statement: Statement, line_ids: list[int], comment: str) -> Dispute:
    statement = _locked(statement)
    _must_be_current(statement)
    if statement.status == "confirmed":
        raise Conflict(_("This statement is confirmed; it can no longer be disputed."), code="already_confirmed")
    comment = _clean_comment(comment, "comment", required=True)
    ids = sorted(set(line_ids or []))
    if not ids:
        raise Invalid(fields={"line_ids": [_("Choose the lines you dispute.")]})
    found = set(
        db.session.execute(
            select(StatementLine.id).where(StatementLine.statement_id == statement.id, StatementLine.id.in_(ids))
        ).scalars()
    )
    if missing := [i for i in ids if i not in found]:
        raise Invalid(
            fields={"line_ids": [_("Not lines of this statement: %(ids)s.", ids=", ".join(map(str, missing)))]}
        )
    taken = list(
        db.session.execute(
            select(DisputeLine.line_id)
            .join(Dispute, Dispute.id == DisputeLine.dispute_id)
            .where(DisputeLine.line_id.in_(ids), Dispute.status == "open")
        ).scalars()
    )
    if taken:
        raise Invalid(
            fields={"line_ids": [_("Already in an open dispute: %(ids)s.", ids=", ".join(map(str, sorted(taken))))]}
        )
    item = Dispute(
        statement_id=statement.id, dealer_id=statement.dealer_id, status="open", comment=comment,
        raised_by=actor_name(actor),
    )  # fmt: skip
    db.session.add(item)
    db.session.flush()
    db.session.execute(insert(DisputeLine), [{"dispute_id": item.id, "line_id": i} for i in ids])
    statement.status = "disputed"
    _message(statement, "disputed", "dealer", actor_name(actor), comment, dispute_id=item.id)
    record(actor, "statement.dispute", "statement", f"{statement.number} v{statement.version}",
           after={"dispute": item.id, "line_ids": ids, "comment": comment}, dealer_id=statement.dealer_id)  # fmt: skip
    _notify_finance(statement, "statement.disputed", f"dispute:{item.id}")
    db.session.expire(item, ["lines"])
    return item


def resolve(
    actor,
    item: Dispute,
    *,
    action: str,
    reason: str,
    amount: Decimal | None = None,
    issued_on: dt.date | None = None,
) -> Dispute:
    """Settle one open dispute: `credit_note` (posts one dated in the disputed month, re-issues), `adjustment`
    (the ledger was corrected already; re-issues from it) or `reject` (with the reason)."""
    item = (
        db.session.execute(
            select(Dispute)
            .where(Dispute.id == item.id)
            .with_for_update(of=Dispute)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one()
    )
    if item.status != "open":
        raise Conflict(_("This dispute was settled already."), code="already_resolved")
    if action not in ("credit_note", "adjustment", "reject"):
        raise Invalid(fields={"action": [_("One of credit_note, adjustment, reject.")]})
    reason = _clean_comment(reason, "reason", required=True)
    statement = _locked(item.statement)
    dealer = statement.dealer
    who = actor_name(actor)
    reissued = None
    if action == "credit_note":
        if amount is None or money(amount) <= 0:
            raise Invalid(fields={"amount": [_("Must be greater than zero.")]})
        on = issued_on or statement.period_end
        if not (statement.period_start <= on <= statement.period_end):
            raise Invalid(
                fields={"issued_on": [_("A date in the disputed month (%(start)s to %(end)s).",
                                        start=statement.period_start, end=statement.period_end)]}  # fmt: skip
            )
        invoice = next((line.number for line in item.lines if line.type == "invoice"), None)
        note = credit.post_credit_note(
            actor, dealer, amount=money(amount), issued_on=on, reason=reason, invoice_number=invoice, source="dispute"
        )
        item.credit_note_id, item.amount = note.id, note.amount
    elif amount is not None:
        raise Invalid(fields={"amount": [_("Only a credit note has an amount.")]})
    if action in ("credit_note", "adjustment"):
        reissued = _reissue(actor, dealer, statement.period)
        if reissued is None or reissued.id == statement.id:
            raise Conflict(
                _("The ledger of %(period)s says the same as this version: post the correction in that month first, "
                  "or reject the dispute.", period=statement.period),  # fmt: skip
                code="nothing_changed",
            )
        item.reissued_statement_id = reissued.id
    item.status = "rejected" if action == "reject" else "resolved"
    item.resolution, item.reason, item.resolved_by, item.resolved_at = action, reason, who, utcnow()
    db.session.flush()
    if not open_disputes(statement.id) and statement.status == "disputed":
        statement.status = "resolved"
    body = reason if reissued is None else f"{reason} → v{reissued.version}"
    _message(statement, "rejected" if action == "reject" else "resolved", "hq", who, body, dispute_id=item.id)
    record(actor, f"dispute.{action}", "statement", f"{statement.number} v{statement.version}",
           after={"dispute": item.id, "reason": reason, "amount": str(item.amount) if item.amount else None,
                  "reissued_version": reissued.version if reissued else None},
           dealer_id=statement.dealer_id)  # fmt: skip
    _notify_dealer(statement, f"dispute.{item.status}", f"dispute-settled:{item.id}", dispute=item)
    return item


def _reissue(actor, dealer: Dealer, period: str) -> Statement | None:
    """Re-issue `period` and every later month up to the last month stated (for any dealer: the runs have passed
    it), their openings following: a month already stated gets a new version, and a month that had nothing to
    state but now carries a balance gets its first, so the dealer's months keep no hole (`issue` states nothing
    for a month still without entry and balance). The new current version of `period`."""
    current, _outcome = issue(actor, dealer, period)
    last_stated = db.session.execute(select(func.max(Statement.period))).scalar()
    for later in later_periods(period, today()):
        if last_stated is None or later > last_stated:
            break
        issue(actor, dealer, later)
    return current


def add_comment(actor, statement: Statement, body: str) -> StatementMessage:
    body = _clean_comment(body, "body", required=True)
    side = "dealer" if getattr(actor, "dealer_id", None) else "hq"
    message = _message(statement, "comment", side, actor_name(actor), body)
    if side == "dealer":
        _notify_finance(statement, "statement.comment", f"statement-comment:{message.id}")
    else:
        _notify_dealer(statement, "statement.comment", f"statement-comment:{message.id}")
    return message


def thread(statement: Statement) -> list[StatementMessage]:
    """The conversation of the statement's dealer and month, across its versions, oldest first."""
    return list(
        db.session.execute(
            select(StatementMessage)
            .where(StatementMessage.dealer_id == statement.dealer_id, StatementMessage.period == statement.period)
            .order_by(StatementMessage.id)
        ).scalars()
    )


def _message(statement, kind, side, author, body, dispute_id=None) -> StatementMessage:
    message = StatementMessage(
        dealer_id=statement.dealer_id, period=statement.period, statement_id=statement.id, dispute_id=dispute_id,
        kind=kind, side=side, author=author, body=body,
    )  # fmt: skip
    db.session.add(message)
    db.session.flush()
    return message


# ---------------------------------------------------------------- notifications


def _dealer_admins(dealer_id: int) -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.dealer_id == dealer_id, User.role == "dealer_admin", User.active.is_(True))
        )
        .unique()
        .scalars()
    )


def _finance_users() -> list[User]:
    return list(
        db.session.execute(select(User).where(User.role == "finance", User.active.is_(True))).unique().scalars()
    )


def _texts(kind: str, statement: Statement, dispute: Dispute | None) -> tuple[str, str]:
    label = f"{statement.number} v{statement.version}"
    if kind == "statement.issued":
        return (
            _("Statement %(period)s is ready (%(label)s)", period=statement.period, label=label),
            _("Closing balance %(closing)s CNY. Please confirm it or dispute lines in the portal.",
              closing=format_decimal(statement.closing, format="#,##0.00")),  # fmt: skip
        )
    if kind == "statement.confirmed":
        return (
            _("%(dealer)s confirmed statement %(label)s", dealer=statement.dealer.code, label=label),
            _("Closing balance %(closing)s CNY.", closing=format_decimal(statement.closing, format="#,##0.00")),
        )
    if kind == "statement.disputed":
        return (
            _("%(dealer)s disputes statement %(label)s", dealer=statement.dealer.code, label=label),
            _("A dispute waits in the dispute queue."),
        )
    if kind == "dispute.resolved":
        return (
            _("Your dispute on statement %(label)s was resolved", label=label),
            dispute.reason or "",
        )
    if kind == "dispute.rejected":
        return (
            _("Your dispute on statement %(label)s was rejected", label=label),
            dispute.reason or "",
        )
    return (_("New comment on statement %(label)s", label=label), "")


def _notify_dealer(statement: Statement, kind: str, key: str, dispute: Dispute | None = None) -> None:
    for user in _dealer_admins(statement.dealer_id):
        with force_locale(user.locale):
            title, body = _texts(kind, statement, dispute)
        notify(user, kind=kind, title=title, body=body, link=f"/statements/{statement.id}", dedupe_key=key)


def _notify_finance(statement: Statement, kind: str, key: str) -> None:
    for user in _finance_users():
        with force_locale(user.locale):
            title, body = _texts(kind, statement, None)
        notify(user, kind=kind, title=title, body=body, link=f"/statements/{statement.id}", dedupe_key=key)


# ---------------------------------------------------------------- queries


def statements_query(scope, *, dealer=None, period=None, status=None, all_versions=False):
    stmt = scope.select(Statement).order_by(Statement.period.desc(), Statement.dealer_id, Statement.version.desc())
    if not all_versions:
        stmt = stmt.where(Statement.superseded_by_id.is_(None))
    if dealer:
        stmt = stmt.where(Statement.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    if period:
        stmt = stmt.where(Statement.period == period)
    if status:
        stmt = stmt.where(Statement.status == status)
    return stmt


def disputes_query(scope, *, status=None, dealer=None):
    stmt = scope.select(Dispute).order_by(Dispute.raised_at.desc(), Dispute.id.desc())
    if status:
        stmt = stmt.where(Dispute.status == status)
    if dealer:
        stmt = stmt.where(Dispute.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    return stmt


def disputes_of(statement: Statement) -> list[Dispute]:
    return list(
        db.session.execute(select(Dispute).where(Dispute.statement_id == statement.id).order_by(Dispute.id))
        .unique()
        .scalars()
    )


def versions_of(statement: Statement) -> list[Statement]:
    return list(
        db.session.execute(
            select(Statement)
            .where(Statement.dealer_id == statement.dealer_id, Statement.period == statement.period)
            .order_by(Statement.version)
        )
        .unique()
        .scalars()
    )
