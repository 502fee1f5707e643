"""Sending: in-app notifications and e-mail, both idempotent by a dedupe key. E-mail goes to the outbox
table in the action's transaction and is delivered after the commit when MAIL_SERVER is configured."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.notify.models import Notification, OutboxEmail
from portal.platform.timeutil import utcnow
from portal.platform.uow import after_commit

log = logging.getLogger(__name__)


def notify(user, *, kind: str, title: str, body: str, link: str | None, dedupe_key: str) -> bool:
    """One in-app notification per (user, dedupe_key), plus an e-mail when the user has an address.
    Returns False when it was already sent."""
    exists = db.session.execute(
        select(Notification.id).where(Notification.user_id == user.id, Notification.dedupe_key == dedupe_key)
    ).first()
    if exists:
        return False
    db.session.add(Notification(user_id=user.id, kind=kind, title=title, body=body, link=link, dedupe_key=dedupe_key))
    if user.email:
        queue_email(user.email, title, body, f"{dedupe_key}:{user.id}")
    db.session.flush()
    return True


def queue_email(to: str, subject: str, body: str, dedupe_key: str) -> None:
    if db.session.execute(select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)).first():
        return
    db.session.add(OutboxEmail(to_address=to, subject=subject, body=body, dedupe_key=dedupe_key))
    if current_app.config.get("MAIL_SERVER"):
        app = current_app._get_current_object()
        after_commit(lambda: deliver_outbox(app))


def deliver_outbox(app) -> int:
    """Send what waits in the outbox through MAIL_SERVER (after the commit that queued it)."""
    sent = 0
    with app.app_context():
        pending = (
            db.session.execute(
                select(OutboxEmail).where(OutboxEmail.sent_at.is_(None), OutboxEmail.error.is_(None)).limit(200)
            )
            .scalars()
            .all()
        )
        for mail in pending:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = app.config["MAIL_FROM"], mail.to_address, mail.subject
            msg.set_content(mail.body)
            try:
                with smtplib.SMTP(app.config["MAIL_SERVER"], app.config["MAIL_PORT"], timeout=10) as smtp:
                    smtp.send_message(msg)
                mail.sent_at = utcnow()
                sent += 1
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("e-mail to %s failed: %s", mail.to_address, exc)
                mail.error = str(exc)[:500]
        db.session.commit()
    return sent


def unread_count(user_id: int) -> int:
    from sqlalchemy import func

    return db.session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    ).scalar_one()
