"""Time: timestamps are UTC-aware; business dates are dates in the portal's timezone.

`today()` and `utcnow()` are the only clocks; tests fix them with `freeze()`.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

_frozen: dt.datetime | None = None


def utcnow() -> dt.datetime:
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def portal_tz() -> ZoneInfo:
    name = current_app.config["PORTAL_TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def today() -> dt.date:
    """Today in the portal's timezone (default Asia/Shanghai)."""
    return utcnow().astimezone(portal_tz()).date()


@contextmanager
def freeze(moment: dt.datetime):
    """Fix the clock (tests and demo generation)."""
    global _frozen
    previous, _frozen = _frozen, moment.astimezone(dt.UTC)
    try:
        yield
    finally:
        _frozen = previous


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns aware UTC datetimes, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def local_naive(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored (UTC) moment as the portal's wall-clock time, without a zone (what pages and exports show)."""
    return moment.astimezone(portal_tz()).replace(tzinfo=None) if moment else None
