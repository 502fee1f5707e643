"""The daily overdue scan as a job: startable by finance, and run every day by the worker's cron schedule."""

from __future__ import annotations

import datetime as dt
import uuid

from portal.jobs import job_context, report_progress, tracked


@tracked
def run_overdue_scan(record, on_iso: str, dry_run: bool = False):
    from portal.credit.overdue import overdue_scan

    return overdue_scan(dt.date.fromisoformat(on_iso), actor=None, progress=report_progress, dry_run=dry_run)


def scheduled_scan():
    """Entry point for the cron schedule: record a job for today and run it here. Running it again the same
    day changes and sends nothing twice (the scan is idempotent per day)."""
    from portal.background.models import JobRecord
    from portal.extensions import db
    from portal.platform.timeutil import today

    record_id = str(uuid.uuid4())
    with job_context():
        day = today().isoformat()
        db.session.add(JobRecord(id=record_id, kind="overdue_scan", status="queued", params={"date": day}))
    return run_overdue_scan(record_id, day)
