from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.platform.timeutil import UTCDateTime, utcnow


class Notification(db.Model):
    """An in-app message to one user. `dedupe_key` makes sending idempotent (one per user and key)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("uq_notifications_user_key", "user_id", "dedupe_key", unique=True),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )


class OutboxEmail(db.Model):
    """An e-mail to send. With MAIL_SERVER set it is delivered after the commit; otherwise it waits here
    (the demo's outbox, viewable by HQ)."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(500))

    @classmethod
    def __scope_clause__(cls, scope):
        return true() if scope.is_hq else false()
