"""Stock in the channel (PRODUCT.md §7).

HQ stock: `HqStock` holds on hand and allocated per warehouse and SKU (available = on hand − allocated); every
change is an `HqStockMove` (receipts and adjustments by HQ, allocations when a stock order is approved, releases
when it is cancelled, consumption when it ships); `StockAllocation` says which warehouse holds what for which
order line.

Dealer stock (进销存): every movement of goods in a dealer's yard, signed quantities (`DealerStockMove`). On hand
on a date = the sum of the movements up to that date. Shipments that are on their way (in transit) are the
dealer's *incoming* stock; receiving one adds a `receipt` movement per line (one per VIN for units). A sale to an
end customer is a `SellThroughLine` (price, customer) and its `sale` movement; `SellThroughMonthly` keeps the
per dealer, product and month sums, updated in the same transaction as the lines (so they stay exact whenever a
line arrives, late ones included), for the channel-flow reports. `ChannelMonthly` is the coarser roll-up of every
flow per dealer, category and month (sell-in, sell-through, the other stock movements), kept exact the same way;
the channel-flow reports read it whenever they need no product detail.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

# return: shipped back to HQ (§13); transfer: out of a distributor's stock to one of its sub-dealers (§16)
MOVE_KINDS = ("receipt", "sale", "adjustment", "return", "transfer")


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
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('receipt', 'sale', 'adjustment', 'return', 'transfer')", name="kind_valid"),
        CheckConstraint("quantity <> 0", name="quantity_non_zero"),
        Index("ix_dealer_stock_moves_dealer_product_on", "dealer_id", "product_id", "moved_on"),
        Index("ix_dealer_stock_moves_serial", "serial"),
        Index(
            "ix_dealer_stock_moves_moved_on",
            "moved_on",
            postgresql_include=["dealer_id", "product_id", "quantity", "kind"],
        ),  # fmt: skip
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


# ---------------------------------------------------------------- HQ stock

HQ_MOVE_KINDS = ("receipt", "adjustment", "allocation", "release", "shipment", "return")


def _hq_only(scope):
    return true() if scope.is_hq else false()


class Warehouse(db.Model):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @classmethod
    def __scope_clause__(cls, scope):
        return _hq_only(scope)  # dealers and regions see availability bands, never HQ's numbers


class HqStock(db.Model):
    """On hand and allocated of one SKU in one warehouse (available = on_hand − allocated)."""

    __tablename__ = "hq_stock"

    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    allocated: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    warehouse = relationship(Warehouse, lazy="joined", innerjoin=True)
    product = relationship("Product", lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("allocated >= 0 AND allocated <= on_hand", name="allocated_within_on_hand"),
        Index("ix_hq_stock_product", "product_id"),
    )

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated

    @classmethod
    def __scope_clause__(cls, scope):
        return _hq_only(scope)


class HqStockMove(db.Model):
    """One change of HQ stock: what moved on hand and what moved in allocation, and why."""

    __tablename__ = "hq_stock_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[str] = mapped_column(String(16))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    allocated_delta: Mapped[int] = mapped_column(default=0)
    moved_on: Mapped[dt.date] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "kind IN ('receipt', 'adjustment', 'allocation', 'release', 'shipment', 'return')", name="kind_valid"
        ),
        CheckConstraint("on_hand_delta <> 0 OR allocated_delta <> 0", name="moves_something"),
        Index("ix_hq_stock_moves_product_on", "product_id", "moved_on"),
        Index("ix_hq_stock_moves_order", "order_id"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return _hq_only(scope)


class ExpectedReceipt(db.Model):
    """Goods HQ expects in a warehouse on a date (§12): the promised dates of backorders come from these.
    `received` counts what of it has arrived (receipts of the same warehouse and SKU fill the earliest open ones);
    a cancelled one no longer counts."""

    __tablename__ = "expected_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    received: Mapped[int] = mapped_column(default=0)
    expected_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | received | cancelled
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received >= 0 AND received <= quantity", name="received_within_quantity"),
        CheckConstraint("status IN ('open', 'received', 'cancelled')", name="status_valid"),
        Index("ix_expected_receipts_product_on", "product_id", "expected_on"),
    )

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received if self.status == "open" else 0

    @classmethod
    def __scope_clause__(cls, scope):
        return _hq_only(scope)


class StockAllocation(db.Model):
    """What a warehouse holds for an order line (released on cancel, consumed when shipped)."""

    __tablename__ = "stock_allocations"

    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(default=0)

    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)


# ---------------------------------------------------------------- sell-through

CUSTOMER_TYPES = ("individual", "business", "fleet", "government")
SELL_THROUGH_SOURCES = ("portal", "api", "import")


class SellThroughLine(db.Model):
    """A sale to an end customer (sell-through): what, when, at what price, to whom; its `sale` stock movement."""

    __tablename__ = "sell_through_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(17))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)  # what the end customer paid, per piece
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # quantity × unit_price
    floor_price: Mapped[Decimal | None] = mapped_column(MoneyColumn)  # the product's min_resale_price that day
    below_floor: Mapped[bool] = mapped_column(default=False)
    sold_on: Mapped[dt.date] = mapped_column(Date)
    city: Mapped[str | None] = mapped_column(String(60))
    customer_type: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(8), default="portal")
    job_id: Mapped[str | None] = mapped_column(ForeignKey("job_records.id"))  # the import that brought it
    stock_move_id: Mapped[int | None] = mapped_column(ForeignKey("dealer_stock_moves.id"))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("serial IS NULL OR quantity = 1", name="one_unit_per_serial"),
        CheckConstraint("source IN ('portal', 'api', 'import')", name="source_valid"),
        Index("ix_sell_through_lines_dealer_sold_on", "dealer_id", "sold_on"),
        Index("ix_sell_through_lines_product_sold_on", "product_id", "sold_on"),
        Index("ix_sell_through_lines_serial", "serial"),
        # the channel-flow reports read the days of partial months by date: on PostgreSQL an index-only scan
        Index(
            "ix_sell_through_lines_sold_on",
            "sold_on",
            postgresql_include=["dealer_id", "product_id", "quantity", "amount"],
        ),  # fmt: skip
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class SellThroughMonthly(db.Model):
    """Sums of the sell-through lines per dealer, product and month (first day), kept exact by the service that
    writes the lines (same transaction, increments with INSERT … ON CONFLICT DO UPDATE)."""

    __tablename__ = "sell_through_monthly"

    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    lines: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[int] = mapped_column(default=0)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    below_floor_lines: Mapped[int] = mapped_column(default=0)
    below_floor_quantity: Mapped[int] = mapped_column(default=0)
    below_floor_gap: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))  # Σ (floor − price) × qty

    __table_args__ = (Index("ix_sell_through_monthly_month", "month"),)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class ChannelMonthly(db.Model):
    """Every flow of one dealer, product category and month (first day), kept exact by the services that write the
    underlying rows, in their transaction (`portal.inventory.sums`): sell-in (HQ's shipment lines by ship date,
    gross), transfers in (§16: a sub-dealer's goods shipped by its distributor, by ship date, gross), sell-through
    (lines by sale date) and `moved` = Σ the stock movements other than sales (receipts, adjustments, returns,
    transfers out) by movement date. Stock on hand at a month's end = Σ over the months up to it of
    (moved − sell_through_qty)."""

    __tablename__ = "channel_monthly"

    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(60), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sell_in_qty: Mapped[int] = mapped_column(default=0)
    sell_in_amount: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    sell_through_qty: Mapped[int] = mapped_column(default=0)
    sell_through_amount: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    moved: Mapped[int] = mapped_column(default=0)
    transfer_in_qty: Mapped[int] = mapped_column(default=0, server_default="0")
    transfer_in_amount: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"), server_default="0")

    __table_args__ = (Index("ix_channel_monthly_month", "month"),)

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
