"""One user action, one transaction.

`PortalFlask.dispatch_request` runs the view, then commits once when the answer is a success and no domain error
was raised during the request, and rolls back otherwise (or on any exception): the outcome of the action decides,
not the HTTP status, so a view that catches a domain error and redirects (302) commits nothing a service flushed
before raising. Work that must only happen after a successful commit (queueing jobs, sending mail) is registered
with `after_commit(fn)` and run after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, g, has_request_context
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.platform.errors import Conflict

log = logging.getLogger(__name__)


def after_commit(fn) -> None:
    """Run fn() once the current action's transaction has committed (immediately outside a request)."""
    if has_request_context():
        g.setdefault("after_commit", []).append(fn)
    else:
        db.session.info.setdefault("after_commit", []).append(fn)


def run_after_commit(callbacks) -> None:
    for fn in callbacks:
        try:
            fn()
        except Exception:  # a failed notification must not undo a committed action
            log.exception("after-commit callback failed")


@contextmanager
def probing() -> Iterator[None]:
    """Ask whether an action would pass (e.g. to offer a button) without a refusal failing the request: a domain
    error raised and caught inside does not mark the request for rollback."""
    marked = g.get("domain_error", False) if has_request_context() else False
    try:
        yield
    finally:
        if has_request_context():
            g.domain_error = marked


def commit() -> None:
    """Commit the session (used by the request edge, CLI commands and job wrappers)."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        from flask_babel import gettext

        raise Conflict(
            gettext("The change conflicts with data saved at the same time; nothing was saved."), code="conflict"
        ) from exc
    pending = g.pop("after_commit", []) if has_request_context() else db.session.info.pop("after_commit", [])
    run_after_commit(pending)


class PortalFlask(Flask):
    def dispatch_request(self):
        try:
            response = self.make_response(super().dispatch_request())
        except BaseException:
            db.session.rollback()
            g.pop("after_commit", None)
            raise
        if response.status_code < 400 and not g.get("domain_error"):
            commit()
        else:
            db.session.rollback()
            g.pop("after_commit", None)
        return response
