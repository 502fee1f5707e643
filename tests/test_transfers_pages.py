"""The distributor's pages for shipping to its sub-dealers (PRODUCT.md §16): the ship page offers its own VINs and
shows what it holds of each SKU, ships through the form (409 with the stock as it is now when it moved meanwhile),
the shipments list has a "Transfers to sub-dealers" tab, the shipment page says who shipped it, the sub-dealer
receives it (no HQ claim form), and the distributor's stock page shows its transfers on their way."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.orders.models import Order, OrderLine
from portal.platform.timeutil import freeze
from portal.shipping.models import Shipment
from tests.conftest import login, page_csrf
from tests.transfer_helpers import NOW, TODAY, make_chain, on_hand, receive


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def chain(world):
    return make_chain(world)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def line_id(world, order: str, sku: str) -> int:
    return world.run(lambda: db.session.query(OrderLine.id).join(Order, Order.id == OrderLine.order_id)
                     .filter(Order.number == order, OrderLine.sku == sku).scalar())  # fmt: skip


def post_ship(client, world, order, *, serials=(), oil="0"):
    page = text(client.get(f"/orders/{order}/ship"))
    key = re.search(r'name="key" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": page_csrf(client, f"/orders/{order}/ship"),
        "key": key,
        "action": "ship",
        "serial": list(serials),
        f"qty-{line_id(world, order, 'OIL-1')}": oil,
        "shipped_on": TODAY.isoformat(),
    }
    return client.post(f"/orders/{order}/ship", data=data)


def test_the_ship_page_offers_the_distributors_own_vins_and_stock(client, world, chain):
    login(client, "dist1.staff")
    resp = client.get(f"/orders/{chain['order']}/ship")
    page = text(resp)
    assert resp.status_code == 200
    assert "A transfer out of your own stock (DIST-1) to your sub-dealer SUB-1A" in page
    cars = chain["cars"]
    for vin in cars[:2]:  # the order asks for 2: the two longest held are ticked
        assert re.search(rf'name="serial" value="{vin}" id="unit-{vin}" data-unit checked', page)
    assert re.search(rf'name="serial" value="{cars[2]}" id="unit-{cars[2]}" data-unit >', page)  # offered, not ticked
    assert chain["van"] not in page and chain["other_car"] not in page  # not asked for; not its own
    on_hand_cells = re.findall(r'data-on-hand data-label="On hand">(\d+)<', page)
    assert on_hand_cells == ["3", "30"]  # CAR-1, OIL-1 in DIST-1's yard
    oil = line_id(world, chain["order"], "OIL-1")
    assert re.search(rf'name="qty-{oil}" id="qty-{oil}" value="10"', page)  # what is left, all of it on hand
    assert "Received 2026-11-06" in page
    # the preview: 2 cars at 120,000.00 + 13 % and 10 cans at 40.00 + 13 %
    assert 'data-total="gross">271,652.00<' in page


@pytest.mark.parametrize("username", ["cm", "sub1a.staff"])
def test_hq_and_the_buyer_get_no_ship_page(client, world, chain, username):
    login(client, username)
    assert client.get(f"/orders/{chain['order']}/ship").status_code == 403


def test_shipping_through_the_form_and_the_shipment_page(client, world, chain):
    login(client, "dist1.staff")
    resp = post_ship(client, world, chain["order"], serials=chain["cars"][:1], oil="4")
    assert resp.status_code == 302, text(resp)
    number = world.run(lambda: Shipment.query.filter(Shipment.seller_id.is_not(None)).one().number)
    assert resp.headers["Location"].endswith(f"/shipments/{number}")
    assert on_hand(world, "DIST-1")["OIL-1"] == 26
    page = text(client.get(f"/shipments/{number}"))
    assert "DIST-1 · 经销商DIST-1" in page and "dist1.staff" in page
    assert f"data-vin>{chain['cars'][0]}<" in page and "135,780.80" in page
    assert "Confirm receipt" not in page  # the distributor does not receive its own transfer
    invoice = world.get(LedgerEntry, id=world.get(Shipment, number=number)["invoice_id"])
    assert invoice["amount"] == Decimal("135780.80")


def test_stock_gone_meanwhile_shows_the_form_again_with_409(client, world, chain):
    login(client, "dist1.staff")
    page = text(client.get(f"/orders/{chain['order']}/ship"))
    key = re.search(r'name="key" type="hidden" value="([^"]+)"', page).group(1)
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 28, "unit_price": Decimal("45.00")}])
    before = world.snapshot()
    data = {"csrf_token": page_csrf(client, f"/orders/{chain['order']}/ship"), "key": key, "action": "ship",
            f"qty-{line_id(world, chain['order'], 'OIL-1')}": "4", "shipped_on": TODAY.isoformat()}  # fmt: skip
    resp = client.post(f"/orders/{chain['order']}/ship", data=data)
    page = text(resp)
    assert resp.status_code == 409
    assert "DIST-1&#39;s stock is short: OIL-1 (2 on hand). Nothing was shipped." in page
    assert "Only 2 of OIL-1 in DIST-1&#39;s stock on 2026-11-20 and after." in page
    assert re.findall(r'data-on-hand data-label="On hand">(\d+)<', page) == ["3", "2"]
    assert world.snapshot() == before


def test_the_shipments_list_has_a_transfers_tab(client, world, chain):
    login(client, "dist1.staff")
    post_ship(client, world, chain["order"], oil="2")
    everything = text(client.get("/shipments"))
    assert "Transfers to sub-dealers" in everything and everything.count("data-shipment=") == 2
    transfers = text(client.get("/shipments?seller=DIST-1"))
    assert transfers.count("data-shipment=") == 1 and 'data-shipped-by="DIST-1"' in transfers
    assert "SUB-1A" in transfers
    export = text(client.get("/shipments?seller=DIST-1&format=csv"))
    assert export.splitlines()[0].endswith(",seller_code") and export.splitlines()[1].endswith(",DIST-1")


def test_the_sub_dealer_receives_a_transfer_without_hq_claims(client, world, chain):
    login(client, "dist1.staff")
    post_ship(client, world, chain["order"], serials=chain["cars"][:1], oil="4")
    number = world.run(lambda: Shipment.query.filter(Shipment.seller_id.is_not(None)).one().number)
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    login(client, "sub1a.staff")
    page = text(client.get(f"/shipments/{number}"))
    assert "Confirm receipt" in page and "data-claims" not in page and "data-transfer-claims" in page
    assert "Settle it with DIST-1 directly" in page
    incoming = text(client.get("/shipments"))
    assert 'data-shipped-by="DIST-1"' in incoming
    csrf = page_csrf(client, f"/shipments/{number}")
    resp = client.post(f"/shipments/{number}/receive", data={"csrf_token": csrf, "received_on": TODAY.isoformat()})
    assert resp.status_code == 302
    assert on_hand(world, "SUB-1A") == {"CAR-1": 1, "OIL-1": 4}
    stock = text(client.get("/dealers/SUB-1A/stock"))
    assert chain["cars"][0] in stock and "data-total-on-hand>5<" in stock
    assert "Request a return" not in text(client.get(f"/shipments/{number}"))  # a return goes to HQ: not for this


def test_the_distributors_stock_page_shows_its_transfers_on_their_way(client, world, chain):
    login(client, "dist1.admin")
    post_ship(client, world, chain["order"], oil="3")
    page = text(client.get("/dealers/DIST-1/stock"))
    assert "Transfers on their way to sub-dealers" in page and "data-total-on-hand>31<" in page  # 3 + 1 + 27
    assert re.search(r"OIL-1 × 3", page) and "data-sub-dealer-stock" in page
    assert 'href="/dealers/SUB-1A/stock"' in page
    assert client.get("/dealers/SUB-1A/stock").status_code == 200  # its sub-dealer's stock: read, no adjusting
    assert "data-adjust-form" not in text(client.get("/dealers/SUB-1A/stock"))


def test_a_distributor_lists_its_sub_dealers_sales_with_their_codes(client, world, chain):
    login(client, "dist1.staff")
    post_ship(client, world, chain["order"], oil="4")
    number = world.run(lambda: Shipment.query.filter(Shipment.seller_id.is_not(None)).one().number)
    receive(world, number, "sub1a.staff")
    world.sell("SUB-1A", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 3, "unit_price": Decimal("55.00")}])
    world.sell("DIST-1", [{"sold_on": TODAY, "sku": "OIL-1", "quantity": 1, "unit_price": Decimal("45.00")}])
    page = text(client.get("/sell-through"))
    assert 'href="/dealers/SUB-1A/stock">SUB-1A<' in page and 'href="/dealers/DIST-1/stock">DIST-1<' in page
    only_sub = text(client.get("/sell-through?dealer=SUB-1A"))
    assert "165.00" in only_sub and "DIST-1/stock" not in only_sub
