from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields
from sqlalchemy import select

from portal.extensions import db
from portal.notify.models import Notification
from portal.platform.api import PageArgs, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import NotFound
from portal.platform.tenancy import not_tenant_route
from portal.platform.timeutil import utcnow

blp = api_blueprint("api_notify", __name__, "Notifications")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


def own_notifications():
    return (
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


@blp.route("/notifications", methods=["GET"])
@requires("notifications.read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(NotificationSchema))
@blp.doc(security=[{"bearer": []}])
def list_notifications(args):
    """The caller's own notifications, newest first."""
    return paginate(own_notifications(), args["page"], args["per_page"])


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@requires("notifications.read")
@not_tenant_route("notifications are filtered by the caller's own user id, never by dealer")
@blp.response(200, NotificationSchema)
@blp.doc(security=[{"bearer": []}])
def read_notification(notification_id):
    note = db.session.execute(own_notifications().where(Notification.id == notification_id)).scalar_one_or_none()
    if note is None:
        raise NotFound("Notification not found")
    note.read_at = note.read_at or utcnow()
    return note
