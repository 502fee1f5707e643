"""Statement runs: one job that fans out into one job per dealer (PRODUCT.md §6).

A run is a `JobRecord` (kind `statement_run`, params `{period, dealer_ids?}`) plus one `StatementRunItem` per dealer.
The first job (`portal.jobs.statements.fan_out`) writes the items and queues a job per dealer; each dealer job
issues the statement, then draws its PDF, and marks its item `done` (or `failed`) in transactions of its own, then
settles the run: progress = items done or failed / items, and the run ends (`finished`, or `failed` when any dealer
failed) when no item is left queued. Retrying queues again only the items that are not done, so it also resumes a
run whose worker died; issuing is idempotent, so a dealer job delivered twice changes nothing.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, insert, select

from portal.background.models import JobRecord
from portal.background.services import start_job
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.errors import Conflict, Invalid
from portal.platform.timeutil import utcnow
from portal.statements import services
from portal.statements.models import StatementRunItem

KIND = "statement_run"
FAN_OUT = "portal.jobs.statements.fan_out"
DEALER_JOB = "portal.jobs.statements.dealer_statement"
# A dealer's item failed on an exception: the page says so in the reader's language with the run as reference, the
# log has the exception (never shown: it may hold SQL, parameters or paths).
UNEXPECTED = "unexpected"


def start_run(actor, period: str, dealer_codes: list[str] | None = None) -> JobRecord:
    """Start the run of `period` for all dealers or the dealers named (checked now: unknown codes are refused)."""
    services.period_bounds(period)
    params: dict = {"period": period}
    if dealer_codes:
        codes = sorted({c.strip() for c in dealer_codes if c and c.strip()})
        found = dict(db.session.execute(select(Dealer.code, Dealer.id).where(Dealer.code.in_(codes))).all())
        if missing := [c for c in codes if c not in found]:
            raise Invalid(fields={"dealer_codes": [_("Unknown dealers: %(codes)s.", codes=", ".join(missing))]})
        hq_ids = set(services.run_dealer_ids(list(found.values())))
        if subs := [c for c in codes if found[c] not in hq_ids]:  # §16: their accounts are with their distributors
            raise Invalid(fields={"dealer_codes": [
                _("Sub-dealers get no statement from HQ: %(codes)s.", codes=", ".join(subs))]})
        params["dealer_ids"] = sorted(found.values())
        params["dealer_codes"] = codes
    return start_job(KIND, FAN_OUT, started_by=actor, params=params)


def fan_out(record: JobRecord) -> list[int]:
    """Write the run's items (once) and return the dealers whose job is to be queued."""
    existing = set(
        db.session.execute(select(StatementRunItem.dealer_id).where(StatementRunItem.run_id == record.id)).scalars()
    )
    if not existing:
        ids = services.run_dealer_ids((record.params or {}).get("dealer_ids"))  # the dealers HQ sells to
        if ids:
            db.session.execute(
                insert(StatementRunItem),
                [{"run_id": record.id, "dealer_id": i, "status": "queued", "attempts": 0} for i in ids],
            )
    record.status = "running"
    settle(record.id)
    return pending_dealers(record.id)


def pending_dealers(run_id: str) -> list[int]:
    return list(
        db.session.execute(
            select(StatementRunItem.dealer_id)
            .where(StatementRunItem.run_id == run_id, StatementRunItem.status != "done")
            .order_by(StatementRunItem.dealer_id)
        ).scalars()
    )


