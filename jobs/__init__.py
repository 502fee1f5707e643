"""The job queue: RQ on REDIS_URL, or in-process when REDIS_URL is unset (said in the log).

Jobs are queued only after the action's transaction commits (`enqueue` registers an after-commit
callback), receive ids (never objects), and run inside `job_context()`, which commits once or rolls back.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app
from redis import Redis
from rq import Queue

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


_worker_app = None


@contextmanager
def job_context():
    """The app context a job runs in: the current one in-process, or one created per worker process.
    Commits once at the end, rolls back on error."""
    from flask import has_app_context

    from portal.extensions import db
    from portal.platform.uow import commit

    global _worker_app
    if has_app_context():
        yield
        commit()
        return
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            yield
            commit()
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
