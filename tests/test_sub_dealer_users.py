"""A distributor's admin manages its sub-dealers' users (§16): what HQ does for its dealers' users, it does for its
sub-dealers' — create (dealer roles only), list, change, reset a password, deactivate — and never for another
dealer's; a sub-dealer's admin manages its own users only (its distributor's and a sibling's: 404, like users that do
not exist). HQ's and the regions' rules are unchanged. In the API and on the pages."""

from __future__ import annotations

import re

import pytest
from werkzeug.security import check_password_hash

from portal.dealers.models import User
from tests.conftest import login, page_csrf

PW = "Fresh-pass-2026"


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("NORTH")
    world.dealer("DIST-1", "EAST")
    world.dealer("DIST-2", "NORTH")
    world.dealer("SH-9", "EAST")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    names = {
        "d1_admin": world.user("dealer_admin", dealer="DIST-1", username="d1.admin"),
        "d1_staff": world.user("dealer_staff", dealer="DIST-1", username="d1.staff"),
        "d2_admin": world.user("dealer_admin", dealer="DIST-2", username="d2.admin"),
        "s1a_admin": world.user("dealer_admin", dealer="SUB-1A", username="s1a.admin"),
        "s1a_staff": world.user("dealer_staff", dealer="SUB-1A", username="s1a.staff"),
        "s1b_staff": world.user("dealer_staff", dealer="SUB-1B", username="s1b.staff"),
        "s2a_staff": world.user("dealer_staff", dealer="SUB-2A", username="s2a.staff"),
        "sh9_admin": world.user("dealer_admin", dealer="SH-9", username="sh9.admin"),
        "root": world.user("hq_admin", username="root"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
    }
    return {"names": names, **{k: world.auth(v) for k, v in names.items()}}


def _new(username, **extra):
    return {"username": username, "password": PW, "role": "dealer_staff", **extra}


def _listed(client, auth, query=""):
    resp = client.get(f"/api/v1/users?per_page=500{query}", headers=auth)
    assert resp.status_code == 200
    return sorted(u["username"] for u in resp.get_json()["items"])


def test_a_distributors_admin_creates_users_for_its_sub_dealers(client, world, channel):
    da = channel["d1_admin"]
    resp = client.post("/api/v1/users", json=_new("s1a.new", dealer_code="SUB-1A"), headers=da)
    assert resp.status_code == 201 and resp.get_json()["dealer_code"] == "SUB-1A"
    resp = client.post("/api/v1/users", json=_new("s1b.boss", role="dealer_admin", dealer_code="sub-1b"), headers=da)
    assert resp.status_code == 201 and resp.get_json()["dealer_code"] == "SUB-1B"
    own = client.post("/api/v1/users", json=_new("d1.new"), headers=da)  # no dealer_code: its own dealer
    assert own.status_code == 201 and own.get_json()["dealer_code"] == "DIST-1"


@pytest.mark.parametrize(
    "body,field",
    [
        (_new("x1", dealer_code="SUB-2A"), "dealer_code"),  # another distributor's sub-dealer
        (_new("x2", dealer_code="DIST-2"), "dealer_code"),
        (_new("x3", dealer_code="SH-9"), "dealer_code"),
        (_new("x4", dealer_code="NOPE"), "dealer_code"),
        (_new("x5", role="finance", dealer_code=None), None),
        (_new("x6", role="region_manager", dealer_code=None, region_code="EAST"), None),
    ],
)
def test_never_for_another_dealer_nor_for_hq_roles(client, world, channel, body, field):
    before = world.count(User)
    resp = client.post("/api/v1/users", json=body, headers=channel["d1_admin"])
    assert resp.status_code == 422, resp.get_json()
    if field == "dealer_code":  # the same words whether the dealer exists or not: nothing about others leaks
        assert resp.get_json()["error"]["fields"]["dealer_code"] == ["Your own dealer or one of your sub-dealers only."]
    assert world.count(User) == before


def test_it_lists_changes_resets_and_deactivates_its_sub_dealers_users(client, world, channel):
    da = channel["d1_admin"]
    assert _listed(client, da) == ["d1.admin", "d1.staff", "s1a.admin", "s1a.staff", "s1b.staff"]
    assert _listed(client, da, "&dealer=SUB-1A") == ["s1a.admin", "s1a.staff"]
    assert _listed(client, da, "&dealer=SUB-2A") == []
    assert client.get("/api/v1/users/s1a.staff", headers=da).get_json()["dealer_code"] == "SUB-1A"

    resp = client.patch("/api/v1/users/s1a.staff", json={"role": "dealer_admin", "display_name": "王芳"}, headers=da)
    assert resp.status_code == 200 and resp.get_json()["role"] == "dealer_admin"
    resp = client.patch("/api/v1/users/s1a.staff", json={"password": PW}, headers=da)
    assert resp.status_code == 200
    assert world.run(lambda: check_password_hash(
        User.query.filter_by(username="s1a.staff").one().password_hash, PW))  # fmt: skip
    resp = client.patch("/api/v1/users/s1b.staff", json={"dealer_code": "SUB-1A"}, headers=da)  # between its own
    assert resp.status_code == 200 and resp.get_json()["dealer_code"] == "SUB-1A"
    resp = client.patch("/api/v1/users/s1a.admin", json={"active": False}, headers=da)
    assert resp.status_code == 200 and world.get(User, username="s1a.admin")["active"] is False
    # never towards another dealer, never an HQ role
    for body in ({"dealer_code": "SUB-2A"}, {"dealer_code": "DIST-2"}, {"role": "finance", "dealer_code": None}):
        assert client.patch("/api/v1/users/s1a.staff", json=body, headers=da).status_code == 422, body
    assert world.get(User, username="s1a.staff")["dealer_id"] is not None
    # another distributor's sub-dealer's user is not there at all
    for method, body in (("GET", None), ("PATCH", {"active": False}), ("PATCH", {"password": PW})):
        assert client.open(f"/api/v1/users/{channel['names']['s2a_staff']}", method=method, json=body,
                           headers=da).status_code == 404  # fmt: skip
    assert world.get(User, username="s2a.staff")["active"] is True


def test_a_sub_dealers_admin_never_reaches_its_distributor_or_a_sibling(client, world, channel):
    sa = channel["s1a_admin"]
    assert _listed(client, sa) == ["s1a.admin", "s1a.staff"]
    for code in ("DIST-1", "SUB-1B", "SUB-2A", "NOPE"):
        resp = client.post("/api/v1/users", json=_new(f"x.{code.lower()}", dealer_code=code), headers=sa)
        assert resp.status_code == 422, code
        assert resp.get_json()["error"]["fields"] == {"dealer_code": ["Your own dealer only."]}
    for username in ("d1.admin", "d1.staff", "s1b.staff"):
        assert client.get(f"/api/v1/users/{username}", headers=sa).status_code == 404, username
        assert client.patch(f"/api/v1/users/{username}", json={"active": False}, headers=sa).status_code == 404
        assert world.get(User, username=username)["active"] is True
    assert client.post("/api/v1/users", json=_new("s1a.second"), headers=sa).get_json()["dealer_code"] == "SUB-1A"
    # and the distributor's staff manage nobody
    assert client.post("/api/v1/users", json=_new("x9", dealer_code="SUB-1A"),
                       headers=channel["d1_staff"]).status_code == 403  # fmt: skip
    assert client.get("/api/v1/users", headers=channel["d1_staff"]).status_code == 403


def test_hq_and_region_rules_are_unchanged(client, world, channel):
    resp = client.post("/api/v1/users", json=_new("s2a.new", dealer_code="SUB-2A"), headers=channel["root"])
    assert resp.status_code == 201 and resp.get_json()["dealer_code"] == "SUB-2A"
    assert client.post("/api/v1/users", json=_new("x.rm", dealer_code="SUB-1A"),
                       headers=channel["rm_east"]).status_code == 403  # fmt: skip
    assert "s1a.staff" in _listed(client, channel["rm_east"]) and "s2a.staff" not in _listed(client, channel["rm_east"])
    # a dealer admin without sub-dealers: its own users only, with the words it always had
    resp = client.post("/api/v1/users", json=_new("x.sh9", dealer_code="SUB-1A"), headers=channel["sh9_admin"])
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"] == {"dealer_code": ["Your own dealer only."]}
    assert _listed(client, channel["sh9_admin"]) == ["sh9.admin"]


def test_the_pages_let_a_distributors_admin_manage_its_sub_dealers_users(app, world, channel):
    client = app.test_client()
    login(client, channel["names"]["d1_admin"])
    form = client.get("/users/new?dealer=SUB-1A").get_data(as_text=True)
    options = re.search(r'<select[^>]*name="dealer_code"[^>]*>(.*?)</select>', form, re.S).group(1)
    assert re.findall(r'value="([^"]+)"', options) == ["DIST-1", "SUB-1A", "SUB-1B"]
    assert '<option selected value="SUB-1A">' in options
    data = {"username": "s1a.page", "display_name": "", "email": "", "role": "dealer_staff",
            "dealer_code": "SUB-1A", "locale": "zh_CN", "active": "y", "password": PW,
            "csrf_token": page_csrf(client, "/users/new")}  # fmt: skip
    assert client.post("/users/new", data=data).status_code == 302
    assert world.get(User, username="s1a.page")["dealer_id"] == world.get(User, username="s1a.staff")["dealer_id"]
    refused = client.post("/users/new", data={**data, "username": "s2a.page", "dealer_code": "SUB-2A"})
    assert refused.status_code == 422 and world.get(User, username="s2a.page") is None

    listing = client.get("/users?dealer=SUB-1A").get_data(as_text=True)
    assert 'id="dealer"' in listing and "s1a.page" in listing and "d1.staff" not in listing
    edit = {**data, "active": "", "password": "", "csrf_token": page_csrf(client, "/users/s1a.staff/edit")}
    edit["username"] = "s1a.staff"
    assert client.post("/users/s1a.staff/edit", data=edit).status_code == 302
    assert world.get(User, username="s1a.staff")["active"] is False
    assert client.get("/users/s2a.staff/edit").status_code == 404

    overview = client.get("/dealers/SUB-1A").get_data(as_text=True)  # the sub-dealer's users, and adding one
    assert 'data-user="s1a.admin"' in overview and 'href="/users/new?dealer=SUB-1A" data-add-user' in overview
    own = client.get("/dealers/DIST-1").get_data(as_text=True)
    assert 'id="users"' not in own  # its own users are on the users page, as for any dealer


def test_a_plain_dealer_admins_form_has_no_dealer_choice(app, channel):
    for who in ("sh9_admin", "s1a_admin"):
        client = app.test_client()
        login(client, channel["names"][who])
        form = client.get("/users/new").get_data(as_text=True)
        assert 'name="dealer_code"' not in form, who
        assert client.get("/dealers/SUB-1A").status_code == (200 if who == "s1a_admin" else 404)
