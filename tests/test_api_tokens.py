"""API authentication: personal bearer tokens that expire, integration tokens with a scope."""

from __future__ import annotations

import datetime as dt

from portal.dealers.models import ApiToken
from portal.platform.timeutil import freeze, utcnow
from tests.conftest import PASSWORD


def test_token_from_username_and_password(client, world, app):
    name = world.user("channel_manager")
    resp = client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
    assert resp.status_code == 201
    body = resp.get_json()
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert (
        dt.timedelta(hours=app.config["PORTAL_TOKEN_HOURS"] - 1)
        < expires - utcnow()
        <= dt.timedelta(hours=app.config["PORTAL_TOKEN_HOURS"])
    )
    listed = client.get("/api/v1/dealers", headers={"Authorization": f"Bearer {body['token']}"})
    assert listed.status_code == 200
    # only a hash is stored
    assert world.count(ApiToken, token_hash=body["token"]) == 0


def test_wrong_password_gives_no_token(client, world):
    name = world.user("finance")
    resp = client.post("/api/v1/auth/token", json={"username": name, "password": "nope-nope-1"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "invalid_credentials"


def test_an_expired_token_is_refused(client, world, app):
    headers = world.auth(world.user("finance"))
    assert client.get("/api/v1/dealers", headers=headers).status_code == 200
    with freeze(utcnow() + dt.timedelta(hours=app.config["PORTAL_TOKEN_HOURS"], seconds=1)):
        resp = client.get("/api/v1/dealers", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"] == "Bearer"


def test_garbage_and_missing_tokens_are_refused(client):
    assert client.get("/api/v1/dealers").status_code == 401
    assert client.get("/api/v1/dealers", headers={"Authorization": "Bearer drp_u_forged"}).status_code == 401


def test_a_deactivated_users_tokens_stop_working(client, world):
    name = world.user("finance")
    headers = world.auth(name)
    admin = world.auth(world.user("hq_admin"))
    assert client.patch(f"/api/v1/users/{name}", json={"active": False}, headers=admin).status_code == 200
    assert client.get("/api/v1/dealers", headers=headers).status_code == 401


def test_integration_tokens_hold_only_their_scope(client, world):
    production = {"Authorization": f"Bearer {world.integration_token('production')}"}
    erp = {"Authorization": f"Bearer {world.integration_token('erp', 'erp')}"}
    for headers in (production, erp):
        assert client.get("/api/v1/dealers", headers=headers).status_code == 403
        assert client.post("/api/v1/dealers", json={}, headers=headers).status_code == 403
        assert client.get("/api/v1/me", headers=headers).status_code == 403


def test_integration_tokens_are_stored_hashed_with_their_scope(world):
    raw = world.integration_token("erp", "bank-import")
    stored = world.get(ApiToken, name="bank-import")
    assert stored["scope"] == "erp" and stored["kind"] == "integration"
    assert raw not in stored["token_hash"] and stored["user_id"] is None


def test_a_bearer_token_needs_no_csrf_token_but_a_browser_session_does(client, world):
    from tests.conftest import login

    world.region("RX")
    admin = world.user("hq_admin")
    body = {"code": "NEW1", "name": "新区一", "parent_code": "RX"}
    assert client.post("/api/v1/regions", json=body, headers=world.auth(admin)).status_code == 201
    login(client, admin)
    resp = client.post("/api/v1/regions", json={**body, "code": "NEW2"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "csrf_failed"
