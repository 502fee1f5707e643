"""Fault tests (issue 9): an RQ worker killed (SIGKILL) in the middle of a CSV import.

The sell-through import and the bank (payment) import run as jobs in real `flask --app portal worker` processes. The
test stops the import at a known point — after it wrote rows in its transaction, waiting for a row lock the test holds
(PostgreSQL) — then kills the worker: nothing of the file may be stored (no lines, no stock moves, no payments, the
monthly sums and the channel roll-up exact), the job must be reported failed with the reason (not "running" forever),
and the same file uploaded again is applied whole, once. A worker killed mid-statement-run is
tests/test_statement_runs.py::test_a_worker_killed_mid_run_loses_no_statement_and_the_run_resumes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import signal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from portal.background.models import JobRecord
from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove, SellThroughLine, SellThroughMonthly
from tests.test_statement_runs import run_workers, stop, wait_for, worker

pytestmark = [
    pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL (real workers to kill)"),
    pytest.mark.skipif(
        not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
        reason="needs PostgreSQL: the import is held at a known point by a row lock the test takes",
    ),
]

HEADER = "sold_on,sku,serial,quantity,unit_price,city,customer_type\n"
ROWS = 300


@pytest.fixture
def fast_heartbeat(monkeypatch):
    """Workers renew their liveness key every 0.3 s (it expires after 1 s): a killed one is known dead at once."""
    monkeypatch.setenv("PORTAL_WORKER_HEARTBEAT_SECONDS", "0.3")


@pytest.fixture
def side(app):
    """A connection of the test's own (outside the app's pool), to hold locks and watch the worker wait."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    conn = engine.connect()
    yield conn
    conn.close()
    engine.dispose()


def _waiting_for_a_lock(side) -> bool:
    side.execute(text("SELECT pg_stat_clear_snapshot()"))  # the view is otherwise read once per transaction
    return bool(
        side.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar()
    )


