"""Targets API (PRODUCT.md §15): the all-or-nothing upsert, the list, a region's split, the file import."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal.extensions import db
from portal.platform.api import api_blueprint, page_of
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope
from portal.targets import imports, services
from portal.targets.schemas import (
    SplitQuerySchema,
    SplitSchema,
    TargetImportFileSchema,
    TargetImportQueuedSchema,
    TargetSchema,
    TargetsCountsSchema,
    TargetsPutSchema,
    TargetsQuerySchema,
)

blp = api_blueprint("api_targets", __name__, "Targets")


@blp.route("/targets", methods=["PUT"])
@requires("targets.write")
@blp.arguments(TargetsPutSchema)
@blp.response(200, TargetsCountsSchema)
def put_targets(body):
    """Set targets, all or nothing: every item is checked first (422 with every problem as `items.<index>.<field>`,
    nothing written), then each one is inserted or updated; an unchanged amount writes nothing. HQ sets any region's
    and level-1 dealer's targets, a region manager those of the regions below its own and of its level-1 dealers."""
    return services.upsert(current_user, body["items"])


@blp.route("/targets", methods=["GET"])
@requires("targets.read")
@blp.arguments(TargetsQuerySchema, location="query")
@blp.response(200, page_of(TargetSchema))
def list_targets(args):
    """Targets in the caller's scope (a dealer: its own), by month, scope, measure and category."""
    date_from = services.parse_period(args["date_from"]) if args.get("date_from") else None
    date_to = services.parse_period(args["date_to"]) if args.get("date_to") else None
    if date_from and date_to and date_to < date_from:
        raise Invalid(fields={"to": [_("The last month is before the first.")]})
    stmt = services.list_targets(current_scope(), date_from, date_to, scope_filter=args.get("scope"),
                                 measure=args.get("measure"), category=args.get("category"))  # fmt: skip
    page, per_page = args["page"], args["per_page"]
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    offset = (page - 1) * per_page
    rows = [] if offset >= total else db.session.execute(stmt.limit(per_page).offset(offset)).all()
    return {"items": [services.as_item(r) for r in rows], "page": page, "per_page": per_page, "total": total}


@blp.route("/targets/split", methods=["GET"])
@requires("targets.read")
@blp.arguments(SplitQuerySchema, location="query")
@blp.response(200, SplitSchema)
def split(args):
    """A region's targets next to its children's (child regions and level-1 dealers placed directly in it) for each
    month of the year, their sum and the difference; `warning` where they differ (shown, never refused). Default
    region: the region manager's own, HQ's top region."""
    scope = current_scope()
    if scope.is_dealer:
        raise Invalid(fields={"region": [_("Unknown region %(code)s.", code=args.get("region") or "—")]})
    region = services.anchor(scope, args.get("region"))
    return services.split(scope, region, args["year"], args["measure"], args["category"].strip())


@blp.route("/targets/import", methods=["POST"])
@accepts_workbooks
@requires("targets.write")
@blp.arguments(TargetImportFileSchema, location="files")
@blp.response(202, TargetImportQueuedSchema)
def import_targets(files):
    """Upload targets, CSV (UTF-8 or GB18030) or XLSX: period, scope, measure, category, amount, headers in English
    or Chinese; applied whole or not at all by a job (GET /jobs/{id}: its result lists every rejected line)."""
    return {"job_id": imports.start(current_user, files["file"]).id}
