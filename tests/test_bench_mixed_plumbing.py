"""bench/mixed.py's plumbing for `--replica` and `--pgbouncer`: CPU counted per server tree, the replica's share of
the HQ reports, the options, the environment the workers inherit. No database, no timing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench import mixed

# a "postmaster": starts a child that burns CPU and ends, reaps it, then waits with a second, living child
POSTMASTER = r"""
import os, subprocess, sys, time
burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
subprocess.run([sys.executable, "-c", burn], check=True)
living = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
print(living.pid, flush=True)
sys.stdin.read()
living.stdin.close()
living.wait()
"""


@pytest.fixture
def postmaster():
    with subprocess.Popen([sys.executable, "-c", POSTMASTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as proc:  # fmt: skip
        try:
            living = int(proc.stdout.readline())
            yield proc.pid, living
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)


def test_a_server_tree_is_its_postmaster_and_its_children(postmaster):
    root, living = postmaster
    assert sorted(mixed.postmaster_tree(root)) == sorted([root, living])
    assert os.getpid() not in mixed.postmaster_tree(root)


def test_the_cpu_of_an_ended_child_stays_in_the_tree(postmaster):
    """A backend that ended with its connection is gone from /proc, but its CPU is in the postmaster's reaped-children
    time: the tree's ticks include the 0.3 s of CPU the ended child burnt (and nothing of this process)."""
    root, _living = postmaster
    hz = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{root}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    reaped = int(fields[13]) + int(fields[14])  # cutime + cstime
    assert reaped >= 0.2 * hz
    assert mixed.tree_ticks(mixed.postmaster_tree(root)) >= reaped
    assert mixed.tree_ticks([root, root]) == mixed.tree_ticks([root])  # a pid listed twice counts once


def _run(times: dict, sources: dict) -> dict:
    return {"times": times, "sources": sources}


def test_replica_share_counts_the_hq_reports_only():
    run = _run(
        {"HQ: home dashboard": [0.1] * 10, "HQ: channel flow": [0.2] * 6, "dealer: home": [0.1] * 50},
        {"HQ: home dashboard": {"replica": 9, "primary": 1}, "HQ: channel flow": {"replica": 6},
         "dealer: home": {"replica": 50}},
    )  # fmt: skip
    assert mixed.replica_share(run) == (15, 16)
    assert mixed.replica_share(_run({"HQ: home dashboard": [0.1] * 3}, {})) == (0, 3)  # no replica: no header


class _Response:
    def __init__(self, status: int, source: str | None):
        self.status_code = status
        self.headers = {"X-Portal-Data-Source": source} if source else {}
        self.text = ""


class _Session:
    def __init__(self, *responses):
        self.responses = list(responses)

    def request(self, method, url, **kw):
        return self.responses.pop(0)


def test_the_recorder_counts_the_data_source_of_answered_reports():
    rec = mixed.Recorder()
    rec.measuring = True
    session = _Session(_Response(200, "replica"), _Response(200, "primary"), _Response(500, "replica"),
                       _Response(200, None))  # fmt: skip
    for _ in range(4):
        rec.call(session, "HQ: home dashboard", "GET", "http://x/home")
    assert dict(rec.sources["HQ: home dashboard"]) == {"replica": 1, "primary": 1}  # the failed one is an error
    assert rec.errors["HQ: home dashboard"] == 1
    rec.measuring = False
    rec.call(_Session(_Response(200, "replica")), "HQ: home dashboard", "GET", "http://x/home")
    assert rec.sources["HQ: home dashboard"]["replica"] == 1  # outside the measured window: not counted


def test_replica_and_pgbouncer_are_options_of_their_own():
    args = mixed.parser().parse_args(["--quick", "--replica", "--hq-users", "20"])
    assert (args.quick, args.replica, args.pgbouncer, args.hq_users) == (True, True, False, 20)
    assert mixed.parser().parse_args(["--pgbouncer"]).pgbouncer
    with pytest.raises(SystemExit):
        mixed.parser().parse_args(["--replica", "--pgbouncer"])


def test_the_workers_environment_is_set_then_restored(monkeypatch):
    monkeypatch.setenv("PORTAL_REPLICA_DATABASE_URL", "postgresql://somewhere/else")
    monkeypatch.delenv("PORTAL_DB_PGBOUNCER", raising=False)
    with mixed.environ(PORTAL_REPLICA_DATABASE_URL=None, PORTAL_DB_PGBOUNCER="1"):
        assert "PORTAL_REPLICA_DATABASE_URL" not in os.environ  # jobs never read the replica
        assert os.environ["PORTAL_DB_PGBOUNCER"] == "1"
    assert os.environ["PORTAL_REPLICA_DATABASE_URL"] == "postgresql://somewhere/else"
    assert "PORTAL_DB_PGBOUNCER" not in os.environ
