"""Sending: in-app notifications and e-mail, both idempotent by a dedupe key. E-mail goes to the outbox
table in the action's transaction; after the commit a job delivers it (portal/notify/delivery.py, in the worker)
when MAIL_SERVER is configured. Inside `mail_suppressed()` (the demo) e-mails are kept but never delivered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import current_app, g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from portal.audit.services import record
from portal.extensions import db
from portal.jobs import enqueue
from portal.notify.models import Notification, OutboxEmail
from portal.platform.errors import Conflict
from portal.platform.timeutil import utcnow

_suppressed: ContextVar[bool] = ContextVar("portal_mail_suppressed", default=False)


@contextmanager
def mail_suppressed() -> Iterator[None]:
    """E-mails queued inside are kept in the outbox as `suppressed`: never delivered, never enqueued, whatever
    MAIL_SERVER says (the demo's made-up dealers must not be mailed, nor a real server's recipients)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def notify(user, *, kind: str, title: str, body: str, link: str | None, dedupe_key: str) -> bool:
    """One in-app notification per (user, dedupe_key), plus an e-mail when the user has an address.
    Returns False when it was already sent."""
    exists = db.session.execute(
        select(Notification.id).where(Notification.user_id == user.id, Notification.dedupe_key == dedupe_key)
    ).first()
    if exists:
        return False
    db.session.add(Notification(user_id=user.id, kind=kind, title=title, body=body, link=link, dedupe_key=dedupe_key))
    forget_unread(user.id)
    if user.email:
        queue_email(user.email, title, body, f"{dedupe_key}:{user.id}")
    db.session.flush()
    return True


def queue_email(to: str, subject: str, body: str, dedupe_key: str) -> None:
    """One outbox e-mail per dedupe key, delivered by a job queued after the commit."""
    if db.session.execute(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)).first():
        return
    suppressed = _suppressed.get()
    status = "suppressed" if suppressed else "pending"
    mail = OutboxEmail(to_address=to, subject=subject, body=body, dedupe_key=dedupe_key, status=status)
    db.session.add(mail)
    if not suppressed:
        _deliver_after_commit(mail)


def _deliver_after_commit(mail: OutboxEmail) -> None:
    """Queue the delivery of this e-mail once the transaction has committed (nothing to do without MAIL_SERVER:
    the e-mail waits in the outbox; the worker's sweep delivers whatever is due in any case)."""
    if current_app.config.get("MAIL_SERVER"):
        db.session.flush()  # its id
        enqueue("portal.jobs.mail.deliver", [mail.id])


def resend(actor, mail: OutboxEmail) -> OutboxEmail:
    """A failed e-mail (every attempt failed) back to pending, with its attempts anew, delivered at once by a job
    (same Message-ID). Only a failed one: the UPDATE checks it, so two resends at the same time send it once."""
    before = {"status": mail.status, "attempts": mail.attempts}
    changed = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == mail.id, OutboxEmail.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict(_("Only an e-mail whose attempts all failed can be sent again."), code="not_failed")
    db.session.refresh(mail)
    record(actor, "email.resend", "email", str(mail.id), before=before, after={"status": "pending", "attempts": 0})
    _deliver_after_commit(mail)
    return mail


LATEST_UNREAD = 5  # the unread notifications a page lists: the bell's menu, the dealer's home


def unread(user_id: int) -> tuple[int, list[Notification]]:
    """How many notifications the user has not read, and the newest `LATEST_UNREAD` of them (newest first): one
    statement (the count is a window over the same rows), read once per request — the bell in the menu bar and the
    dealer's home show both. `notify()` forgets it for the user it notifies; a view that marks notifications read
    redirects, so the next request reads them anew."""
    memo = g.setdefault("_unread", {}) if has_request_context() else {}
    if user_id not in memo:
        rows = db.session.execute(
            select(Notification, func.count().over().label("total"))
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(LATEST_UNREAD)
        ).all()
        memo[user_id] = (rows[0].total if rows else 0, [r[0] for r in rows])
    return memo[user_id]


def forget_unread(user_id: int) -> None:
    if has_request_context():
        g.get("_unread", {}).pop(user_id, None)


def unread_count(user_id: int) -> int:
    return unread(user_id)[0]


def latest_unread(user_id: int) -> list[Notification]:
    """The newest unread notifications (at most `LATEST_UNREAD`), newest first."""
    return unread(user_id)[1]


def own_notifications(user_id: int):
    """A user's own notifications, newest first."""
    return (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def outbox_query(scope, status: str | None = None):
    """The outbox in the caller's scope (HQ only), newest first."""
    stmt = scope.select(OutboxEmail).order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
    return stmt.where(OutboxEmail.status == status) if status else stmt
