"""Writing the audit log. Services call `record` in the same transaction as the change."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import has_request_context, request

from portal.audit.models import AuditEntry
from portal.extensions import db


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def snapshot(obj, fields: tuple[str, ...]) -> dict:
    return {f: _plain(getattr(obj, f)) for f in fields}


def record(
    actor, action: str, object_type: str, object_key: str, *, before=None, after=None, dealer_id: int | None = None
) -> AuditEntry | None:
    """Store one audit entry. With before and after given, only the fields that changed are kept;
    an update that changed nothing is not recorded."""
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        if not changed:
            return None
        before = {k: before.get(k) for k in sorted(changed)}
        after = {k: after[k] for k in sorted(changed)}
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None) if not getattr(actor, "is_integration", False) else None,
        actor=getattr(actor, "username", None) or "system",
        action=action,
        object_type=object_type,
        object_key=str(object_key),
        dealer_id=dealer_id,
        before=before,
        after=after,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)  # written with the change by the next flush (at the latest the commit's)
    return entry


def audit_query(scope, *, actor=None, action=None, object_type=None, object_key=None, date_from=None, date_to=None):
    """Audit entries in scope, newest first; dates are portal-local calendar days."""
    from sqlalchemy import func

    from portal.platform.timeutil import portal_tz

    stmt = scope.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor:
        stmt = stmt.where(func.lower(AuditEntry.actor) == actor.lower())
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_key:
        stmt = stmt.where(AuditEntry.object_key == object_key)
    tz = portal_tz()
    if date_from:
        stmt = stmt.where(AuditEntry.at >= dt.datetime.combine(date_from, dt.time(), tz))
    if date_to:
        stmt = stmt.where(AuditEntry.at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz))
    return stmt
