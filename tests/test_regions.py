"""Regions form a tree with an approval limit; hq_admin manages them; region managers see their subtree."""

from __future__ import annotations

from decimal import Decimal

from portal.dealers.models import Region
from tests.conftest import login, page_csrf


def test_hq_admin_creates_a_region_tree_through_the_api(client, world):
    admin = world.auth(world.user("hq_admin"))
    assert client.post("/api/v1/regions", json={"code": "HQ", "name": "总部"}, headers=admin).status_code == 201
    resp = client.post(
        "/api/v1/regions",
        json={"code": "EAST", "name": "华东大区", "parent_code": "HQ", "approval_limit": "500000"},
        headers=admin,
    )
    assert resp.status_code == 201
    assert resp.get_json() == {
        "code": "EAST",
        "name": "华东大区",
        "parent_code": "HQ",
        "path": "/HQ/EAST/",
        "approval_limit": "500000.00",
    }


def test_moving_a_region_moves_its_subtree(client, world):
    world.region("A")
    world.region("B")
    world.region("A1", parent="A")
    world.region("A11", parent="A1")
    admin = world.auth(world.user("hq_admin"))
    resp = client.patch("/api/v1/regions/A1", json={"parent_code": "B"}, headers=admin)
    assert resp.status_code == 200
    assert world.get(Region, code="A11")["path"] == "/B/A1/A11/"


def test_a_region_cannot_move_under_its_own_subtree(client, world):
    world.region("A")
    world.region("A1", parent="A")
    admin = world.auth(world.user("hq_admin"))
    resp = client.patch("/api/v1/regions/A", json={"parent_code": "A1", "name": "changed"}, headers=admin)
    assert resp.status_code == 422 and "parent_code" in resp.get_json()["error"]["fields"]
    assert world.get(Region, code="A")["name"] != "changed"  # nothing half-written


def test_a_region_manager_sees_its_subtree_only(client, world):
    world.region("A")
    world.region("A1", parent="A")
    world.region("B")
    rm = world.auth(world.user("region_manager", region="A"))
    codes = [r["code"] for r in client.get("/api/v1/regions", headers=rm).get_json()["items"]]
    assert codes == ["A", "A1"]
    assert client.get("/api/v1/regions/B", headers=rm).status_code == 404
    assert client.patch("/api/v1/regions/A1", json={"name": "x"}, headers=rm).status_code == 403


def test_only_hq_admin_writes_regions(client, world):
    for role in ("channel_manager", "finance", "dealer_admin"):
        resp = client.post("/api/v1/regions", json={"code": "Z", "name": "z"}, headers=world.auth(world.user(role)))
        assert resp.status_code == 403, role


def test_regions_in_the_browser(client, world):
    world.region("HQ")
    login(client, world.user("hq_admin"))
    csrf = page_csrf(client, "/regions/new")
    resp = client.post(
        "/regions/new",
        data={"code": "WEST", "name": "西部大区", "parent_code": "HQ", "approval_limit": "400000", "csrf_token": csrf},
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/regions/WEST")
    page = client.get("/regions").get_data(as_text=True)
    assert "西部大区" in page and "400,000.00" in page
    resp = client.post(
        "/regions/WEST/edit", data={"name": "西部", "parent_code": "HQ", "approval_limit": "1.234", "csrf_token": csrf}
    )
    assert resp.status_code == 422 and "two decimal" in resp.get_data(as_text=True)
    assert world.get(Region, code="WEST")["name"] == "西部大区"
    resp = client.post(
        "/regions/WEST/edit", data={"name": "西部", "parent_code": "HQ", "approval_limit": "300000", "csrf_token": csrf}
    )
    assert resp.status_code == 302
    assert world.get(Region, code="WEST")["approval_limit"] == Decimal("300000.00")


def test_regions_export_as_csv_within_the_scope(client, world):
    world.region("A")
    world.region("A1", parent="A", approval_limit="2500.5")
    world.region("B")
    login(client, world.user("region_manager", region="A"))
    text = client.get("/regions?format=csv").get_data(as_text=True)
    assert "A1,区域 A1,A,/A/A1/,2500.50" in text and "/B/" not in text
