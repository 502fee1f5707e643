"""The password policy: at least 10 characters, not all digits (letters mixed with digits or symbols), not the
username, not a common password; enforced on every path that sets a password (API and browser user creation and
reset, the account page, PATCH /me, the CLI), and the demo password still passes."""

from __future__ import annotations

import pytest

from portal.dealers.models import User
from portal.dealers.services import COMMON_PASSWORDS, check_password_policy
from portal.demo import DEMO_PASSWORD
from portal.platform.errors import Invalid
from tests.conftest import PASSWORD, login, page_csrf

GOOD = "Harbour-lamp-42"


def problems(app, password: str, username: str = "li.na") -> list[str]:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        try:
            check_password_policy(password, username)
        except Invalid as exc:
            return [str(m) for m in exc.fields["password"]]
    return []


@pytest.mark.parametrize(
    "password,why",
    [
        ("Short-1", "At least 10 characters."),
        ("12345678901234", "Mix letters with digits or symbols."),
        ("onlyletterslong", "Mix letters with digits or symbols."),
        ("li.na", "Must not contain the username."),
        ("LI.NA-2026-spring", "Must not contain the username."),
        ("Password123", "This password is too common"),
        ("QWERTY12345", "This password is too common"),
        ("woaini1314", "This password is too common"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(app, password, why):
    assert any(why in p for p in problems(app, password)), problems(app, password)


@pytest.mark.parametrize("password", [DEMO_PASSWORD, GOOD, PASSWORD, "长城-2026-password-x", "x" * 9 + "!"])
def test_a_reasonable_password_passes(app, password):
    assert problems(app, password) == []


def test_the_common_list_holds_only_passwords_that_pass_the_other_rules_or_are_common_anyway():
    assert DEMO_PASSWORD == "demo-pass-2026" and DEMO_PASSWORD not in COMMON_PASSWORDS
    assert all(p == p.lower() for p in COMMON_PASSWORDS)


@pytest.fixture
def admin(world):
    world.region("EAST")
    world.dealer("SH-001", "EAST")
    return world.auth(world.user("hq_admin", username="boss"))


def test_the_api_refuses_a_common_password_for_a_new_user_and_a_reset(client, world, admin):
    body = {"username": "u.common", "password": "Password123", "role": "finance"}
    resp = client.post("/api/v1/users", json=body, headers=admin)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"]["password"] == [
        "This password is too common; choose one that is harder to guess."
    ]
    assert world.get(User, username="u.common") is None
    assert client.post("/api/v1/users", json={**body, "password": GOOD}, headers=admin).status_code == 201
    resp = client.patch("/api/v1/users/u.common", json={"password": "admin123456"}, headers=admin)
    assert resp.status_code == 422 and "password" in resp.get_json()["error"]["fields"]
    assert login(client, "u.common", GOOD).status_code == 302  # the old password still holds


def test_own_password_change_is_checked_through_the_api_and_the_account_page(client, world):
    name = world.user("finance")
    headers = world.auth(name)
    resp = client.patch("/api/v1/me", json={"current_password": PASSWORD, "password": "1234567890"}, headers=headers)
    assert resp.status_code == 422 and "password" in resp.get_json()["error"]["fields"]
    login(client, name)
    csrf = page_csrf(client)
    resp = client.post(
        "/account",
        data={"action": "password", "pw-current_password": PASSWORD, "pw-password": "welcome123",
              "csrf_token": csrf, "pw-csrf_token": csrf},
    )  # fmt: skip
    assert resp.status_code == 422 and "This password is too common" in resp.get_data(as_text=True)
    assert login(client.application.test_client(), name, PASSWORD).status_code == 302  # unchanged


def test_the_browser_user_form_refuses_a_password_equal_to_the_username(client, world, admin):
    login(client, world.user("hq_admin"))
    csrf = page_csrf(client, "/users/new")
    form = {"username": "wang.fang", "role": "finance", "locale": "zh_CN", "active": "y", "csrf_token": csrf}
    resp = client.post("/users/new", data={**form, "password": "wang.fang-1"})
    assert resp.status_code == 422 and "Must not contain the username." in resp.get_data(as_text=True)
    assert world.get(User, username="wang.fang") is None


def test_the_cli_refuses_a_common_password(app, world):
    result = app.test_cli_runner().invoke(args=["create-user", "zhao.lei", "--role", "finance"], input="qwerty12345\n")
    assert result.exit_code == 1 and "error: password:" in result.output  # in the default language (zh_CN)
    assert world.get(User, username="zhao.lei") is None
