"""Users: six roles, each tied to a dealer or a region as the role says; dealer_admins manage their own staff."""

from __future__ import annotations

import pytest

from portal.dealers.models import User
from tests.conftest import PASSWORD, login, page_csrf

NEW_PW = "Fresh-pass-2026"


@pytest.fixture
def setup(world):
    world.region("EAST")
    world.dealer("SH-001", "EAST")
    world.dealer("SH-002", "EAST")
    return {"admin": world.auth(world.user("hq_admin", username="boss"))}


@pytest.mark.parametrize(
    "role,attach,ok",
    [
        ("dealer_staff", {"dealer_code": "SH-001"}, True),
        ("dealer_admin", {"dealer_code": "SH-001"}, True),
        ("region_manager", {"region_code": "EAST"}, True),
        ("channel_manager", {}, True),
        ("finance", {}, True),
        ("hq_admin", {}, True),
        ("dealer_staff", {}, False),
        ("region_manager", {"dealer_code": "SH-001"}, False),
        ("finance", {"region_code": "EAST"}, False),
    ],
)
def test_roles_are_tied_to_a_dealer_or_a_region_as_the_role_says(client, setup, role, attach, ok):
    resp = client.post(
        "/api/v1/users",
        json={"username": f"u.{role}", "password": NEW_PW, "role": role, **attach},
        headers=setup["admin"],
    )
    assert resp.status_code == (201 if ok else 422), resp.get_json()


def test_password_policy(client, setup):
    for bad in ("short1", "onlyletterslong", "12345678901", "u.policy-Long-1"):
        resp = client.post(
            "/api/v1/users", json={"username": "u.policy", "password": bad, "role": "finance"}, headers=setup["admin"]
        )
        assert resp.status_code == 422 and "password" in resp.get_json()["error"]["fields"], bad


def test_usernames_are_unique_whatever_the_case(client, setup):
    body = {"username": "Zhang.Wei", "password": NEW_PW, "role": "finance"}
    assert client.post("/api/v1/users", json=body, headers=setup["admin"]).status_code == 201
    assert (
        client.post("/api/v1/users", json={**body, "username": "zhang.wei"}, headers=setup["admin"]).status_code == 422
    )


def test_a_dealer_admin_manages_its_own_staff_only(client, world, setup):
    da = world.auth(world.user("dealer_admin", dealer="SH-001", username="sh1.admin"))
    ok = client.post(
        "/api/v1/users", json={"username": "sh1.new", "password": NEW_PW, "role": "dealer_staff"}, headers=da
    )
    assert ok.status_code == 201 and ok.get_json()["dealer_code"] == "SH-001"
    for body in (
        {"username": "x1", "password": NEW_PW, "role": "dealer_staff", "dealer_code": "SH-002"},
        {"username": "x2", "password": NEW_PW, "role": "finance"},
        {"username": "x3", "password": NEW_PW, "role": "region_manager", "region_code": "EAST"},
    ):
        assert client.post("/api/v1/users", json=body, headers=da).status_code == 422, body
    other = world.user("dealer_staff", dealer="SH-002", username="sh2.staff")
    assert client.patch(f"/api/v1/users/{other}", json={"active": False}, headers=da).status_code == 404
    assert client.patch("/api/v1/users/sh1.new", json={"active": False}, headers=da).status_code == 200
    assert client.patch("/api/v1/users/sh1.new", json={"role": "hq_admin"}, headers=da).status_code == 422
    listed = [u["username"] for u in client.get("/api/v1/users", headers=da).get_json()["items"]]
    assert listed == ["sh1.admin", "sh1.new"]


def test_dealer_staff_cannot_manage_users(client, world, setup):
    staff = world.auth(world.user("dealer_staff", dealer="SH-001"))
    assert client.get("/api/v1/users", headers=staff).status_code == 403
    assert client.post("/api/v1/users", json={}, headers=staff).status_code == 403


def test_nobody_changes_their_own_role(client, setup):
    assert client.patch("/api/v1/users/boss", json={"role": "finance"}, headers=setup["admin"]).status_code == 422


def test_a_user_changes_their_own_password_and_language(client, world, setup):
    name = world.user("finance", locale="zh_CN")
    headers = world.auth(name)
    resp = client.patch("/api/v1/me", json={"current_password": "wrong-one-1", "password": NEW_PW}, headers=headers)
    assert resp.status_code == 422 and "current_password" in resp.get_json()["error"]["fields"]
    resp = client.patch(
        "/api/v1/me", json={"current_password": PASSWORD, "password": NEW_PW, "locale": "en"}, headers=headers
    )
    assert resp.status_code == 200 and resp.get_json()["locale"] == "en"
    assert login(client, name, NEW_PW).status_code == 302


def test_users_in_the_browser(client, world, setup):
    login(client, world.user("hq_admin"))
    csrf = page_csrf(client, "/users/new")
    form = {
        "username": "rm.east",
        "display_name": "华东经理",
        "role": "region_manager",
        "region_code": "EAST",
        "dealer_code": "",
        "locale": "zh_CN",
        "active": "y",
        "password": NEW_PW,
        "csrf_token": csrf,
    }
    resp = client.post("/users/new", data=form)
    assert resp.status_code == 302
    assert world.get(User, username="rm.east")["role"] == "region_manager"
    resp = client.post("/users/rm.east/edit", data={**form, "password": "", "region_code": ""})
    assert resp.status_code == 422 and "Required for a region manager" in resp.get_data(as_text=True)
    page = client.get("/users?role=region_manager").get_data(as_text=True)
    assert "rm.east" in page and "boss" not in page


def test_a_dealer_admin_adds_staff_in_the_browser(client, world, setup):
    login(client, world.user("dealer_admin", dealer="SH-001"))
    csrf = page_csrf(client, "/users/new")
    form = {
        "username": "sh1.sales",
        "role": "dealer_staff",
        "locale": "zh_CN",
        "active": "y",
        "password": NEW_PW,
        "csrf_token": csrf,
    }
    # a tampered form naming another dealer is refused
    assert client.post("/users/new", data={**form, "dealer_code": "SH-002"}).status_code == 422
    resp = client.post("/users/new", data=form)
    assert resp.status_code == 302
    assert (
        world.get(User, username="sh1.sales")["dealer_id"]
        == world.get(__import__("portal.dealers.models", fromlist=["Dealer"]).Dealer, code="SH-001")["id"]
    )


def test_language_switch_is_saved_for_the_user(client, world):
    name = world.user("finance", locale="zh_CN")
    login(client, name)
    csrf = page_csrf(client)
    client.post("/lang/en", data={"csrf_token": csrf, "next": "/home"})
    assert world.get(User, username=name)["locale"] == "en"
