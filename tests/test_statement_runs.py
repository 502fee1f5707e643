"""Statement runs (PRODUCT.md §6): a run fans out into one job per dealer, shows its progress, retries only the
dealers that failed, can be run again without duplicates, and survives a worker killed in the middle.

With TEST_REDIS_URL (the PostgreSQL + Redis CI run) the jobs run in real `flask --app portal worker` processes;
without it they run in-process (the embedded mode), which the first tests check too."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.background.models import JobRecord
from portal.extensions import db
from portal.statements.models import Statement, StatementRunItem

needs_redis = pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL (real workers)")
PERIOD = "2026-03"


def ledger(world, codes, entries: int = 3) -> None:
    for i, code in enumerate(codes):
        for n in range(entries):
            day = dt.date(2026, 3, 1 + n % 28)
            world.invoice(code, number=f"{code}-{n}", amount=f"{100 + i}.{n:02d}", issued_on=day)
        world.payment(code, amount="50.00", received_on=dt.date(2026, 3, 30), reference=f"{code}-PAY")


@pytest.fixture(autouse=True)
def _empty_storage(app):
    import shutil

    shutil.rmtree(Path(app.config["PORTAL_STORAGE"]) / "statements", ignore_errors=True)


@pytest.fixture
def channel(world):
    world.region("EAST")
    codes = [world.dealer(f"RUN-{i:02d}", "EAST") for i in range(6)]
    ledger(world, codes[:5])  # RUN-05 has nothing to state
    world.user("finance", username="fin")
    world.user("dealer_admin", dealer="RUN-00", username="run0.admin")
    return {"codes": codes, "finance": world.auth("fin")}


def start(client, channel, **body):
    resp = client.post("/api/v1/statements/runs", json={"period": PERIOD, **body}, headers=channel["finance"])
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["job_id"]


def job(client, channel, job_id):
    return client.get(f"/api/v1/jobs/{job_id}", headers=channel["finance"]).get_json()


def statements(world):
    return world.run(lambda: sorted((s.dealer.code, s.version) for s in db.session.query(Statement).all()))


def items(world, job_id):
    return world.run(
        lambda: {
            i.dealer.code: (i.status, i.outcome, i.attempts)
            for i in db.session.query(StatementRunItem).filter_by(run_id=job_id).all()
        }
    )


# ---------------------------------------------------------------- real workers


def worker(app, *, burst: bool = True, log: Path | None = None) -> subprocess.Popen:
    """A `flask --app portal worker` process on the tests' database, Redis and storage folder."""
    env = dict(
        os.environ,
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        PORTAL_STORAGE=app.config["PORTAL_STORAGE"],
        SECRET_KEY=app.config["SECRET_KEY"],
    )
    args = [sys.executable, "-m", "flask", "--app", "portal", "worker", "--no-cron"] + (["--burst"] if burst else [])
    with open(log or os.devnull, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def run_workers(app, count: int = 2, timeout: float = 120) -> None:
    procs = [worker(app, log=Path(app.config["PORTAL_STORAGE"]) / f"worker-{i}.log") for i in range(count)]
    try:
        for proc in procs:
            proc.wait(timeout=timeout)
    finally:
        for proc in procs:
            stop(proc, signal.SIGKILL)


def wait_for(predicate, timeout: float = 60, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def drain(app, client, channel, job_id, count: int = 2):
    """Run the queue to the end: in-process there is nothing to do; with Redis, burst workers."""
    if app.config["REDIS_URL"]:
        run_workers(app, count)
    return job(client, channel, job_id)


# ---------------------------------------------------------------- tests


def test_a_run_fans_out_per_dealer_and_reports_its_progress(app, client, world, channel):
    job_id = start(client, channel)
    if app.config["REDIS_URL"]:
        queued = job(client, channel, job_id)
        assert queued["status"] == "queued" and queued["progress"]["done"] == 0
    state = drain(app, client, channel, job_id)
    assert state["status"] == "finished", state
    assert state["progress"] == {"done": 6, "total": 6}
    assert state["result"]["issued"] == 5 and state["result"]["nothing_to_state"] == 1
    assert statements(world) == [(f"RUN-{i:02d}", 1) for i in range(5)]
    storage = Path(app.config["PORTAL_STORAGE"])
    assert (storage / "statements" / "RUN-00" / f"{PERIOD}-v1.pdf").read_bytes().startswith(b"%PDF")


def test_a_rerun_issues_nothing_twice_and_a_changed_ledger_makes_one_new_version(app, client, world, channel):
    drain(app, client, channel, start(client, channel))
    second = drain(app, client, channel, start(client, channel))
    assert second["status"] == "finished" and second["result"]["unchanged"] == 5 and second["result"]["issued"] == 0
    assert statements(world) == [(f"RUN-{i:02d}", 1) for i in range(5)]
    world.payment("RUN-02", amount="10.00", received_on=dt.date(2026, 3, 31), reference="LATE")
    third = drain(app, client, channel, start(client, channel, dealer_codes=["RUN-02", "RUN-03"]))
    assert third["result"]["issued"] == 1 and third["result"]["unchanged"] == 1
    assert ("RUN-02", 2) in statements(world) and len(statements(world)) == 6


def test_unknown_dealers_or_an_open_month_start_nothing(client, world, channel):
    bad = client.post("/api/v1/statements/runs", json={"period": PERIOD, "dealer_codes": ["RUN-00", "NOPE"]},
                      headers=channel["finance"])  # fmt: skip
    assert bad.status_code == 422 and "dealer_codes" in bad.get_json()["error"]["fields"]
    future = client.post("/api/v1/statements/runs", json={"period": "2099-01"}, headers=channel["finance"])
    assert future.status_code == 422
    for url in ("/api/v1/statements/runs", "/api/v1/dealers/RUN-00/statements"):  # year 0 was a 500 (API fuzzing)
        year_zero = client.post(url, json={"period": "0000-01"}, headers=channel["finance"])
        assert year_zero.status_code == 422 and "period" in year_zero.get_json()["error"]["fields"]
    assert world.count(JobRecord) == 0


def test_a_failed_dealer_is_retried_alone(app, client, world, channel):
    storage = Path(app.config["PORTAL_STORAGE"]) / "statements"
    storage.mkdir(parents=True, exist_ok=True)
    blocker = storage / "RUN-03"
    blocker.write_text("not a folder")  # the dealer's PDF cannot be written: a real failure, no test hook
    try:
        job_id = start(client, channel)
        state = drain(app, client, channel, job_id)
        assert state["status"] == "failed" and "RUN-03" in state["error"]
        assert state["result"]["failed_dealers"] == ["RUN-03"] and state["progress"] == {"done": 6, "total": 6}
        # the statement is issued in its own transaction, the PDF drawn after it (no lock held while drawing): the
        # version stands, its PDF is what the retry does
        assert ("RUN-03", 1) in statements(world) and len(statements(world)) == 5
    finally:
        blocker.unlink()
    resp = client.post(f"/api/v1/statements/runs/{job_id}/retry", headers=channel["finance"])
    assert resp.status_code == 202 and resp.get_json()["queued"] == 1
    state = drain(app, client, channel, job_id)
    assert state["status"] == "finished" and state["error"] is None
    done = items(world, job_id)
    assert done["RUN-03"] == ("done", "issued", 2)
    assert all(attempts == 1 for code, (_s, _o, attempts) in done.items() if code != "RUN-03")  # not redone
    assert statements(world) == [(f"RUN-{i:02d}", 1) for i in range(5)]
    again = client.post(f"/api/v1/statements/runs/{job_id}/retry", headers=channel["finance"])
    assert again.status_code == 409


@pytest.mark.postgres
def test_the_pdf_is_drawn_with_nothing_of_the_dealer_locked(app, client, world, channel, monkeypatch, is_postgres):
    """The statement is issued with the dealer's credit row locked (one cut of the ledger); the PDF is drawn after
    that transaction, so an order of the dealer never waits for a render (a 2,000-line one takes ~0.7 s)."""
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    from sqlalchemy import create_engine, text

    from portal.statements import services

    real, seen = services.store_pdf, []
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    def probing_store(statement):
        with other.connect() as conn:  # another session: the dealer's credit row must be free to lock right now
            conn.execute(text("SELECT 1 FROM dealer_credit WHERE dealer_id = :d FOR UPDATE NOWAIT"),
                         {"d": statement.dealer_id})  # fmt: skip
            conn.rollback()
        seen.append(statement.dealer.code)
        return real(statement)

    monkeypatch.setattr(services, "store_pdf", probing_store)
    try:
        for code in channel["codes"][:5]:
            world.credit_limit(code, "1000.00")  # each dealer has its credit row
        job_id = start(client, channel, dealer_codes=channel["codes"][:2])
        if app.config["REDIS_URL"]:  # in this process, so that the probe above runs
            from rq import SimpleWorker

            from portal import jobs

            with app.app_context():
                queue = jobs.get_queue(app)
                SimpleWorker([queue], connection=queue.connection).work(burst=True)
        state = job(client, channel, job_id)
    finally:
        other.dispose()
    assert state["status"] == "finished", state
    assert sorted(seen) == channel["codes"][:2]


@needs_redis
def test_a_worker_killed_mid_run_loses_no_statement_and_the_run_resumes(app, client, world, tmp_path):
    world.region("WEST")
    codes = [world.dealer(f"KILL-{i:02d}", "WEST") for i in range(24)]
    ledger(world, codes, entries=30)
    world.user("finance", username="fin2")
    finance = {"finance": world.auth("fin2")}
    job_id = start(client, finance)
    proc = worker(app, burst=False, log=tmp_path / "worker.log")
    try:
        at_kill = wait_for(lambda: (s := job(client, finance, job_id)) and s["progress"]["done"] >= 2 and s, 90)
        stop(proc, signal.SIGKILL)  # the worker and its work horse, mid-run
    finally:
        stop(proc, signal.SIGKILL)
    state = job(client, finance, job_id)
    assert at_kill["progress"]["total"] == 24 and state["progress"]["done"] < 24, (at_kill, state)
    kept = statements(world)
    # every dealer marked done has its statement, committed; the dealer in flight may have its statement too (issued
    # in a transaction of its own, before its PDF and its item): the retry then finds it unchanged
    assert state["progress"]["done"] <= len(kept) <= state["progress"]["done"] + 1
    resp = client.post(f"/api/v1/statements/runs/{job_id}/retry", headers=finance["finance"])
    assert resp.status_code == 202 and resp.get_json()["queued"] == 24 - state["progress"]["done"]
    state = drain(app, client, finance, job_id)
    assert state["status"] == "finished" and state["progress"] == {"done": 24, "total": 24}
    assert statements(world) == [(code, 1) for code in codes]  # one version each: nothing lost, nothing twice
    assert set(kept) <= set(statements(world))


def test_the_schedule_starts_last_months_run_on_the_first(app, client, world, channel):
    from croniter import croniter

    from portal.jobs.statements import scheduled_monthly_run
    from portal.platform.timeutil import freeze

    cron = app.config["PORTAL_STATEMENT_RUN_CRON"]
    nxt = croniter(cron, dt.datetime(2026, 4, 15, tzinfo=dt.UTC)).get_next(dt.datetime)
    assert nxt.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date() == dt.date(2026, 5, 1)
    with app.app_context(), freeze(dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)):
        scheduled_monthly_run()  # what RQ's cron scheduler calls in the worker
    record = world.get(JobRecord, kind="statement_run")
    assert record["params"] == {"period": PERIOD} and record["started_by_id"] is None
    state = drain(app, client, channel, record["id"])
    assert state["status"] == "finished" and state["result"]["issued"] == 5
