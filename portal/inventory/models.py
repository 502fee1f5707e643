"""Dealer stock (进销存, PRODUCT.md §7): every movement of goods in a dealer's yard, signed quantities.

On hand on a date = the sum of the movements up to that date. Shipments that are on their way (in transit) are
the dealer's *incoming* stock; receiving one adds a `receipt` movement per line (one per VIN for units).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.platform.timeutil import UTCDateTime, utcnow

MOVE_KINDS = ("receipt", "sale", "adjustment")


class DealerStockMove(db.Model):
    __tablename__ = "dealer_stock_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(17))
    quantity: Mapped[int]  # + in, − out
    kind: Mapped[str] = mapped_column(String(16))
    moved_on: Mapped[dt.date] = mapped_column(Date)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('receipt', 'sale', 'adjustment')", name="kind_valid"),
        CheckConstraint("quantity <> 0", name="quantity_non_zero"),
        Index("ix_dealer_stock_moves_dealer_product_on", "dealer_id", "product_id", "moved_on"),
        Index("ix_dealer_stock_moves_serial", "serial"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
