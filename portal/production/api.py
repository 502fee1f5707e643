"""JSON API for build-line tracking (PRODUCT.md §9.1): MES ingest, tracking, units and the production summary."""

from __future__ import annotations

from flask_login import current_user
from sqlalchemy import select

from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, tenant_route
from portal.production import reports, services
from portal.production import stages as st
from portal.production.models import Unit
from portal.production.schemas import (
    EventBatchSchema,
    EventResultsSchema,
    SummaryQuerySchema,
    SummarySchema,
    TrackSchema,
    UnitQuerySchema,
    UnitSchema,
)

blp = api_blueprint("api_production", __name__, "Build-line tracking")


@blp.route("/production/events", methods=["POST"])
@requires("production.events")
@blp.arguments(EventBatchSchema)
@blp.response(200, EventResultsSchema)
def post_events(body):
    """Stage events from the MES (a `production` token), up to 1,000 per batch.

    Idempotent by `event_id`: a replayed event answers `duplicate` and changes nothing. An event for an unknown
    serial or stage is `rejected` on its own; the rest of the batch is stored. A late event for an earlier stage
    fills the unit's timeline but never moves it backwards. Orders follow: `in_production` when a first unit
    enters the line, `built` when all are completed."""
    return {"results": services.ingest(current_user, body["events"])}


@blp.route("/track/<query>", methods=["GET"])
@requires("tracking.read")
@tenant_route("track")
@blp.response(200, TrackSchema)
def track(query):
    """Where each unit of an order (by order number) or one unit (by serial / VIN) is: every stage with its time,
    the current stage and the ETA (the recent median duration of each remaining stage). Outside the caller's
    scope: 404."""
    return services.track(current_scope(), query)


@blp.route("/production/units", methods=["GET"])
@requires("production.read")
@blp.arguments(UnitQuerySchema, location="query")
@blp.response(200, page_of(UnitSchema))
def list_units(args):
    """Units in scope (HQ, region managers, `production` tokens), oldest first; `open=true`: still being built."""
    conds = reports.unit_filters(
        current_scope(), line=args.get("line"), stage=args.get("stage"), order=args.get("order")
    )
    if args.get("open"):
        conds.append(Unit.stage.in_(st.open_stages()))
    page = paginate(select(Unit).where(*conds).order_by(Unit.id), args["page"], args["per_page"])
    refs = services.order_refs({u.order_id for u in page["items"]})
    page["items"] = [
        {**{c: getattr(u, c) for c in UNIT_FIELDS}, "order": refs[u.order_id][0], "dealer_code": refs[u.order_id][1]}
        for u in page["items"]
    ]
    return page


UNIT_FIELDS = ("serial", "sku", "stage", "stage_at", "line", "created_at")


@blp.route("/production/summary", methods=["GET"])
@requires("production.read")
@blp.arguments(SummaryQuerySchema, location="query")
@blp.response(200, SummarySchema)
def summary(args):
    """Units by stage and by line, late units (past their ETA) and units completed per day over 30 days."""
    return reports.summary(current_scope(), **args)
