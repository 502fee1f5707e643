"""The order draft through the API (PRODUCT.md §12): one basket per user kept on the server across logins, priced
live, replaced whole (bad input refused with nothing written), submitted once per Idempotency-Key, and "order again"
at today's prices."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.catalog.models import Product
from portal.extensions import db
from portal.orders.models import Order, OrderDraft
from portal.platform.timeutil import today
from tests.conftest import PASSWORD, login, page_csrf

DRAFT = "/api/v1/orders/draft"
SUBMIT = "/api/v1/orders/draft/submit"


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    world.credit_limit("SH-1", "10000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.user("dealer_staff", dealer="SH-2", username="sh2")
    world.product("OIL-1", list_price="10.00")
    world.product("FLT-1", list_price="20.00")
    world.stock("OIL-1", 100)
    world.stock("FLT-1", 100)
    return {
        "sh1": world.auth("sh1"),
        "home": world.address("SH-1", "展厅", is_default=True),
        "yard": world.address("SH-1", "仓库", recipient="李娜", phone="021-6234 5678"),
        "other": world.address("SH-2", "别家"),
    }


def named(fields: dict, prefix: str = "") -> set[str]:
    """The fields an error names, flattened ({"lines": {"0": {"quantity": [...]}}} names "lines.0.quantity")."""
    out = set()
    for key, value in fields.items():
        out |= named(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return out


def _lines(body: dict) -> list[tuple]:
    return [(ln["sku"], ln["quantity"], ln["unit_price"], ln["errors"]) for ln in body["lines"]]


def _set_active(world, sku: str, active: bool) -> None:
    world.run(lambda: db.session.query(Product).filter_by(sku=sku).update({"active": active}))


def test_a_draft_survives_logging_out_and_is_the_same_for_a_token(app, world, shop):
    browser = app.test_client()
    assert login(browser, "sh1").status_code == 302
    requested = (today() + dt.timedelta(days=7)).isoformat()
    body = {"lines": [{"sku": "OIL-1", "quantity": 3}, {"sku": "FLT-1", "quantity": 1}], "note": "周五前",
            "requested_on": requested, "ship_to": shop["yard"]}  # fmt: skip
    resp = browser.put(DRAFT, json=body, headers={"X-CSRFToken": page_csrf(browser)})
    assert resp.status_code == 200, resp.get_json()
    browser.post("/logout", data={"csrf_token": page_csrf(browser)})
    assert browser.get(DRAFT).status_code == 401  # logged out indeed

    again = app.test_client()
    assert login(again, "sh1", PASSWORD).status_code == 302
    for client, headers in ((again, {}), (app.test_client(), world.auth("sh1"))):
        got = client.get(DRAFT, headers=headers).get_json()
        assert got["dealer_code"] == "SH-1" and got["orderable"] is True
        assert _lines(got) == [("OIL-1", 3, "10.00", []), ("FLT-1", 1, "20.00", [])]
        assert (got["net"], got["tax"], got["gross"]) == ("50.00", "6.50", "56.50")
        assert (got["available"], got["excess"], got["note"]) == ("10000.00", "0.00", "周五前")
        assert got["requested_on"] == requested
        assert got["ship_to"] == {"id": shop["yard"], "label": "仓库", "recipient": "李娜", "phone": "021-6234 5678",
                                  "address": "上海市浦东新区世纪大道1号"}  # fmt: skip
    assert world.count(OrderDraft) == 1 and world.count(Order) == 0


def test_without_a_draft_the_answer_is_an_empty_one(client, world, shop):
    got = client.get(DRAFT, headers=shop["sh1"]).get_json()
    assert (got["dealer_code"], got["lines"], got["gross"], got["available"]) == ("SH-1", [], "0.00", "10000.00")
    assert got["updated_at"] is None and got["orderable"] is False
    cm = world.auth(world.user("channel_manager"))
    assert client.get(DRAFT, headers=cm).get_json()["dealer_code"] is None
    named = client.get(DRAFT, query_string={"dealer": "SH-1"}, headers=cm).get_json()
    assert (named["dealer_code"], named["available"]) == ("SH-1", "10000.00")
    assert client.get(DRAFT, query_string={"dealer": "SH-2"}, headers=shop["sh1"]).status_code == 404
    assert world.count(OrderDraft) == 0


def test_put_replaces_the_draft_and_delete_discards_it(client, world, shop):
    client.put(DRAFT, json={"lines": [{"sku": "OIL-1", "quantity": 3}], "note": "一"}, headers=shop["sh1"])
    resp = client.put(DRAFT, json={"lines": [{"sku": "FLT-1", "quantity": 2}]}, headers=shop["sh1"])
    assert _lines(resp.get_json()) == [("FLT-1", 2, "20.00", [])] and resp.get_json()["note"] is None
    assert world.count(OrderDraft) == 1
    assert client.delete(DRAFT, headers=shop["sh1"]).status_code == 204
    assert world.count(OrderDraft) == 0
    assert client.get(DRAFT, headers=shop["sh1"]).get_json()["lines"] == []
    assert client.delete(DRAFT, headers=shop["sh1"]).status_code == 204  # nothing to discard: the same answer


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": "OIL-1", "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "OIL-1", "quantity": 1, "options": {"colour": "RED"}}]}, "lines.0.options"),
        ({"requested_on": "2020-01-01"}, "requested_on"),
        ({"ship_to": "other"}, "ship_to"),
        ({"ship_to": 987654}, "ship_to"),
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(client, world, shop, change, field):
    client.put(DRAFT, json={"lines": [{"sku": "OIL-1", "quantity": 3}], "note": "原样"}, headers=shop["sh1"])
    if change.get("ship_to") == "other":
        change = {"ship_to": shop["other"]}  # an address of another dealer
    before = world.snapshot()
    resp = client.put(DRAFT, json={"lines": [{"sku": "FLT-1", "quantity": 1}], **change}, headers=shop["sh1"])
    assert resp.status_code == 422
    assert field in named(resp.get_json()["error"]["fields"]), resp.get_json()
    assert world.snapshot() == before
    assert _lines(client.get(DRAFT, headers=shop["sh1"]).get_json()) == [("OIL-1", 3, "10.00", [])]
    # the same body placed directly is refused the same way
    resp = client.post("/api/v1/orders", json={"lines": [{"sku": "FLT-1", "quantity": 1}], **change},
                       headers=shop["sh1"])  # fmt: skip
    assert resp.status_code == 422 and field in named(resp.get_json()["error"]["fields"])
    assert world.count(Order) == 0


def test_a_dealer_user_keeps_drafts_for_its_own_dealer_only(client, world, shop):
    body = {"lines": [{"sku": "OIL-1", "quantity": 1}]}
    assert client.put(DRAFT, json={**body, "dealer_code": "SH-2"}, headers=shop["sh1"]).status_code == 404
    assert client.put(DRAFT, json={**body, "dealer_code": "NO-SUCH"}, headers=shop["sh1"]).status_code == 404
    assert world.count(OrderDraft) == 0
    resp = client.put(DRAFT, json={**body, "dealer_code": "SH-1"}, headers=shop["sh1"])
    assert resp.status_code == 200 and resp.get_json()["dealer_code"] == "SH-1"
    fin = world.auth(world.user("finance"))
    assert client.put(DRAFT, json={**body, "dealer_code": "SH-1"}, headers=fin).status_code == 403
    assert client.get(DRAFT, headers=fin).status_code == 403
    assert world.count(OrderDraft) == 1


def test_submitting_twice_with_one_key_makes_one_order_and_the_draft_is_gone(client, world, shop):
    client.put(DRAFT, json={"lines": [{"sku": "OIL-1", "quantity": 3}], "ship_to": shop["yard"]}, headers=shop["sh1"])
    key = {**shop["sh1"], "Idempotency-Key": "basket-1"}
    first = client.post(SUBMIT, headers=key)
    assert first.status_code == 201, first.get_json()
    order = first.get_json()
    assert (order["status"], order["gross"], order["ship_to"]["id"]) == ("approved", "33.90", shop["yard"])
    assert order["placed_by"] is None and order["amendable"] is True
    assert world.count(OrderDraft) == 0 and world.count(Order) == 1
    again = client.post(SUBMIT, headers=key)
    assert again.status_code == 200 and again.get_json()["number"] == order["number"]
    assert world.count(Order) == 1
    # a new basket submitted with the key already used: refused, the basket kept
    client.put(DRAFT, json={"lines": [{"sku": "FLT-1", "quantity": 1}]}, headers=shop["sh1"])
    other = client.post(SUBMIT, headers=key)
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_mismatch"
    assert world.count(Order) == 1 and world.count(OrderDraft) == 1
    assert client.post(SUBMIT, headers={**shop["sh1"], "Idempotency-Key": " "}).status_code == 422
    assert client.post(SUBMIT, headers=shop["sh1"]).status_code == 201  # without a key: a second order
    assert world.count(Order) == 2 and world.count(OrderDraft) == 0


def test_an_empty_draft_and_a_line_no_longer_sold_are_refused_at_submit(client, world, shop):
    resp = client.post(SUBMIT, headers=shop["sh1"])
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "draft_empty"
    client.put(DRAFT, json={"lines": [{"sku": "OIL-1", "quantity": 2}, {"sku": "FLT-1", "quantity": 1}]},
               headers=shop["sh1"])  # fmt: skip
    _set_active(world, "FLT-1", False)
    shown = client.get(DRAFT, headers=shop["sh1"]).get_json()
    assert shown["orderable"] is False and shown["gross"] == "22.60"  # the lines that can be ordered
    oil, flt = shown["lines"]
    assert oil["errors"] == [] and flt["unit_price"] is None and flt["errors"]
    resp = client.post(SUBMIT, headers=shop["sh1"])
    assert resp.status_code == 422 and "lines.1.sku" in resp.get_json()["error"]["fields"]
    assert world.count(Order) == 0 and world.count(OrderDraft) == 1


def test_order_again_copies_the_lines_at_todays_prices_and_lists_what_it_left_out(client, world, shop):
    world.product("OLD-1", list_price="5.00")
    placed = client.post("/api/v1/orders", json={"lines": [{"sku": "OIL-1", "quantity": 10},
                                                           {"sku": "OLD-1", "quantity": 4}]},
                         headers=shop["sh1"]).get_json()  # fmt: skip
    assert placed["lines"][0]["unit_price"] == "10.00"
    world.price_list("all", [{"sku": "OIL-1", "discount_pct": "10"}])  # today's price: 9.00
    _set_active(world, "OLD-1", False)
    resp = client.post(f"/api/v1/orders/{placed['number']}/reorder", headers=shop["sh1"])
    assert resp.status_code == 200, resp.get_json()
    draft = resp.get_json()
    assert _lines(draft) == [("OIL-1", 10, "9.00", [])] and draft["gross"] == "101.70"
    assert draft["skipped"] == [{"sku": "OLD-1", "quantity": 4, "reason": "No longer sold."}]
    # ordered again: at today's price, the first order untouched
    again = client.post(SUBMIT, headers=shop["sh1"]).get_json()
    assert again["number"] != placed["number"] and again["lines"][0]["unit_price"] == "9.00"
    first = client.get(f"/api/v1/orders/{placed['number']}", headers=shop["sh1"]).get_json()
    assert first["gross"] == placed["gross"] == "135.60"
    # another dealer's order is not there for this user
    other = world.order("SH-2", [("OIL-1", 1)])
    assert client.post(f"/api/v1/orders/{other}/reorder", headers=shop["sh1"]).status_code == 404
    assert world.count(OrderDraft) == 0


def test_the_put_answers_the_ship_to_it_saved(client, world, shop):
    """PUT answers the draft as saved: a changed ship-to address is the new one, in the answer as in a later GET."""
    client.put(DRAFT, json={"lines": [], "ship_to": shop["home"]}, headers=shop["sh1"])
    resp = client.put(DRAFT, json={"lines": [], "ship_to": shop["yard"]}, headers=shop["sh1"])
    assert client.get(DRAFT, headers=shop["sh1"]).get_json()["ship_to"]["id"] == shop["yard"]
    assert resp.get_json()["ship_to"]["id"] == shop["yard"]
