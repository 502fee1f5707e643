"""Returns (RMA) and delivery discrepancies (PRODUCT.md §13).

- `Return` / `ReturnLine`: a dealer administrator's request to send back goods of one received shipment, by SKU
  quantity or by VIN; decided by a channel manager (a restocking fee percentage for `overstock`), shipped back by the
  dealer (a `return` stock movement out of its stock), received by HQ into a warehouse with what is accepted and
  what is scrapped per line, and credited once (`credit_note_id`, unique) at the goods' invoiced gross less the fee.
- `ReturnMessage`: the conversation on a return (dealer ↔ HQ).
- `DeliveryDiscrepancy`: goods declared short or damaged when a shipment is received; they never enter the dealer's
  stock; resolved once, by a re-shipment (a shipment with no invoice) or by a credit note.
- `SellInCorrection`: what returns and discrepancies take off the sell-in (negative quantity and amount, dated the
  day HQ received the return or the dealer the shipment) — the one row the channel roll-up, the rebate basis and the
  channel-flow checks read, so every figure follows from one place.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

RETURN_REASONS = ("damaged", "wrong_item", "quality", "overstock")
RETURN_STATUSES = ("requested", "approved", "rejected", "shipped_back", "received")
DISCREPANCY_KINDS = ("short", "damaged")
DISCREPANCY_STATUSES = ("open", "reshipped", "credited")


class Return(db.Model):
    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # RT-YYYYMM-000123
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    restocking_fee_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.00"))
    requested_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    shipped_back_on: Mapped[dt.date | None] = mapped_column(Date)
    shipped_back_by: Mapped[str | None] = mapped_column(String(120))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    received_by: Mapped[str | None] = mapped_column(String(120))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    shipment = relationship("Shipment", lazy="joined", innerjoin=True)
    warehouse = relationship("Warehouse", lazy="joined")
    credit_note = relationship("LedgerEntry", lazy="joined")
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="ret", order_by="ReturnLine.id", cascade="all, delete-orphan", lazy="selectin"
    )
    messages: Mapped[list[ReturnMessage]] = relationship(
        order_by="ReturnMessage.id", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("reason IN ('damaged', 'wrong_item', 'quality', 'overstock')", name="reason_valid"),
        CheckConstraint(
            "status IN ('requested', 'approved', 'rejected', 'shipped_back', 'received')", name="status_valid"
        ),
        CheckConstraint("restocking_fee_pct >= 0 AND restocking_fee_pct <= 100", name="fee_pct_range"),
        CheckConstraint("(status = 'received') = (received_on IS NOT NULL)", name="received_shape"),
        Index("ix_returns_dealer_status", "dealer_id", "status"),
        Index("ix_returns_status_created", "status", "created_at"),
        Index("ix_returns_shipment", "shipment_id"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class ReturnLine(db.Model):
    """A quantity of one shipment line (by SKU), or one VIN of it, sent back. `value`: the goods' invoiced gross
    (the shipment line's gross × quantity / its quantity, rounded half-up per line); `fee`: the restocking fee on it
    (rounded half-up per line); at receipt `accepted` + `scrapped` = `quantity`."""

    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    shipment_line_id: Mapped[int] = mapped_column(ForeignKey("shipment_lines.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(17))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    quantity: Mapped[int]
    value: Mapped[Decimal] = mapped_column(MoneyColumn)
    fee: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    accepted: Mapped[int | None]
    scrapped: Mapped[int | None]

    ret: Mapped[Return] = relationship(back_populates="lines")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("serial IS NULL OR quantity = 1", name="one_per_serial"),
        CheckConstraint("value >= 0 AND fee >= 0 AND fee <= value", name="money_shape"),
        CheckConstraint(
            "(accepted IS NULL AND scrapped IS NULL) OR "
            "(accepted >= 0 AND scrapped >= 0 AND accepted + scrapped = quantity)",
            name="receipt_shape",
        ),
        Index("ix_return_lines_unit", "unit_id"),
    )


class ReturnMessage(db.Model):
    __tablename__ = "return_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(120))
    side: Mapped[str] = mapped_column(String(8))  # dealer | hq
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (CheckConstraint("side IN ('dealer', 'hq')", name="side_valid"),)


class DeliveryDiscrepancy(db.Model):
    __tablename__ = "delivery_discrepancies"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # DC-YYYYMM-000123
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    shipment_line_id: Mapped[int] = mapped_column(ForeignKey("shipment_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(17))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    quantity: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)
    value: Mapped[Decimal] = mapped_column(MoneyColumn)  # the goods' invoiced gross
    declared_on: Mapped[dt.date] = mapped_column(Date)
    declared_by: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reship_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), unique=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    shipment = relationship("Shipment", foreign_keys=[shipment_id], lazy="joined", innerjoin=True)
    reship = relationship("Shipment", foreign_keys=[reship_id], lazy="joined")
    credit_note = relationship("LedgerEntry", lazy="joined")

    __table_args__ = (
        CheckConstraint("kind IN ('short', 'damaged')", name="kind_valid"),
        CheckConstraint("status IN ('open', 'reshipped', 'credited')", name="status_valid"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("serial IS NULL OR quantity = 1", name="one_per_serial"),
        CheckConstraint(
            "(status = 'open' AND reship_id IS NULL AND credit_note_id IS NULL) OR "
            "(status = 'reshipped' AND reship_id IS NOT NULL AND credit_note_id IS NULL) OR "
            "(status = 'credited' AND credit_note_id IS NOT NULL AND reship_id IS NULL)",
            name="resolved_once",
        ),
        Index("ix_delivery_discrepancies_dealer_status", "dealer_id", "status"),
        Index("ix_delivery_discrepancies_status_created", "status", "created_at"),
        Index("ix_delivery_discrepancies_shipment", "shipment_id"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class SellInCorrection(db.Model):
    """Sell-in taken back: a received return's lines (quantity accepted + scrapped, amount = what is credited) or a
    discrepancy (its quantity and value), negative, on the day HQ received the return / the dealer the shipment."""

    __tablename__ = "sell_in_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    corrected_on: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[int]  # ≤ 0
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # ≤ 0
    return_line_id: Mapped[int | None] = mapped_column(ForeignKey("return_lines.id"), unique=True)
    discrepancy_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_discrepancies.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("quantity <= 0 AND amount <= 0", name="takes_back"),
        CheckConstraint("(return_line_id IS NULL) <> (discrepancy_id IS NULL)", name="one_source"),
        Index("ix_sell_in_corrections_dealer_on", "dealer_id", "corrected_on"),
        Index("ix_sell_in_corrections_on", "corrected_on"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


__all__ = [
    "DISCREPANCY_KINDS",
    "DISCREPANCY_STATUSES",
    "RETURN_REASONS",
    "RETURN_STATUSES",
    "DeliveryDiscrepancy",
    "Return",
    "ReturnLine",
    "ReturnMessage",
    "SellInCorrection",
]
