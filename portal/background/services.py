"""Starting background jobs and reading their state.

A job is a `JobRecord` row (who started what, the final status and result) plus an RQ job of the same id.
While it runs, progress lives in the RQ job's meta in Redis, so pollers see it although the job's own
transaction is still open; the final status, result or error is written to the row.
"""

from __future__ import annotations

import uuid

from portal.background.models import JobRecord
from portal.extensions import db


def start_job(
    kind: str,
    func: str,
    *,
    started_by=None,
    dealer_id: int | None = None,
    params: dict | None = None,
    args: tuple = (),
    job_id: str | None = None,
) -> JobRecord:
    """Record the job and queue `func(record_id, *args)` after the commit."""
    import jobs

    record = JobRecord(
        id=job_id or str(uuid.uuid4()),
        kind=kind,
        status="queued",
        params=params or {},
        started_by_id=getattr(started_by, "id", None) if not getattr(started_by, "is_integration", False) else None,
        dealer_id=dealer_id,
    )
    db.session.add(record)
    db.session.flush()
    jobs.enqueue(func, record.id, *args, job_id=record.id, job_timeout=3600)
    return record


def job_state(record: JobRecord) -> dict:
    """The API shape: {id, kind, status, progress: {done, total}, result?, error?}."""
    import jobs

    status, done, total = record.status, record.progress_done, record.progress_total
    if status in ("queued", "running"):
        meta = jobs.live_progress(record.id)
        if meta:
            status = meta.get("status", status)
            done, total = meta.get("done", done), meta.get("total", total)
    return {
        "id": record.id,
        "kind": record.kind,
        "status": status,
        "progress": {"done": done, "total": total},
        "result": record.result,
        "error": record.error,
        "created_at": record.created_at,
        "finished_at": record.finished_at,
    }
