"""Placing orders: server-side pricing, the credit gate, idempotency, bad input, approvals and cancellation."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.orders.models import Order

D = dt.date


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", approval_limit="50000")
    world.region("NORTH", parent="HQ", approval_limit="50000")
    world.dealer("SH-1", "EAST")
    world.dealer("BJ-1", "NORTH")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="99.99", category="parts")
    world.product("OLD-1", list_price="10.00", active=False)
    world.credit_limit("SH-1", "300000")
    return {"staff": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff")),
            "fin": world.auth(world.user("finance")),
            "rm_east": world.auth(world.user("region_manager", region="EAST")),
            "rm_north": world.auth(world.user("region_manager", region="NORTH"))}


def _order(client, headers, lines, key=None, note=None):
    h = dict(headers)
    if key:
        h["Idempotency-Key"] = key
    body = {"lines": [{"sku": s, "quantity": q} for s, q in lines]}
    if note:
        body["note"] = note
    return client.post("/api/v1/orders", json=body, headers=h)


def test_an_order_that_fits_is_approved_and_priced_by_the_server(client, world, ch):
    world.price_list("tier:B", [{"sku": "CAR-1", "discount_pct": "5"}], name="B级政策")
    resp = client.post("/api/v1/orders", json={"lines": [{"sku": "CAR-1", "quantity": 2, "unit_price": "1.00"}]},
                       headers=ch["staff"])
    assert resp.status_code == 422  # client prices are not even accepted
    resp = _order(client, ch["staff"], [("CAR-1", 2), ("OIL-1", 3)])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "approved" and body["dealer_code"] == "SH-1"
    assert body["number"].startswith("SO-") and len(body["number"]) == len("SO-202611-000001")
    car, oil = body["lines"]
    assert (car["unit_price"], car["net"], car["tax"], car["gross"]) == ("95000.00", "190000.00", "24700.00",
                                                                         "214700.00")
    assert car["rule"]["price_list"] == "B级政策"
    assert (oil["net"], oil["tax"], oil["gross"]) == ("299.97", "39.00", "338.97")
    assert body["gross"] == "215038.97"
    assert [(e["from"], e["to"]) for e in body["events"]] == [(None, "submitted"), ("submitted", "approved")]


def test_approved_orders_count_in_exposure(client, world, ch):
    _order(client, ch["staff"], [("CAR-1", 2)])  # 226,000.00 gross
    credit = client.get("/api/v1/dealers/SH-1/credit", headers=ch["fin"]).get_json()
    assert credit["open_orders"] == "226000.00" and credit["available"] == "74000.00"
    second = _order(client, ch["staff"], [("CAR-1", 1)]).get_json()  # 113,000 > 74,000
    assert second["status"] == "credit_review"
    assert "39,000.00 CNY" in second["events"][-1]["comment"]  # said by the portal, in the caller's language


def test_a_dealer_on_hold_is_refused_and_nothing_is_stored(client, world, ch):
    client.put("/api/v1/dealers/SH-1/credit-hold", json={"reason": "逾期未付"}, headers=ch["fin"])
    resp = _order(client, ch["staff"], [("OIL-1", 1)])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "credit_hold"
    assert world.count(Order) == 0


def test_idempotency_key_returns_the_first_order_and_refuses_another_body(client, world, ch):
    first = _order(client, ch["staff"], [("OIL-1", 1)], key="k-1")
    again = _order(client, ch["staff"], [("OIL-1", 1)], key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.get_json()["number"] == again.get_json()["number"]
    assert world.count(Order) == 1
    other = _order(client, ch["staff"], [("OIL-1", 2)], key="k-1")
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_mismatch"
    # the same key from another dealer is another order
    bj = world.auth(world.user("dealer_staff", dealer="BJ-1"))
    assert _order(client, bj, [("OIL-1", 1)], key="k-1").status_code == 201
    assert world.count(Order) == 2


@pytest.mark.parametrize("lines,field", [
    ([], "lines"),
    ([("NOPE", 1)], "lines.0.sku"),
    ([("OLD-1", 1)], "lines.0.sku"),
    ([("OIL-1", 0)], "lines"),
    ([("OIL-1", -1)], "lines"),
    ([("OIL-1", 100001)], "lines"),
    ([("OIL-1", 1), ("OIL-1", 2)], "lines"),
])
def test_bad_lines_are_refused_and_nothing_is_stored(client, world, ch, lines, field):
    resp = _order(client, ch["staff"], lines)
    assert resp.status_code == 422
    assert any(k.startswith(field) for k in resp.get_json()["error"]["fields"]), resp.get_json()
    assert world.count(Order) == 0


def test_fractional_quantities_and_malformed_json_are_refused(client, world, ch):
    resp = client.post("/api/v1/orders", json={"lines": [{"sku": "OIL-1", "quantity": 1.5}]}, headers=ch["staff"])
    assert resp.status_code == 422
    resp = client.post("/api/v1/orders", data="{", content_type="application/json", headers=ch["staff"])
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "malformed_json"
    assert world.count(Order) == 0


def test_only_dealer_users_order_and_only_for_themselves(client, world, ch):
    assert _order(client, ch["fin"], [("OIL-1", 1)]).status_code == 403
    number = _order(client, ch["staff"], [("OIL-1", 1)]).get_json()["number"]
    bj = world.auth(world.user("dealer_admin", dealer="BJ-1"))
    assert client.get(f"/api/v1/orders/{number}", headers=bj).status_code == 404
    assert client.get("/api/v1/orders", headers=bj).get_json()["total"] == 0


def test_region_managers_approve_within_their_limit_only(client, world, ch):
    _order(client, ch["staff"], [("CAR-1", 2)])  # uses 226,000 of 300,000
    small = _order(client, ch["staff"], [("CAR-1", 1)]).get_json()["number"]  # excess 39,000 ≤ 50,000
    assert client.post(f"/api/v1/orders/{small}/approve", json={}, headers=ch["rm_north"]).status_code == 404
    resp = client.post(f"/api/v1/orders/{small}/approve", json={"comment": "老客户"}, headers=ch["rm_east"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "approved"
    big = _order(client, ch["staff"], [("CAR-1", 1)]).get_json()["number"]  # now excess 152,000 > 50,000
    assert client.post(f"/api/v1/orders/{big}/approve", json={}, headers=ch["rm_east"]).status_code == 403
    assert client.post(f"/api/v1/orders/{big}/reject", json={}, headers=ch["fin"]).status_code == 422  # why?
    resp = client.post(f"/api/v1/orders/{big}/reject", json={"comment": "额度不足"}, headers=ch["fin"])
    assert resp.get_json()["status"] == "rejected"
    assert client.post(f"/api/v1/orders/{big}/approve", json={}, headers=ch["fin"]).status_code == 409


def test_the_dealer_is_notified_of_the_decision(client, world, ch):
    _order(client, ch["staff"], [("CAR-1", 2)])
    number = _order(client, ch["staff"], [("CAR-1", 1)]).get_json()["number"]
    client.post(f"/api/v1/orders/{number}/approve", json={"comment": "ok"}, headers=ch["fin"])
    items = client.get("/api/v1/notifications", headers=ch["staff"]).get_json()["items"]
    assert any(number in n["title"] for n in items)


def test_cancellation_rules(client, world, ch):
    number = _order(client, ch["staff"], [("OIL-1", 1)]).get_json()["number"]
    resp = client.post(f"/api/v1/orders/{number}/cancel", json={"comment": "下错了"}, headers=ch["staff"])
    assert resp.get_json()["status"] == "cancelled"
    assert client.post(f"/api/v1/orders/{number}/cancel", json={}, headers=ch["staff"]).status_code == 409
    with world.app.app_context():
        from portal.extensions import db

        second = _order(client, ch["staff"], [("OIL-1", 1)]).get_json()["number"]
        db.session.query(Order).filter_by(number=second).update({"status": "in_production"})
        db.session.commit()
    assert client.post(f"/api/v1/orders/{second}/cancel", json={}, headers=ch["staff"]).status_code == 409
    cm = world.auth(world.user("channel_manager"))
    assert client.post(f"/api/v1/orders/{second}/cancel", json={}, headers=cm).get_json()["status"] == "cancelled"


def test_the_quote_prices_without_storing(client, world, ch):
    resp = client.post("/api/v1/orders/quote", json={"lines": [{"sku": "OIL-1", "quantity": 10}]},
                       headers=ch["staff"])
    body = resp.get_json()
    assert body["gross"] == "1129.89" and body["available"] == "300000.00" and body["on_hold"] is False
    assert world.count(Order) == 0


def test_order_list_filters(client, world, ch):
    _order(client, ch["staff"], [("OIL-1", 1)])
    _order(client, ch["staff"], [("CAR-1", 3)])
    fin = ch["fin"]
    assert client.get("/api/v1/orders?status=credit_review", headers=fin).get_json()["total"] == 1
    assert client.get("/api/v1/orders?sku=OIL-1", headers=fin).get_json()["total"] == 1
    assert client.get("/api/v1/orders?region=EAST", headers=fin).get_json()["total"] == 2
    assert client.get("/api/v1/orders?region=NORTH", headers=fin).get_json()["total"] == 0
