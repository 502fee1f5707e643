from __future__ import annotations

import re

from flask import Blueprint, render_template
from flask_babel import format_datetime
from flask_babel import gettext as _

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.extensions import db
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, tenant_route

bp = Blueprint("jobs", __name__)

RUN_AUTHOR = re.compile(r"^run [0-9a-f]{8}$")  # how a statement run signs what it issues (portal/jobs/statements.py)


@bp.app_template_global("job_label")
def job_label(record: JobRecord | str | None) -> str:
    """A job as people name it: what it does, when it started and who started it. Its id stays in the URL (and, on
    the job's own page, as a small detail)."""
    from portal.dealers.models import User
    from portal.platform.web import JOB_KIND_LABELS

    if isinstance(record, str):
        found = db.session.get(JobRecord, record)
        if found is None:
            return record[:8]
        record = found
    if record is None:
        return ""
    kind = str(JOB_KIND_LABELS.get(record.kind, record.kind))
    when = format_datetime(record.created_at, "short")
    starter = db.session.get(User, record.started_by_id) if record.started_by_id else None
    if starter is None:
        return _("%(kind)s, started %(when)s by the schedule", kind=kind, when=when)
    return _("%(kind)s, started %(when)s by %(who)s", kind=kind, when=when, who=starter.username)


@bp.app_template_global("job_author")
def job_author(author: str) -> str:
    """Who wrote something: a person's name as stored; a statement run ("run 1a2b3c4d") by what it is."""
    from portal.platform.web import JOB_KIND_LABELS

    return str(JOB_KIND_LABELS["statement_run"]) if author and RUN_AUTHOR.match(author) else author


@bp.route("/jobs/<job_id>")
@requires("jobs.read")
@tenant_route("job")
def detail(job_id):
    """A job's progress (updated in place by static/jobs.js) and, when done, its result."""
    record = current_scope().get_or_404(JobRecord, id=job_id)
    return render_template("jobs/detail.html", job=job_state(record), record=record)
