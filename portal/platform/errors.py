"""Domain errors, raised by services and mapped once (JSON shape for the API, friendly pages for the UI).

Each class's default message is translated in the language of the request that raises it, like the messages
services pass (`_()`); `message` is always a plain string (it is flashed, logged and sent as JSON).

Raising one inside a request marks the request: its transaction is rolled back whatever the view then answers — a
view that catches the error and redirects does not commit what the service flushed before raising
(`portal.platform.uow`). A check that only asks whether an action would pass wraps the call in `uow.probing()`.
"""

from __future__ import annotations

from flask import g, has_request_context
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """The request cannot be done as asked."""

    status = 400
    code = "bad_request"
    default_message: LazyString = _l("The request cannot be done as asked.")

    def __init__(self, message: str | LazyString | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = str(message or self.default_message)
        super().__init__(self.message)
        if code:
            self.code = code
        self.fields = fields or {}
        if has_request_context():
            g.domain_error = True  # the unit of work rolls this request back (see the module docstring)


class NotFound(DomainError):
    """Not found."""

    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class Unauthorized(DomainError):
    """Authentication required."""

    status = 401
    code = "unauthorized"
    default_message = _l("Authentication required.")


class Forbidden(DomainError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"
    default_message = _l("You are not allowed to do this.")


class Invalid(DomainError):
    """The input is not valid; see fields."""

    status = 422
    code = "validation_error"
    default_message = _l("The input is not valid; see fields.")


class Conflict(DomainError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"
    default_message = _l("The request conflicts with the current state.")


class Throttled(DomainError):
    """Too many attempts; try again later."""

    status = 429
    code = "throttled"
    default_message = _l("Too many attempts; try again later.")
