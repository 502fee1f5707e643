"""`GET /api/v1/home/queues`: the caller's work queues (PRODUCT.md §12) as JSON, for API users."""

from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields

from portal.home import queues as work_queues
from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope

blp = api_blueprint("api_home", __name__, "Home: work queues")


class QueueItemSchema(Schema):
    key = fields.String(metadata={"description": "the object's identifier (order number, statement id, ...)"})
    label = fields.String(required=True, metadata={"description": "what the item is, as the home page shows it"})
    detail = fields.String(metadata={"description": "what it is about, in the caller's language"})
    age_seconds = fields.Integer(
        required=True, allow_none=True, metadata={"description": "how long it has waited (null when unknown)"}
    )
    since = fields.AwareDateTime(
        required=True,
        allow_none=True,
        metadata={"description": "when it started waiting (a date at 00:00, portal time)"},
    )
    link = fields.String(required=True, metadata={"description": "the portal page where the action is done"})


class QueueSchema(Schema):
    key = fields.String(
        required=True, metadata={"enum": sorted(work_queues.QUEUES), "description": "which queue (see the role guides)"}
    )
    title = fields.String(required=True)
    total = fields.Integer(
        required=True, metadata={"description": "every item waiting, of which `items` are the oldest"}
    )
    items = fields.List(fields.Nested(QueueItemSchema), required=True)
    see_all = fields.String(metadata={"description": "the page listing every item"})


class QueuesSchema(Schema):
    queues = fields.List(fields.Nested(QueueSchema), required=True)


@blp.route("/home/queues", methods=["GET"])
@requires("home.view")
@blp.response(200, QueuesSchema)
def list_queues():
    """What waits for the caller, per queue of its role, oldest first: each queue's total and its oldest items (at most
    10), scoped like everything else (a region manager's region, a dealer's own)."""
    out = []
    for q in work_queues.queues_for(current_user, current_scope()):
        out.append(
            {
                "key": q.key,
                "title": q.title,
                "total": q.total,
                "see_all": q.see_all,
                "items": [
                    {
                        "key": it.key,
                        "label": it.label,
                        "detail": it.detail,
                        "age_seconds": it.age_seconds(q.now),
                        "since": it.since,
                        "link": it.link,
                    }
                    for it in q.items
                ],
            }
        )
    return {"queues": out}
