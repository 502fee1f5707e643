"""The daily overdue scan as a job: startable by finance, and scheduled by the worker's cron."""

from __future__ import annotations

import datetime as dt

from jobs import report_progress, tracked


@tracked
def run_overdue_scan(record, on_iso: str):
    from portal.credit.overdue import overdue_scan

    return overdue_scan(dt.date.fromisoformat(on_iso), actor=None, progress=report_progress)


def scheduled_scan():
    """Entry point for the cron schedule: record a job for today and run it here."""
    import uuid

    from jobs import job_context
    from portal.background.models import JobRecord
    from portal.extensions import db
    from portal.platform.timeutil import today

    day = today().isoformat()
    record_id = str(uuid.uuid4())
    with job_context():
        db.session.add(JobRecord(id=record_id, kind="overdue_scan", status="queued", params={"date": day}))
    return run_overdue_scan(record_id, day)
