from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate

from portal.extensions import db
from portal.notify import services
from portal.notify.models import EMAIL_STATUSES, Notification, OutboxEmail
from portal.platform.api import PageArgs, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import NotFound
from portal.platform.tenancy import current_scope, not_tenant_route
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


@blp.route("/notifications", methods=["GET"])
@requires("notifications.read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(NotificationSchema))
def list_notifications(args):
    """The caller's own notifications, newest first."""
    return paginate(services.own_notifications(current_user.id), args["page"], args["per_page"])


@blp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@requires("notifications.read")
@not_tenant_route("notifications are filtered by the caller's own user id, never by dealer")
@blp.response(200, NotificationSchema)
def read_notification(notification_id):
    mine = services.own_notifications(current_user.id).where(Notification.id == notification_id)
    note = db.session.execute(mine).scalar_one_or_none()
    if note is None:
        raise NotFound(_("%(kind)s not found.", kind="Notification"))
    note.read_at = note.read_at or utcnow()
    return note


class OutboxQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(EMAIL_STATUSES))


class OutboxEmailSchema(Schema):
    id = fields.Integer()
    to_address = fields.String()
    subject = fields.String()
    body = fields.String()
    status = fields.String(
        metadata={
            "enum": list(EMAIL_STATUSES),
            "description": "pending: to be sent (at next_attempt_at); failed: every attempt failed, resend it; "
            "suppressed: never sent (demo data)",
        }
    )
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime(metadata={"description": "when a pending e-mail is tried (again)"})
    last_error = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True, metadata={"description": "given at the first attempt, then kept"})
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)


@blp.route("/outbox", methods=["GET"])
@requires("outbox.read")
@blp.arguments(OutboxQuerySchema, location="query")
@blp.response(200, page_of(OutboxEmailSchema))
def list_outbox(args):
    """The e-mails the portal sent or will send, with their delivery state (finance, HQ)."""
    return paginate(services.outbox_query(current_scope(), args.get("status")), args["page"], args["per_page"])


@blp.route("/outbox/<int:email_id>/resend", methods=["POST"])
@requires("outbox.read")
@not_tenant_route("outbox e-mails are HQ's: the scope shows them to HQ roles only")
@blp.response(200, OutboxEmailSchema)
def resend_email(email_id):
    """Send a failed e-mail again (same Message-ID): back to pending with fresh attempts, delivered by the worker.
    409 `not_failed` unless it failed."""
    return services.resend(current_user, current_scope().get_or_404(OutboxEmail, id=email_id))
