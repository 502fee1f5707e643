"""The receipt page's "something missing or damaged?" section (PRODUCT.md §13): goods declared short (a stock
quantity) or damaged (a VIN) open claims and stay out of the dealer's stock; a bad declaration is shown next to its
input with 422 and nothing received; a receipt with nothing declared works as before; a received shipment offers
its dealer admin a return request."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.platform.timeutil import freeze, today
from portal.production.models import Unit
from portal.returns.models import DeliveryDiscrepancy, SellInCorrection
from portal.shipping.models import Shipment, ShipmentLine
from tests.conftest import login, page_csrf
from tests.test_shipping_api import T0, complete


@pytest.fixture
def sent(world):
    """A shipment on its way to SH-1: 2 cars (VIN) and 7 × OIL-1."""
    world.region("EAST")
    world.dealer("SH-1", "EAST")
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
    world.user("dealer_admin", dealer="SH-1", username="sh.admin")
    world.user("channel_manager", username="cm")
    oil_line = world.run(
        lambda: (
            db.session.query(ShipmentLine.id)
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .filter(Shipment.number == shipment, ShipmentLine.sku == "OIL-1")
            .scalar()
        )
    )
    return {"shipment": shipment, "serials": serials, "oil": f"line-{oil_line}"}


def text(resp) -> str:
    return resp.get_data(as_text=True)


def held(world, sku=None, serial=None) -> int:
    def read():
        q = db.session.query(db.func.coalesce(db.func.sum(DealerStockMove.quantity), 0))
        q = q.filter(DealerStockMove.sku == sku) if sku else q.filter(DealerStockMove.serial == serial)
        return int(q.scalar())

    return world.run(read)


def post_receive(client, sent, **fields):
    number = sent["shipment"]
    data = {"csrf_token": page_csrf(client, f"/shipments/{number}"), "received_on": today().isoformat(), **fields}
    return client.post(f"/shipments/{number}/receive", data=data)


def test_the_page_lists_every_line_and_vin_to_declare(client, world, sent):
    login(client, "sh.staff")
    page = text(client.get(f"/shipments/{sent['shipment']}"))
    assert "data-claims" in page and "Something missing or damaged?" in page
    assert re.search(rf'name="{sent["oil"]}-qty" value="0"', page) and f'name="{sent["oil"]}-kind"' in page
    for vin in sent["serials"]:
        assert f'name="vin-{vin}-kind"' in page and f'name="vin-{vin}-note"' in page
    assert "data-claims open" not in page  # folded until something is declared


def test_a_short_quantity_and_a_damaged_vin_open_two_claims_and_stay_out_of_stock(client, world, sent):
    login(client, "sh.staff")
    damaged = sent["serials"][1]
    resp = post_receive(
        client,
        sent,
        **{
            f"{sent['oil']}-qty": "2",
            f"{sent['oil']}-kind": "short",
            f"{sent['oil']}-note": "少两桶",
            f"vin-{damaged}-kind": "damaged",
            f"vin-{damaged}-note": "左前门凹陷",
            f"vin-{sent['serials'][0]}-kind": "",  # received fine
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/shipments/{sent['shipment']}")
    page = text(client.get(resp.headers["Location"]))
    assert f"Shipment {sent['shipment']} received" in page
    assert "2 delivery discrepancy claims opened for HQ" in page and 'href="/discrepancies" data-claims-link' in page
    assert "data-claims-declared" in page
    assert world.get(Shipment, number=sent["shipment"])["status"] == "received"
    claims = world.run(
        lambda: sorted(
            (d.sku, d.serial or "", d.quantity, d.kind, d.note) for d in db.session.query(DeliveryDiscrepancy)
        )
    )
    assert claims == [("CAR-1", damaged, 1, "damaged", "左前门凹陷"), ("OIL-1", "", 2, "short", "少两桶")]
    assert world.count(SellInCorrection) == 2
    assert held(world, sku="OIL-1") == 5
    assert held(world, serial=damaged) == 0 and held(world, serial=sent["serials"][0]) == 1
    assert world.get(Unit, serial=damaged)["stage"] == "shipped"
    assert world.get(Unit, serial=sent["serials"][0])["stage"] == "delivered"


def test_a_quantity_above_the_line_is_refused_next_to_its_input_and_nothing_is_received(client, world, sent):
    login(client, "sh.staff")
    before = world.snapshot()
    resp = post_receive(client, sent, **{f"{sent['oil']}-qty": "8", f"{sent['oil']}-kind": "damaged"})
    page = text(resp)
    assert resp.status_code == 422
    assert "At most 7 of OIL-1 were shipped." in page
    assert re.search(rf'class="form-control is-invalid"[^>]*name="{sent["oil"]}-qty" value="8"', page)
    assert "data-claims open" in page  # unfolded, with what was typed
    assert world.snapshot() == before
    assert world.get(Shipment, number=sent["shipment"])["status"] == "in_transit"
    assert world.count(DealerStockMove) == 0 and world.count(DeliveryDiscrepancy) == 0


@pytest.mark.parametrize("typed", ["two", "-1", "1.5"])
def test_a_quantity_that_is_not_a_whole_number_is_a_field_error(client, world, sent, typed):
    login(client, "sh.staff")
    before = world.snapshot()
    resp = post_receive(client, sent, **{f"{sent['oil']}-qty": typed, f"{sent['oil']}-kind": "short"})
    assert resp.status_code == 422 and "A whole number from 0 to 7." in text(resp)
    assert world.snapshot() == before


def test_a_vin_note_without_a_kind_is_asked_about(client, world, sent):
    login(client, "sh.staff")
    before = world.snapshot()
    resp = post_receive(client, sent, **{f"vin-{sent['serials'][0]}-note": "划痕"})
    assert resp.status_code == 422 and "Short or damaged? Choose one, or clear the note." in text(resp)
    assert world.snapshot() == before


def test_receiving_with_nothing_declared_works_as_before(client, world, sent):
    login(client, "sh.staff")
    resp = post_receive(client, sent, **{f"{sent['oil']}-qty": "0", f"{sent['oil']}-kind": "short"})
    assert resp.status_code == 302
    page = text(client.get(resp.headers["Location"]))
    assert "delivery discrepancy claim" not in page and "data-claims-declared" not in page
    assert world.count(DeliveryDiscrepancy) == 0
    assert held(world, sku="OIL-1") == 7 and all(held(world, serial=s) == 1 for s in sent["serials"])
    assert world.get(Shipment, number=sent["shipment"])["status"] == "received"


def test_the_bare_receipt_form_without_discrepancy_fields_still_receives(client, world, sent):
    login(client, "sh.staff")
    resp = post_receive(client, sent)
    assert resp.status_code == 302 and world.count(DeliveryDiscrepancy) == 0
    assert held(world, sku="OIL-1") == 7


def test_a_received_shipment_offers_its_dealer_admin_a_return_and_not_staff(client, world, sent):
    number = sent["shipment"]
    login(client, "sh.admin")
    assert "data-request-return" not in text(client.get(f"/shipments/{number}"))  # not received yet
    assert post_receive(client, sent).status_code == 302
    page = text(client.get(f"/shipments/{number}"))
    assert f'href="/returns/new?shipment={number}" data-request-return' in page
    assert "Request a return" in page
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    login(client, "sh.staff")
    assert "data-request-return" not in text(client.get(f"/shipments/{number}"))
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    login(client, "cm")
    assert "data-request-return" not in text(client.get(f"/shipments/{number}"))
