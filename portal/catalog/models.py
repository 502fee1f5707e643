from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

SCOPE_KINDS = ("all", "tier", "region", "dealer")


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(60), index=True)
    unit: Mapped[str] = mapped_column(String(16))
    list_price: Mapped[Decimal] = mapped_column(MoneyColumn)  # dealer base price, net of tax
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.13"))
    min_resale_price: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    build_to_order: Mapped[bool] = mapped_column(default=False)
    lead_time_days: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("list_price >= 0", name="list_price_non_negative"),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="tax_rate_range"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_non_negative"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        # the catalogue is shared by the whole channel; inactive products are for HQ only
        return true() if scope.is_hq else cls.active.is_(True) if scope.kind != "none" else false()


OPTION_GROUPS = ("colour", "interior", "trim", "package")  # what an option chooses (labels: portal.catalog.labels)


class ProductOption(db.Model):
    """A choice a build-to-order product offers (§12): a colour, an interior, a trim, a package — one option of each
    group the product declares is chosen per order line and carried onto each unit. `price_delta` is added to the
    product's list price (net, CNY) and goes through the dealer's price rule like the rest of the price."""

    __tablename__ = "product_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    group: Mapped[str] = mapped_column("option_group", String(16))  # "group" is an SQL keyword
    code: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(60))  # Chinese
    label_en: Mapped[str] = mapped_column(String(60))
    price_delta: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    is_default: Mapped[bool] = mapped_column(default=False)  # taken when a line does not choose in this group
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("product_id", "option_group", "code", name="uq_product_options_product_group_code"),
        CheckConstraint("price_delta >= 0", name="price_delta_non_negative"),
        CheckConstraint("option_group IN ('colour', 'interior', 'trim', 'package')", name="group_valid"),
        Index("ix_product_options_product", "product_id", "option_group", "position"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return true() if scope.is_hq else cls.active.is_(True) if scope.kind != "none" else false()


class Category(db.Model):
    """A product category's names in both languages. `code` is the string products and price rules carry
    (`Product.category`, unchanged in the API); a new code gets its row, named after the code, when a product or a
    rule first uses it, and HQ names it on the categories page."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # Chinese
    name_en: Mapped[str] = mapped_column(String(120))

    @classmethod
    def __scope_clause__(cls, scope):
        # the names are the whole channel's, like the catalogue itself
        return true() if scope.kind != "none" else false()


class PriceList(db.Model):
    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    scope_kind: Mapped[str] = mapped_column(String(16))  # all | tier | region | dealer
    scope_value: Mapped[str | None] = mapped_column(String(32))  # A/B/C, region code, dealer code
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # §16: a distributor's list for its sub-dealers (scope all = all its sub-dealers, or dealer:<sub>); None: HQ's
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    seller = relationship("Dealer", lazy="select")
    rules: Mapped[list[PriceRule]] = relationship(
        back_populates="price_list", cascade="all, delete-orphan", order_by="PriceRule.id", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("scope_kind IN ('all', 'tier', 'region', 'dealer')", name="scope_kind_valid"),
        CheckConstraint("(scope_kind = 'all') = (scope_value IS NULL)", name="scope_value_shape"),
        CheckConstraint("valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="window_ordered"),
        CheckConstraint("seller_id IS NULL OR scope_kind IN ('all', 'dealer')", name="seller_scope_kind"),
        Index("ix_price_lists_scope", "scope_kind", "scope_value"),
    )

    @property
    def scope(self) -> str:
        return "all" if self.scope_kind == "all" else f"{self.scope_kind}:{self.scope_value}"

    @property
    def seller_code(self) -> str | None:
        return self.seller.code if self.seller_id is not None else None

    @classmethod
    def __scope_clause__(cls, scope):
        # HQ sees its lists and every distributor's (§16); a distributor its own lists for its sub-dealers; nobody
        # else reads lists (dealers see their own prices through the resolution)
        if scope.is_hq:
            return true()
        if scope.is_dealer:
            return cls.seller_id == scope.dealer_id
        return false()


class PriceRule(db.Model):
    __tablename__ = "price_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str | None] = mapped_column(String(40), index=True)
    category: Mapped[str | None] = mapped_column(String(60), index=True)
    min_qty: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    discount_pct: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))

    price_list: Mapped[PriceList] = relationship(back_populates="rules")

    __table_args__ = (
        CheckConstraint("(sku IS NULL) <> (category IS NULL)", name="one_target"),
        CheckConstraint("(unit_price IS NULL) <> (discount_pct IS NULL)", name="one_price"),
        CheckConstraint("min_qty >= 1", name="min_qty_positive"),
        CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("discount_pct IS NULL OR (discount_pct >= 0 AND discount_pct <= 100)", name="discount_range"),
    )
