"""Rebates (返利, PRODUCT.md §11): programmes, their tiers and targets, per-dealer settlements, carried corrections.

A `RebateProgramme` has a period (inclusive dates), the dealers it covers (a scope as a price list's: all,
tier:A|B|C, region:<code> — the region and its whole subtree —, dealer:<code>), a basis (what is measured in the
period: sell-in = shipment lines by ship date, gross; sell-through = the dealers' reported sales by sale date; as an
amount or in units), optional targets (SKUs and/or categories: only those count; none = every product) and tiers.

Tiers (`RebateTier`): thresholds strictly ascending, rates not negative and never lower than the tier below. The
tier reached is the highest threshold ≤ the basis. With `tier_kind` "percent" the rebate is rate % of the *whole*
basis (amount bases only); with "per_unit" it is rate (money) × the units (unit bases only). An optional `cap`
limits the rebate per dealer. Rounded to the cent, half up.

Status: draft (editable, invisible to dealers) → active (dealers see their progress) → closed.

After the period, a settlement (`RebateSettlement`, one per programme and dealer) is computed (a job), reviewed by
finance, adjusted with a reason if needed, and approved: approval posts exactly one credit note through the
receivables service (`credit_note_id`). Before approval a re-computation follows late sell-through; after approval
the difference between what the basis now gives and what was approved is recorded as a `RebateCarry` for the dealer,
which the dealer's next approved settlement (of any programme) takes in (`carried_in`) and consumes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.money import MoneyColumn
from portal.platform.timeutil import UTCDateTime, utcnow

PROGRAMME_STATUSES = ("draft", "active", "closed")
BASES = ("sell_in_amount", "sell_through_amount", "sell_in_units", "sell_through_units")
TIER_KINDS = ("percent", "per_unit")
SETTLEMENT_STATUSES = ("computed", "approved")


class RebateProgramme(db.Model):
    __tablename__ = "rebate_programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    scope_kind: Mapped[str] = mapped_column(String(16))  # all | tier | region | dealer
    scope_value: Mapped[str | None] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(24))
    tier_kind: Mapped[str] = mapped_column(String(16))
    cap: Mapped[Decimal | None] = mapped_column(MoneyColumn)  # per dealer
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    tiers: Mapped[list[RebateTier]] = relationship(
        back_populates="programme", cascade="all, delete-orphan", order_by="RebateTier.threshold", lazy="selectin"
    )
    targets: Mapped[list[RebateTarget]] = relationship(
        back_populates="programme", cascade="all, delete-orphan", order_by="RebateTarget.id", lazy="selectin"
    )

    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("scope_kind IN ('all', 'tier', 'region', 'dealer')", name="scope_kind_valid"),
        CheckConstraint("(scope_kind = 'all') = (scope_value IS NULL)", name="scope_value_shape"),
        CheckConstraint(
            "basis IN ('sell_in_amount', 'sell_through_amount', 'sell_in_units', 'sell_through_units')",
            name="basis_valid",
        ),
        CheckConstraint("tier_kind IN ('percent', 'per_unit')", name="tier_kind_valid"),
        CheckConstraint(
            "(tier_kind = 'percent') = (basis IN ('sell_in_amount', 'sell_through_amount'))", name="tier_kind_fits"
        ),
        CheckConstraint("cap IS NULL OR cap > 0", name="cap_positive"),
        CheckConstraint("status IN ('draft', 'active', 'closed')", name="status_valid"),
        Index("ix_rebate_programmes_period", "period_start", "period_end"),
    )

    @property
    def scope(self) -> str:
        return "all" if self.scope_kind == "all" else f"{self.scope_kind}:{self.scope_value}"

    @property
    def is_amount(self) -> bool:
        return self.basis.endswith("_amount")

    @property
    def flow(self) -> str:
        """sell_in | sell_through"""
        return self.basis.rsplit("_", 1)[0]

    @classmethod
    def covers_clause(cls, dealer_table, region_table):
        """SQL: the programme's scope covers the dealer (a row of `dealer_table` joined to its `region_table` row).
        HQ's programmes cover the dealers that buy from HQ, never a sub-dealer (§16: it buys from its distributor)."""
        return and_(
            dealer_table.c.parent_id.is_(None),
            or_(
                cls.scope_kind == "all",
                and_(cls.scope_kind == "tier", cls.scope_value == dealer_table.c.tier),
                and_(cls.scope_kind == "dealer", cls.scope_value == dealer_table.c.code),
                and_(
                    cls.scope_kind == "region",
                    # the dealer's region path (/CN/EA/SH/) holds the scope's region code as one of its segments
                    # (replace() is in both databases, and unlike LIKE it has no wildcards)
                    func.length(func.replace(region_table.c.path, literal("/") + cls.scope_value + literal("/"), ""))
                    < func.length(region_table.c.path),
                ),
            ),
        )

    @classmethod
    def __scope_clause__(cls, scope):
        """HQ: every programme. Regions: those covering at least one of their dealers, drafts excluded. Dealers: those
        covering them, drafts excluded."""
        if scope.is_hq:
            return true()
        if scope.kind not in ("region", "dealer"):
            return false()
        from portal.dealers.models import Dealer, Region

        d, r = Dealer.__table__, Region.__table__
        covered = exists(
            select(d.c.id)
            .select_from(d.join(r, r.c.id == d.c.region_id))
            .where(scope.dealer_clause(d.c.id), cls.covers_clause(d, r))
        )
        return and_(cls.status != "draft", covered)


