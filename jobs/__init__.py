"""The job queue: RQ on REDIS_URL, or in-process when REDIS_URL is unset (said in the log).

Jobs are queued only after the action's transaction commits (`enqueue` registers an after-commit
callback), receive ids (never objects), and run inside `job_context()`, which commits once or rolls back.
Tracked jobs (`@tracked`) update their `JobRecord`: progress in the RQ job's meta while running, the
final status and result (or error) in the database.
"""

from __future__ import annotations

import functools
import logging
from contextlib import contextmanager

from flask import current_app
from redis import Redis
from rq import Queue, get_current_job

from portal.platform.uow import after_commit

log = logging.getLogger("portal.jobs")

QUEUE_NAME = "portal"


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


def enqueue_many(func: str, arg_lists: list[tuple]) -> None:
    """Queue `func(*args)` for each args tuple once the current transaction has committed, in one Redis round trip."""
    queue = get_queue()

    def push():
        if not queue._is_async:  # in-process: run them one after the other, here
            for args in arg_lists:
                queue.enqueue(func, *args)
            return
        queue.enqueue_many([Queue.prepare_data(func, args=args, timeout=3600) for args in arg_lists])

    after_commit(push)


def live_progress(job_id: str) -> dict | None:
    """The running job's progress from Redis ({status, done, total}), if there is any."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=get_queue().connection)
    except NoSuchJobError:
        return None
    meta = dict(job.get_meta(refresh=True) or {})
    if job.get_status(refresh=False) == "started":
        meta.setdefault("status", "running")
    return meta or None


def report_progress(done: int, total: int) -> None:
    """Called by a running job; visible at once to GET /api/v1/jobs/{id} (kept in Redis, not the DB)."""
    job = get_current_job()
    if job is not None:
        job.meta.update({"status": "running", "done": done, "total": total})
        job.save_meta()


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
    if has_app_context():
        with writing():
            try:
                yield
                commit()
            except BaseException:
                db.session.rollback()
                raise
        return
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    with _worker_app.app_context(), writing():
        try:
            yield
            commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


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
        from portal.background.models import JobRecord
        from portal.extensions import db
        from portal.platform.timeutil import utcnow

        try:
            with job_context():
                record = db.session.get(JobRecord, record_id)
                if record is None or record.status == "finished":
                    return None  # already done: a re-delivered job does nothing twice
                record.status = "running"
                with _locale_of(record):  # messages in the result speak the starter's language
                    result = fn(record, *args)
                record.status, record.result, record.finished_at = "finished", result, utcnow()
                current = get_current_job()
                meta = current.meta if current is not None else {}
                record.progress_total = meta.get("total", 1)
                record.progress_done = meta.get("done", record.progress_total)
                return result
        except Exception as exc:
            log.exception("job %s failed", record_id)
            with job_context():
                record = db.session.get(JobRecord, record_id)
                if record is not None:
                    record.status, record.error, record.finished_at = "failed", str(exc)[:2000], utcnow()
            raise

    return run
