from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false, true
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


# pending: to be delivered (now, or at next_attempt_at after a failed attempt); sent; failed: every attempt failed
# (MAIL_MAX_ATTEMPTS), waiting for someone to resend it; suppressed: never to be sent (the demo's e-mails)
EMAIL_STATUSES = ("pending", "sent", "failed", "suppressed")


class OutboxEmail(db.Model):
    """An e-mail to send, written in the transaction of the action that sends it. The worker delivers it
    (portal/notify/delivery.py): a delivery claims the row for `claimed_until`, sends it, and records the outcome;
    a failed attempt is retried at `next_attempt_at`. `message_id` is given at the first attempt and kept, so a
    resent e-mail is the same message. Without MAIL_SERVER the e-mails wait here (the outbox page, HQ)."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(250))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in EMAIL_STATUSES) + ")", name="status_valid"),
        Index("ix_email_outbox_due", "status", "next_attempt_at"),
    )

    @classmethod
    def __scope_clause__(cls, scope):
        return true() if scope.is_hq else false()