class RebateTier(db.Model):
    __tablename__ = "rebate_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("rebate_programmes.id", ondelete="CASCADE"))
    threshold: Mapped[Decimal] = mapped_column(Numeric(16, 2))  # amount (yuan) or units, reached when basis ≥ it
    rate: Mapped[Decimal] = mapped_column(Numeric(14, 4))  # percent (2.5 = 2.5 %) or money per unit

    programme: Mapped[RebateProgramme] = relationship(back_populates="tiers")

    __table_args__ = (
        UniqueConstraint("programme_id", "threshold", name="uq_rebate_tiers_programme_threshold"),
        CheckConstraint("threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("rate >= 0", name="rate_not_negative"),
    )


class RebateTarget(db.Model):
    """One SKU or one category that counts towards the basis (a programme without targets counts every product)."""

    __tablename__ = "rebate_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("rebate_programmes.id", ondelete="CASCADE"))
    sku: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(60))

    programme: Mapped[RebateProgramme] = relationship(back_populates="targets")

    __table_args__ = (CheckConstraint("(sku IS NULL) <> (category IS NULL)", name="one_target"),)


class RebateSettlement(db.Model):
    __tablename__ = "rebate_settlements"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("rebate_programmes.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    basis: Mapped[Decimal] = mapped_column(Numeric(16, 2))  # amount or units over the period
    tier_threshold: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))  # the tier reached (None: none)
    rate: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    computed: Mapped[Decimal] = mapped_column(MoneyColumn)  # the rebate the tiers give (capped)
    adjustment: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))  # finance's, signed
    adjustment_reason: Mapped[str | None] = mapped_column(Text)
    carried_in: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))  # corrections taken in
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # computed + adjustment + carried_in, not below 0
    status: Mapped[str] = mapped_column(String(16), default="computed")
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    programme: Mapped[RebateProgramme] = relationship(lazy="joined", innerjoin=True)
    dealer = relationship("Dealer", lazy="joined", innerjoin=True)
    credit_note = relationship("LedgerEntry", lazy="joined")

    __table_args__ = (
        UniqueConstraint("programme_id", "dealer_id", name="uq_rebate_settlements_programme_dealer"),
        CheckConstraint("status IN ('computed', 'approved')", name="status_valid"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("(adjustment = 0) OR (adjustment_reason IS NOT NULL)", name="adjustment_has_reason"),
        Index("ix_rebate_settlements_dealer", "dealer_id"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        """HQ and regions: their dealers' settlements; a dealer: its own, once approved."""
        clause = scope.dealer_clause(cls.dealer_id)
        return and_(clause, cls.status == "approved") if scope.is_dealer else clause


class RebateCarry(db.Model):
    """A correction found after a settlement was approved (late sell-through, a late shipment in the period): the
    difference, signed, carried to the dealer's next approved settlement (`consumed_by_id`)."""

    __tablename__ = "rebate_carries"

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))
    source_programme_id: Mapped[int] = mapped_column(ForeignKey("rebate_programmes.id"))
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)  # signed
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    consumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("rebate_settlements.id"))

    source_programme: Mapped[RebateProgramme] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_non_zero"),
        Index("ix_rebate_carries_dealer_open", "dealer_id", "consumed_by_id"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)
