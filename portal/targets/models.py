"""Targets (任务, PRODUCT.md §15): a monthly figure HQ or a region manager expects of a region or a dealer.

One row per month (its first day), scope (a region — covering its whole subtree — or a dealer: exactly one of
`region_id`, `dealer_id`), measure and category ("" = all categories):

- `sell_in_amount`: HQ's shipments to the scope's dealers, gross (the channel roll-up's sell-in);
- `sell_through_units`: the pieces the scope's dealers sold to end customers — a distributor's own and its
  sub-dealers' (§16: its channel below it);
- `collections_amount`: the payments HQ received from the scope's dealers (the ledger; no category).

Achievement is never stored: it is read from the channel roll-up and the ledger each time (`achievement.py`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, false, or_, select, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

MEASURES = ("sell_in_amount", "sell_through_units", "collections_amount")
UNIT_MEASURES = ("sell_through_units",)  # whole pieces; the others are money
NO_CATEGORY = ("collections_amount",)  # payments belong to a dealer, not to a product category


class Target(db.Model):
    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date)  # the month's first day
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"))
    measure: Mapped[str] = mapped_column(String(30))
    category: Mapped[str] = mapped_column(String(60), default="", server_default="")  # "" = every category
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (
        CheckConstraint("(region_id IS NULL) <> (dealer_id IS NULL)", name="one_scope"),
        CheckConstraint(
            "measure IN ('sell_in_amount', 'sell_through_units', 'collections_amount')", name="measure_valid"
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("measure <> 'collections_amount' OR category = ''", name="collections_no_category"),
        Index(
            "uq_targets_region",
            "region_id",
            "month",
            "measure",
            "category",
            unique=True,
            postgresql_where=text("region_id IS NOT NULL"),
            sqlite_where=text("region_id IS NOT NULL"),
        ),
        Index(
            "uq_targets_dealer",
            "dealer_id",
            "month",
            "measure",
            "category",
            unique=True,
            postgresql_where=text("dealer_id IS NOT NULL"),
            sqlite_where=text("dealer_id IS NOT NULL"),
        ),
        Index("ix_targets_month", "month"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        """HQ: every target; a region manager: its region's and its subtree's regions and dealers; a dealer: its own
        (never its region's, nor its sub-dealers', who have none)."""
        from portal.dealers.models import Region

        if scope.is_hq:
            return cls.id.is_not(None)
        if scope.is_dealer:
            return cls.dealer_id == scope.dealer_id
        if scope.is_region:
            subtree = select(Region.id).where(Region.path.startswith(scope.region_path, autoescape=True))
            return or_(cls.region_id.in_(subtree), scope.dealer_clause(cls.dealer_id))
        return false()