def lock_item(run_id: str, dealer_id: int) -> StatementRunItem | None:
    return (
        db.session.execute(
            select(StatementRunItem)
            .where(StatementRunItem.run_id == run_id, StatementRunItem.dealer_id == dealer_id)
            .with_for_update(of=StatementRunItem)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one_or_none()
    )


def settle(run_id: str) -> JobRecord:
    """Progress and, when no dealer is left queued, the end of the run. The run row is locked so that the last two
    dealers finishing at the same time cannot both miss the end (always locked after the item: no deadlock). The lock
    is FOR NO KEY UPDATE: the statements a dealer job inserts hold a key-share lock on this row (their run_id), which
    a plain FOR UPDATE would wait for, and two dealer jobs would wait for each other."""
    record = db.session.execute(
        select(JobRecord)
        .where(JobRecord.id == run_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    counts = dict(
        db.session.execute(
            select(StatementRunItem.status, func.count())
            .where(StatementRunItem.run_id == run_id)
            .group_by(StatementRunItem.status)
        ).all()
    )
    total = sum(counts.values())
    done, failed, queued = counts.get("done", 0), counts.get("failed", 0), counts.get("queued", 0)
    record.progress_total, record.progress_done = total, done + failed
    if queued or record.status in ("finished", "failed"):
        if queued and record.status in ("finished", "failed"):
            record.status = "running"  # a retry re-opened it
        return record
    outcomes = dict(
        db.session.execute(
            select(StatementRunItem.outcome, func.count())
            .where(StatementRunItem.run_id == run_id, StatementRunItem.status == "done")
            .group_by(StatementRunItem.outcome)
        ).all()
    )
    failed_codes = list(
        db.session.execute(
            select(Dealer.code)
            .join(StatementRunItem, StatementRunItem.dealer_id == Dealer.id)
            .where(StatementRunItem.run_id == run_id, StatementRunItem.status == "failed")
            .order_by(Dealer.code)
            .limit(100)
        ).scalars()
    )
    record.result = {
        "period": (record.params or {}).get("period"),
        "dealers": total,
        "issued": outcomes.get("issued", 0),
        "unchanged": outcomes.get("unchanged", 0),
        "nothing_to_state": outcomes.get("nothing", 0),
        "failed": failed,
        "failed_dealers": failed_codes,
    }
    record.finished_at = utcnow()
    if failed:
        record.status = "failed"
        record.error = f"{failed} dealer(s) failed: {', '.join(failed_codes[:20])}; retry the run to redo only them"
    else:
        record.status, record.error = "finished", None
    _notify_starter(record)
    return record


def retry(actor, record: JobRecord) -> list[int]:
    """Queue again every dealer of the run that is not done (failed, or never finished because a worker died)."""
    if record.kind != KIND:
        raise Conflict(_("Only statement runs can be retried."), code="not_a_run")
    pending = pending_dealers(record.id)
    if not pending and record.status == "failed" and not items_of(record.id):  # lost before its fan-out ran
        from portal import jobs

        record.status, record.error, record.finished_at = "queued", None, None
        jobs.enqueue(FAN_OUT, record.id, job_id=record.id, job_timeout=3600)
        return []
    if not pending:
        raise Conflict(_("Every dealer of this run is done; there is nothing to retry."), code="nothing_to_retry")
    db.session.execute(
        StatementRunItem.__table__.update()
        .where(StatementRunItem.run_id == record.id, StatementRunItem.status == "failed")
        .values(status="queued", updated_at=utcnow())
    )
    record.status, record.error, record.finished_at = "running", None, None
    settle(record.id)
    enqueue_dealers(record.id, pending)
    return pending


def dealer_job_id(run_id: str, dealer_id: int) -> str:
    return f"{run_id}-{dealer_id}"


def enqueue_dealers(run_id: str, dealer_ids: list[int]) -> None:
    """Queue one job per dealer once the current transaction has committed (in one Redis round trip)."""
    from portal import jobs

    jobs.enqueue_many(
        DEALER_JOB, [(run_id, dealer_id) for dealer_id in dealer_ids], [dealer_job_id(run_id, i) for i in dealer_ids]
    )


def check_interrupted(record: JobRecord) -> bool:
    """Mark failed the dealers of a running run whose job will never end (the worker died, the queue lost it), then
    settle the run: it ends `failed`, and its retry redoes only them."""
    from portal import jobs

    queued = items_of(record.id, "queued")
    if not queued:
        return False
    since = min(item.updated_at for item in queued)
    lost = jobs.interruption([dealer_job_id(record.id, item.dealer_id) for item in queued], since=since)
    found = False
    for item in queued:
        reason = lost.get(dealer_job_id(record.id, item.dealer_id))
        if reason is None:
            continue
        locked = lock_item(record.id, item.dealer_id)
        if locked is not None and locked.status == "queued":
            locked.status, locked.error = "failed", reason
            found = True
    if found:
        db.session.flush()
        settle(record.id)
    return found


def items_of(run_id: str, status: str | None = None) -> list[StatementRunItem]:
    stmt = select(StatementRunItem).where(StatementRunItem.run_id == run_id).order_by(StatementRunItem.dealer_id)
    if status:
        stmt = stmt.where(StatementRunItem.status == status)
    return list(db.session.execute(stmt).unique().scalars())


def _notify_starter(record: JobRecord) -> None:
    if record.started_by_id is None:
        return
    user = db.session.get(User, record.started_by_id)
    if user is None:
        return
    result = record.result or {}
    with force_locale(user.locale):
        title = _("Statement run %(period)s has ended", period=result.get("period"))
        body = _("%(issued)s issued, %(unchanged)s unchanged, %(failed)s failed.", issued=result.get("issued", 0),
                 unchanged=result.get("unchanged", 0), failed=result.get("failed", 0))  # fmt: skip
    notify(user, kind="statement.run", title=title, body=body, link=f"/jobs/{record.id}",
           dedupe_key=f"statement-run:{record.id}:{record.finished_at.isoformat()}")  # fmt: skip
