"""Delivery discrepancies (PRODUCT.md §13): goods declared short or damaged at receipt do not enter the dealer's stock
and open a claim; HQ resolves it once, by a re-shipment that posts no invoice, or by a credit note for the goods'
invoiced gross; bad declarations are refused whole. The channel roll-up is checked after every test (conftest)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.platform.timeutil import freeze
from portal.production.models import Unit
from portal.returns.models import DeliveryDiscrepancy, SellInCorrection
from portal.shipping.models import Shipment
from tests.test_shipping_api import T0, complete


@pytest.fixture
def sent(world):
    """A shipment on its way to SH-1: 2 cars (VIN) and 7 × OIL-1 (line gross 263.64)."""
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
    world.user("dealer_staff", dealer="SH-1", username="sh.staff")
    world.user("dealer_admin", dealer="XA-1", username="xa.admin")
    world.user("channel_manager", username="cm")
    return {"shipment": shipment, "serials": serials}


def receive(client, world, sent, discrepancies, status=200):
    resp = client.post(f"/api/v1/shipments/{sent['shipment']}/receive", json={"discrepancies": discrepancies},
                       headers=world.auth("sh.staff"))  # fmt: skip
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def held(world, sku=None, serial=None) -> int:
    def read():
        q = db.session.query(db.func.coalesce(db.func.sum(DealerStockMove.quantity), 0))
        q = q.filter(DealerStockMove.sku == sku) if sku else q.filter(DealerStockMove.serial == serial)
        return int(q.scalar())

    return world.run(read)


def _flat(fields: dict, prefix: str = "") -> set[str]:
    """The error paths of the schema's (nested) and the service's (dotted) field errors alike."""
    out = set()
    for key, value in fields.items():
        path = f"{prefix}{key}"
        out |= _flat(value, f"{path}.") if isinstance(value, dict) else {path}
    return out


def resolve(client, world, number, how, status=200):
    resp = client.post(f"/api/v1/discrepancies/{number}/resolve", json={"how": how}, headers=world.auth("cm"))
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_declared_goods_stay_out_of_stock_and_open_claims(client, world, sent):
    damaged_car = sent["serials"][1]
    receive(client, world, sent, [{"sku": "OIL-1", "quantity": 2, "kind": "short", "note": "少两桶"},
                                  {"serial": damaged_car, "kind": "damaged", "note": "左前门凹陷"}])  # fmt: skip
    assert held(world, sku="OIL-1") == 5
    assert held(world, serial=damaged_car) == 0 and held(world, serial=sent["serials"][0]) == 1
    assert world.get(Unit, serial=damaged_car)["stage"] == "shipped"
    claims = client.get("/api/v1/discrepancies", headers=world.auth("cm")).get_json()["items"]
    assert sorted((c["sku"], c["quantity"], c["kind"], c["value"], c["status"]) for c in claims) == [
        ("CAR-1", 1, "damaged", "113000.00", "open"), ("OIL-1", 2, "short", "75.33", "open")]  # fmt: skip
    # scoped: another dealer sees none of them
    assert client.get("/api/v1/discrepancies", headers=world.auth("xa.admin")).get_json()["total"] == 0
    number = claims[0]["number"]
    assert client.get(f"/api/v1/discrepancies/{number}", headers=world.auth("xa.admin")).status_code == 404


def test_a_credit_note_for_the_invoiced_gross_once(client, world, sent):
    receive(client, world, sent, [{"sku": "OIL-1", "quantity": 2, "kind": "short"}])
    number = world.get(DeliveryDiscrepancy, sku="OIL-1")["number"]
    got = resolve(client, world, number, "credit")
    assert got["status"] == "credited"
    note = world.get(LedgerEntry, number=got["credit_note_number"])
    assert note["amount"] == Decimal("75.33") and note["type"] == "credit_note"
    notes = world.count(LedgerEntry, type="credit_note")
    assert resolve(client, world, number, "reship", status=409)["error"]["code"] == "already_resolved"
    resolve(client, world, number, "credit", status=409)
    assert world.count(LedgerEntry, type="credit_note") == notes


def test_a_reshipment_sends_the_goods_again_without_an_invoice(client, world, sent):
    receive(client, world, sent, [{"sku": "OIL-1", "quantity": 2, "kind": "damaged"},
                                  {"serial": sent["serials"][1], "kind": "short"}])  # fmt: skip
    invoices = world.count(LedgerEntry, type="invoice")
    for disc in world.run(lambda: [d.number for d in db.session.query(DeliveryDiscrepancy)]):
        got = resolve(client, world, disc, "reship")
        assert got["status"] == "reshipped" and got["reship_number"].startswith("DN-")
        reship = world.get(Shipment, number=got["reship_number"])
        assert reship["kind"] == "reship" and reship["invoice_id"] is None
        shown = client.get(f"/api/v1/shipments/{reship['number']}", headers=world.auth("sh.staff")).get_json()
        assert shown["kind"] == "reship" and shown["invoice"] is None
        pdf = client.get(f"/api/v1/shipments/{reship['number']}/pdf", headers=world.auth("sh.staff"))
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        resp = client.post(f"/api/v1/shipments/{reship['number']}/receive", json={}, headers=world.auth("sh.staff"))
        assert resp.status_code == 200, resp.get_json()
    assert world.count(LedgerEntry, type="invoice") == invoices  # nothing invoiced twice
    from tests.conftest import login

    page = client.application.test_client()
    login(page, "sh.staff")
    listed = page.get("/shipments")
    assert listed.status_code == 200 and "DN-" in listed.get_data(as_text=True)
    for fmt in ("csv", "xlsx"):
        assert page.get(f"/shipments?format={fmt}").status_code == 200
    for number in world.run(lambda: [s.number for s in db.session.query(Shipment).filter_by(kind="reship")]):
        shown = page.get(f"/shipments/{number}")
        assert shown.status_code == 200 and "data-reship" in shown.get_data(as_text=True)
    assert held(world, sku="OIL-1") == 7 and held(world, serial=sent["serials"][1]) == 1
    assert world.get(Unit, serial=sent["serials"][1])["stage"] == "delivered"
    # sell-in: taken back at the receipt, back again with the re-shipment — the original sell-in in the end
    total = world.run(lambda: db.session.query(db.func.sum(SellInCorrection.amount)).scalar())
    assert Decimal(total) == Decimal("-113075.33")
    # the car that came again is returned by its VIN, like any other
    world.user("dealer_admin", dealer="SH-1", username="sh.admin")
    reship = world.get(DeliveryDiscrepancy, serial=sent["serials"][1])["reship_id"]
    number = world.get(Shipment, id=reship)["number"]
    body = {"shipment_number": number, "lines": [{"serial": sent["serials"][1]}], "reason": "quality"}
    resp = client.post("/api/v1/returns", json=body, headers=world.auth("sh.admin"))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["lines"][0]["serial"] == sent["serials"][1]
    resp = client.post("/api/v1/returns", json={**body, "lines": [{"sku": "CAR-1", "quantity": 1}]},
                       headers=world.auth("sh.admin"))  # fmt: skip
    assert resp.status_code == 422  # a VIN line is returned by its VIN


@pytest.mark.parametrize(
    "items,field",
    [
        ([{"sku": "OIL-1", "quantity": 8, "kind": "short"}], "discrepancies.0.quantity"),
        ([{"sku": "OIL-1", "quantity": 0, "kind": "short"}], "discrepancies.0.quantity"),
        ([{"sku": "NOPE-9", "quantity": 1, "kind": "short"}], "discrepancies.0.sku"),
        ([{"serial": "LNOTINTHESHIPMENT", "kind": "damaged"}], "discrepancies.0.serial"),
        ([{"sku": "OIL-1", "quantity": 1, "kind": "lost"}], "discrepancies.0.kind"),
    ],
)
def test_bad_declarations_receive_nothing(client, world, sent, items, field):
    got = receive(client, world, sent, items, status=422)
    assert field in _flat(got["error"]["fields"]), got
    assert world.get(Shipment, number=sent["shipment"])["status"] == "in_transit"
    assert world.count(DeliveryDiscrepancy) == 0 and world.count(DealerStockMove) == 0


def test_the_list_exports_as_csv_and_xlsx(client, world, sent):
    import csv
    import io

    from openpyxl import load_workbook

    from tests.conftest import login

    receive(client, world, sent, [{"sku": "OIL-1", "quantity": 2, "kind": "short", "note": "少两桶"}])
    world.user("channel_manager", username="cm2")
    login(client, "cm2")
    text = client.get("/discrepancies?format=csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["number", "declared_on", "dealer_code"] and rows[1][5:9] == ["OIL-1", "", "2", "short"]
    sheet = load_workbook(io.BytesIO(client.get("/discrepancies?format=xlsx").data)).active
    assert [c.value for c in sheet[2]][5] == "OIL-1"


def test_a_reshipped_car_damaged_again_is_declared_by_its_vin(client, world, sent):
    car = sent["serials"][1]
    receive(client, world, sent, [{"serial": car, "kind": "short"}])
    first = world.get(DeliveryDiscrepancy, serial=car)["number"]
    reship = resolve(client, world, first, "reship")["reship_number"]
    resp = client.post(f"/api/v1/shipments/{reship}/receive", json={"discrepancies": [{"serial": car,
                       "kind": "damaged", "note": "又有划痕"}]}, headers=world.auth("sh.staff"))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert held(world, serial=car) == 0 and world.get(Unit, serial=car)["stage"] == "shipped"
    assert world.count(DeliveryDiscrepancy, serial=car) == 2
    refused = client.post(f"/api/v1/shipments/{reship}/receive", json={}, headers=world.auth("sh.staff"))
    assert refused.status_code == 409  # received once
