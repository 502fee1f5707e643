from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.audit.services import audit_query
from portal.platform.api import StrictSchema, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope

blp = api_blueprint("api_audit", __name__, "The audit log")


class AuditQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    actor = fields.String()
    action = fields.String(metadata={"description": "prefix, e.g. 'dealer.'"})
    object_type = fields.String()
    object_key = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_key = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


@blp.route("/audit", methods=["GET"])
@requires("audit.read")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, page_of(AuditEntrySchema))
def list_audit(args):
    """Every state-changing action, newest first (hq_admin)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(audit_query(current_scope(), **args), page, per_page)
