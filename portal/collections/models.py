"""Collections' rows (PRODUCT.md §14). A dealer's current dunning level lives on its credit row
(`DealerCredit.dunning_level`); what the daily scan did, once per level and invoice, in `DunningAction`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")
CONTACT_CHANNELS = ("phone", "visit", "message", "email", "other")


class DunningAction(db.Model):
    """The scan acted on this invoice at this level (days past due of the policy) — once, ever."""

    __tablename__ = "dunning_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    level: Mapped[int]  # the level's days past due (1, 15, 30, 60, 90 by default)
    acted_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("invoice_id", "level", name="uq_dunning_actions_invoice_level"),
        Index("ix_dunning_actions_dealer", "dealer_id", "acted_on"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class PromiseToPay(db.Model):
    """A dealer's promise to pay an amount by a date (承诺付款), recorded by whoever chases it. `open` until the date
    passes: `kept` when the dealer's payments since the promise reach the amount by then, else `broken` (back on top
    of the worklist, the account manager notified)."""

    __tablename__ = "promises_to_pay"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    promised_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when it became kept or broken
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('open', 'kept', 'broken', 'cancelled')", name="status_valid"),
        Index("ix_promises_to_pay_dealer_status", "dealer_id", "status"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class CollectionContact(db.Model):
    """A contact made to collect (a call, a visit, a message) and what was said; the worklist shows the last one."""

    __tablename__ = "collection_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    contacted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (
        CheckConstraint("channel IN ('phone', 'visit', 'message', 'email', 'other')", name="channel_valid"),
        Index("ix_collection_contacts_dealer_at", "dealer_id", "contacted_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
