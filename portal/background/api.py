from __future__ import annotations

from marshmallow import Schema, fields

from portal.background.models import JobRecord
from portal.background.services import job_state
from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, tenant_route

blp = api_blueprint("api_jobs", __name__, "Background jobs")


class ProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer()


class JobSchema(Schema):
    id = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "finished", "failed"]})
    progress = fields.Nested(ProgressSchema)
    result = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)


@blp.route("/jobs/<job_id>", methods=["GET"])
@requires("jobs.read")
@tenant_route("job")
@blp.response(200, JobSchema)
def get_job(job_id):
    """A job's status and progress (whoever started it, and HQ)."""
    return job_state(current_scope().get_or_404(JobRecord, id=job_id))
