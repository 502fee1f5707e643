"""Amending an order through the API (PRODUCT.md §12): `PATCH /api/v1/orders/{order}` re-prices at today's prices,
runs the credit gate again, records the change as an event; refused (409 not_amendable) once production started or
anything shipped, and bad input refused with the field named and nothing written."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.notify.models import Notification
from portal.orders.models import Order, OrderLine
from portal.platform.timeutil import today
from tests.test_order_drafts_api import named


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-1", "10000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    world.stock("OIL-1", 100)
    world.stock("FLT-1", 100)
    return {"sh1": world.auth("sh1"), "other": world.address("SH-2", "别家")}


def _place(client, headers, lines) -> dict:
    resp = client.post("/api/v1/orders", json={"lines": [{"sku": s, "quantity": q} for s, q in lines]},
                       headers=headers)  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _patch(client, headers, number, lines, **extra):
    body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], **extra}
    return client.patch(f"/api/v1/orders/{number}", json=body, headers=headers)


def test_an_amendment_up_and_down_is_repriced_and_recorded(client, world, shop):
    order = _place(client, shop["sh1"], [("OIL-1", 10)])
    assert (order["gross"], order["amendable"]) == ("113.00", True)
    world.price_list("all", [{"sku": "OIL-1", "discount_pct": "10"}])  # today's price: 9.00
    resp = _patch(client, shop["sh1"], order["number"], [("OIL-1", 20), ("FLT-1", 1)], note="加量")
    assert resp.status_code == 200, resp.get_json()
    up = resp.get_json()
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in up["lines"]] == [("OIL-1", 20, "9.00"),
                                                                                    ("FLT-1", 1, "20.00")]  # fmt: skip
    assert (up["status"], up["gross"], up["note"], up["amendable"]) == ("approved", "226.00", "加量", True)
    last = up["events"][-1]
    assert (last["from"], last["to"]) == ("approved", "approved")
    assert last["comment"] == "Amended: gross 113.00 → 226.00 CNY."
    down = _patch(client, shop["sh1"], order["number"], [("FLT-1", 2)]).get_json()
    assert [(ln["sku"], ln["quantity"]) for ln in down["lines"]] == [("FLT-1", 2)]
    assert (down["status"], down["gross"], down["note"]) == ("approved", "45.20", "加量")  # the note kept
    assert down["events"][-1]["comment"] == "Amended: gross 226.00 → 45.20 CNY."
    assert world.count(OrderLine) == 1
    entries = world.run(lambda: [(e.before["gross"], e.after["gross"]) for e in
                                 AuditEntry.query.filter_by(action="order.amend").order_by(AuditEntry.id)])  # fmt: skip
    assert entries == [("113.00", "226.00"), ("226.00", "45.20")]
    credit = client.get("/api/v1/dealers/SH-1/credit", headers=shop["sh1"]).get_json()
    assert credit["open_orders"] == "45.20"


def test_an_amendment_beyond_the_available_credit_goes_to_credit_review(client, world, shop):
    order = _place(client, shop["sh1"], [("CAR-1", 2)])  # 2,260.00 of 10,000.00
    resp = _patch(client, shop["sh1"], order["number"], [("CAR-1", 9)])  # 10,170.00
    body = resp.get_json()
    assert (resp.status_code, body["status"], body["gross"], body["units"]) == (200, "credit_review", "10170.00", [])
    assert body["events"][-1]["comment"] == ("Amended: gross 2,260.00 → 10,170.00 CNY. "
                                             "Exceeds available credit by 170.00 CNY.")  # fmt: skip
    assert world.get(Order, number=order["number"])["status"] == "credit_review"


def test_refused_once_production_started(client, world, shop):
    order = _place(client, shop["sh1"], [("CAR-1", 1)])
    serial = order["units"][0]["serial"]
    world.mes_events([{"event_id": "e1", "serial": serial, "stage": "body", "occurred_at": dt.datetime.now(dt.UTC)}])
    shown = client.get(f"/api/v1/orders/{order['number']}", headers=shop["sh1"]).get_json()
    assert (shown["status"], shown["amendable"]) == ("in_production", False)
    before = world.snapshot()
    resp = _patch(client, shop["sh1"], order["number"], [("CAR-1", 2)])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_amendable"
    assert world.snapshot() == before


def test_refused_once_anything_shipped(client, world, shop):
    order = _place(client, shop["sh1"], [("OIL-1", 10)])
    world.shipment(order["number"], [("OIL-1", 4)])
    shown = client.get(f"/api/v1/orders/{order['number']}", headers=shop["sh1"]).get_json()
    assert (shown["status"], shown["amendable"]) == ("approved", False)  # partly shipped, still approved
    before = world.snapshot()
    resp = _patch(client, shop["sh1"], order["number"], [("OIL-1", 12)])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_amendable"
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"note": "no lines"}, "lines"),
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": "OIL-1", "quantity": 1, "options": {"colour": "RED"}}]}, "lines.0.options"),
        ({"lines": [{"sku": "OIL-1", "quantity": 5}], "requested_on": "2020-01-01"}, "requested_on"),
        ({"lines": [{"sku": "OIL-1", "quantity": 5}], "ship_to": "other"}, "ship_to"),
    ],
)
def test_bad_amendments_are_refused_with_the_field_named_and_nothing_written(client, world, shop, body, field):
    order = _place(client, shop["sh1"], [("OIL-1", 5)])
    if body.get("ship_to") == "other":
        body = {**body, "ship_to": shop["other"]}  # an address of another dealer
    rows = (world.count(Order), world.count(OrderLine), world.count(AuditEntry))
    before = world.snapshot()
    resp = client.patch(f"/api/v1/orders/{order['number']}", json=body, headers=shop["sh1"])
    assert resp.status_code == 422
    assert field in named(resp.get_json()["error"]["fields"]), resp.get_json()
    assert (world.count(Order), world.count(OrderLine), world.count(AuditEntry)) == rows
    assert world.snapshot() == before


def test_the_delivery_date_and_address_change_with_an_amendment(client, world, shop):
    home = world.address("SH-1", "展厅")
    yard = world.address("SH-1", "仓库")
    order = _place(client, shop["sh1"], [("OIL-1", 5)])
    assert (order["ship_to"]["id"], order["requested_on"]) == (home, None)
    later = (today() + dt.timedelta(days=10)).isoformat()
    resp = _patch(client, shop["sh1"], order["number"], [("OIL-1", 5)], requested_on=later, ship_to=yard)
    assert (resp.get_json()["ship_to"]["label"], resp.get_json()["requested_on"]) == ("仓库", later)


def test_who_may_amend(client, world, shop):
    order = _place(client, shop["sh1"], [("OIL-1", 5)])["number"]
    other_dealer = world.auth(world.user("dealer_admin", dealer="SH-2"))
    other_region = world.auth(world.user("region_manager", region="WEST"))
    finance = world.auth(world.user("finance"))
    before = world.snapshot()
    assert _patch(client, other_dealer, order, [("OIL-1", 6)]).status_code == 404
    assert _patch(client, other_region, order, [("OIL-1", 6)]).status_code == 404
    assert _patch(client, finance, order, [("OIL-1", 6)]).status_code == 403
    assert client.get(f"/api/v1/orders/{order}", headers=finance).get_json()["amendable"] is False
    assert world.snapshot() == before
    # the dealer's region manager amends on the dealer's behalf: the dealer's users are told
    region = world.user("region_manager", region="EAST", username="rm.east")
    resp = _patch(client, world.auth(region), order, [("OIL-1", 6)])
    assert resp.status_code == 200 and resp.get_json()["events"][-1]["actor"] == "rm.east"
    assert world.count(Notification, kind="order_amended") == 1
