"""Domain errors, raised by services and mapped once (JSON shape for the API, friendly pages for the UI)."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code
        self.fields = fields or {}


class NotFound(DomainError):
    """Not found."""

    status = 404
    code = "not_found"


class Unauthorized(DomainError):
    """Authentication required."""

    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"


class Invalid(DomainError):
    """The input is not valid."""

    status = 422
    code = "validation_error"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class Throttled(DomainError):
    """Too many attempts; try again later."""

    status = 429
    code = "throttled"
