"""One set of error handlers: JSON in the documented shape under /api/, friendly pages elsewhere.

Never a stack trace. Unexpected errors are logged with their trace and answered as 500.
"""

from __future__ import annotations

import logging

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import ClientDisconnected, HTTPException, InternalServerError

from portal.extensions import db
from portal.platform.api import HTTP_CODES, error_response
from portal.platform.auth import is_api_request
from portal.platform.errors import Conflict, DomainError

log = logging.getLogger("portal.errors")

# The top-level message of an HTTP error raised outside the portal's code (routing, request parsing), translated.
HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    422: _l("The input is not valid; see fields."),
}


def _webargs_fields(data) -> dict:
    messages = (data or {}).get("messages") or (data or {}).get("errors") or {}
    out: dict = {}
    for _location, errs in messages.items():
        if isinstance(errs, dict):
            out.update(errs)
        else:
            out.setdefault("_schema", []).extend(errs if isinstance(errs, list) else [errs])
    return out


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def handle_domain_error(err: DomainError):
    db.session.rollback()
    if is_api_request():
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return error_response(err.status, err.code, err.message, err.fields, headers)
    titles = {404: _("Not found"), 403: _("Not allowed"), 409: _("Conflict"), 429: _("Too many attempts")}
    generic = {
        404: _("This page does not exist, or it is not yours to see."),
        403: _("Your role does not allow this action."),
    }
    return _page(err.status, titles.get(err.status, _("Error")), generic.get(err.status, err.message))


def handle_csrf_error(err: CSRFError):
    db.session.rollback()
    if is_api_request():
        return error_response(
            400, "csrf_failed", _("Missing or invalid CSRF token; send X-CSRFToken or use a bearer token.")
        )
    return _page(
        400, _("Form expired"), _("The form has expired or was sent from elsewhere. Reload the page and try again.")
    )


def handle_http_exception(err: HTTPException):
    db.session.rollback()
    status = err.code or 500
    if is_api_request():
        data = getattr(err, "data", None)
        fields_ = _webargs_fields(data)
        code = HTTP_CODES.get(status, "error")
        message = HTTP_MESSAGES.get(status) or _("The request could not be processed.")
        if status == 400 and "Invalid JSON body." in str(fields_):
            code, message, fields_ = "malformed_json", _("The request body is not valid JSON."), {}
        elif isinstance(err, ClientDisconnected):  # a body cut short, or stalled (deploy/gunicorn.conf.py)
            message = _("The request body ended before its Content-Length.")
        return error_response(status, code, message, fields_)
    titles = {400: _("Bad request"), 404: _("Page not found"), 405: _("Not allowed"), 413: _("File too large")}
    messages = {
        400: _("The request could not be understood. Reload the page and try again."),
        404: _("This page does not exist, or it is not yours to see."),
        405: _("This page cannot be used that way."),
        413: _("The file is larger than the portal accepts."),
    }
    return _page(status, titles.get(status, _("Error")), messages.get(status, _("Sorry, that did not work.")))


def handle_integrity_error(err: IntegrityError):
    """A constraint refused a write that a concurrent action made invalid (e.g. the same code twice)."""
    db.session.rollback()
    log.info("integrity error answered as 409: %s", err.orig)
    return handle_domain_error(
        Conflict(_("The change conflicts with data saved at the same time; nothing was saved."), code="conflict")
    )


def handle_unexpected(err: Exception):
    db.session.rollback()
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if is_api_request():
        return error_response(500, "internal_error", _("An unexpected error occurred; it has been logged."))
    return _page(500, _("Something went wrong"), _("An unexpected error occurred; it has been logged."))


def register(app):
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
