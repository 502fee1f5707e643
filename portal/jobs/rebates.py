"""Rebate settlement as a job (PRODUCT.md §11): computes or refreshes a programme's settlements; see
portal.rebates.services.compute_settlement. Idempotent: a re-delivered or repeated run records nothing more."""

from __future__ import annotations

from portal.jobs import report_progress, tracked


@tracked
def run_settlement(record, programme_id: int):
    from portal.dealers.models import User
    from portal.extensions import db
    from portal.rebates import services
    from portal.rebates.models import RebateProgramme

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    programme = db.session.get(RebateProgramme, programme_id)
    return services.compute_settlement(actor, programme, progress=report_progress)
