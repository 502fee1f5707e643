"""Fault tests (issue 9): Redis restarted (without its data) while jobs are queued or running.

Each test starts a redis-server of its own on a free port (no persistence: a restart loses the queue), never the shared
one, and an app on it. After the restart a queued import or statement run is reported failed with the reason — never
left "queued" for ever — the statement run's retry resumes it without issuing anything twice, a re-uploaded file is
applied once, and the web app answers job-status requests (API and page) without a 500, also while Redis is down.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time

import pytest

from portal.background.models import JobRecord
from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.statements.models import Statement
from tests.conftest import make_app
from tests.factories import World
from tests.test_statement_runs import ledger, run_workers

pytestmark = [
    pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL (the Redis + workers run)"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to start a Redis of its own"),
]
PERIOD = "2026-03"


class OwnRedis:
    """A redis-server of the test's own, on a free port, without persistence: a restart empties it."""

    def __init__(self, folder):
        self.folder = folder
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.folder)]  # fmt: skip
        with open(self.folder / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def rapp(app, redis_server, tmp_path_factory):
    """The portal on the test's own Redis (same database as `app`, whose fixture built the schema and empties it)."""
    return make_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=redis_server.url,
        PORTAL_STORAGE=str(tmp_path_factory.mktemp("redis-faults")),
        PORTAL_JOB_LOST_GRACE_SECONDS=0,  # a job Redis does not know is lost at once (no enqueue in flight here)
    )


@pytest.fixture
def rworld(rapp):
    return World(rapp)


@pytest.fixture
def rclient(rapp):
    return rapp.test_client()


@pytest.fixture
def channel(rworld):
    rworld.region("EAST")
    codes = [rworld.dealer(f"RR-{i:02d}", "EAST") for i in range(6)]
    ledger(rworld, codes[:5])  # RR-05 has nothing to state
    return {"codes": codes, "fin": rworld.auth(rworld.user("finance", username="fin"))}


def state(client, headers, job_id) -> dict:
    resp = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def statements(world):
    return world.run(lambda: sorted((s.dealer.code, s.version) for s in db.session.query(Statement).all()))


def drain_in_process(app, max_jobs: int) -> None:
    """Run `max_jobs` queued jobs here (a burst SimpleWorker in this process), as `flask worker` would."""
    from rq import SimpleWorker

    from portal import jobs

    with app.app_context():
        queue = jobs.get_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True, max_jobs=max_jobs)


def start_run(client, channel) -> str:
    resp = client.post("/api/v1/statements/runs", json={"period": PERIOD}, headers=channel["fin"])
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["job_id"]


def test_a_queued_run_lost_with_redis_is_reported_and_its_retry_runs_it_whole(
    rapp, rclient, rworld, channel, redis_server
):
    job_id = start_run(rclient, channel)
    assert state(rclient, channel["fin"], job_id)["status"] == "queued"
    redis_server.restart()  # the queue is gone, the fan-out job with it

    lost = state(rclient, channel["fin"], job_id)
    assert lost["status"] == "failed" and "lost this job" in lost["error"] and "Retry the run" in lost["error"], lost
    assert rworld.get(JobRecord, id=job_id)["status"] == "failed"
    resp = rclient.post(f"/api/v1/statements/runs/{job_id}/retry", headers=channel["fin"])
    assert resp.status_code == 202, resp.get_json()
    assert state(rclient, channel["fin"], job_id)["status"] == "queued"
    run_workers(rapp, count=2, timeout=120)
    done = state(rclient, channel["fin"], job_id)
    assert done["status"] == "finished" and done["progress"] == {"done": 6, "total": 6}, done
    assert statements(rworld) == [(f"RR-{i:02d}", 1) for i in range(5)]


