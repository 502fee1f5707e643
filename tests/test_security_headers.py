"""Security headers on every answer, HSTS only over TLS (behind a trusted proxy), cookie flags, and the secret key
coming only from the environment in production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.config import Config, ConfigError
from tests.conftest import login, make_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _check_headers(resp) -> None:
    csp = resp.headers["Content-Security-Policy"]
    directives = dict((d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in csp.split(";")))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'" and directives["form-action"] == "'self'"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in resp.headers["Permissions-Policy"]


def test_every_kind_of_answer_carries_the_headers(client, world):
    login(client, world.user("finance"))
    for url, status in (("/home", 200), ("/no-such-page", 404), ("/api/v1/openapi.json", 200), ("/api/v1/nope", 404)):
        resp = client.get(url)
        assert resp.status_code == status, url
        _check_headers(resp)
    anonymous = client.application.test_client()
    for url in ("/login", "/api/v1/dealers", "/static/portal.css"):
        resp = anonymous.get(url)
        _check_headers(resp)
        resp.close()  # a static file is streamed from disk: close it


def test_no_hsts_over_plain_http_even_with_secure_cookies(database_url):
    app = make_app(database_url, PORTAL_SECURE_COOKIES=True, SESSION_COOKIE_SECURE=True)
    resp = app.test_client().get("/login")
    assert "Strict-Transport-Security" not in resp.headers


def test_hsts_when_the_request_came_over_tls(client):
    resp = client.get("/login", base_url="https://portal.example")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_behind_a_trusted_proxy_x_forwarded_proto_decides(database_url):
    behind = make_app(database_url, PORTAL_TRUSTED_PROXIES=1).test_client()
    assert "Strict-Transport-Security" in behind.get("/login", headers={"X-Forwarded-Proto": "https"}).headers
    assert "Strict-Transport-Security" not in behind.get("/login", headers={"X-Forwarded-Proto": "http"}).headers
    # with no trusted proxy (the default) the header is the client's word and is ignored
    direct = make_app(database_url).test_client()
    assert "Strict-Transport-Security" not in direct.get("/login", headers={"X-Forwarded-Proto": "https"}).headers


def test_session_cookie_is_httponly_lax_and_secure_behind_tls(database_url, world, app):
    name = world.user("finance")
    cookie = login(app.test_client(), name).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # the demo over plain HTTP
    secure_app = make_app(database_url, SESSION_COOKIE_SECURE=True, PORTAL_SECURE_COOKIES=True)
    cookie = login(secure_app.test_client(), name).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.config["PERMANENT_SESSION_LIFETIME"] == 12 * 3600 == app.config["WTF_CSRF_TIME_LIMIT"]


def test_templates_have_no_inline_script_style_or_event_handler():
    """What the CSP would block in the browser: kept out of the templates altogether."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            if "src=" not in tag:
                offenders.append(f"{path}: inline {tag}")
        if re.search(r"<style\b", text, flags=re.I):
            offenders.append(f"{path}: <style> block")
        for attr in re.findall(r"\s(style|on[a-z]+)\s*=", text, flags=re.I):
            offenders.append(f"{path}: {attr}= attribute")
        if re.search(r"javascript:", text, flags=re.I):
            offenders.append(f"{path}: javascript: URL")
    assert not offenders, offenders


# ------------------------------------------------------------------ configuration


def test_production_refuses_to_start_without_a_secret_key_from_the_environment(tmp_path):
    (tmp_path / "secret_key").write_text("k" * 64)  # a key file on disk does not count in production
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config(str(tmp_path), env={"PORTAL_ENV": "production"})
    with pytest.raises(ConfigError, match="32"):
        Config(str(tmp_path), env={"PORTAL_ENV": "production", "SECRET_KEY": "short"})
    cfg = Config(str(tmp_path), env={"PORTAL_ENV": "production", "SECRET_KEY": "s" * 40})
    assert cfg.SECRET_KEY == "s" * 40
    assert cfg.SESSION_COOKIE_SECURE is True  # production defaults to Secure cookies


def test_development_keeps_its_generated_key(tmp_path):
    first = Config(str(tmp_path), env={})
    assert len(first.SECRET_KEY) == 64 and (tmp_path / "secret_key").read_text() == first.SECRET_KEY
    assert Config(str(tmp_path), env={}).SECRET_KEY == first.SECRET_KEY  # `make demo` keeps its sessions
    assert first.SESSION_COOKIE_SECURE is False and first.PORTAL_TRUSTED_PROXIES == 0
    assert Config(str(tmp_path), env={"SECRET_KEY": "from-env"}).SECRET_KEY == "from-env"
