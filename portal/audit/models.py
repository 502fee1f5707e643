from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.platform.timeutil import UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(120))  # username or token:<name> or "system"
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "dealer.update"
    object_type: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(120))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_key"),)

    @classmethod
    def __scope_clause__(cls, scope):
        # Audit is read by hq_admin; through a narrower scope only the dealers' own entries show.
        if scope.is_hq:
            return true()
        return scope.dealer_clause(cls.dealer_id)
