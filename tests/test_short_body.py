"""A request whose body is shorter than its Content-Length, against a real gunicorn started from
deploy/gunicorn.conf.py: it held a sync worker until gunicorn's 60 s timeout killed it and ended in gunicorn's HTML
500; now the stalled read fails after the config's body_timeout (10 s) and the portal answers 400 in its error shape,
and the worker goes on serving."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BODY_TIMEOUT = 10  # deploy/gunicorn.conf.py's default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "SECRET_KEY": "short-body-test-secret",
        "PORTAL_STORAGE": str(tmp_path / "storage"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    env.pop("GUNICORN_BODY_TIMEOUT", None)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "portal:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # until the worker has loaded the app
            try:
                with urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=5) as resp:  # noqa: S310
                    assert resp.status == 200
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        yield port, tmp_path / "gunicorn.log"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _post_token(port: int, content_length: int, body: bytes, timeout: float) -> tuple[float, int, dict, dict]:
    """POST /api/v1/auth/token by hand; (seconds until the answer, status, headers, JSON body)."""
    head = (f"POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head.encode() + body)
        started = time.monotonic()
        s.settimeout(timeout)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        elapsed = time.monotonic() - started
    head_part, _sep, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return elapsed, int(status_line.split()[1]), headers, json.loads(payload)


def test_a_body_shorter_than_its_content_length_is_a_400_in_seconds(gunicorn):
    port, log = gunicorn
    elapsed, status, headers, answer = _post_token(port, 100, b'{"usernam', timeout=BODY_TIMEOUT + 20)

    assert (status, headers["content-type"], answer["error"]["code"]) == (400, "application/json", "bad_request")
    assert BODY_TIMEOUT - 1 < elapsed < BODY_TIMEOUT + 3, elapsed  # not gunicorn's 60 s worker timeout
    # the worker was not killed: it answers the next request, whose whole body it reads, at once
    body = b'{"username": "li.na"}'
    elapsed, status, _headers, answer = _post_token(port, len(body), body, timeout=5)
    assert (status, answer["error"]["fields"]) == (422, {"password": ["Missing data for required field."]})
    assert elapsed < 2
    assert "WORKER TIMEOUT" not in log.read_text()