def test_a_run_whose_dealer_jobs_redis_lost_reports_them_and_the_retry_resumes(
    rapp, rclient, rworld, channel, redis_server
):
    job_id = start_run(rclient, channel)
    drain_in_process(rapp, max_jobs=3)  # the fan-out (six dealer jobs queued) and two dealers
    midway = state(rclient, channel["fin"], job_id)
    assert midway["status"] == "running" and midway["progress"] == {"done": 2, "total": 6}, midway
    kept = statements(rworld)
    assert len(kept) == 2
    redis_server.restart()  # four dealer jobs lost

    reported = state(rclient, channel["fin"], job_id)
    assert reported["status"] == "failed" and reported["result"]["failed"] == 4, reported
    assert "retry the run" in reported["error"]
    resp = rclient.post(f"/api/v1/statements/runs/{job_id}/retry", headers=channel["fin"])
    assert resp.status_code == 202 and resp.get_json()["queued"] == 4
    run_workers(rapp, count=2, timeout=120)
    done = state(rclient, channel["fin"], job_id)
    assert done["status"] == "finished" and done["progress"] == {"done": 6, "total": 6}, done
    assert statements(rworld) == [(f"RR-{i:02d}", 1) for i in range(5)]  # nothing lost, nothing twice
    assert set(kept) <= set(statements(rworld))


def test_while_redis_is_down_job_status_answers_and_an_import_started_then_is_reported(
    rapp, rclient, rworld, channel, redis_server
):
    job_id = start_run(rclient, channel)
    redis_server.stop()
    started = time.monotonic()
    down = rclient.get(f"/api/v1/jobs/{job_id}", headers=channel["fin"])
    assert down.status_code == 200 and down.get_json()["status"] == "queued"  # the database's state, no 500
    page = rclient.get(f"/jobs/{job_id}", headers=channel["fin"])
    assert page.status_code == 200
    assert time.monotonic() - started < 30

    bank = "dealer_code,amount,received_on,reference\nRR-00,100.00,2026-03-05,BK-1\nRR-01,50.00,2026-03-06,BK-2\n"
    resp = rclient.post("/api/v1/payments/import", data={"file": (io.BytesIO(bank.encode()), "bank.csv")},
                        headers=channel["fin"], content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code in (202, 500, 503), resp.get_data(as_text=True)
    assert set(resp.get_json()) <= {"job_id", "error"}
    import_id = resp.get_json().get("job_id")

    redis_server.start()  # empty
    run_workers(rapp, count=1, timeout=60)  # a worker starting reports what it can never run
    for jid in [job_id] + ([import_id] if import_id else []):
        reported = state(rclient, channel["fin"], jid)
        assert reported["status"] == "failed" and "lost this job" in reported["error"], reported
    assert rworld.count(LedgerEntry, type="payment") == 5  # the fixture's payments only: the import never ran

    again = rclient.post("/api/v1/payments/import", data={"file": (io.BytesIO(bank.encode()), "bank.csv")},
                         headers=channel["fin"], content_type="multipart/form-data")  # fmt: skip
    assert again.status_code == 202
    run_workers(rapp, count=1, timeout=60)
    assert state(rclient, channel["fin"], again.get_json()["job_id"])["result"]["payments"] == 2
    assert rworld.count(LedgerEntry, type="payment") == 7


def test_a_job_reported_lost_is_never_run_later(rapp, rclient, rworld, channel, redis_server):
    """The reverse race: a job reported lost that a worker still gets (Redis came back with it) does nothing."""
    job_id = start_run(rclient, channel)
    with rapp.app_context():
        from portal import jobs

        conn = jobs.get_queue(rapp).connection
        saved = {key: conn.dump(key) for key in conn.keys("*")}
        conn.flushdb()
    assert state(rclient, channel["fin"], job_id)["status"] == "failed"
    with rapp.app_context():
        for key, value in saved.items():
            conn.restore(key, 0, value, replace=True)
    run_workers(rapp, count=1, timeout=60)
    assert state(rclient, channel["fin"], job_id)["status"] == "failed"
    assert statements(rworld) == []
