"""Browser login: hashed passwords, CSRF, throttling, logout, sessions end on a password change."""

from __future__ import annotations

import datetime as dt

from portal.dealers.models import LoginThrottle, User
from portal.dealers.services import throttle_key
from portal.platform.timeutil import freeze, utcnow
from tests.conftest import PASSWORD, csrf_token_from, login, page_csrf


def test_passwords_are_stored_hashed(world):
    name = world.user("finance")
    stored = world.get(User, username=name)["password_hash"]
    assert PASSWORD not in stored and stored.startswith("pbkdf2:")


def test_login_then_home_then_logout(client, world):
    name = world.user("channel_manager")
    resp = login(client, name)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    resp = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert resp.status_code == 302
    assert client.get("/home").status_code == 302  # back to the login page


def test_wrong_password_is_refused_with_a_message(client, world):
    name = world.user("finance")
    resp = login(client, name, "Wrong-pass-999")
    assert resp.status_code == 401
    assert "Wrong username or password" in resp.get_data(as_text=True)


def test_a_form_without_csrf_token_is_refused(client, world):
    name = world.user("finance")
    resp = client.post("/login", data={"username": name, "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/home").status_code == 302  # not logged in


def test_a_write_without_csrf_token_changes_nothing(client, world):
    world.region("RX")
    login(client, world.user("hq_admin"))
    resp = client.post("/regions/new", data={"code": "NEW", "name": "新区", "approval_limit": "0"})
    assert resp.status_code == 400
    assert world.get(__import__("portal.dealers.models", fromlist=["Region"]).Region, code="NEW") is None


def test_login_is_throttled_after_repeated_failures(client, world, app):
    name = world.user("finance")
    limit = app.config["PORTAL_LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert login(client, name, "Wrong-pass-999").status_code == 401
    # locked: even the right password is refused, and the API token endpoint says the same
    resp = login(client, name)
    assert resp.status_code == 429
    api = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert api.status_code == 429 and api.get_json()["error"]["code"] == "login_throttled"
    # after the lock window the right password works again and the counter is cleared
    later = utcnow() + dt.timedelta(minutes=app.config["PORTAL_LOGIN_LOCK_MINUTES"] + 1)
    with freeze(later):
        assert login(client, name).status_code == 302
    assert world.get(LoginThrottle, username=throttle_key(name, "127.0.0.1")) is None


def test_unknown_usernames_are_throttled_alike(client, world, app):
    for _ in range(app.config["PORTAL_LOGIN_MAX_FAILURES"]):
        login(client, "nobody", "Wrong-pass-999")
    assert login(client, "nobody", "Wrong-pass-999").status_code == 429


def test_failures_outside_the_window_do_not_add_up(client, world, app):
    name = world.user("finance")
    limit = app.config["PORTAL_LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        login(client, name, "Wrong-pass-999")
    with freeze(utcnow() + dt.timedelta(minutes=app.config["PORTAL_LOGIN_LOCK_MINUTES"] + 1)):
        assert login(client, name, "Wrong-pass-999").status_code == 401
        assert world.get(LoginThrottle, username=throttle_key(name, "127.0.0.1"))["failures"] == 1


def test_deactivated_users_cannot_log_in(client, world):
    name = world.user("finance", active=False)
    assert login(client, name).status_code == 401


def test_next_parameter_never_leaves_the_site(client, world):
    name = world.user("finance")
    page = client.get("/login?next=https://evil.example/x")
    token = csrf_token_from(page.get_data(as_text=True))
    resp = client.post(
        "/login?next=https://evil.example/x", data={"username": name, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.headers["Location"].endswith("/home")


def test_changing_the_password_ends_other_sessions(app, world):
    name = world.user("finance")
    first, second = app.test_client(), app.test_client()
    login(first, name)
    login(second, name)
    csrf = page_csrf(first)
    resp = first.post(
        "/account",
        data={
            "action": "password",
            "pw-current_password": PASSWORD,
            "pw-password": "Another-pass-456",
            "csrf_token": csrf,
            "pw-csrf_token": csrf,
        },
    )
    assert resp.status_code == 302
    assert first.get("/home").status_code == 200  # this session continues
    assert second.get("/home").status_code == 302  # the other one is logged out


def test_session_cookie_flags(client, world, app):
    resp = login(client, world.user("finance"))
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["SESSION_COOKIE_SECURE"] is False  # demo default; PORTAL_SECURE_COOKIES=1 behind TLS


def test_secure_cookies_and_hsts_behind_tls(database_url):
    from tests.conftest import make_app

    app = make_app(database_url, SESSION_COOKIE_SECURE=True, PORTAL_SECURE_COOKIES=True)
    resp = app.test_client().get("/login", base_url="https://localhost")
    assert "Strict-Transport-Security" in resp.headers
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
