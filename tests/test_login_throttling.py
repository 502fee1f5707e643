"""Login throttling by username and client address: 5 failures lock that pair for 15 minutes (browser and token
endpoint alike), another address is not locked, the lock lives in the database (every worker sees it), bearer
tokens are never throttled, and the message is in the user's language."""

from __future__ import annotations

import datetime as dt
import threading

from portal.dealers.models import LoginThrottle
from portal.dealers.services import throttle_key
from portal.platform.timeutil import freeze, utcnow
from tests.conftest import PASSWORD, csrf_token_from, login, make_app

WRONG = "Wrong-pass-999"


def client_from(app, address: str, **environ):
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, **environ})
    return client


def fail(client, name: str, times: int) -> None:
    for _ in range(times):
        assert login(client, name, WRONG).status_code == 401


def test_five_failures_lock_the_name_from_that_address_even_for_the_right_password(app, world):
    name = world.user("finance")
    attacker = client_from(app, "203.0.113.7")
    fail(attacker, name, 4)
    assert login(attacker, name, WRONG).status_code == 401  # the fifth failure is still answered, then locks
    resp = login(attacker, name)
    assert resp.status_code == 429
    assert "Too many failed logins; try again in 15 minutes." in resp.get_data(as_text=True)
    assert attacker.get("/home").status_code == 302  # not signed in
    api = attacker.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert api.status_code == 429
    error = api.get_json()["error"]
    assert error["code"] == "login_throttled" and "try again in 15 minutes" in error["message"]


def test_the_token_endpoint_counts_towards_the_same_lock(app, world):
    name = world.user("finance")
    client = client_from(app, "203.0.113.8")
    for _ in range(app.config["PORTAL_LOGIN_MAX_FAILURES"]):
        resp = client.post("/api/v1/auth/token", json={"username": name, "password": WRONG})
        assert resp.status_code == 401
    assert login(client, name).status_code == 429


def test_another_address_is_not_locked_out(app, world):
    name = world.user("finance")
    fail(client_from(app, "203.0.113.9"), name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    assert login(client_from(app, "203.0.113.9"), name).status_code == 429
    assert login(client_from(app, "198.51.100.20"), name).status_code == 302  # the user, from the office


def test_the_lock_is_in_the_database_so_every_worker_sees_it(app, world, database_url):
    name = world.user("finance")
    fail(client_from(app, "203.0.113.10"), name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    other_worker = make_app(database_url)  # another process's app: nothing shared but the database
    assert login(client_from(other_worker, "203.0.113.10"), name).status_code == 429
    row = world.get(LoginThrottle, username=throttle_key(name, "203.0.113.10"))
    assert row["failures"] == 5 and row["locked_until"] is not None
    assert name not in row["username"]  # the table keeps a digest, not the names people tried


def test_the_lock_ends_after_the_window_and_a_success_clears_the_counter(app, world):
    name = world.user("finance")
    client = client_from(app, "203.0.113.11")
    fail(client, name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    with freeze(utcnow() + dt.timedelta(minutes=app.config["PORTAL_LOGIN_LOCK_MINUTES"] + 1)):
        assert login(client, name).status_code == 302
    assert world.get(LoginThrottle, username=throttle_key(name, "203.0.113.11")) is None


def test_unknown_names_are_throttled_like_real_ones(app, world):
    client = client_from(app, "203.0.113.12")
    fail(client, "nobody.here", app.config["PORTAL_LOGIN_MAX_FAILURES"])
    assert login(client, "nobody.here", WRONG).status_code == 429
    assert login(client, "NOBODY.here ", WRONG).status_code == 429  # case and spaces do not make a new name


def test_bearer_tokens_are_never_throttled(app, world):
    name = world.user("finance")
    personal = world.auth(name)  # issued before the lock
    mes = {"Authorization": f"Bearer {world.integration_token('production')}"}
    client = client_from(app, "127.0.0.1")
    fail(client, name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    assert login(client, name).status_code == 429
    for _ in range(20):
        assert client.get("/api/v1/dealers", headers=personal).status_code == 200
    assert client.get("/api/v1/dealers", headers=mes).status_code == 403  # authenticated (scope says no), not 429
    assert world.get(LoginThrottle, username=throttle_key(name, "127.0.0.1"))["failures"] == 5  # tokens add nothing


def test_the_message_is_in_chinese_for_a_chinese_browser(app, world):
    name = world.user("finance")
    client = client_from(app, "203.0.113.13", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    fail(client, name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    assert "登录失败次数过多，请15分钟后再试。" in login(client, name).get_data(as_text=True)


def test_a_forged_forwarded_for_does_not_escape_the_lock_without_a_trusted_proxy(app, world, database_url):
    name = world.user("finance")
    client = client_from(app, "203.0.113.14")
    fail(client, name, app.config["PORTAL_LOGIN_MAX_FAILURES"])
    page = client.get("/login")
    forged = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_token_from(page.get_data(as_text=True))},
        headers={"X-Forwarded-For": "192.0.2.99"},
    )
    assert forged.status_code == 429
    # behind nginx (one trusted proxy) the client's address is the one nginx saw
    behind = make_app(database_url, PORTAL_TRUSTED_PROXIES=1)
    proxy = client_from(behind, "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.14")
    assert login(proxy, name).status_code == 429
    office = client_from(behind, "127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.30")
    assert login(office, name).status_code == 302


def test_concurrent_failures_are_all_counted(world, database_url):
    """Eight attempts at once from eight connections: one UPDATE each, no lost increment (the lock holds however
    the attempts are spread over workers)."""
    app = make_app(database_url, PORTAL_LOGIN_MAX_FAILURES=100)
    name = world.user("finance")
    pages = []
    for _ in range(8):
        client = client_from(app, "203.0.113.15")
        pages.append((client, csrf_token_from(client.get("/login").get_data(as_text=True))))
    statuses: list[int] = []
    barrier = threading.Barrier(len(pages))

    def attempt(client, token):
        barrier.wait()
        resp = client.post("/login", data={"username": name, "password": WRONG, "csrf_token": token})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in pages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [401] * 8
    assert world.get(LoginThrottle, username=throttle_key(name, "203.0.113.15"))["failures"] == 8
