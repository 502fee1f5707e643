"""Dealers: every §1 field, managed by HQ in the API and the browser, listed with filters and export."""

from __future__ import annotations

import csv
import io

import pytest

from portal.dealers.models import Dealer
from tests.conftest import login, page_csrf

FULL = {
    "code": "SH-001",
    "name": "上海华通浦东汽车销售服务有限公司",
    "region_code": "SH",
    "tier": "A",
    "channel_type": "4s_store",
    "payment_terms_days": 45,
    "status": "active",
    "contact_name": "王伟",
    "contact_phone": "13800000000",
    "contact_email": "sh001@example.cn",
    "address": "上海市浦东新区世纪大道1号",
}


@pytest.fixture
def regions(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")


def test_channel_manager_creates_and_reads_a_dealer(client, world, regions):
    cm = world.auth(world.user("channel_manager"))
    resp = client.post("/api/v1/dealers", json=FULL, headers=cm)
    assert resp.status_code == 201
    got = client.get("/api/v1/dealers/SH-001", headers=cm).get_json()
    assert {k: got[k] for k in FULL} == FULL and got["region_name"] == "区域 SH"


def test_payment_terms_default_to_30_days(client, world, regions):
    cm = world.auth(world.user("channel_manager"))
    body = {k: FULL[k] for k in ("code", "name", "region_code", "tier", "channel_type")}
    assert client.post("/api/v1/dealers", json=body, headers=cm).get_json()["payment_terms_days"] == 30


def test_patch_changes_only_what_is_sent_and_the_code_is_fixed(client, world, regions):
    cm = world.auth(world.user("channel_manager"))
    client.post("/api/v1/dealers", json=FULL, headers=cm)
    resp = client.patch("/api/v1/dealers/SH-001", json={"status": "suspended", "region_code": "NORTH"}, headers=cm)
    assert resp.status_code == 200
    row = world.get(Dealer, code="SH-001")
    assert row["status"] == "suspended" and row["tier"] == "A"
    assert client.patch("/api/v1/dealers/SH-001", json={"code": "X"}, headers=cm).status_code == 422


def test_dealer_users_see_their_own_dealer_only(client, world, regions):
    world.dealer("SH-001", "SH")
    world.dealer("SH-002", "SH")
    staff = world.auth(world.user("dealer_staff", dealer="SH-001"))
    assert [d["code"] for d in client.get("/api/v1/dealers", headers=staff).get_json()["items"]] == ["SH-001"]
    assert client.get("/api/v1/dealers/SH-002", headers=staff).status_code == 404
    assert client.patch("/api/v1/dealers/SH-001", json={"tier": "A"}, headers=staff).status_code == 403


def test_list_filters(client, world, regions):
    world.dealer("SH-001", "SH", tier="A", name="上海一号")
    world.dealer("SH-002", "SH", tier="B", channel_type="chain")
    world.dealer("BJ-001", "NORTH", tier="A", status="suspended")
    cm = world.auth(world.user("channel_manager"))

    def codes(query):
        return [d["code"] for d in client.get(f"/api/v1/dealers?{query}", headers=cm).get_json()["items"]]

    assert codes("region=EAST") == ["SH-001", "SH-002"]
    assert codes("tier=A") == ["BJ-001", "SH-001"]
    assert codes("status=suspended") == ["BJ-001"]
    assert codes("channel_type=chain") == ["SH-002"]
    assert codes("q=上海一") == ["SH-001"]
    assert codes("q=sh-00&tier=B") == ["SH-002"]


def test_dealers_in_the_browser_create_edit_filter_export(client, world, regions):
    login(client, world.user("channel_manager"))
    csrf = page_csrf(client, "/dealers/new")
    form = {**FULL, "csrf_token": csrf}
    resp = client.post("/dealers/new", data=form)
    assert resp.status_code == 302
    detail = client.get("/dealers/SH-001").get_data(as_text=True)
    assert FULL["name"] in detail and FULL["address"] in detail
    resp = client.post("/dealers/SH-001/edit", data={**form, "payment_terms_days": "400"})
    assert resp.status_code == 422
    assert world.get(Dealer, code="SH-001")["payment_terms_days"] == 45
    resp = client.post("/dealers/SH-001/edit", data={**form, "tier": "C"})
    assert resp.status_code == 302 and world.get(Dealer, code="SH-001")["tier"] == "C"
    world.dealer("BJ-001", "NORTH")
    page = client.get("/dealers?region=EAST").get_data(as_text=True)
    assert "SH-001" in page and "BJ-001" not in page
    export = client.get("/dealers?region=EAST&format=csv")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["code"] for r in rows] == ["SH-001"] and rows[0]["name"] == FULL["name"]


def test_the_browser_form_refuses_a_duplicate_code_with_a_message(client, world, regions):
    world.dealer("SH-001", "SH")
    login(client, world.user("channel_manager"))
    csrf = page_csrf(client, "/dealers/new")
    resp = client.post("/dealers/new", data={**FULL, "csrf_token": csrf})
    assert resp.status_code == 422 and "already exists" in resp.get_data(as_text=True)


def test_csv_export_neutralises_formulas(client, world, regions):
    world.dealer("SH-001", "SH", name='=HYPERLINK("http://evil")')
    login(client, world.user("channel_manager"))
    text = client.get("/dealers?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_list_pages_page(client, world, regions):
    for i in range(30):
        world.dealer(f"SH-{i:03d}", "SH")
    login(client, world.user("channel_manager"))
    page2 = client.get("/dealers?page=2").get_data(as_text=True)
    assert "SH-029" in page2 and "SH-000" not in page2
