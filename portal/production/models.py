"""Units on the build line and the stage events the factory's MES reports (PRODUCT.md §4)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.platform.timeutil import UTCDateTime, utcnow


class Unit(db.Model):
    """One piece of a build-to-order line: a vehicle with its VIN (`serial`), at its current stage."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)  # reserved before the insert; the VIN is made from it
    serial: Mapped[str] = mapped_column(String(17), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealers.id"))  # the order's dealer, for the scope
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(32))  # the furthest stage reached (portal.production.stages)
    stage_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # when it entered that stage
    line: Mapped[str | None] = mapped_column(String(32))  # the build line, as the MES last reported it
    # the options its order line chose (§12): [{group, code, label, label_en}] (None: none)
    options: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)  # scheduled (order approved)

    order = relationship("Order")
    product = relationship("Product", lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_units_order_id", "order_id"),
        Index("ix_units_dealer_stage", "dealer_id", "stage"),
        Index("ix_units_stage_at", "stage", "stage_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return scope.dealer_clause(cls.dealer_id)


class StageEvent(db.Model):
    """A stage reached by a unit, as the MES reported it; idempotent by the MES's own `event_id`."""

    __tablename__ = "stage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    stage: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    line: Mapped[str | None] = mapped_column(String(32))
    station: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_stage_events_unit_occurred", "unit_id", "occurred_at"),
        # the recent transitions into a stage (ETA medians) and completions per day (throughput)
        Index("ix_stage_events_stage_occurred", "stage", "occurred_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        if scope.is_hq:
            return Unit.__scope_clause__(scope)
        return cls.unit_id.in_(select(Unit.id).where(Unit.__scope_clause__(scope)))
