"""Statement jobs (PRODUCT.md §6): a run fans out into one job per dealer; see portal.statements.runs."""

from __future__ import annotations

import logging
import uuid

from portal.jobs import job_context

log = logging.getLogger("portal.jobs")


def fan_out(record_id: str) -> int:
    """The run's first job: write one item per dealer and queue their jobs (after this transaction commits)."""
    from portal.background.models import JobRecord
    from portal.extensions import db
    from portal.statements import runs

    with job_context():
        record = db.session.get(JobRecord, record_id)
        if record is None or record.status in ("finished", "failed"):
            return 0  # a re-delivered job does nothing twice
        pending = runs.fan_out(record)
        runs.enqueue_dealers(record.id, pending)
    return len(pending)


def dealer_statement(run_id: str, dealer_id: int) -> str | None:
    """One dealer of a run, in three transactions: issue its statement (the dealer's credit row locked: one cut of
    the ledger); draw the PDF with no lock held, so the dealer's orders never wait for a render; mark the item done.
    On an error the item is failed (the run can be retried for the failed dealers alone: an issued statement is then
    found unchanged and only its PDF is drawn). Users see a reference, never the exception; the log has it."""
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from portal.statements import runs, services
    from portal.statements.models import Statement

    try:
        with job_context():
            item = runs.lock_item(run_id, dealer_id)
            if item is None or item.status == "done":
                return None
            period = item_period(run_id)
            dealer = db.session.get(Dealer, dealer_id)
            statement, outcome = services.issue(f"run {run_id[:8]}", dealer, period, run_id=run_id)
            if outcome == "unchanged" and statement.run_id == run_id:
                outcome = "issued"  # by this run, in an attempt whose PDF failed: the retry only draws it
            statement_id = statement.id if statement is not None else None
            needs_pdf = statement is not None and (outcome == "issued" or not services.pdf_exists(statement))
        if needs_pdf:
            with job_context():  # after the statement's transaction: nothing of the dealer is locked while drawing
                services.store_pdf(db.session.get(Statement, statement_id))
        with job_context():
            item = runs.lock_item(run_id, dealer_id)
            if item is None or item.status == "done":
                return None
            item.status, item.outcome, item.error = "done", outcome, None
            item.statement_id = statement_id
            item.attempts += 1
            runs.settle(run_id)
            return outcome
    except Exception:
        log.exception("statement of dealer %s in run %s failed", dealer_id, run_id)
        with job_context():
            item = runs.lock_item(run_id, dealer_id)
            if item is not None and item.status != "done":
                item.status, item.error = "failed", runs.UNEXPECTED
                item.attempts += 1
                runs.settle(run_id)
        raise


def item_period(run_id: str) -> str:
    from portal.background.models import JobRecord
    from portal.extensions import db

    return db.session.get(JobRecord, run_id).params["period"]


def scheduled_monthly_run() -> int:
    """Entry point for the cron schedule (the 1st of the month): the run of last month for every dealer. Running it
    twice issues nothing twice (an unchanged statement is not issued again)."""
    from portal.background.models import JobRecord
    from portal.extensions import db
    from portal.statements import runs, services

    record_id = str(uuid.uuid4())
    with job_context():
        period = services.previous_period()
        db.session.add(JobRecord(id=record_id, kind=runs.KIND, status="queued", params={"period": period}))
    return fan_out(record_id)
