from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

STATUSES = (
    "submitted",
    "credit_review",
    "approved",
    "in_production",
    "built",
    "shipped",
    "delivered",
    "rejected",
    "cancelled",
)
OPEN_FOR_CREDIT = ("approved", "in_production", "built")  # approved but not yet invoiced


class Order(db.Model):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    status: Mapped[str] = mapped_column(String(16))
    net: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax: Mapped[Decimal] = mapped_column(MoneyColumn)
    gross: Mapped[Decimal] = mapped_column(MoneyColumn)
    note: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    available_at_submit: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # when the order became approved (the backorder queue's order, §12); None until then
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # a channel manager moved the order up the backorder queue at this moment (earlier moves first), else None
    moved_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # §12: when the dealer wants the goods (None: as soon as possible) and where to (one of the dealer's addresses)
    requested_on: Mapped[dt.date | None] = mapped_column(Date)
    ship_to_id: Mapped[int | None] = mapped_column(ForeignKey("dealer_addresses.id"))
    # an order HQ or the region placed for the dealer (代客下单): who placed it; None when the dealer did
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # §16: who sells: the dealer's distributor for a sub-dealer's order, None for HQ (set at placement, never changed)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))

    dealer = relationship("Dealer", lazy="joined", innerjoin=True, foreign_keys=[dealer_id])
    seller = relationship("Dealer", lazy="select", foreign_keys=[seller_id])
    ship_to = relationship("DealerAddress", lazy="joined")
    placed_by = relationship("User", lazy="joined", foreign_keys=[placed_by_id])
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.line_no", cascade="all, delete-orphan", lazy="selectin"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (
        UniqueConstraint("dealer_id", "idempotency_key", name="uq_orders_dealer_idempotency"),
        CheckConstraint(
            "status IN ('submitted', 'credit_review', 'approved', 'in_production', 'built', 'shipped', 'delivered', "
            "'rejected', 'cancelled')",
            name="status_valid",
        ),
        Index("ix_orders_dealer_status", "dealer_id", "status"),
        Index("ix_orders_seller_status", "seller_id", "status"),
        Index("ix_orders_status_created", "status", "created_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    list_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    net: Mapped[Decimal] = mapped_column(MoneyColumn)
    tax: Mapped[Decimal] = mapped_column(MoneyColumn)
    gross: Mapped[Decimal] = mapped_column(MoneyColumn)
    rule: Mapped[dict | None] = mapped_column(JSON)  # which price rule produced unit_price (None: list price)
    # stock lines (§12): the part HQ could not allocate yet, and when it is promised (None when nothing waits)
    backordered: Mapped[int] = mapped_column(default=0, server_default="0")
    promised_on: Mapped[dt.date | None] = mapped_column(Date)
    # build-to-order options chosen (§12): [{group, code, label, label_en, price_delta}] (None: none declared);
    # list_price already includes their deltas
    options: Mapped[list | None] = mapped_column(JSON)

    order: Mapped[Order] = relationship(back_populates="lines")
    product = relationship("Product", lazy="joined")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("backordered >= 0 AND backordered <= quantity", name="backordered_within_quantity"),
        # the waiting backorders of a product, read by every receipt: a small partial index
        Index("ix_order_lines_waiting", "product_id", postgresql_where=text("backordered > 0"),
              sqlite_where=text("backordered > 0")),  # fmt: skip
    )


class OrderEvent(db.Model):
    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)

    order: Mapped[Order] = relationship(back_populates="events")


class OrderDraft(db.Model):
    """A basket being built (§12): one per user, kept on the server so it survives leaving the page and logging out.
    Lines as the user put them ([{sku, quantity, options}]); priced live whenever shown, never stored priced."""

    __tablename__ = "order_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), index=True)  # whom the order will be for
    lines: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    requested_on: Mapped[dt.date | None] = mapped_column(Date)
    ship_to_id: Mapped[int | None] = mapped_column(ForeignKey("dealer_addresses.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    ship_to = relationship("DealerAddress", lazy="joined")

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
