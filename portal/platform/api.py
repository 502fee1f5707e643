"""API conventions (PRODUCT.md §9): the error shape, list paging, schema base classes, the Api object."""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping
from typing import Any

from apispec import BasePlugin
from flask import Flask, jsonify
from flask_babel import LazyString
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import func, select

from portal.extensions import db
from portal.platform.files import ISO_DATE

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


def error_body(code: str, message: str | LazyString, fields_: dict | None = None) -> dict:
    return {"error": {"code": code, "message": str(message), "fields": fields_ or {}}}


def error_response(status: int, code: str, message: str | LazyString, fields_: dict | None = None, headers=None):
    resp = jsonify(error_body(code, message, fields_))
    resp.status_code = status
    if headers:
        resp.headers.update(headers)
    return resp


class StrictSchema(Schema):
    """Every request body refuses unknown fields; every date is exactly YYYY-MM-DD."""

    class Meta:
        unknown = RAISE
        ordered = True

    @pre_load
    def _iso_dates(self, data, **kwargs):
        """marshmallow's Date takes what `date.fromisoformat` takes, 20261201 and 2026-W49-1 too: refused here."""
        if not isinstance(data, Mapping):
            return data
        errors = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            value = data.get(key)
            if isinstance(field, fields.Date) and isinstance(value, str) and not ISO_DATE.fullmatch(value):
                errors[key] = ["A date as YYYY-MM-DD."]
        if errors:
            raise ValidationError(errors)
        return data


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


SECURITY = [{"bearer": []}]
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

# The error statuses operations answer, each in the error shape; the description names the codes.
ERROR_RESPONSES: dict[int, str] = {
    400: "`malformed_json`: the body is not JSON; `csrf_failed`: a session-authenticated write without a valid "
    "X-CSRFToken header; `bad_request`: the body ended (or stalled) before its Content-Length",
    401: "`unauthorized`: no valid bearer token (or session); `invalid_credentials` at the token endpoint",
    403: "`forbidden`: the caller's role (or token scope) may not use this operation",
    404: "`not_found`: the object does not exist or is outside the caller's scope",
    409: "the request conflicts with the current state (e.g. `conflict`, `credit_hold`, `duplicate_reference`)",
    413: "`payload_too_large`: the body is larger than PORTAL_MAX_UPLOAD_MB",
    422: "`validation_error`: `fields` names every invalid field with its messages",
    429: "`login_throttled`: too many failed logins for this username from this address",
    500: "`internal_error`: an unexpected error; it is logged, the answer never carries a trace",
}


def error_statuses(method: str, operation: dict, *, authenticated: bool, path_parameters: bool) -> set[int]:
    """The error statuses an operation can answer, from what it is (its method, body, path, permission).

    flask-smorest itself declares 422 on every operation that parses input with `@blp.arguments` (query or body).
    """
    statuses = {500}
    if authenticated:
        statuses |= {401, 403}  # no token; a role or token scope without the permission (each one lacks some)
    if path_parameters:
        statuses.add(404)  # a missing object, or one outside the caller's scope
    if method in WRITE_METHODS:
        statuses |= {400, 422}  # csrf_failed on session writes; services refuse invalid changes
        if authenticated:
            statuses.add(409)  # a state that forbids the change, or a concurrent write caught by a constraint
    if "requestBody" in operation:
        statuses |= {400, 413, 422}  # malformed_json, a body cut short or too large, invalid fields
    return statuses


class ErrorResponsesPlugin(BasePlugin):
    """Declares, on every operation once, the error statuses it can answer, whether it needs the bearer token and
    its operationId.

    An operation's view needs a token when it declares a permission (`@requires`); the document's global
    `security` says so, and an operation without a permission (the token endpoint) overrides it with `[]`.
    """

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        rule = kwargs["rule"]
        view = self.app.view_functions[rule.endpoint]
        authenticated = getattr(view, "_permission", None) is not None
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            declared = {str(status) for status in responses}
            for status in sorted(error_statuses(method, operation, authenticated=authenticated,
                                                path_parameters=bool(rule.arguments))):  # fmt: skip
                if str(status) not in declared:
                    responses[status] = http.HTTPStatus(status).name
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))
            if not authenticated:
                operation["security"] = []
            # unique, and names a generated client's functions (api_orders.create_order -> orders_create_order)
            operation.setdefault("operationId", rule.endpoint.removeprefix("api_").replace(".", "_"))


class PortalApi(Api):
    """flask-smorest Api whose errors are handled by the portal's own handlers (one shape, app-wide).

    No catch-all `default` response: every status an operation can answer is declared (ErrorResponsesPlugin),
    so a client (and the fuzzing's status code check) knows each one.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, *args, **kwargs):
        kwargs["extra_plugins"] = [*kwargs.get("extra_plugins", ()), ErrorResponsesPlugin(self._app)]
        kwargs.setdefault("security", SECURITY)
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(decimal_as_string)

    def _register_responses(self):
        """The error responses, named like flask-smorest's (`UNPROCESSABLE_ENTITY`), in the portal's error shape."""
        for status, description in ERROR_RESPONSES.items():
            response = {"description": description, "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(http.HTTPStatus(status).name, response, lazy=True)

    def _register_error_handlers(self):
        pass  # portal.platform.handlers registers one set of handlers for API and UI


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    return Blueprint(name, import_name, url_prefix="/api/v1", description=description)


api = PortalApi()
