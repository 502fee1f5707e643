from __future__ import annotations

from flask import Blueprint, render_template

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, tenant_route

bp = Blueprint("jobs", __name__)


@bp.route("/jobs/<job_id>")
@requires("jobs.read")
@tenant_route("job")
def detail(job_id):
    """A job's progress (updated in place by static/jobs.js) and, when done, its result."""
    record = current_scope().get_or_404(JobRecord, id=job_id)
    return render_template("jobs/detail.html", job=job_state(record), record=record)
