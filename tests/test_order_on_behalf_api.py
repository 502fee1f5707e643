"""Orders placed on a dealer's behalf (代客下单, PRODUCT.md §12) through the API: channel managers for any dealer,
region managers for the dealers of their region, named with `dealer_code`; recorded as `placed_by`, audited, the
dealer's users notified. A dealer outside the caller's scope answers 404 like an unknown one, and nothing is
written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.dealers.models import User
from portal.extensions import db
from portal.notify.models import Notification
from portal.orders.models import Order, OrderDraft

ORDERS = "/api/v1/orders"


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("SH", parent="EAST")
    world.region("NORTH", parent="HQ")
    world.dealer("SH-1", "SH")
    world.dealer("BJ-1", "NORTH")
    world.credit_limit("SH-1", "10000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1.admin", locale="zh_CN")
    world.user("dealer_staff", dealer="SH-1", username="sh1.staff")
    world.user("dealer_staff", dealer="BJ-1", username="bj1.staff")
    world.product("OIL-1", list_price="10.00")
    world.stock("OIL-1", 100)
    return {
        "cm": world.user("channel_manager", username="cm"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
    }


def _body(dealer: str | None, quantity: int = 3, **extra) -> dict:
    body = {"lines": [{"sku": "OIL-1", "quantity": quantity}], **extra}
    return {**body, "dealer_code": dealer} if dealer else body


@pytest.mark.parametrize("who", ["cm", "rm_east"])
def test_a_manager_places_an_order_for_a_dealer(client, world, ch, who):
    username = ch[who]
    resp = client.post(ORDERS, json=_body("SH-1", note="电话订货"), headers=world.auth(username))
    assert resp.status_code == 201, resp.get_json()
    order = resp.get_json()
    assert (order["dealer_code"], order["placed_by"]) == ("SH-1", username)
    assert (order["status"], order["gross"]) == ("approved", "33.90")
    assert order["events"][0]["comment"] == f"Placed on the dealer's behalf by {username}."
    entry = world.get(AuditEntry, action="order.submit", object_key=order["number"])
    assert entry["actor"] == username and entry["after"]["placed_by"] == username
    notes = world.run(lambda: sorted(db.session.execute(
        select(User.username, Notification.kind, Notification.title).join(User, User.id == Notification.user_id)
    ).all()))  # fmt: skip
    assert notes == [("sh1.admin", "order_placed_for", f"已代您下单 {order['number']}"),
                     ("sh1.staff", "order_placed_for", f"Order {order['number']} placed for you")]  # fmt: skip
    # the dealer sees who placed it
    shown = client.get(f"{ORDERS}/{order['number']}", headers=world.auth("sh1.staff")).get_json()
    assert shown["placed_by"] == username


def test_a_region_manager_cannot_order_for_a_dealer_outside_its_region(client, world, ch):
    rm = world.auth(ch["rm_north"])
    rows = (world.count(Order), world.count(OrderDraft), world.count(AuditEntry), world.count(Notification))
    before = world.snapshot()
    resp = client.post(ORDERS, json=_body("SH-1"), headers=rm)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    unknown = client.post(ORDERS, json=_body("NO-SUCH"), headers=rm)
    assert unknown.get_json() == resp.get_json()  # exactly as for a dealer that does not exist
    assert client.put("/api/v1/orders/draft", json=_body("SH-1"), headers=rm).status_code == 404
    assert client.post(f"{ORDERS}/quote", json=_body("SH-1"), headers=rm).status_code == 404
    assert client.get("/api/v1/orders/draft", query_string={"dealer": "SH-1"}, headers=rm).status_code == 404
    assert (world.count(Order), world.count(OrderDraft), world.count(AuditEntry), world.count(Notification)) == rows
    assert world.snapshot() == before
    # a dealer of its own region it may order for
    world.dealer("BJ-2", "NORTH")
    assert client.post(ORDERS, json=_body("BJ-2"), headers=rm).status_code == 201


def test_who_names_which_dealer(client, world, ch):
    cm = world.auth(ch["cm"])
    resp = client.post(ORDERS, json=_body(None), headers=cm)
    assert resp.status_code == 422 and "dealer_code" in resp.get_json()["error"]["fields"]
    staff = world.auth("sh1.staff")
    assert client.post(ORDERS, json=_body("BJ-1"), headers=staff).status_code == 404  # another dealer: as unknown
    own = client.post(ORDERS, json=_body("SH-1"), headers=staff)
    assert own.status_code == 201 and own.get_json()["placed_by"] is None  # its own code is fine
    finance = world.auth(world.user("finance"))
    assert client.post(ORDERS, json=_body("SH-1"), headers=finance).status_code == 403
    assert world.count(Order) == 1 and world.count(Notification, kind="order_placed_for") == 0


def test_a_manager_orders_through_a_draft_and_quotes_for_a_dealer(client, world, ch):
    rm = world.auth(ch["rm_east"])
    quote = client.post(f"{ORDERS}/quote", json=_body("SH-1", 2), headers=rm).get_json()
    assert (quote["dealer_code"], quote["gross"], quote["available"]) == ("SH-1", "22.60", "10000.00")
    resp = client.put("/api/v1/orders/draft", json=_body("SH-1", 2), headers=rm)
    assert resp.status_code == 200 and resp.get_json()["dealer_code"] == "SH-1"
    # leaving dealer_code out keeps the draft's dealer
    resp = client.put("/api/v1/orders/draft", json=_body(None, 4), headers=rm)
    assert (resp.get_json()["dealer_code"], resp.get_json()["gross"]) == ("SH-1", "45.20")
    assert client.get("/api/v1/orders/draft", headers=rm).get_json()["lines"][0]["quantity"] == 4
    placed = client.post(f"{ORDERS}/draft/submit", headers={**rm, "Idempotency-Key": "rm-1"})
    assert placed.status_code == 201, placed.get_json()
    assert (placed.get_json()["placed_by"], placed.get_json()["dealer_code"]) == ("rm.east", "SH-1")
    again = client.post(f"{ORDERS}/draft/submit", headers={**rm, "Idempotency-Key": "rm-1"})
    assert again.status_code == 200 and again.get_json()["number"] == placed.get_json()["number"]
    assert world.count(Order) == 1 and world.count(Notification, kind="order_placed_for") == 2
