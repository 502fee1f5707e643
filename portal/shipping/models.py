"""Shipments (PRODUCT.md §5): HQ ships units or stock quantities of an order; each shipment is invoiced once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

SHIPMENT_STATUSES = ("in_transit", "received")
SHIPMENT_KINDS = ("sale", "reship")  # reship: goods sent again for a delivery discrepancy, with no new invoice (§13)


class Shipment(db.Model):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # DN-YYYYMM-000123 (delivery note)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    status: Mapped[str] = mapped_column(String(16), default="in_transit")
    shipped_on: Mapped[dt.date] = mapped_column(Date)
    net: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax: Mapped[Decimal] = mapped_column(MoneyColumn)
    gross: Mapped[Decimal] = mapped_column(MoneyColumn)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="sale", server_default="sale")
    # §16: a distributor's transfer to its sub-dealer, out of the distributor's own stock; None: shipped by HQ
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    received_by: Mapped[str | None] = mapped_column(String(120))

    order = relationship("Order", lazy="joined", innerjoin=True)
    seller = relationship("Dealer", lazy="select", foreign_keys=[seller_id])
    invoice = relationship("LedgerEntry", lazy="joined")
    lines: Mapped[list[ShipmentLine]] = relationship(
        back_populates="shipment", order_by="ShipmentLine.id", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        UniqueConstraint("order_id", "idempotency_key", name="uq_shipments_order_idempotency"),
        CheckConstraint("status IN ('in_transit', 'received')", name="status_valid"),
        CheckConstraint("(status = 'received') = (received_on IS NOT NULL)", name="received_shape"),
        CheckConstraint("kind IN ('sale', 'reship')", name="kind_valid"),
        CheckConstraint("(kind = 'sale') = (invoice_id IS NOT NULL)", name="invoiced_unless_reship"),
        Index("ix_shipments_order", "order_id"),
        Index("ix_shipments_dealer_status", "dealer_id", "status"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class ShipmentLine(db.Model):
    """A quantity of one order line in a shipment, priced as the order line was (the last shipment of a line takes
    what is left of its net and tax, so the invoices of an order add up to its gross to the cent)."""

    __tablename__ = "shipment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    net: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax: Mapped[Decimal] = mapped_column(MoneyColumn)
    gross: Mapped[Decimal] = mapped_column(MoneyColumn)

    shipment: Mapped[Shipment] = relationship(back_populates="lines")
    order_line = relationship("OrderLine", lazy="joined", innerjoin=True)
    units: Mapped[list[ShipmentUnit]] = relationship(
        order_by="ShipmentUnit.unit_id", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class ShipmentUnit(db.Model):
    """A unit (VIN) in a shipment line; a unit ships once."""

    __tablename__ = "shipment_units"

    shipment_line_id: Mapped[int] = mapped_column(ForeignKey("shipment_lines.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, unique=True)
    serial: Mapped[str] = mapped_column(String(17))
