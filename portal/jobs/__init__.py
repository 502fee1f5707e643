"""The job queue: RQ on REDIS_URL, or in-process when REDIS_URL is unset (said in the log).

Jobs are queued only after the action's transaction commits (`enqueue` registers an after-commit
callback), receive ids (never objects), and run inside `job_context()`, which commits once or rolls back.
Tracked jobs (`@tracked`) update their `JobRecord`: progress in the RQ job's meta while running, the
final status and result (or error) in the database.

A job whose worker died (killed, machine lost) or that the queue lost (Redis restarted without its data) never ends
by itself: `interruption()` says so — a started job whose worker stopped renewing its liveness key
(`keep_alive`, every PORTAL_WORKER_HEARTBEAT_SECONDS), a queued one Redis no longer knows — and
`portal.background.services.check_interrupted` records it as failed, with the reason.
"""

from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager, nullcontext, suppress

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job

from portal.platform.uow import after_commit

log = logging.getLogger("portal.jobs")

QUEUE_NAME = "portal"
ALIVE_KEY = "portal:worker-alive:"  # + the RQ worker's name; expires when the worker stops renewing it
LOST_GRACE_SECONDS = 60  # a job recorded this long ago that Redis does not know was lost (not merely being queued)
DIED = "The worker running this job stopped (killed or restarted) before it finished; nothing of it was saved."
LOST = "The job queue lost this job (Redis restarted or was emptied) before it ran; nothing of it was saved."


def redis_connection(app=None) -> Redis:
    app = app or current_app
    ext = app.extensions.setdefault("portal_jobs", {})
    if "redis" not in ext:
        url = app.config.get("REDIS_URL")
        if url:
            ext["redis"] = Redis.from_url(url)
        else:
            import fakeredis

            log.warning("REDIS_URL is not set: background jobs run in-process, synchronously (embedded mode)")
            ext["redis"] = fakeredis.FakeRedis()
    return ext["redis"]


def get_queue(app=None) -> Queue:
    app = app or current_app
    ext = app.extensions.setdefault("portal_jobs", {})
    if "queue" not in ext:
        conn = redis_connection(app)
        ext["queue"] = Queue(QUEUE_NAME, connection=conn, is_async=bool(app.config.get("REDIS_URL")))
    return ext["queue"]


def enqueue(func: str, *args, **kwargs) -> None:
    """Queue `func` (a dotted path) with plain arguments once the current transaction has committed."""
    queue = get_queue()
    after_commit(lambda: queue.enqueue(func, *args, **kwargs))


def enqueue_many(func: str, arg_lists: list[tuple], job_ids: list[str] | None = None) -> None:
    """Queue `func(*args)` for each args tuple once the current transaction has committed, in one Redis round trip
    (with the job ids given, so that `interruption()` can look each of them up)."""
    queue = get_queue()
    ids = job_ids or [None] * len(arg_lists)

    def push():
        if not queue._is_async:  # in-process: run them one after the other, here
            for args in arg_lists:
                queue.enqueue(func, *args)
            return
        pairs = zip(arg_lists, ids, strict=True)
        queue.enqueue_many([Queue.prepare_data(func, args=args, timeout=3600, job_id=i) for args, i in pairs])

    after_commit(push)


