"""The job queue: jobs are queued only after the action commits; RQ on Redis, or in-process without it."""

from __future__ import annotations

import logging

import pytest

from portal import jobs
from portal.extensions import db
from portal.platform.uow import commit

CALLS: list[str] = []


def record_call(value: str) -> None:
    """A job: what it does is observable from the test."""
    CALLS.append(value)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    yield
    CALLS.clear()


def _drain(app):
    """Run queued jobs the way `flask worker` would (a burst worker, in this process)."""
    from rq import SimpleWorker

    queue = jobs.get_queue(app)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_a_job_runs_only_after_the_commit(app):
    with app.app_context():
        jobs.enqueue("tests.test_jobs_queue.record_call", "after-commit")
        assert CALLS == []
        commit()
        if app.config["REDIS_URL"]:
            assert CALLS == [] and jobs.get_queue(app).count == 1
            _drain(app)
    assert CALLS == ["after-commit"]


def test_a_rolled_back_action_queues_nothing(app):
    with app.app_context():
        jobs.enqueue("tests.test_jobs_queue.record_call", "never")
        db.session.rollback()
        db.session.info.pop("after_commit", None)
        db.session.remove()
    with app.app_context():
        commit()
        if app.config["REDIS_URL"]:
            assert jobs.get_queue(app).count == 0
    assert CALLS == []


def test_without_redis_jobs_run_in_process_and_the_log_says_so(database_url, caplog):
    from tests.conftest import make_app

    app = make_app(database_url, REDIS_URL=None)
    with caplog.at_level(logging.WARNING, logger="portal.jobs"), app.app_context():
        queue = jobs.get_queue(app)
        assert queue._is_async is False
        jobs.enqueue("tests.test_jobs_queue.record_call", "inline")
        commit()
    assert CALLS == ["inline"]
    assert "REDIS_URL is not set" in caplog.text


@pytest.mark.skipif("not __import__('os').environ.get('TEST_REDIS_URL')", reason="needs TEST_REDIS_URL")
def test_with_redis_the_queue_lives_in_redis(app):
    queue = jobs.get_queue(app)
    assert queue._is_async is True
    assert queue.connection.ping()
