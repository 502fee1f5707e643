"""Delivering the e-mail outbox, in the worker (docs/MAIL.md).

An action writes its e-mails to the outbox in its own transaction (`services.queue_email`); after the commit a
delivery job is queued for them, and the worker's schedule sweeps whatever else is due (retries, e-mails whose job
was lost). A delivery never holds a transaction while it talks to the mail server. For each e-mail:

1. claim: one short transaction takes the next due row — pending, its `next_attempt_at` reached, not claimed or its
   claim expired — and sets `claimed_until` (a lease of LEASE_TIMEOUTS × MAIL_TIMEOUT, longer than any attempt)
   and counts the attempt. It is one `UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED)`: on
   PostgreSQL concurrent workers skip the row another is claiming instead of queueing behind its lock; on SQLite
   (no FOR UPDATE) the write lock the transaction takes first (`BEGIN IMMEDIATE`) serialises the claims. The
   UPDATE repeats the due condition, so a row is claimed once whatever the isolation.
2. send, outside any transaction;
3. record the outcome in a transaction of its own, at once: sent, or the error with the next attempt after an
   exponential wait (MAIL_RETRY_SECONDS × 4^(attempt − 1), at most a day), or failed after MAIL_MAX_ATTEMPTS.

So several workers deliver each e-mail exactly once — except when a worker dies between the mail server accepting
the message and step 3's commit: its claim then expires and the e-mail is sent again (at least once).

The standard library's `email` and `smtplib` do the sending: that is no dependency more, and the part an extension
such as Flask-Mail would add — a connection wrapper — is a few lines here, while what this needs (the outbox, claims,
retries, a stable Message-ID) no such extension has. TLS always verifies the server's certificate and name
(`ssl.create_default_context`, with MAIL_TLS_CA_FILE as the trusted CAs when set).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import smtplib
import ssl
import time
from collections.abc import Collection, Mapping
from contextlib import closing
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import current_app
from sqlalchemy import String, cast, func, literal, or_, select, update
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.jobs import job_context
from portal.notify.models import OutboxEmail
from portal.platform.timeutil import utcnow

log = logging.getLogger(__name__)

LEASE_TIMEOUTS = 10  # an attempt is a handful of exchanges, each failing after MAIL_TIMEOUT of silence
RETRY_FACTOR = 4
MAX_RETRY_DELAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    sender: str
    username: str | None
    password: str | None
    use_tls: bool
    use_ssl: bool
    ca_file: str | None
    timeout: float
    max_attempts: int
    retry_seconds: float

    @classmethod
    def from_config(cls, config: Mapping) -> MailSettings | None:
        """The settings, or None without MAIL_SERVER (the e-mails then wait in the outbox)."""
        if not config.get("MAIL_SERVER"):
            return None
        return cls(
            server=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            sender=config["MAIL_FROM"],
            username=config["MAIL_USERNAME"],
            password=config["MAIL_PASSWORD"],
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            ca_file=config["MAIL_TLS_CA_FILE"],
            timeout=config["MAIL_TIMEOUT"],
            max_attempts=config["MAIL_MAX_ATTEMPTS"],
            retry_seconds=config["MAIL_RETRY_SECONDS"],
        )

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.timeout * LEASE_TIMEOUTS)

    def retry_delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th failed attempt."""
        seconds = self.retry_seconds * RETRY_FACTOR ** min(attempts - 1, 20)
        return min(dt.timedelta(seconds=seconds), MAX_RETRY_DELAY)


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A claimed e-mail, as read by its claim (no ORM object outlives the claim's transaction)."""

    id: int
    to_address: str
    subject: str
    body: str
    created_at: dt.datetime
    message_id: str
    attempts: int


def _due(now: dt.datetime, mail=OutboxEmail):
    return (
        (mail.status == "pending")
        & (mail.next_attempt_at <= now)
        & or_(mail.claimed_until.is_(None), mail.claimed_until <= now)
    )


def _message_id_domain(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def claim(settings: MailSettings, ids: Collection[int] | None = None) -> Claimed | None:
    """Claim the next due e-mail (among `ids` when given) for one attempt; None when nothing is due.
    Gives the row its Message-ID at its first attempt: `<outbox-{id}-{random}@{domain of MAIL_FROM}>`."""
    now = utcnow()
    other = aliased(OutboxEmail, name="candidate")  # the subquery's own table, not correlated with the UPDATE's
    candidate = select(other.id).where(_due(now, other))
    if ids is not None:
        candidate = candidate.where(other.id.in_(list(ids)))
    candidate = candidate.order_by(other.next_attempt_at, other.id).limit(1).with_for_update(skip_locked=True)
    new_message_id = (
        literal("<outbox-")
        + cast(OutboxEmail.id, String)
        + literal(f"-{secrets.token_hex(6)}@{_message_id_domain(settings.sender)}>")
    )
    row = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == candidate.scalar_subquery(), _due(now))
        .values(
            claimed_until=now + settings.lease,
            attempts=OutboxEmail.attempts + 1,
            message_id=func.coalesce(OutboxEmail.message_id, new_message_id),
        )
        .returning(
            OutboxEmail.id,
            OutboxEmail.to_address,
            OutboxEmail.subject,
            OutboxEmail.body,
            OutboxEmail.created_at,
            OutboxEmail.message_id,
            OutboxEmail.attempts,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return Claimed(*row) if row is not None else None


def build_message(mail: Claimed, sender: str) -> EmailMessage:
    """The e-mail as sent: UTF-8 where needed (RFC 2047 headers), dated when it was written, its stable Message-ID."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.created_at)
    msg["Message-ID"] = mail.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to the portal
    msg.set_content(mail.body)
    return msg


def record_sent(mail: Claimed) -> None:
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == mail.id)
        .values(status="sent", sent_at=utcnow(), claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(mail: Claimed, error: str, settings: MailSettings) -> None:
    """The attempt failed: try again after the backoff, or mark the e-mail failed after the last attempt. Only the
    attempt's own claim records it (a claim that expired meanwhile and was taken again is the newer attempt's)."""
    failed = mail.attempts >= settings.max_attempts
    values = {"last_error": error[:500], "claimed_until": None}
    if failed:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = utcnow() + settings.retry_delay(mail.attempts)
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == mail.id, OutboxEmail.status == "pending", OutboxEmail.attempts == mail.attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    log.warning(
        "e-mail %s to %s, attempt %s %s: %s",
        mail.id, mail.to_address, mail.attempts, "failed, no more attempts" if failed else "failed", error,
    )  # fmt: skip


def describe(exc: Exception) -> str:
    """What went wrong, for the outbox page: the server's reply when it answered, else the exception."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients.items()
        return "; ".join(f"{to}: {code} {reply.decode(errors='replace')}" for to, (code, reply) in refused)
    return f"{type(exc).__name__}: {exc}"


class SmtpConnection:
    """One SMTP session for the e-mails of one delivery, opened at its first e-mail; dropped after an error
    (the next e-mail opens a new one)."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message)
        except BaseException:
            self._drop()
            raise

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file) if s.use_tls or s.use_ssl else None
        if s.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
        try:
            if s.use_tls:
                smtp.starttls(context=context)  # refused by the server: the attempt fails, never goes on in clear
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        """End the session politely (QUIT)."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def deliver(ids: Collection[int] | None = None, *, budget_seconds: float | None = None) -> int:
    """Send the due e-mails (only those of `ids` when given), one claim at a time; returns how many were sent.
    With `budget_seconds`, no new e-mail is claimed after that long (the next sweep goes on)."""
    with job_context():  # the worker's app (its settings), when the job did not bring one
        settings = MailSettings.from_config(current_app.config)
    if settings is None:
        return 0
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    sent = 0
    with closing(SmtpConnection(settings)) as smtp:
        while deadline is None or time.monotonic() < deadline:
            with job_context():
                mail = claim(settings, ids)
            if mail is None:
                break
            try:
                smtp.send(build_message(mail, settings.sender))
            except (OSError, smtplib.SMTPException, ValueError) as exc:  # refused, unreachable, or an unsendable header
                with job_context():
                    record_failure(mail, describe(exc), settings)
                continue
            with job_context():
                record_sent(mail)
            sent += 1
    return sent
