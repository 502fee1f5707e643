from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, render_template, request

from portal.audit import present
from portal.audit.services import audit_query
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope
from portal.platform.web import csv_response, list_page, query_rows

bp = Blueprint("audit", __name__)
bp.add_app_template_global(present.changes, "audit_changes")
bp.add_app_template_global(present.object_type_label, "audit_object_type")

FILTERS = ("actor", "action", "object_type", "object_key", "from", "to")


def _json(value) -> str | None:
    """Before/after as JSON text (what a program reading the export can parse), Chinese kept readable."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _date(value):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.route("/audit")
@requires("audit.read")
def index():
    filters = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
    stmt = audit_query(
        current_scope(),
        actor=filters["actor"],
        action=filters["action"],
        object_type=filters["object_type"],
        object_key=filters["object_key"],
        date_from=_date(filters["from"]),
        date_to=_date(filters["to"]),
    )
    if request.args.get("format") == "csv":
        rows = query_rows(stmt, scalars=True)  # read in chunks while the file is sent
        return csv_response(
            "audit.csv",
            ["at", "actor", "action", "object_type", "object_key", "before", "after", "ip"],
            (
                [e.at.isoformat(), e.actor, e.action, e.object_type, e.object_key]
                + [_json(e.before), _json(e.after), e.ip]
                for e in rows
            ),
        )
    return render_template("audit/index.html", page=list_page(stmt, 50), filters=filters)