def live_progress(job_id: str) -> dict | None:
    """The running job's progress from Redis ({status, done, total}), if there is any."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=get_queue().connection)
        meta = dict(job.get_meta(refresh=True) or {})
        started = job.get_status(refresh=False) == "started"
    except NoSuchJobError:
        return None
    except Exception:  # Redis unreachable, or a job Redis half lost: the database's state is the answer
        log.warning("no live progress for job %s", job_id, exc_info=True)
        return None
    if started:
        meta.setdefault("status", "running")
    elif meta.get("status") == "running":
        meta.pop("status")  # RQ ended it (failed, stopped): the record says how
    return meta or None


def report_progress(done: int, total: int) -> None:
    """Called by a running job; visible at once to GET /api/v1/jobs/{id} (kept in Redis, not the DB). Best effort:
    a Redis outage does not fail the job."""
    job = get_current_job()
    if job is not None:
        job.meta.update({"status": "running", "done": done, "total": total})
        try:
            job.save_meta()
        except RedisError:
            log.warning("progress of job %s not saved: Redis unreachable", job.id)


def keep_alive(connection: Redis, worker_name: str, interval: float) -> threading.Event:
    """Renew the worker's liveness key every `interval` seconds (a daemon thread) until the event returned is set.

    RQ's own keys of a worker that runs its job inline last the job's whole timeout (an hour), so a killed worker
    would look busy for that long; this key expires after three missed renewals."""
    key, ttl_ms = ALIVE_KEY + worker_name, max(1000, int(interval * 3000))
    stop = threading.Event()
    connection.set(key, 1, px=ttl_ms)

    def beat():
        while not stop.wait(interval):
            try:
                connection.set(key, 1, px=ttl_ms)
            except RedisError:
                log.warning("worker %s: liveness key not renewed, Redis unreachable", worker_name)
        with suppress(RedisError):
            connection.delete(key)

    threading.Thread(target=beat, name="portal-keep-alive", daemon=True).start()
    return stop


def interruption(job_ids: list[str], since) -> dict[str, str]:
    """{job id: why it will never finish} for those of the RQ jobs named that the queue lost or whose worker died
    (`since`: when they were queued; one lost or ended sooner may still be on its way to Redis, or be a retry's earlier
    attempt). Empty in-process, or when Redis cannot be reached (nothing can be said then)."""
    import datetime as dt

    from rq.job import Job

    from portal.platform.timeutil import utcnow

    if not current_app.config.get("REDIS_URL") or not job_ids:
        return {}
    conn = get_queue().connection
    grace = current_app.config.get("PORTAL_JOB_LOST_GRACE_SECONDS", LOST_GRACE_SECONDS)
    may_be_lost = since is None or utcnow() - since >= dt.timedelta(seconds=grace)
    out: dict[str, str] = {}
    try:
        try:
            found = Job.fetch_many(job_ids, connection=conn)
        except RedisError:
            raise
        except Exception:  # a hash Redis half lost (a late progress update written back alone): one by one
            found = [_fetch_or_none(job_id, conn) for job_id in job_ids]
        started = {}
        for job_id, job in zip(job_ids, found, strict=True):
            status = job.get_status(refresh=False) if job is not None else None
            if status is None:
                if may_be_lost:
                    out[job_id] = LOST
            elif status == "started":
                started[job_id] = job.worker_name
            elif status in ("failed", "stopped", "canceled") and may_be_lost:  # not the previous run of a retry
                out[job_id] = DIED if "Abandoned" in (job.exc_info or "") else f"The job queue ended it ({status})."
        names = sorted({name for name in started.values() if name})
        alive = dict(zip(names, conn.mget([ALIVE_KEY + n for n in names]) if names else [], strict=True))
        for job_id, name in started.items():
            if not name or alive.get(name) is None:
                out[job_id] = DIED
    except RedisError:
        log.warning("cannot tell whether jobs were interrupted: Redis unreachable", exc_info=True)
        return {}
    return out


def _fetch_or_none(job_id: str, conn):
    from rq.job import Job

    try:
        return Job.fetch_many([job_id], connection=conn)[0]
    except RedisError:
        raise
    except Exception:
        return None


_worker_app = None


def warm_up() -> None:
    """Load once in the worker, before any fork, what every job would otherwise load again (the PDF font)."""
    try:
        from portal.platform.pdf import cjk_font

        cjk_font()
    except Exception:  # a missing font is reported by the job that needs it, with its own message
        log.warning("the PDF font could not be loaded; statement jobs will fail until it is installed")


@contextmanager
def job_context():
    """The app context a job runs in: the current one in-process, or one created per worker process.
    The work is marked as writing (SQLite takes its write lock first). Commits once, rolls back on error."""
    from flask import has_app_context

    from portal.extensions import db
    from portal.platform.sqlite import writing
    from portal.platform.uow import commit

    global _worker_app
    inside = has_app_context()
    if not inside and _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    with nullcontext() if inside else _worker_app.app_context(), writing():
        try:
            yield
            commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            if not inside:
                db.session.remove()


def check_interrupted_jobs() -> int:
    """Report every job that will never end (its worker died, the queue lost it) as failed: run when a worker starts
    and on the worker's schedule (PORTAL_JOB_CHECK_CRON); reading a job's state checks that job as well."""
    from portal.background.services import check_all_interrupted

    with job_context():
        found = check_all_interrupted()
    if found:
        log.warning("%s interrupted job(s) reported failed", found)
    return found


def _locale_of(record):
    from contextlib import nullcontext

    from flask_babel import force_locale

    from portal.dealers.models import User
    from portal.extensions import db

    user = db.session.get(User, record.started_by_id) if record.started_by_id else None
    return force_locale(user.locale) if user is not None else nullcontext()


def tracked(fn):
    """A job over a JobRecord: `fn(record, *args) -> result dict`; status, result and errors recorded."""

    @functools.wraps(fn)
    def run(record_id: str, *args):
        from sqlalchemy import select

        from portal.background.models import JobRecord
        from portal.background.services import failure_message
        from portal.extensions import db
        from portal.platform.timeutil import utcnow

        try:
            with job_context():
                record = db.session.execute(  # locked while it runs: never reported interrupted meanwhile
                    select(JobRecord)
                    .where(JobRecord.id == record_id)
                    .with_for_update(key_share=True)
                    .execution_options(populate_existing=True)
                ).scalar_one_or_none()
                if record is None or record.status in ("finished", "failed"):
                    return None  # done, or reported interrupted: a re-delivered job does nothing twice
                record.status = "running"
                with _locale_of(record):  # messages in the result speak the starter's language
                    result = fn(record, *args)
                record.status, record.result, record.finished_at = "finished", result, utcnow()
                current = get_current_job()
                meta = current.meta if current is not None else {}
                record.progress_total = meta.get("total", 1)
                record.progress_done = meta.get("done", record.progress_total)
                return result
        except Exception:
            log.exception("job %s failed", record_id)  # the exception and its trace go to the log, never to users
            with job_context():
                record = db.session.get(JobRecord, record_id)
                if record is not None:
                    with _locale_of(record):
                        record.error = failure_message(record)
                    record.status, record.finished_at = "failed", utcnow()
            raise

    return run
