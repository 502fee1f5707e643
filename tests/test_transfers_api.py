"""Transfers through the API (PRODUCT.md §16, §9): a distributor's users ship their sub-dealer's order with the same
endpoint HQ uses, the shipment JSON says who shipped it (`seller_code`) and lists the VINs moved, `?seller=` lists a
distributor's transfers, and the sub-dealer receives through the usual endpoint. HQ, another distributor and the
buyer itself are refused; too little stock answers 409 with what is on hand."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest

from portal.credit.models import LedgerEntry
from portal.platform.timeutil import freeze
from portal.shipping.models import Shipment
from tests.transfer_helpers import NOW, TODAY, make_chain, on_hand


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def chain(world):
    made = make_chain(world)
    made["auth"] = {key: world.auth(name) for key, name in made["users"].items()}
    return made


def _ship(client, chain, who, body, key=None):
    headers = dict(chain["auth"][who], **({"Idempotency-Key": key} if key else {}))
    return client.post(f"/api/v1/orders/{chain['order']}/shipments", json=body, headers=headers)


def test_a_distributor_ships_its_sub_dealers_order_and_the_json_says_so(client, world, chain):
    car = chain["cars"][0]
    resp = _ship(client, chain, "dist", {"serials": [car], "lines": [{"sku": "OIL-1", "quantity": 4}]})
    assert resp.status_code == 201, resp.get_json()
    shipment, invoice = resp.get_json()["shipment"], resp.get_json()["invoice"]
    assert shipment["seller_code"] == "DIST-1" and shipment["dealer_code"] == "SUB-1A"
    assert shipment["gross"] == invoice["amount"] == "135780.80"
    assert invoice["due_on"] == "2027-01-04"  # 45 days after 2026-11-20
    assert {ln["sku"]: ln["serials"] for ln in shipment["lines"]} == {"CAR-1": [car], "OIL-1": []}
    # the sub-dealer reads it, with the VIN; HQ's own shipments say null
    mine = client.get(f"/api/v1/shipments/{shipment['number']}", headers=chain["auth"]["sub"]).get_json()
    assert mine["seller_code"] == "DIST-1" and mine["lines"][0]["serials"] == [car]
    hq = client.get("/api/v1/shipments?dealer=DIST-1", headers=chain["auth"]["cm"]).get_json()["items"]
    assert [s["seller_code"] for s in hq] == [None]


def test_the_seller_filter_lists_a_distributors_transfers(client, world, chain):
    number = _ship(client, chain, "dist", {"lines": [{"sku": "OIL-1", "quantity": 1}]}).get_json()["shipment"]["number"]
    for who in ("dist", "cm"):
        items = client.get("/api/v1/shipments?seller=DIST-1", headers=chain["auth"][who]).get_json()["items"]
        assert [s["number"] for s in items] == [number]
    # a distributor sees its own HQ shipment and its sub-dealer's transfer without the filter
    assert client.get("/api/v1/shipments", headers=chain["auth"]["dist"]).get_json()["total"] == 2
    for who, code in (("dist", "DIST-2"), ("dist", "SUB-1A"), ("cm", "NOPE"), ("sub", "DIST-1")):
        resp = client.get(f"/api/v1/shipments?seller={code}", headers=chain["auth"][who])
        assert resp.status_code == 422 and "seller" in resp.get_json()["error"]["fields"], (who, code)


@pytest.mark.parametrize(("who", "status"), [("cm", 403), ("dist2", 404), ("sub", 403)])
def test_hq_another_distributor_and_the_buyer_cannot_ship_it(client, world, chain, who, status):
    before = world.snapshot()
    resp = _ship(client, chain, who, {"lines": [{"sku": "OIL-1", "quantity": 1}]})
    assert resp.status_code == status, resp.get_json()
    assert world.snapshot() == before


def test_too_little_stock_answers_409_with_what_is_on_hand(client, world, chain):
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 27, "unit_price": Decimal("45.00")}])
    before = world.snapshot()
    resp = _ship(client, chain, "dist", {"lines": [{"sku": "OIL-1", "quantity": 4}]})
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "stock_short" and "OIL-1 (3 on hand)" in error["message"]
    assert error["fields"] == {"lines.0.quantity": ["Only 3 of OIL-1 in DIST-1's stock on 2026-11-20 and after."]}
    assert world.snapshot() == before


def test_a_retried_request_ships_once(client, world, chain):
    body = {"serials": chain["cars"][:1]}
    first = _ship(client, chain, "dist", body, key="k-1")
    again = _ship(client, chain, "dist_admin", body, key="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json()["shipment"]["number"] == again.get_json()["shipment"]["number"]
    assert world.count(LedgerEntry, type="invoice") == 3  # HQ's two, and this one once
    assert on_hand(world, "DIST-1")["CAR-1"] == 2


def test_the_sub_dealer_receives_through_the_api_and_the_distributor_cannot(client, world, chain):
    number = _ship(client, chain, "dist", {"serials": chain["cars"][:1]}).get_json()["shipment"]["number"]
    refused = client.post(f"/api/v1/shipments/{number}/receive", json={}, headers=chain["auth"]["dist"])
    assert refused.status_code == 403
    claim = {"discrepancies": [{"serial": chain["cars"][0], "kind": "damaged"}]}
    resp = client.post(f"/api/v1/shipments/{number}/receive", json=claim, headers=chain["auth"]["sub"])
    assert resp.status_code == 422 and "discrepancies" in resp.get_json()["error"]["fields"]
    resp = client.post(f"/api/v1/shipments/{number}/receive", json={}, headers=chain["auth"]["sub"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "received"
    stock = client.get("/api/v1/dealers/SUB-1A/stock", headers=chain["auth"]["sub"]).get_json()
    assert [v["serial"] for v in stock["vins"]] == chain["cars"][:1] and stock["totals"]["on_hand"] == 1
    # the distributor reads its sub-dealer's stock (its scope), not the other way round
    assert client.get("/api/v1/dealers/SUB-1A/stock", headers=chain["auth"]["dist"]).status_code == 200
    assert client.get("/api/v1/dealers/DIST-1/stock", headers=chain["auth"]["sub"]).status_code == 404


def test_the_delivery_note_names_the_distributor_as_the_shipper(client, world, chain):
    from pdfminer.high_level import extract_text

    number = _ship(client, chain, "dist", {"serials": chain["cars"][:1]}).get_json()["shipment"]["number"]
    pdf = client.get(f"/api/v1/shipments/{number}/pdf", headers=chain["auth"]["sub"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = extract_text(BytesIO(pdf.data))
    assert "DIST-1" in text and "杭州市西湖区文三路" in text and chain["cars"][0] in text
    assert "DRP Motors" not in text  # not HQ's name
    hq_number = world.run(lambda: Shipment.query.filter(Shipment.seller_id.is_(None)).first().number)
    hq_note = extract_text(BytesIO(client.get(f"/api/v1/shipments/{hq_number}/pdf", headers=chain["auth"]["cm"]).data))
    assert "DRP Motors" in hq_note
