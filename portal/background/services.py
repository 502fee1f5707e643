"""Starting background jobs and reading their state.

A job is a `JobRecord` row (who started what, the final status and result) plus an RQ job of the same id.
While it runs, progress lives in the RQ job's meta in Redis, so pollers see it although the job's own
transaction is still open; the final status, result or error is written to the row. A job that will never end
(its worker died, or the queue lost it) is recorded as failed with the reason when it is next looked at
(`check_interrupted`: on every read of its state, when a worker starts, and on the worker's schedule).
"""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select

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
    from portal import jobs

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


INTERRUPTED_HINT = {
    "sell_through_import": " Upload the file again.",
    "payment_import": " Upload the file again.",
    "bank_statement_import": " Upload the file again.",
    "statement_run": " Retry the run.",
}


def check_interrupted(record: JobRecord) -> bool:
    """Record a queued or running job that will never end (worker died, queue lost it) as failed, with the reason, in
    the current transaction. A statement run marks its dealers that will never be done as failed (its retry redoes
    them). A job still running holds its row (`portal.jobs.tracked`), which is skipped, never waited for."""
    from portal import jobs
    from portal.platform.timeutil import utcnow
    from portal.statements import runs

    if record.status not in ("queued", "running"):
        return False
    if record.kind == runs.KIND and record.status == "running":
        return runs.check_interrupted(record)
    reason = jobs.interruption([record.id], since=record.created_at).get(record.id)
    if reason is None:
        return False
    locked = db.session.execute(
        select(JobRecord)
        .where(JobRecord.id == record.id, JobRecord.status.in_(("queued", "running")))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if locked is None:
        return False
    locked.status, locked.finished_at = "failed", utcnow()
    locked.error = reason + INTERRUPTED_HINT.get(locked.kind, " Start it again.")
    return True


IMPORTS = {  # kind -> (the job's function, the file name shown when the upload had none)
    "payment_import": ("portal.jobs.imports.run_payment_import", "payments.csv"),
    "bank_statement_import": ("portal.jobs.banking.run_bank_statement_import", "statement.csv"),
    "sell_through_import": ("portal.jobs.sellthrough.run_sell_through_import", "sell-through.csv"),
}


def start_import(kind: str, upload, *, started_by, dealer_id: int | None = None) -> JobRecord:
    """The one way an uploaded file becomes a job: check it and keep it in the storage folder shared by web and
    workers (`platform.files.keep_upload`), then record the job and queue it after the commit. The API and the
    pages of every import call this."""
    from portal.platform.files import keep_upload

    func, default_name = IMPORTS[kind]
    job_id, path = keep_upload(upload)
    return start_job(
        kind,
        func,
        started_by=started_by,
        dealer_id=dealer_id,
        job_id=job_id,
        params={"filename": upload.filename or default_name},
        args=(str(path),),
    )


def failure_message(record: JobRecord) -> str:
    """What users see of a job that raised an exception: never its text (SQL and its parameters, paths, a trace),
    but the job's id, under which the log has the exception in full."""
    return _("An unexpected error stopped the job (reference %(id)s); nothing of it was saved.", id=record.id)


def check_all_interrupted() -> int:
    """`check_interrupted` over every job not ended; the number found interrupted."""
    ids = db.session.execute(select(JobRecord.id).where(JobRecord.status.in_(("queued", "running")))).scalars().all()
    return sum(check_interrupted(record) for record in (db.session.get(JobRecord, i) for i in ids) if record)


def job_state(record: JobRecord) -> dict:
    """The API shape: {id, kind, status, progress: {done, total}, result?, error?}."""
    from portal import jobs

    check_interrupted(record)
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
