"""Banking rows (PRODUCT.md §14)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

RECEIPT_STATUSES = ("open", "assigned", "dismissed")


class PayerAccount(db.Model):
    """A bank account a dealer pays from (付款账户): how a bank statement's line is matched to the dealer. An account
    number belongs to one dealer at a time."""

    __tablename__ = "payer_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)
    account_number: Mapped[str] = mapped_column(String(40), unique=True)  # digits only, as stored
    account_name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class UnmatchedReceipt(db.Model):
    """A credit line of a bank statement no dealer could be matched to, for finance to assign (it is then posted as
    the dealer's payment, reference = the bank's serial) or dismiss (not a customer's money). One per bank serial:
    a statement imported twice adds nothing twice."""

    __tablename__ = "unmatched_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str] = mapped_column(String(64))  # the bank's serial number (流水号)
    received_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    payer_account: Mapped[str | None] = mapped_column(String(40))
    payer_name: Mapped[str | None] = mapped_column(String(120))
    memo: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))  # once assigned
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))  # once assigned
    reason: Mapped[str | None] = mapped_column(String(300))  # why dismissed
    job_id: Mapped[str | None] = mapped_column(String(36))  # the import that found it
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("serial", name="uq_unmatched_receipts_serial"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('open', 'assigned', 'dismissed')", name="status_valid"),
        Index("ix_unmatched_receipts_status", "status", "received_on"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        # finance's work: HQ sees them all, nobody else any (an assigned one is the dealer's payment in its ledger)
        from sqlalchemy import false, true

        return true() if scope.is_hq else false()
