"""API conventions (PRODUCT.md §9): the error shape, list paging, schema base classes, the Api object."""

from __future__ import annotations

import logging

from flask import jsonify
from flask_smorest import Api, Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import func, select

from portal.extensions import db

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "throttled",
    500: "internal_error",
}


def error_body(code: str, message: str, fields_: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields_ or {}}}


def error_response(status: int, code: str, message: str, fields_: dict | None = None, headers=None):
    resp = jsonify(error_body(code, message, fields_))
    resp.status_code = status
    if headers:
        resp.headers.update(headers)
    return resp


class StrictSchema(Schema):
    """Every request body refuses unknown fields."""

    class Meta:
        unknown = RAISE
        ordered = True


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), metadata={"description": "field name -> messages"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


_page_schemas: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """`{items: [...], page, per_page, total}` for an item schema (one class per item schema)."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (Schema,),
            {
                "items": fields.List(fields.Nested(item_schema), required=True),
                "page": fields.Integer(required=True),
                "per_page": fields.Integer(required=True),
                "total": fields.Integer(required=True),
            },
        )
    return _page_schemas[item_schema]


def paginate(stmt, page: int, per_page: int) -> dict:
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    offset = (page - 1) * per_page
    # a page past the end is empty without asking the database, whose OFFSET would overflow on a page like 10**22
    items = [] if offset >= total else db.session.execute(stmt.limit(per_page).offset(offset)).unique().scalars().all()
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def decimal_as_string(self, field, **kwargs) -> dict:
    """A `fields.Decimal(as_string=True)` is sent as a string ("0.1300"): the document says so (apispec: number)."""
    return {"type": "string"} if isinstance(field, fields.Decimal) and field.as_string else {}


class PortalApi(Api):
    """flask-smorest Api whose errors are handled by the portal's own handlers (one shape, app-wide)."""

    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(decimal_as_string)

    def _register_error_handlers(self):
        pass  # portal.platform.handlers registers one set of handlers for API and UI


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    return Blueprint(name, import_name, url_prefix="/api/v1", description=description)


api = PortalApi()
