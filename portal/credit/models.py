"""The dealer ledger and credit.

The ledger is append-only: invoices (debit), payments and credit notes (credit) are `LedgerEntry` rows that
never change once posted; corrections are new entries. How credits settle invoices is recorded in
`Application` rows, each with the date from which it counts; a reversal is a new, negative application.
So any past day's position can be rebuilt: an invoice's residual on D is its amount minus its applications
dated on or before D.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import ZERO, MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

ENTRY_TYPES = ("invoice", "payment", "credit_note")
CREDIT_TYPES = ("payment", "credit_note")


class LedgerEntry(db.Model):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    type: Mapped[str] = mapped_column(String(16))
    # invoice number, payment bank reference, or credit note number
    number: Mapped[str] = mapped_column(String(64))
    entry_date: Mapped[dt.date] = mapped_column(Date)  # issued_on / received_on
    due_on: Mapped[dt.date | None] = mapped_column(Date)  # invoices only
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # gross, always positive
    order_number: Mapped[str | None] = mapped_column(String(32))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))  # credit note for an invoice
    reason: Mapped[str | None] = mapped_column(Text)
    # what the portal itself writes on an entry, as {"code": ..., **parameters}, shown in the reader's language
    # (portal/credit/memos.py); `reason` keeps a language-neutral text for the API, exports and statements
    memo: Mapped[dict | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="portal")  # portal | api | erp | import | order
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # True once the applications (all of them, whatever their date) take the whole amount: nothing left open on
    # this invoice, nothing unapplied on this payment or credit note. A marker kept by every writer of applications
    # (credit.services: `_make_applications`, `apply_credit`, `reverse_application`; `refresh_settled` after a bulk
    # load) so that the open items are read through `ix_ledger_entries_open` instead of the dealer's whole history.
    # Never the truth about money: the residuals are always summed from the applications; a False on an entry with
    # nothing open costs a little time, never a wrong figure (tests/test_settled_marker.py checks it stays exact).
    # (the index's condition is what `~LedgerEntry.settled` renders on each database, so both planners match it)
    settled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    __table_args__ = (
        UniqueConstraint("dealer_id", "type", "number", name="uq_ledger_entries_dealer_type_number"),
        CheckConstraint("type IN ('invoice', 'payment', 'credit_note')", name="type_valid"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(type = 'invoice') = (due_on IS NOT NULL)", name="due_on_for_invoices"),
        Index("ix_ledger_entries_dealer_date", "dealer_id", "entry_date"),
        Index("ix_ledger_entries_type_date", "type", "entry_date"),
        # a bank statement's serials looked up whatever the dealer (banking.imports._already)
        Index("ix_ledger_entries_type_number", "type", "number"),
        # a dealer's open items in the posting's FIFO order (due date, then entry date, then id): a FIFO page reads
        # its own rows in order from the index, without a sort or a visit of every open invoice (migration 0021)
        Index(
            "ix_ledger_entries_open",
            "dealer_id",
            "type",
            "due_on",
            "entry_date",
            "id",
            postgresql_where=text("NOT settled"),
            sqlite_where=text("settled = 0"),
        ),
    )

    @property
    def is_credit(self) -> bool:
        return self.type in CREDIT_TYPES

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class Application(db.Model):
    """A credit (payment or credit note) settling part of an invoice, counted from `applied_on`."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    credit_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # negative for a reversal
    applied_on: Mapped[dt.date] = mapped_column(Date)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))  # unique: an index below
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    credit = relationship(LedgerEntry, foreign_keys=[credit_id], lazy="joined")
    invoice = relationship(LedgerEntry, foreign_keys=[invoice_id], lazy="joined")

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        Index("ix_applications_invoice_date", "invoice_id", "applied_on"),
        Index("ix_applications_credit_date", "credit_id", "applied_on"),
        # a dealer's applications dated after a day (what an as-of read must add to the open items)
        Index("ix_applications_dealer_date", "dealer_id", "applied_on"),
        # an application is reversed at most once; only reversals are in the index (not the NULL of every other
        # application), partial on both databases (migration 0021; until then a unique constraint)
        Index(
            "uq_applications_reverses_id",
            "reverses_id",
            unique=True,
            postgresql_where=text("reverses_id IS NOT NULL"),
            sqlite_where=text("reverses_id IS NOT NULL"),
        ),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class DealerCredit(db.Model):
    """One row per dealer: its permanent limit and hold. The credit gate locks this row (FOR UPDATE)."""

    __tablename__ = "dealer_credit"

    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    credit_limit: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    on_hold: Mapped[bool] = mapped_column(default=False)
    hold_source: Mapped[str | None] = mapped_column(String(16))  # manual | overdue
    hold_reason: Mapped[str | None] = mapped_column(String(300))
    held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    held_by: Mapped[str | None] = mapped_column(String(120))
    # the dunning level the daily scan put the dealer at (§14: the policy level's days past due; 0: none) and since
    dunning_level: Mapped[int] = mapped_column(default=0, server_default="0")
    dunning_since: Mapped[dt.date | None] = mapped_column(Date)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    __table_args__ = (CheckConstraint("credit_limit >= 0", name="credit_limit_non_negative"),)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class CreditLimitChange(db.Model):
    __tablename__ = "credit_limit_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    old_limit: Mapped[Decimal] = mapped_column(MoneyColumn)
    new_limit: Mapped[Decimal] = mapped_column(MoneyColumn)
    reason: Mapped[str] = mapped_column(String(300))
    changed_by: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class CreditIncrease(db.Model):
    """A temporary increase of the limit, valid from..until (inclusive dates)."""

    __tablename__ = "credit_increases"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    approved_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("valid_until >= valid_from", name="window_ordered"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


REQUEST_STATUSES = ("pending", "approved", "rejected", "withdrawn")
NOTICE_STATUSES = ("notified", "matched", "queried")


class CreditRequest(db.Model):
    """A dealer administrator's request for a temporary credit increase (§14). The region manager decides when the
    amount is within its region's approval limit, finance otherwise (or after the region: `stage`); approval creates
    the `CreditIncrease` in the same transaction, under the dealer's credit lock."""

    __tablename__ = "credit_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str] = mapped_column(String(16))  # who decides now: region | finance
    requested_by: Mapped[str] = mapped_column(String(120))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    increase_id: Mapped[int | None] = mapped_column(ForeignKey("credit_increases.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status_valid"),
        CheckConstraint("stage IN ('region', 'finance')", name="stage_valid"),
        Index("ix_credit_requests_status", "status", "created_at"),
        Index("ix_credit_requests_dealer", "dealer_id", "created_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class PaymentNotice(db.Model):
    """A dealer's "we paid" (回款通知, §14) with its voucher: never money itself. `notified` until matched to a posted
    payment (same reference and amount, automatically, or by finance by hand: `matched`), or queried by finance."""

    __tablename__ = "payment_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    voucher_path: Mapped[str | None] = mapped_column(String(200))  # under PORTAL_STORAGE, named by the portal
    voucher_name: Mapped[str | None] = mapped_column(String(200))  # as uploaded (shown, never used as a path)
    voucher_type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="notified")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    matched_by: Mapped[str | None] = mapped_column(String(120))
    matched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    query: Mapped[str | None] = mapped_column(Text)  # finance's question when queried
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    payment = relationship(LedgerEntry, lazy="joined")

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('notified', 'matched', 'queried')", name="status_valid"),
        CheckConstraint("(status = 'matched') = (payment_id IS NOT NULL)", name="matched_has_payment"),
        Index("ix_payment_notices_dealer_reference", "dealer_id", "reference"),
        Index("ix_payment_notices_status", "status", "created_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
