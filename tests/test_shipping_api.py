"""Shipping and receipt (PRODUCT.md §5, §9.1): one invoice per shipment even when retried, the ledger, the exposure
and the dealer's stock consistent, exact to the cent over partial shipments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.orders.models import Order
from portal.platform.timeutil import freeze, today
from portal.production.models import Unit
from portal.shipping.models import Shipment

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST", payment_terms_days=45)
    world.dealer("SH-2", "EAST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="33.33")  # 13 % tax: a piece's tax does not divide evenly
    world.stock("OIL-1", 100)  # HQ holds the stock line's goods
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("SH-2", "10000000")
    with freeze(T0):
        order = world.order("SH-1", [("CAR-1", 3), ("OIL-1", 7)])
        other = world.order("SH-2", [("CAR-1", 1)])
    serials = world.serials(order)
    complete(world, serials[:2] + world.serials(other))
    world.user("channel_manager", username="cm")
    world.user("dealer_staff", dealer="SH-1", username="sh1.staff")
    world.user("dealer_staff", dealer="SH-2", username="sh2.staff")
    return {"order": order, "other": other, "serials": serials, "other_serials": world.serials(other),
            "hq": world.auth("cm"), "dealer": world.auth("sh1.staff"), "outsider": world.auth("sh2.staff")}  # fmt: skip


def complete(world, serials):
    """The MES reports these units off the line (completed)."""
    world.mes_events(
        [{"event_id": f"done-{s}", "serial": s, "stage": "completed", "occurred_at": T0 + dt.timedelta(days=3)}
         for s in serials]
    )  # fmt: skip


def ship(client, shop, body, key=None, order=None):
    headers = dict(shop["hq"], **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/v1/orders/{order or shop['order']}/shipments", json=body, headers=headers)


def credit(client, shop):
    return client.get("/api/v1/dealers/SH-1/credit", headers=shop["hq"]).get_json()


def test_a_shipment_invoices_what_it_ships_and_moves_exposure_to_receivables(client, world, shop):
    before = credit(client, shop)
    resp = ship(client, shop, {"serials": shop["serials"][:1], "lines": [{"sku": "OIL-1", "quantity": 2}]})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    shipment, invoice = body["shipment"], body["invoice"]
    # 1 car 100000.00 + 13 % = 113000.00; 2 x 33.33 = 66.66 + 8.67 tax = 75.33
    assert shipment["gross"] == invoice["amount"] == "113075.33"
    assert shipment["status"] == "in_transit" and shipment["order_number"] == shop["order"]
    assert invoice["issued_on"] == today().isoformat()
    assert invoice["due_on"] == (today() + dt.timedelta(days=45)).isoformat()
    assert [ln["serials"] for ln in shipment["lines"]] == [shop["serials"][:1], []]
    entry = world.get(LedgerEntry, number=invoice["number"])
    assert entry["type"] == "invoice" and entry["amount"] == Decimal("113075.33")
    after = credit(client, shop)
    assert Decimal(after["open_orders"]) == Decimal(before["open_orders"]) - Decimal("113075.33")
    assert Decimal(after["open_receivables"]) == Decimal(before["open_receivables"]) + Decimal("113075.33")
    assert after["exposure"] == before["exposure"] and after["available"] == before["available"]
    assert world.get(Unit, serial=shop["serials"][0])["stage"] == "shipped"
    assert world.get(Order, number=shop["order"])["status"] == "in_production"  # not all of it shipped, nor built


def test_a_retried_request_posts_one_invoice(client, world, shop):
    body = {"lines": [{"sku": "OIL-1", "quantity": 3}]}
    first = ship(client, shop, body, key="ship-1")
    again = ship(client, shop, body, key="ship-1")
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1
    other = ship(client, shop, {"lines": [{"sku": "OIL-1", "quantity": 4}]}, key="ship-1")
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_mismatch"
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1


def test_partial_shipments_add_up_to_the_order_to_the_cent(client, world, shop):
    order = world.get(Order, number=shop["order"])
    parts = [{"lines": [{"sku": "OIL-1", "quantity": 1}]}, {"lines": [{"sku": "OIL-1", "quantity": 3}]},
             {"lines": [{"sku": "OIL-1", "quantity": 3}], "serials": shop["serials"][:2]}]  # fmt: skip
    for part in parts:
        assert ship(client, shop, part).status_code == 201
    complete(world, shop["serials"][2:])
    assert world.get(Order, number=shop["order"])["status"] != "shipped"
    last = ship(client, shop, {"lines": [{"sku": "CAR-1", "quantity": 1}]})  # picks the built unit by itself
    assert last.status_code == 201, last.get_json()
    assert last.get_json()["shipment"]["lines"][0]["serials"] == [shop["serials"][2]]
    entries = world.run(lambda: [e.amount for e in db.session.query(LedgerEntry).filter_by(order_number=shop["order"])])
    assert len(entries) == 4 and sum(entries) == order["gross"]
    done = world.get(Order, number=shop["order"])
    assert done["status"] == "shipped"
    assert Decimal(credit(client, shop)["open_orders"]) == 0
    again = ship(client, shop, {"lines": [{"sku": "OIL-1", "quantity": 1}]})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "serials"),
        ({"serials": ["LDP00000000000000"]}, "serials.0"),  # no such unit
        ({"lines": [{"sku": "OIL-1", "quantity": 8}]}, "lines"),  # 7 ordered
        ({"lines": [{"sku": "CAR-1", "quantity": 3}]}, "lines.0.quantity"),  # 2 built
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": "OIL-1", "quantity": 1}, {"sku": "OIL-1", "quantity": 1}]}, "lines"),
        ({"lines": [{"sku": "OIL-1", "quantity": 0}]}, "lines"),
        ({"lines": [{"sku": "OIL-1", "quantity": 1}], "shipped_on": "2099-01-01"}, "shipped_on"),
        ({"lines": [{"sku": "OIL-1", "quantity": 1}], "shipped_on": "2026-10-01"}, "shipped_on"),  # before the order
        ({"lines": [{"sku": "OIL-1", "quantity": 1}], "price": "1"}, "price"),
    ],
)
def test_bad_shipments_are_refused_whole(client, world, shop, body, field):
    before = world.snapshot()
    resp = ship(client, shop, body)
    assert resp.status_code == 422, resp.get_json()
    assert any(k == field or k.startswith(field) for k in resp.get_json()["error"]["fields"]), resp.get_json()
    assert world.snapshot() == before


def test_units_must_be_built_belong_to_the_order_and_ship_once(client, world, shop):
    not_built, foreign = shop["serials"][2], shop["other_serials"][0]
    resp = ship(client, shop, {"serials": [not_built, foreign]})
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert "not built" in fields["serials.0"][0] and "not a unit of this order" in fields["serials.1"][0]
    assert ship(client, shop, {"serials": shop["serials"][:1]}).status_code == 201
    twice = ship(client, shop, {"serials": shop["serials"][:1]})
    assert twice.status_code == 422 and "already shipped" in twice.get_json()["error"]["fields"]["serials.0"][0]


def test_the_dealer_receives_and_the_order_is_delivered(client, world, shop):
    complete(world, shop["serials"][2:])
    a = ship(client, shop, {"serials": shop["serials"][:2], "lines": [{"sku": "OIL-1", "quantity": 7}]}).get_json()
    b = ship(client, shop, {"serials": shop["serials"][2:]}).get_json()
    assert world.get(Order, number=shop["order"])["status"] == "shipped"
    first = client.post(f"/api/v1/shipments/{a['shipment']['number']}/receive", json={}, headers=shop["dealer"])
    assert first.status_code == 200 and first.get_json()["status"] == "received"
    assert world.get(Order, number=shop["order"])["status"] == "shipped"  # one shipment still on its way
    moves = world.run(
        lambda: sorted((m.sku, m.serial or "", m.quantity, m.kind) for m in db.session.query(DealerStockMove))
    )
    assert moves == sorted([("CAR-1", s, 1, "receipt") for s in shop["serials"][:2]] + [("OIL-1", "", 7, "receipt")])
    second = client.post(f"/api/v1/shipments/{b['shipment']['number']}/receive", json={}, headers=shop["dealer"])
    assert second.status_code == 200
    assert world.get(Order, number=shop["order"])["status"] == "delivered"
    assert {world.get(Unit, serial=s)["stage"] for s in shop["serials"]} == {"delivered"}
    again = client.post(f"/api/v1/shipments/{b['shipment']['number']}/receive", json={}, headers=shop["dealer"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_received"


def test_who_may_ship_receive_and_see(client, world, shop):
    assert ship(client, dict(shop, hq=shop["dealer"]), {"lines": [{"sku": "OIL-1", "quantity": 1}]}).status_code == 403
    number = ship(client, shop, {"lines": [{"sku": "OIL-1", "quantity": 1}]}).get_json()["shipment"]["number"]
    assert client.post(f"/api/v1/shipments/{number}/receive", json={}, headers=shop["hq"]).status_code == 403
    for path in (f"/api/v1/shipments/{number}", f"/api/v1/shipments/{number}/pdf"):
        assert client.get(path, headers=shop["outsider"]).status_code == 404
        assert client.get(path, headers=shop["dealer"]).status_code == 200
    assert client.post(f"/api/v1/shipments/{number}/receive", json={}, headers=shop["outsider"]).status_code == 404
    assert client.get("/api/v1/shipments", headers=shop["outsider"]).get_json()["total"] == 0
    assert client.get("/api/v1/shipments", headers=shop["dealer"]).get_json()["total"] == 1
    pdf = client.get(f"/api/v1/shipments/{number}/pdf", headers=shop["dealer"])
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_an_order_partly_shipped_cannot_be_cancelled(client, world, shop):
    world.user("finance", username="fin")
    assert ship(client, shop, {"lines": [{"sku": "OIL-1", "quantity": 1}]}).status_code == 201
    resp = client.post(f"/api/v1/orders/{shop['order']}/cancel", json={"comment": "x"}, headers=world.auth("fin"))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "shipped"
