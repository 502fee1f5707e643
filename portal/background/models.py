from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.platform.timeutil import UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "finished", "failed")


class JobRecord(db.Model):
    __tablename__ = "job_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealers.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @classmethod
    def __scope_clause__(cls, scope):
        # HQ sees every job; others only the jobs they started themselves
        if scope.is_hq:
            return true()
        return cls.started_by_id == scope.user_id if scope.user_id is not None else false()