def _upload(client, url, headers, body: str, name: str):
    resp = client.post(url, data={"file": (io.BytesIO(body.encode()), name)}, headers=headers,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["job_id"]


def _state(client, headers, job_id):
    resp = client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _kill_while_blocked(app, side, tmp_path, lock_sql: str, params: dict):
    """Hold the row lock, start a worker, wait until the import waits for the lock, SIGKILL the worker."""
    with side.begin():
        side.execute(text(lock_sql), params)
        proc = worker(app, burst=False, log=tmp_path / "killed-worker.log")
        try:
            wait_for(lambda: _waiting_for_a_lock(side), timeout=60)
            stop(proc, signal.SIGKILL)
        finally:
            stop(proc, signal.SIGKILL)
    # the lock is released here; the killed worker's backend goes away with its socket (its transaction rolled back)


def _drift(app):
    from portal.inventory.sums import channel_drift

    with app.app_context():
        try:
            return channel_drift()
        finally:
            db.session.remove()


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("OIL-1", list_price="30.00")
    world.dealer_receipt("SH-1", "OIL-1", 10_000, on=dt.date(2026, 3, 1))
    world.sold("SH-1", "OIL-1", dt.date(2026, 5, 1), quantity=3, unit_price="40.00")  # the month's sums exist
    staff = world.user("dealer_staff", dealer="SH-1", username="sh1.staff")
    return {"staff": world.auth(staff)}


def _sales_file() -> str:
    return HEADER + "".join(f"2026-05-{1 + i % 28:02d},OIL-1,,2,35.00,上海,individual\n" for i in range(ROWS))


def _sales(world):
    def read():
        monthly = {str(m.month): (m.lines, m.quantity, str(m.amount)) for m in db.session.query(SellThroughMonthly)}
        return {
            "lines": db.session.query(SellThroughLine).count(),
            "moves": db.session.query(DealerStockMove).filter_by(kind="sale").count(),
            "orphan_moves": db.session.execute(
                text(
                    "SELECT count(*) FROM dealer_stock_moves m WHERE m.kind = 'sale' AND NOT EXISTS "
                    "(SELECT 1 FROM sell_through_lines l WHERE l.stock_move_id = m.id)"
                )
            ).scalar(),
            "monthly": monthly,
        }

    return world.run(read)


def test_a_worker_killed_mid_sell_through_import_applies_nothing_and_reports_it(
    app, client, world, shop, side, tmp_path, fast_heartbeat
):
    before = _sales(world)
    assert before["lines"] == 1 and before["moves"] == 1
    job_id = _upload(client, "/api/v1/sell-through/import", shop["staff"], _sales_file(), "sales.csv")
    _kill_while_blocked(
        app,
        side,
        tmp_path,
        "SELECT 1 FROM sell_through_monthly m JOIN dealers d ON d.id = m.dealer_id WHERE d.code = :code "
        "FOR UPDATE OF m",
        {"code": "SH-1"},
    )

    # nothing of the file is stored: no line, no stock move without its line, the sums as they were
    assert _sales(world) == before and before["orphan_moves"] == 0
    assert _drift(app) == []
    # the job is reported failed, with the reason (not "running" for ever)
    state = wait_for(lambda: (s := _state(client, shop["staff"], job_id))["status"] == "failed" and s, timeout=15)
    assert "worker running this job stopped" in state["error"] and "Upload the file again" in state["error"]
    assert world.get(JobRecord, id=job_id)["status"] == "failed"  # recorded, not only answered

    # a worker started afterwards does not run the interrupted job again; the file uploaded again is applied, once
    again = _upload(client, "/api/v1/sell-through/import", shop["staff"], _sales_file(), "sales.csv")
    run_workers(app, count=1, timeout=60)
    done = _state(client, shop["staff"], again)
    assert done["status"] == "finished" and done["result"]["applied"] is True, done
    assert done["result"]["lines"] == ROWS
    after = _sales(world)
    assert after["lines"] == 1 + ROWS and after["moves"] == 1 + ROWS and after["orphan_moves"] == 0
    may = after["monthly"]
    (month,) = may
    assert may[month] == (1 + ROWS, 3 + 2 * ROWS, f"{120 + 70 * ROWS:.2f}")
    assert _drift(app) == []
    assert world.get(JobRecord, id=job_id)["status"] == "failed"  # the killed one stayed reported, never re-run


@pytest.fixture
def bank(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-2", "1000.00")  # its credit row exists: the test can lock it
    return {"fin": world.auth(world.user("finance", username="fin"))}


def _bank_file() -> str:
    rows = [f"SH-1,{10 + i}.00,2026-03-{1 + i % 28:02d},BK-1-{i:04d}\n" for i in range(40)]
    rows.append("SH-2,99.00,2026-03-30,BK-2-0001\n")  # posted after SH-1's: its credit row is held by the test
    return "dealer_code,amount,received_on,reference\n" + "".join(rows)


def _payments(world):
    return world.run(lambda: sorted(e.number for e in db.session.query(LedgerEntry).filter_by(type="payment").all()))


def test_a_worker_killed_mid_payment_import_posts_nothing_and_reports_it(
    app, client, world, bank, side, tmp_path, fast_heartbeat
):
    job_id = _upload(client, "/api/v1/payments/import", bank["fin"], _bank_file(), "bank.csv")
    _kill_while_blocked(
        app,
        side,
        tmp_path,
        "SELECT 1 FROM dealer_credit c JOIN dealers d ON d.id = c.dealer_id WHERE d.code = :code FOR UPDATE OF c",
        {"code": "SH-2"},
    )
    assert _payments(world) == []  # SH-1's 40 payments were written in the killed transaction: none kept
    state = wait_for(lambda: (s := _state(client, bank["fin"], job_id))["status"] == "failed" and s, timeout=15)
    assert "worker running this job stopped" in state["error"]

    again = _upload(client, "/api/v1/payments/import", bank["fin"], _bank_file(), "bank.csv")
    run_workers(app, count=1, timeout=60)
    done = _state(client, bank["fin"], again)
    assert done["status"] == "finished" and done["result"]["payments"] == 41, done
    assert len(_payments(world)) == 41 and len(set(_payments(world))) == 41
    # the same file a third time is refused whole (every reference is recorded): nothing counted twice
    third = _upload(client, "/api/v1/payments/import", bank["fin"], _bank_file(), "bank.csv")
    run_workers(app, count=1, timeout=60)
    assert _state(client, bank["fin"], third)["result"]["applied"] is False
    assert len(_payments(world)) == 41
