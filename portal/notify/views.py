from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import update

from portal.extensions import db
from portal.notify.api import own_notifications
from portal.notify.models import Notification, OutboxEmail
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import utcnow
from portal.platform.web import list_page

bp = Blueprint("notify", __name__)


@bp.route("/notifications")
@requires("notifications.read")
def notifications():
    return render_template("notify/notifications.html", page=list_page(own_notifications()))


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
    """E-mails the portal sent or holds (without MAIL_SERVER, the demo keeps them here)."""
    stmt = current_scope().select(OutboxEmail).order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
    return render_template("notify/outbox.html", page=list_page(stmt))
