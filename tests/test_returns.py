"""Returns (RMA, PRODUCT.md §13): what may be returned (received − sold − already returned, a sold VIN, the window),
the restocking fee rounded per line, the whole life (request → approve → ship back → receive) with one credit note
at the invoiced gross less the fee, and what each step refuses with nothing written. Every test ends with the channel
roll-up checked against its rows (conftest), so the negative sell-in of a return is kept exact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove, HqStock
from portal.platform.timeutil import freeze, today
from portal.production.models import Unit
from portal.returns.models import Return, SellInCorrection
from tests.test_shipping_api import T0, complete


@pytest.fixture
def shop(client, world):
    """SH-1 received a shipment of 2 cars (VIN) and 7 × OIL-1 (33.33 + 13 %: 263.64 for the line)."""
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST")
    world.dealer("XA-1", "WEST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="33.33")
    world.stock("OIL-1", 100)
    world.credit_limit("SH-1", "10000000")
    with freeze(T0):
        order = world.order("SH-1", [("CAR-1", 2), ("OIL-1", 7)])
    serials = world.serials(order)
    complete(world, serials)
    shipment = world.shipment(order, [("OIL-1", 7)], serials=serials)
    people = {
        "admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "other": world.user("dealer_admin", dealer="XA-1", username="xa.admin"),
        "rm_west": world.user("region_manager", region="WEST", username="rm.west"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "cm": world.user("channel_manager", username="cm"),
    }
    resp = client.post(f"/api/v1/shipments/{shipment}/receive", json={}, headers=world.auth("sh.staff"))
    assert resp.status_code == 200, resp.get_json()
    return {"order": order, "shipment": shipment, "serials": serials, **people}


def call(client, world, who, path, body=None, status=200):
    resp = client.post(f"/api/v1{path}", json=body or {}, headers=world.auth(who))
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def ask(client, world, shop, lines, reason="damaged", status=201, who="sh.admin"):
    body = {"shipment_number": shop["shipment"], "lines": lines, "reason": reason, "note": "包装破损"}
    return call(client, world, who, "/returns", body, status)


def state(world) -> dict:
    snap = world.snapshot()
    snap.pop("api_tokens")
    return snap


def test_never_more_than_received_less_sold_less_returned(client, world, shop):
    refused = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 8}], status=422)
    assert "lines.0.quantity" in refused["error"]["fields"]
    world.sell("SH-1", [{"sku": "OIL-1", "quantity": 3, "sold_on": today(), "unit_price": Decimal("40.00")}])
    ask(client, world, shop, [{"sku": "OIL-1", "quantity": 5}], status=422)  # 7 received − 3 sold = 4
    first = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 4}])
    assert first["number"].startswith(f"RT-{today():%Y%m}-") and first["status"] == "requested"
    ask(client, world, shop, [{"sku": "OIL-1", "quantity": 1}], status=422)  # the 4 are being returned already


def test_a_sold_vin_cannot_be_returned_and_an_unknown_one_is_refused(client, world, shop):
    sold, kept = shop["serials"]
    world.sell("SH-1", [{"sku": "CAR-1", "serial": sold, "quantity": 1, "sold_on": today(),
                         "unit_price": Decimal("120000.00")}])  # fmt: skip
    before = state(world)
    assert "lines.0.serial" in ask(client, world, shop, [{"serial": sold}], status=422)["error"]["fields"]
    assert "lines.0.serial" in ask(client, world, shop, [{"serial": "LNOTINTHESHIPMENT"}], status=422)["error"][
        "fields"
    ]
    assert state(world) == before
    got = ask(client, world, shop, [{"serial": kept}])
    assert got["lines"] == [{"sku": "CAR-1", "serial": kept, "quantity": 1, "value": "113000.00", "fee": "0.00",
                             "accepted": None, "scrapped": None}]  # fmt: skip


def test_outside_the_return_window_is_refused(client, world, shop):
    with freeze(dt.datetime.combine(today() + dt.timedelta(days=91), dt.time(3), dt.UTC)):
        refused = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 1}], status=422)
    assert "shipment_number" in refused["error"]["fields"]
    assert world.count(Return) == 0


@pytest.mark.parametrize(
    "lines,field",
    [
        ([{"sku": "OIL-1", "quantity": 0}], "lines.0.quantity"),
        ([{"sku": "OIL-1", "quantity": -2}], "lines.0.quantity"),
        ([{"sku": "NOPE-1", "quantity": 1}], "lines.0.sku"),
        ([{"sku": "CAR-1", "quantity": 1}], "lines.0.sku"),  # a VIN line is returned by its VIN
    ],
)
def test_bad_lines_are_refused_whole(client, world, shop, lines, field):
    resp = client.post("/api/v1/returns", json={"shipment_number": shop["shipment"], "lines": lines,
                                                 "reason": "damaged"}, headers=world.auth("sh.admin"))  # fmt: skip
    assert resp.status_code == 422, resp.get_json()
    assert world.count(Return) == 0


def test_the_restocking_fee_is_rounded_per_line_and_only_for_overstock(client, world, shop):
    damaged = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 1}])
    refused = call(client, world, "cm", f"/returns/{damaged['number']}/approve", {"restocking_fee_pct": "10"},
                   status=422)  # fmt: skip
    assert "restocking_fee_pct" in refused["error"]["fields"]
    over = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 3}], reason="overstock")
    # 3 of 7 pieces of a 263.64 line: 112.988… → 112.99; 15 % of it: 16.9485 → 16.95 (half up)
    assert over["lines"][0]["value"] == "112.99"
    got = call(client, world, "cm", f"/returns/{over['number']}/approve", {"restocking_fee_pct": "15"})
    assert (got["status"], got["lines"][0]["fee"], got["credit_amount"]) == ("approved", "16.95", "96.04")


def test_the_whole_life_credits_once_and_every_figure_follows(client, world, shop):
    car = shop["serials"][0]
    ret = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 3}, {"serial": car}], reason="quality")
    number = ret["number"]
    assert ret["value"] == "113112.99"
    call(client, world, "cm", f"/returns/{number}/approve", {"comment": "同意"})
    stock_before = world.count(DealerStockMove, kind="return")
    call(client, world, "sh.admin", f"/returns/{number}/ship-back")
    assert world.count(DealerStockMove, kind="return") == stock_before + 2
    hq_before = world.get(HqStock, product_id=world.get(DealerStockMove, kind="return", sku="OIL-1")["product_id"])
    got = call(client, world, "cm", f"/returns/{number}/receive",
               {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 2, "scrapped": 1}],
                "serials": [{"serial": car, "outcome": "accepted"}]})  # fmt: skip
    assert got["return"]["status"] == "received" and got["credit_note"]["amount"] == "113112.99"
    note = world.get(LedgerEntry, number=got["credit_note"]["number"])
    assert note["type"] == "credit_note" and note["amount"] == Decimal("113112.99")
    hq_after = world.get(HqStock, warehouse_id=hq_before["warehouse_id"], product_id=hq_before["product_id"])
    assert hq_after["on_hand"] == hq_before["on_hand"] + 2  # accepted back; the scrapped one is not
    assert world.get(Unit, serial=car)["stage"] == "returned"
    tracked = client.get(f"/api/v1/track/{car}", headers=world.auth("cm")).get_json()
    assert [s["stage"] for s in tracked["stages"]][-2:] == ["delivered", "returned"]  # shown once a unit reaches it
    assert [s["stage"] for s in tracked["units"][0]["stages"]][-1] == "returned"
    corrections = world.run(lambda: [(c.quantity, c.amount) for c in db.session.query(SellInCorrection)])
    assert sorted(corrections) == [
        (-3, Decimal("-112.99")), (-1, Decimal("-113000.00"))]  # fmt: skip
    # the dealer's credit and balance follow at once
    credit = client.get("/api/v1/dealers/SH-1/credit", headers=world.auth("cm")).get_json()
    ledger = client.get("/api/v1/dealers/SH-1/ledger", headers=world.auth("cm")).get_json()
    assert any(e["number"] == note["number"] for e in ledger["items"])
    assert Decimal(credit["open_receivables"]) == Decimal("226263.64") - Decimal("113112.99")
    # a second receipt (a second click) answers 409 and posts nothing
    before = state(world)
    call(client, world, "cm", f"/returns/{number}/receive", {"warehouse_code": "WH-1", "lines": []}, status=409)
    assert state(world) == before


def test_each_step_once_in_order_and_receiving_more_than_shipped_back_is_refused(client, world, shop):
    ret = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 2}])
    number = ret["number"]
    call(client, world, "sh.admin", f"/returns/{number}/ship-back", status=409)  # not approved yet
    call(client, world, "cm", f"/returns/{number}/approve")
    before = state(world)
    assert call(client, world, "cm", f"/returns/{number}/approve", status=409)["error"]["code"] == "wrong_status"
    call(client, world, "cm", f"/returns/{number}/reject", {"comment": "x"}, status=409)
    assert state(world) == before
    call(client, world, "sh.admin", f"/returns/{number}/ship-back")
    before = state(world)
    body = {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 3, "scrapped": 0}]}
    refused = call(client, world, "cm", f"/returns/{number}/receive", body, status=422)
    assert "lines.0.accepted" in refused["error"]["fields"]
    call(client, world, "cm", f"/returns/{number}/receive", {"warehouse_code": "NOWHERE", "lines": []}, status=422)
    assert state(world) == before


def test_a_rejection_needs_a_reason_and_frees_the_goods(client, world, shop):
    ret = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 7}])
    call(client, world, "cm", f"/returns/{ret['number']}/reject", {}, status=422)
    got = call(client, world, "cm", f"/returns/{ret['number']}/reject", {"comment": "非质量问题"})
    assert got["status"] == "rejected"
    ask(client, world, shop, [{"sku": "OIL-1", "quantity": 7}])  # a rejected return takes nothing


def test_returns_are_scoped(client, world, shop):
    ret = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 1}])
    for who in ("xa.admin", "rm.west"):
        resp = client.get(f"/api/v1/returns/{ret['number']}", headers=world.auth(who))
        assert resp.status_code == 404
        assert client.get("/api/v1/returns", headers=world.auth(who)).get_json()["total"] == 0
    assert client.get("/api/v1/returns", headers=world.auth("rm.east")).get_json()["total"] == 1
    call(client, world, "sh.staff", "/returns", {"shipment_number": shop["shipment"], "reason": "damaged",
                                                 "lines": [{"sku": "OIL-1", "quantity": 1}]}, status=403)  # fmt: skip
    call(client, world, "rm.east", f"/returns/{ret['number']}/approve", status=403)
