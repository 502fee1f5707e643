"""Monthly statements (对账单) and their reconciliation (PRODUCT.md §6).

A `Statement` is one version of one dealer's statement for one calendar month. It is stored as data when it is
issued (opening, the month's ledger entries as `StatementLine` rows with their running balance, closing, ageing at
month end) and never changes afterwards, except for its reconciliation status. A re-issue after corrections is a new
version; the old one keeps its content and points to its successor (`superseded_by_id`).

The dealer confirms a version or disputes some of its lines (`Dispute`, `DisputeLine`); finance resolves each dispute
with a correction (which re-issues the month as a new version) or rejects it with a reason. Every step is also a
`StatementMessage` in the thread of that dealer and month, which both sides read.

A monthly run (a `JobRecord` of kind `statement_run`) fans out into one job per dealer; `StatementRunItem` rows are
the run's durable to-do list, so a failed or interrupted dealer can be retried without redoing the others.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

STATEMENT_STATUSES = ("issued", "confirmed", "disputed", "resolved")
DISPUTE_STATUSES = ("open", "resolved", "rejected")
RESOLUTIONS = ("credit_note", "adjustment", "reject")
RUN_ITEM_STATUSES = ("queued", "done", "failed")


class Statement(db.Model):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))  # ST-YYYYMM-<dealer code>, the same for every version
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="issued")
    opening: Mapped[Decimal] = mapped_column(MoneyColumn)
    debits: Mapped[Decimal] = mapped_column(MoneyColumn)
    credits: Mapped[Decimal] = mapped_column(MoneyColumn)
    closing: Mapped[Decimal] = mapped_column(MoneyColumn)
    ageing: Mapped[dict] = mapped_column(JSON)  # bucket -> amount as a string ("12.30"), at period_end
    line_count: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issued_by: Mapped[str] = mapped_column(String(120))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("job_records.id"))
    pdf_path: Mapped[str | None] = mapped_column(String(300))  # relative to PORTAL_STORAGE
    pdf_pages: Mapped[int | None] = mapped_column()
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    lines: Mapped[list[StatementLine]] = relationship(
        back_populates="statement", order_by="StatementLine.position", lazy="select"
    )

    __table_args__ = (
        UniqueConstraint("dealer_id", "period", "version", name="uq_statements_dealer_period_version"),
        CheckConstraint("status IN ('issued', 'confirmed', 'disputed', 'resolved')", name="status_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_statements_period_dealer", "period", "dealer_id"),
        Index("ix_statements_status", "status"),
    )

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class StatementLine(db.Model):
    """One ledger entry of the month as it stood when the version was issued (copied: the version never changes)."""

    __tablename__ = "statement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    position: Mapped[int] = mapped_column()
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    entry_date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(200))
    debit: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    credit: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    balance: Mapped[Decimal] = mapped_column(MoneyColumn)

    statement: Mapped[Statement] = relationship(back_populates="lines")

    __table_args__ = (
        UniqueConstraint("statement_id", "position", name="uq_statement_lines_position"),
        Index("ix_statement_lines_entry", "entry_id"),
    )


class Dispute(db.Model):
    __tablename__ = "statement_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    comment: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(120))
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolution: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    reason: Mapped[str | None] = mapped_column(Text)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    reissued_statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    statement = relationship(Statement, foreign_keys=[statement_id], lazy="joined", innerjoin=True)
    reissued = relationship(Statement, foreign_keys=[reissued_statement_id], lazy="select")
    credit_note = relationship("LedgerEntry", lazy="select")
    lines: Mapped[list[StatementLine]] = relationship(
        secondary="statement_dispute_lines", order_by="StatementLine.position", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'rejected')", name="status_valid"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('credit_note', 'adjustment', 'reject')", name="resolution_valid"
        ),
        CheckConstraint("(status = 'open') = (resolved_at IS NULL)", name="resolved_shape"),
        Index("ix_statement_disputes_dealer_status", "dealer_id", "status"),
        Index("ix_statement_disputes_status", "status"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class DisputeLine(db.Model):
    __tablename__ = "statement_dispute_lines"

    dispute_id: Mapped[int] = mapped_column(ForeignKey("statement_disputes.id"), primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("statement_lines.id"), primary_key=True)


class StatementMessage(db.Model):
    """The conversation of one dealer and month, across versions: issues, confirmations, disputes, resolutions,
    comments. Both sides read it."""

    __tablename__ = "statement_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    period: Mapped[str] = mapped_column(String(7))
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("statement_disputes.id"))
    kind: Mapped[str] = mapped_column(String(16))  # issued|confirmed|disputed|resolved|rejected|comment
    side: Mapped[str] = mapped_column(String(8))  # dealer | hq
    author: Mapped[str] = mapped_column(String(120))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_statement_messages_thread", "dealer_id", "period", "id"),)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class StatementRunItem(db.Model):
    """One dealer of a statement run: the durable to-do list behind the run's progress, retries and resumption."""

    __tablename__ = "statement_run_items"

    run_id: Mapped[str] = mapped_column(ForeignKey("job_records.id"), primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    outcome: Mapped[str | None] = mapped_column(String(16))  # issued | unchanged | nothing
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'done', 'failed')", name="status_valid"),
        Index("ix_statement_run_items_run_status", "run_id", "status"),
    )
