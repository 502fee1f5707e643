"""Backorders in the API (PRODUCT.md §12, §9): expected receipts (HQ), the scoped backorder list, moving an order up,
and an order line's `allocated`, `backordered` and `promised_on`; bad input is refused whole in the error shape and
writes nothing; other tenants' backorders are not listed and their dealers answer 404."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.inventory.models import ExpectedReceipt
from portal.platform.timeutil import freeze
from tests.backorders_helpers import check_invariants, set_lead_time

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.region("NORTH")
    for code, region in (("SH-1", "EAST"), ("SH-2", "EAST"), ("BJ-1", "NORTH")):
        world.dealer(code, region)
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    set_lead_time(world, "OIL-1", 15)
    set_lead_time(world, "FLT-1", 5)
    world.stock("OIL-1", 2, "SH")
    with freeze(T0):
        orders = {
            "sh1": world.order("SH-1", [("OIL-1", 5), ("FLT-1", 1), ("CAR-1", 1)]),
            "sh2": world.order("SH-2", [("OIL-1", 4)]),
            "bj1": world.order("BJ-1", [("FLT-1", 2)]),
        }
    return {
        "orders": orders,
        "cm": world.auth(world.user("channel_manager", username="cm")),
        "admin": world.auth(world.user("hq_admin", username="admin")),
        "fin": world.auth(world.user("finance", username="fin")),
        "sh1": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff")),
        "rm_east": world.auth(world.user("region_manager", region="EAST", username="rm.east")),
        "rm_north": world.auth(world.user("region_manager", region="NORTH", username="rm.north")),
    }


def backorders(client, headers, query=""):
    resp = client.get(f"/api/v1/backorders{query}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_hq_records_lists_and_cancels_expected_receipts(client, world, shop):
    with freeze(T0):
        resp = client.post("/api/v1/stock/expected", json={"warehouse_code": "sh", "sku": "OIL-1", "quantity": 6,
                                                            "expected_on": "2026-03-09", "note": "lot 12"},
                           headers=shop["cm"])  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
        made = resp.get_json()
        want = {"warehouse_code": "SH", "sku": "OIL-1", "quantity": 6, "received": 0, "outstanding": 6,
                "expected_on": "2026-03-09", "status": "open", "overdue": False, "note": "lot 12",
                "created_by": "cm"}  # fmt: skip
        assert {k: made[k] for k in want} == want
        listed = client.get("/api/v1/stock/expected?sku=OIL-1", headers=shop["fin"]).get_json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == made["id"]
        # the backorders of OIL-1 are promised on it now: 3 + 4 = 7 > 6, so the second waits for the lead time
        items = backorders(client, shop["cm"], "?sku=OIL-1")["items"]
        assert [(i["order_number"], i["backordered"], i["promised_on"]) for i in items] == [
            (shop["orders"]["sh1"], 3, "2026-03-09"), (shop["orders"]["sh2"], 4, "2026-03-17")]  # fmt: skip
        cancelled = client.post(f"/api/v1/stock/expected/{made['id']}/cancel", json={"reason": "late"},
                                headers=shop["admin"])  # fmt: skip
        assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
        again = client.post(f"/api/v1/stock/expected/{made['id']}/cancel", json={}, headers=shop["cm"])
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_open"
        missing = client.post("/api/v1/stock/expected/987654/cancel", json={}, headers=shop["cm"])
        assert missing.status_code == 404
    assert world.get(AuditEntry, action="stock.expect", object_key=str(made["id"]))["actor"] == "cm"
    assert world.get(AuditEntry, action="stock.expect_cancel", object_key=str(made["id"]))["after"]["reason"] == "late"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"quantity": 0}, {"quantity"}),
        ({"quantity": -3}, {"quantity"}),
        ({"quantity": "5"}, {"quantity"}),
        ({"expected_on": "2026-03-01"}, {"expected_on"}),  # yesterday
        ({"expected_on": "20260309"}, {"expected_on"}),
        ({"sku": "NOPE"}, {"sku"}),
        ({"sku": "CAR-1"}, {"sku"}),  # built to order: HQ holds no stock of it
        ({"warehouse_code": "NOPE"}, {"warehouse_code"}),
        (
            {"warehouse_code": "NOPE", "sku": "NOPE", "expected_on": "2025-12-31"},
            {"warehouse_code", "sku", "expected_on"},
        ),  # fmt: skip
        ({"price": 3}, {"price"}),
    ],
)
def test_bad_expected_receipts_are_refused_whole_and_write_nothing(client, world, shop, body, fields):
    good = {"warehouse_code": "SH", "sku": "OIL-1", "quantity": 5, "expected_on": "2026-03-09"}
    with freeze(T0):
        before = world.snapshot()
        resp = client.post("/api/v1/stock/expected", json={**good, **body}, headers=shop["cm"])
        assert resp.status_code == 422, resp.get_json()
        error = resp.get_json()["error"]
        assert set(error) == {"code", "message", "fields"} and set(error["fields"]) == fields
        assert world.snapshot() == before
    assert world.count(ExpectedReceipt) == 0


def test_a_closed_warehouse_expects_nothing(client, world, shop):
    from portal.extensions import db
    from portal.inventory.models import Warehouse

    world.run(lambda: db.session.query(Warehouse).filter_by(code="SH").update({"active": False}))
    with freeze(T0):
        body = {"warehouse_code": "SH", "sku": "OIL-1", "quantity": 1, "expected_on": "2026-03-09"}
        resp = client.post("/api/v1/stock/expected", json=body, headers=shop["cm"])
    assert resp.status_code == 422 and "warehouse_code" in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize("who", ["fin", "sh1", "rm_east"])
def test_only_channel_managers_and_hq_admins_record_expected_receipts(client, world, shop, who):
    body = {"warehouse_code": "SH", "sku": "OIL-1", "quantity": 1, "expected_on": "2026-12-31"}
    assert client.post("/api/v1/stock/expected", json=body, headers=shop[who]).status_code == 403
    expected_read = client.get("/api/v1/stock/expected", headers=shop[who]).status_code
    assert expected_read == (200 if who == "fin" else 403)  # HQ reads them; dealers and regions never


def test_the_backorder_list_is_scoped_and_in_queue_order(client, world, shop):
    o = shop["orders"]
    every = backorders(client, shop["fin"])
    assert [(i["sku"], i["order_number"], i["dealer_code"], i["backordered"]) for i in every["items"]] == [
        ("FLT-1", o["sh1"], "SH-1", 1), ("FLT-1", o["bj1"], "BJ-1", 2),
        ("OIL-1", o["sh1"], "SH-1", 3), ("OIL-1", o["sh2"], "SH-2", 4),
    ]  # fmt: skip
    first = every["items"][0]
    assert set(first) >= {"order_number", "dealer_code", "sku", "backordered", "promised_on", "approved_at"}
    assert first["approved_at"].startswith("2026-03-02T01:00") and first["promised_on"] == "2026-03-07"
    assert every["total"] == 4 and every["page"] == 1
    dealer = backorders(client, shop["sh1"])
    assert {(i["sku"], i["order_number"]) for i in dealer["items"]} == {("FLT-1", o["sh1"]), ("OIL-1", o["sh1"])}
    east = backorders(client, shop["rm_east"])
    assert {i["dealer_code"] for i in east["items"]} == {"SH-1", "SH-2"}
    north = backorders(client, shop["rm_north"], "?sku=FLT-1")
    assert [i["order_number"] for i in north["items"]] == [o["bj1"]]
    assert backorders(client, shop["cm"], "?dealer=SH-2")["total"] == 1
    paged = backorders(client, shop["cm"], "?per_page=1&page=3")
    assert paged["total"] == 4 and [i["order_number"] for i in paged["items"]] == [o["sh1"]]


@pytest.mark.parametrize(("who", "dealer"), [("sh1", "SH-2"), ("rm_east", "BJ-1"), ("rm_north", "SH-1"),
                                             ("sh1", "NO-SUCH")])  # fmt: skip
def test_another_tenants_dealer_answers_404_like_a_missing_one(client, world, shop, who, dealer):
    resp = client.get(f"/api/v1/backorders?dealer={dealer}", headers=shop[who])
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_moving_an_order_up(client, world, shop):
    o = shop["orders"]
    resp = client.post(f"/api/v1/orders/{o['sh2']}/move-up", headers=shop["cm"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["moved_up_at"] is not None
    items = backorders(client, shop["cm"], "?sku=OIL-1")["items"]
    assert [i["order_number"] for i in items] == [o["sh2"], o["sh1"]]  # moved up first
    assert items[0]["moved_up_at"] is not None
    world.stock("OIL-1", 4, "TJ")
    assert [i["order_number"] for i in backorders(client, shop["cm"], "?sku=OIL-1")["items"]] == [o["sh1"]]
    check_invariants(world)


def test_moving_up_an_order_that_waits_for_nothing_is_a_conflict_and_writes_nothing(client, world, shop):
    world.stock("FLT-1", 5, "SH")  # serves sh1's and bj1's FLT-1 lines
    with freeze(T0):
        served = world.order("SH-2", [("FLT-1", 2)])
    before = world.snapshot()
    for number in (served, shop["orders"]["bj1"]):
        resp = client.post(f"/api/v1/orders/{number}/move-up", headers=shop["admin"])
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_backordered"
    assert world.snapshot() == before
    assert client.post("/api/v1/orders/SO-209901-999999/move-up", headers=shop["cm"]).status_code == 404


@pytest.mark.parametrize("who", ["fin", "sh1", "rm_east"])
def test_only_channel_managers_and_hq_admins_move_orders_up(client, world, shop, who):
    before = world.snapshot()
    assert client.post(f"/api/v1/orders/{shop['orders']['sh1']}/move-up", headers=shop[who]).status_code == 403
    assert world.snapshot() == before


def test_an_order_line_carries_allocated_backordered_and_promised_on(client, world, shop):
    order = client.get(f"/api/v1/orders/{shop['orders']['sh1']}", headers=shop["sh1"]).get_json()
    by_sku = {ln["sku"]: ln for ln in order["lines"]}
    assert {k: by_sku["OIL-1"][k] for k in ("quantity", "allocated", "backordered", "promised_on")} == {
        "quantity": 5, "allocated": 2, "backordered": 3, "promised_on": "2026-03-17"}  # fmt: skip
    assert {k: by_sku["FLT-1"][k] for k in ("allocated", "backordered", "promised_on")} == {
        "allocated": 0, "backordered": 1, "promised_on": "2026-03-07"}  # fmt: skip
    assert {k: by_sku["CAR-1"][k] for k in ("allocated", "backordered", "promised_on")} == {
        "allocated": 0, "backordered": 0, "promised_on": None}  # fmt: skip
    assert order["approved_at"].startswith("2026-03-02T01:00")
    world.stock("OIL-1", 3, "TJ")
    order = client.get(f"/api/v1/orders/{shop['orders']['sh1']}", headers=shop["sh1"]).get_json()
    oil = next(ln for ln in order["lines"] if ln["sku"] == "OIL-1")
    assert (oil["allocated"], oil["backordered"], oil["promised_on"]) == (5, 0, None)
