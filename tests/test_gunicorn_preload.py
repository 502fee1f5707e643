"""Workers forked warm (issue 24, "Cost per request"): deploy/gunicorn.conf.py preloads the app in gunicorn's master,
`warm()` compiles every template there before the first fork (portal/platform/warmup.py), and each worker drops any
pooled connection it inherited. Checked in process (nothing compiled after the warm-up, no connection opened by it, the
pools reset by `after_fork`) and against a real gunicorn on the suite's database: two preloaded workers answer
database-backed requests at once, and a worker killed (as max_requests recycles one) is replaced by a warm fork."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.platform.warmup import after_fork, warm
from tests.conftest import PASSWORD, login

ROOT = Path(__file__).resolve().parent.parent


def test_after_warm_up_no_page_compiles_a_template(app, world, monkeypatch):
    user = world.user("channel_manager")
    warm(app)

    def compiling(*args, **kwargs):
        raise AssertionError("a template was compiled after the warm-up")

    monkeypatch.setattr(app.jinja_env, "compile", compiling)
    client = app.test_client()
    assert client.get("/login").status_code == 200
    login(client, user)
    for url in ("/home", "/dealers", "/receivables", "/orders", "/notifications"):
        assert client.get(url).status_code == 200, url


def test_warm_up_opens_no_connection(app):
    with app.app_context():
        engine = db.engine
    opened = []

    def connected(*args):
        opened.append(args)

    event.listen(engine, "connect", connected)
    try:
        engine.dispose()
        done = warm(app)
    finally:
        event.remove(engine, "connect", connected)
    assert opened == []
    assert done["templates"] > 100  # every page, mail and macro file of templates/


def test_after_fork_forgets_the_inherited_connections(app):
    with app.app_context():
        engine = db.engine
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        pool = engine.pool
        assert pool.checkedin() >= 1
    assert after_fork(app) >= 1
    assert engine.pool is not pool and engine.pool.checkedin() == 0
    assert pool.checkedin() >= 1  # left open for the process that owns them (here: this test, which closes them)
    pool.dispose()
    with app.app_context(), db.engine.connect() as conn:  # a new pool connects anew
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(master: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False)  # noqa: S607
    return {int(p) for p in out.stdout.split()}


def _token(base: str, username: str, password: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/api/v1/auth/token",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.fixture
def preloaded(app, world, tmp_path):
    """gunicorn from deploy/gunicorn.conf.py (preloaded) with two workers on the suite's database, a user in it."""
    user = world.user("channel_manager", username="preload.cm")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "preload-test-secret",
        "PORTAL_STORAGE": str(tmp_path / "storage"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_LOGLEVEL": "info",
    }
    for name in ("GUNICORN_PRELOAD", "REDIS_URL", "PORTAL_REPLICA_DATABASE_URL"):
        env.pop(name, None)
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(_workers(server.pid)) < 2 or _token(base, "nobody", "x") != 401:
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield {"base": base, "master": server.pid, "log": log_path, "user": user}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_preloaded_workers_serve_the_database_at_once_and_a_recycled_one_comes_back_warm(preloaded):
    base, master, log = preloaded["base"], preloaded["master"], preloaded["log"]
    assert "warmed up before forking" in log.read_text()
    with ThreadPoolExecutor(8) as pool:  # both workers read and write at once (a token each): their own connections
        answers = list(pool.map(lambda n: _token(base, preloaded["user"], PASSWORD), range(40)))
    assert set(answers) == {201}, answers

    first = _workers(master)
    os.kill(min(first), signal.SIGTERM)  # what max_requests does: the worker leaves, the master forks another
    deadline = time.monotonic() + 30
    while not (len(_workers(master)) == 2 and _workers(master) != first):
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    assert {_token(base, preloaded["user"], PASSWORD) for _ in range(10)} == {201}
    text = log.read_text()
    assert text.count("warmed up before forking") == 1  # the master warmed up once; the new worker is a fork of it
    assert "Traceback" not in text, text
