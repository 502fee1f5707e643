from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import update

from portal.extensions import db
from portal.notify import services
from portal.notify.models import EMAIL_STATUSES, Notification, OutboxEmail
from portal.platform.auth import requires
from portal.platform.errors import Conflict, NotFound
from portal.platform.tenancy import current_scope, not_tenant_route
from portal.platform.timeutil import utcnow
from portal.platform.web import list_page

bp = Blueprint("notify", __name__, static_folder="static", static_url_path="/notify/static")

EMAIL_STATUS_LABELS = {
    "pending": _l("Waiting"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "suppressed": _l("Not sent (demo data)"),
}


@bp.route("/notifications")
@requires("notifications.read")
def notifications():
    return render_template("notify/notifications.html", page=list_page(services.own_notifications(current_user.id)))


BELL_ITEMS = 5  # unread notifications listed in the bell's menu


@bp.app_template_global("bell_notifications")
def bell_notifications() -> list[Notification]:
    """The signed-in user's latest unread notifications, for the bell's menu (read only when some are unread)."""
    if not getattr(current_user, "is_authenticated", False) or not getattr(current_user, "id", None):
        return []
    return services.latest_unread(current_user.id)[:BELL_ITEMS]  # with the unread count: one statement a request


def safe_link(link: str | None) -> str | None:
    """A notification's link if it is a path on this site ("/orders/SO-…"), else None: never another host
    ("//evil.example", "https://…", "/\\evil.example", "javascript:…"), so opening one is no open redirect."""
    if not link or not link.startswith("/") or link.startswith("//") or "\\" in link:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in link):
        return None
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None
    return link


@bp.route("/notifications/<int:notification_id>/open")
@requires("notifications.read")
@not_tenant_route("notifications are filtered by the caller's own user id, never by dealer")
def open_notification(notification_id):
    """Opening a notification (from the list, the bell or the dealer's home): marked read, then its page. Only
    the caller's own (another user's answers 404 as a missing one); only a link inside the portal is followed."""
    note = db.session.execute(
        services.own_notifications(current_user.id).where(Notification.id == notification_id)
    ).scalar_one_or_none()
    if note is None:
        raise NotFound(_("%(kind)s not found.", kind="Notification"))
    if note.read_at is None:
        note.read_at = utcnow()
    return redirect(safe_link(note.link) or url_for("notify.notifications"))


@bp.route("/notifications/read-all", methods=["POST"])
@requires("notifications.read")
def read_all():
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return redirect(url_for("notify.notifications"))


@bp.route("/outbox")
@requires("outbox.read")
def outbox():
    """E-mails the portal sent or will send, with their delivery state; failed ones can be sent again."""
    status = request.args.get("status")
    status = status if status in EMAIL_STATUSES else None
    return render_template(
        "notify/outbox.html",
        page=list_page(services.outbox_query(current_scope(), status)),
        status=status,
        mail_server=bool(current_app.config.get("MAIL_SERVER")),
        EMAIL_STATUS_LABELS=EMAIL_STATUS_LABELS,
    )


@bp.route("/outbox/<int:email_id>/resend", methods=["POST"])
@requires("outbox.read")
@not_tenant_route("outbox e-mails are HQ's: the scope shows them to HQ roles only")
def resend(email_id):
    """A failed e-mail back to pending; the worker sends it (the request itself never talks to the mail server)."""
    mail = current_scope().get_or_404(OutboxEmail, id=email_id)
    try:
        services.resend(current_user, mail)
    except Conflict as exc:
        flash(exc.message, "warning")
    else:
        flash(_("The e-mail to %(to)s will be sent again.", to=mail.to_address), "success")
    return redirect(url_for("notify.outbox", status=request.args.get("status")))
