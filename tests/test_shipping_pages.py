"""The shipping pages: HQ ships an order's built units and stock quantities through the form (one invoice even when
the form is sent twice), errors shown next to what they are about with 422 and nothing written, the shipments list
scoped per role with filters, paging and exports, one shipment with its delivery note, the dealer's receipt, the
order page's ship button and shipments, the dealer home's incoming shipments."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.orders.models import Order
from portal.platform.timeutil import freeze, today
from portal.production.models import Unit
from portal.shipping.models import Shipment
from tests.conftest import login, page_csrf

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=10)


@pytest.fixture
def shop(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("NORTH", parent="HQ", name="华北大区")
    world.dealer("SH-1", "EAST", payment_terms_days=45, name="上海一号")
    world.dealer("BJ-1", "NORTH", name="北京一号")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5")
    world.product("OIL-1", list_price="33.33", name="机油")  # 13 % tax: a piece's tax does not divide evenly
    world.stock("OIL-1", 100)  # HQ holds the stock line's goods
    world.credit_limit("SH-1", "10000000")
    world.credit_limit("BJ-1", "10000000")
    with freeze(T0):
        order = world.order("SH-1", [("CAR-1", 3), ("OIL-1", 7)])
        other = world.order("BJ-1", [("CAR-1", 1), ("OIL-1", 2)])
    serials, other_serials = world.serials(order), world.serials(other)
    complete(world, serials[:2] + other_serials)
    users = {
        "cm": world.user("channel_manager", username="cm"),
        "admin": world.user("hq_admin", username="hq.admin"),
        "finance": world.user("finance", username="fin"),
        "sh_staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "sh_admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "bj_staff": world.user("dealer_staff", dealer="BJ-1", username="bj.staff"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
    }
    return {"order": order, "other": other, "serials": serials, "other_serials": other_serials, **users}


def complete(world, serials):
    world.mes_events(
        [{"event_id": f"done-{s}", "serial": s, "stage": "completed", "occurred_at": T0 + dt.timedelta(days=3)}
         for s in serials]
    )  # fmt: skip


def text(resp) -> str:
    return resp.get_data(as_text=True)


def switch(client, username: str) -> None:
    """Log out, then in as someone else."""
    assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 302
    assert login(client, username).status_code == 302


def line_id(world, order: str, sku: str) -> int:
    from portal.orders.models import OrderLine

    return world.run(
        lambda: (
            db.session.query(OrderLine.id)
            .join(Order, Order.id == OrderLine.order_id)
            .filter(Order.number == order, OrderLine.sku == sku)
            .scalar()
        )
    )


def ship_form(client, order: str) -> tuple[str, str]:
    """(csrf token, one-time key) of a freshly rendered ship form."""
    page = text(client.get(f"/orders/{order}/ship"))
    key = re.search(r'name="key" type="hidden" value="([^"]+)"', page).group(1)
    return page_csrf(client, f"/orders/{order}/ship"), key


def post_ship(client, world, order, *, serials=(), oil="0", shipped_on=None, key=None, csrf=None, action="ship"):
    if csrf is None or key is None:
        csrf, fresh = ship_form(client, order)
        key = key or fresh
    data = {
        "csrf_token": csrf,
        "key": key,
        "action": action,
        "serial": list(serials),
        f"qty-{line_id(world, order, 'OIL-1')}": oil,
        "shipped_on": (shipped_on or today()).isoformat() if shipped_on != "" else "",
    }
    return client.post(f"/orders/{order}/ship", data=data)


# ------------------------------------------------------------------ the ship form


def test_the_ship_form_lists_lines_built_units_and_what_will_be_invoiced(client, world, shop):
    login(client, shop["cm"])
    resp = client.get(f"/orders/{shop['order']}/ship")
    page = text(resp)
    assert resp.status_code == 200
    for vin in shop["serials"][:2]:  # built and waiting, ticked by default
        assert re.search(rf'name="serial" value="{vin}" id="unit-{vin}" data-unit checked', page)
    assert shop["serials"][2] not in page  # still on the line
    assert "1 more still on the line" in page
    assert f'name="qty-{line_id(world, shop["order"], "OIL-1")}"' in page and 'max="7"' in page
    assert 'value="7"' in page  # stock: what is left, by default
    assert "100,000.00" in page and "33.33" in page  # unit prices
    # 2 cars: 200 000 + 26 000 tax; all 7 oil (the last of the line): 233.31 + 30.33 tax
    assert "226,263.64" in page
    assert (today() + dt.timedelta(days=45)).isoformat() in page  # the invoice's due date with the dealer's terms
    assert 'name="key" type="hidden" value="web-ship-' in page
    assert f'value="{today().isoformat()}"' in page  # ship date: today
    assert "ship.js" in page and "<script>" not in page  # CSP: static scripts only
    script = client.get("/shipping/static/ship.js")
    assert script.status_code == 200 and "BigInt" in script.get_data(as_text=True)
    script.close()


def test_the_preview_prices_what_is_chosen_without_writing(client, world, shop):
    login(client, shop["cm"])
    before = world.snapshot()
    resp = post_ship(client, world, shop["order"], serials=shop["serials"][:1], oil="2", action="preview")
    page = text(resp)
    assert resp.status_code == 200
    assert "113,075.33" in page  # 1 car 113 000.00 + 2 oil 66.66 + 8.67 tax
    assert re.search(rf'value="{shop["serials"][0]}" id="unit-{shop["serials"][0]}" data-unit checked', page)
    assert not re.search(rf'value="{shop["serials"][1]}" id="unit-{shop["serials"][1]}" data-unit checked', page)
    assert world.snapshot() == before


def test_shipping_through_the_form_invoices_once_even_when_sent_twice(client, world, shop):
    login(client, shop["cm"])
    csrf, key = ship_form(client, shop["order"])
    first = post_ship(client, world, shop["order"], serials=shop["serials"][:1], oil="2", key=key, csrf=csrf)
    assert first.status_code == 302
    number = first.headers["Location"].rsplit("/", 1)[-1]
    shipment = world.get(Shipment, number=number)
    invoice = world.get(LedgerEntry, id=shipment["invoice_id"])
    assert shipment["gross"] == invoice["amount"] == Decimal("113075.33")
    assert shipment["idempotency_key"] == key
    page = text(client.get(first.headers["Location"]))
    assert f"Shipment {number} created; invoice {invoice['number']} of 113,075.33 CNY" in page
    # the browser sends the same form again (double click, retry): the same shipment, nothing posted twice
    again = post_ship(client, world, shop["order"], serials=shop["serials"][:1], oil="2", key=key, csrf=csrf)
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    assert "This shipment was already made" in text(client.get(again.headers["Location"]))
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1
    # the same form with other choices: refused, a new key offered, nothing written
    before = world.snapshot()
    other = post_ship(client, world, shop["order"], oil="1", key=key, csrf=csrf)
    assert other.status_code == 422
    assert "This form was already used for another shipment." in text(other)
    new_key = re.search(r'name="key" type="hidden" value="([^"]+)"', text(other)).group(1)
    assert new_key != key
    assert world.snapshot() == before
    # what was shipped is no longer offered
    page = text(client.get(f"/orders/{shop['order']}/ship"))
    assert shop["serials"][0] not in page and shop["serials"][1] in page and 'max="5"' in page


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"oil": "0"}, "Choose the units or quantities to ship."),
        ({"oil": "abc"}, "A whole number from 0 to 7."),
        ({"oil": "-1"}, "A whole number from 0 to 7."),
        ({"oil": "8"}, "Only 7 left to ship."),
        ({"serials": "not-built"}, "is not built yet"),
        ({"serials": "foreign"}, "is not a unit of this order."),
        ({"oil": "1", "shipped_on": "future"}, "Between the order date and today."),
        ({"oil": "1", "shipped_on": "before"}, "Between the order date and today."),
        ({"oil": "1", "shipped_on": ""}, "Choose the ship date."),
    ],
)
def test_bad_shipments_are_shown_with_422_and_nothing_is_written(client, world, shop, kw, message):
    login(client, shop["cm"])
    kw = dict(kw)
    if kw.get("serials") == "not-built":
        kw["serials"] = shop["serials"][2:]
    elif kw.get("serials") == "foreign":
        kw["serials"] = shop["other_serials"]
    dates = {"future": today() + dt.timedelta(days=1), "before": T0.date() - dt.timedelta(days=2), "": ""}
    if "shipped_on" in kw:
        kw["shipped_on"] = dates[kw["shipped_on"]]
    before = world.snapshot()
    resp = post_ship(client, world, shop["order"], **kw)
    assert resp.status_code == 422
    assert message in text(resp)
    assert 'class="invalid-feedback d-block"' in text(resp) or 'class="alert alert-danger"' in text(resp)
    assert world.snapshot() == before


def test_a_unit_error_is_shown_next_to_its_checkbox(client, world, shop):
    login(client, shop["cm"])
    csrf, key = ship_form(client, shop["order"])
    # another HQ user ships the first unit meanwhile; this form still offers it
    world.shipment(shop["order"], [], serials=shop["serials"][:1])
    resp = post_ship(client, world, shop["order"], serials=shop["serials"][:2], key=key, csrf=csrf)
    assert resp.status_code == 422
    assert f"{shop['serials'][0]} is already shipped." in text(resp)
    assert world.count(Shipment) == 1


def test_an_order_that_cannot_be_shipped_is_refused_with_a_message(client, world, shop):
    login(client, shop["cm"])
    csrf, key = ship_form(client, shop["other"])
    everything = post_ship(client, world, shop["other"], serials=shop["other_serials"], oil="2", key=key, csrf=csrf)
    assert everything.status_code == 302
    assert world.get(Order, number=shop["other"])["status"] == "shipped"
    # sent twice: nothing is left to ship, and the second answer is still the first shipment
    twice = post_ship(client, world, shop["other"], serials=shop["other_serials"], oil="2", key=key, csrf=csrf)
    assert twice.status_code == 302 and twice.headers["Location"] == everything.headers["Location"]
    assert world.count(Shipment) == 1 and world.count(LedgerEntry, type="invoice") == 1
    resp = client.get(f"/orders/{shop['other']}/ship")  # the ship page of a shipped order
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{shop['other']}")
    assert "An order that is Shipped cannot be shipped." in text(client.get(resp.headers["Location"]))
    before = world.snapshot()
    late = post_ship(client, world, shop["other"], oil="1", key="web-ship-stale", csrf=page_csrf(client))
    assert late.status_code == 302 and late.headers["Location"].endswith(f"/orders/{shop['other']}")
    assert "cannot be shipped" in text(client.get(late.headers["Location"]))
    assert world.snapshot() == before


@pytest.mark.parametrize("who", ["sh_staff", "sh_admin", "finance", "rm_east"])
def test_only_hq_shipping_roles_may_ship(client, world, shop, who):
    login(client, shop[who])
    assert client.get(f"/orders/{shop['order']}/ship").status_code == 403
    before = world.snapshot()
    resp = client.post(f"/orders/{shop['order']}/ship", data={"csrf_token": page_csrf(client), "action": "ship"})
    assert resp.status_code == 403
    assert world.snapshot() == before
    assert "data-ship-order" not in text(client.get(f"/orders/{shop['order']}"))


def test_hq_admin_may_ship_and_the_order_page_has_the_button_and_the_shipments(client, world, shop):
    login(client, shop["admin"])
    page = text(client.get(f"/orders/{shop['order']}"))
    assert f'href="/orders/{shop["order"]}/ship" data-ship-order' in page
    assert "data-order-shipments" not in page  # nothing shipped yet
    assert post_ship(client, world, shop["order"], oil="3").status_code == 302
    number = world.run(lambda: db.session.query(Shipment.number).scalar())
    for who in ("admin", "sh_staff"):
        switch(client, shop[who])
        page = text(client.get(f"/orders/{shop['order']}"))
        assert "data-order-shipments" in page and f'href="/shipments/{number}"' in page
        assert "SI-" in page and "In transit" in page


# ------------------------------------------------------------------ the list


@pytest.fixture
def shipped(world, shop):
    a = world.shipment(shop["order"], [("OIL-1", 2)], serials=shop["serials"][:1])
    b = world.shipment(shop["other"], [("OIL-1", 1)])
    return {"sh": a, "bj": b}


@pytest.mark.parametrize(
    "who, sees",
    [
        ("cm", {"sh", "bj"}),
        ("admin", {"sh", "bj"}),
        ("finance", {"sh", "bj"}),
        ("sh_staff", {"sh"}),
        ("sh_admin", {"sh"}),
        ("bj_staff", {"bj"}),
        ("rm_east", {"sh"}),
        ("rm_north", {"bj"}),
    ],
)
def test_every_role_sees_the_shipments_of_its_scope(client, world, shop, shipped, who, sees):
    login(client, shop[who])
    resp = client.get("/shipments")
    page = text(resp)
    assert resp.status_code == 200 and 'href="/shipments" data-nav-item="shipments"' in page
    assert {k for k, number in shipped.items() if number in page} == sees
    exported = client.get("/shipments?format=csv")
    assert exported.mimetype == "text/csv"
    assert {k for k, number in shipped.items() if number in exported.get_data(as_text=True)} == sees
    for key, number in shipped.items():
        detail = client.get(f"/shipments/{number}")
        pdf = client.get(f"/shipments/{number}/delivery-note.pdf")
        assert detail.status_code == pdf.status_code == (200 if key in sees else 404)
    assert "上海一号" not in page if "sh" not in sees else "上海一号" in page


def test_the_list_filters_pages_and_exports(client, world, shop, shipped):
    login(client, shop["cm"])

    def numbers(query: str) -> set[str]:
        page = text(client.get(f"/shipments{query}"))
        return {k for k, number in shipped.items() if number in page}

    assert numbers("?dealer=SH-1") == {"sh"}
    assert numbers(f"?order={shop['other']}") == {"bj"}
    assert numbers(f"?q={shipped['bj'][-6:]}") == {"bj"}
    assert numbers("?status=in_transit") == {"sh", "bj"}
    assert numbers("?status=received") == set()
    assert numbers(f"?from={today().isoformat()}&to={today().isoformat()}") == {"sh", "bj"}
    assert numbers(f"?to={(today() - dt.timedelta(days=1)).isoformat()}") == set()
    page = text(client.get("/shipments?per_page=1"))
    assert "2 in all · page 1 of 2" in page
    resp = client.get("/shipments?format=csv&dealer=SH-1")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:6] == ["number", "shipped_on", "order_number", "dealer_code", "dealer_name", "status"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["number"] == shipped["sh"] and row["dealer_code"] == "SH-1" and row["status"] == "in_transit"
    assert row["quantity"] == "3" and row["vins"] == shop["serials"][0]
    assert Decimal(row["gross"]) == Decimal("113075.33") and row["invoice_number"].startswith("SI-")
    assert client.get("/shipments?format=xlsx").mimetype.endswith("spreadsheetml.sheet")


# ------------------------------------------------------------------ one shipment, the receipt


def test_the_shipment_page_shows_the_lines_vins_invoice_and_delivery_note(client, world, shop, shipped):
    login(client, shop["sh_staff"])
    number = shipped["sh"]
    page = text(client.get(f"/shipments/{number}"))
    invoice_id = world.get(Shipment, number=number)["invoice_id"]
    assert f'href="/entries/{invoice_id}" data-invoice' in page
    assert f'href="/track/{shop["serials"][0]}" data-vin' in page
    assert f'href="/orders/{shop["order"]}" data-order-link' in page
    assert f'href="/shipments/{number}/delivery-note.pdf"' in page
    assert "113,075.33" in page and "100,000.00" in page and "66.66" in page and "8.67" in page
    assert "data-receive>" in page and 'name="received_on"' in page  # the dealer may confirm
    pdf = client.get(f"/shipments/{number}/delivery-note.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get(f"/entries/{invoice_id}").status_code == 200
    switch(client, shop["cm"])
    page = text(client.get(f"/shipments/{number}"))
    assert "data-receive>" not in page  # HQ does not receive
    assert client.post(f"/shipments/{number}/receive", data={"csrf_token": page_csrf(client)}).status_code == 403


def test_the_dealer_confirms_receipt_and_the_order_is_delivered(client, world, shop):
    complete(world, shop["serials"][2:])
    login(client, shop["cm"])
    resp = post_ship(client, world, shop["order"], serials=shop["serials"], oil="7")
    assert resp.status_code == 302
    number = resp.headers["Location"].rsplit("/", 1)[-1]
    assert world.get(Order, number=shop["order"])["status"] == "shipped"
    assert "data-ship-order" not in text(client.get(f"/orders/{shop['order']}"))  # nothing left to ship

    switch(client, shop["sh_staff"])
    home = text(client.get("/home"))
    assert "data-incoming" in home and f'href="/shipments/{number}"' in home
    csrf = page_csrf(client, f"/shipments/{number}")
    before = world.snapshot()
    for bad, message in [
        ((today() + dt.timedelta(days=1)).isoformat(), "Between the ship date and today."),
        ((today() - dt.timedelta(days=1)).isoformat(), "Between the ship date and today."),
        ("", "Choose the date of receipt."),
    ]:
        refused = client.post(f"/shipments/{number}/receive", data={"csrf_token": csrf, "received_on": bad})
        assert refused.status_code == 422 and message in text(refused)
    assert world.snapshot() == before

    done = client.post(f"/shipments/{number}/receive", data={"csrf_token": csrf, "received_on": today().isoformat()})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/shipments/{number}")
    page = text(client.get(done.headers["Location"]))
    assert f"Shipment {number} received; order {shop['order']} is delivered in full." in page
    assert "data-receive>" not in page and 'data-status="received"' in page
    assert world.get(Shipment, number=number)["status"] == "received"
    assert world.get(Order, number=shop["order"])["status"] == "delivered"
    assert {world.get(Unit, serial=s)["stage"] for s in shop["serials"]} == {"delivered"}
    moves = world.run(lambda: sorted((m.sku, m.serial or "", m.quantity) for m in db.session.query(DealerStockMove)))
    assert moves == sorted([("CAR-1", s, 1) for s in shop["serials"]] + [("OIL-1", "", 7)])
    assert "data-incoming" not in text(client.get("/home"))
    # confirmed twice (a second tab): told so, nothing booked twice
    again = client.post(f"/shipments/{number}/receive", data={"csrf_token": csrf, "received_on": today().isoformat()})
    assert again.status_code == 302
    assert f"Shipment {number} is already received." in text(client.get(again.headers["Location"]))
    assert world.count(DealerStockMove) == 4


def test_a_partial_receipt_leaves_the_order_shipped_until_the_rest_arrives(client, world, shop, shipped):
    login(client, shop["sh_admin"])
    number = shipped["sh"]
    csrf = page_csrf(client, f"/shipments/{number}")
    resp = client.post(f"/shipments/{number}/receive", data={"csrf_token": csrf, "received_on": today().isoformat()})
    assert resp.status_code == 302
    assert f"Shipment {number} received; the goods are in your stock." in text(client.get(resp.headers["Location"]))
    assert world.get(Order, number=shop["order"])["status"] == "in_production"  # most of it not shipped yet


# ------------------------------------------------------------------ the delivery note


def _note(units: int, dealer_name: str = "上海一号"):
    from types import SimpleNamespace as NS

    dealer = NS(code="SH-1", name=dealer_name, address="浦东 <3号> & 4号", contact_name=None, contact_phone=None,
                payment_terms_days=45)  # fmt: skip
    car = NS(name="远航 X5", name_en="Voyager & Co <X5>", unit="台")
    line = NS(order_line=NS(product=car), sku="CAR-1", quantity=units, unit_price=Decimal("100000.00"),
              net=Decimal(100000 * units), tax=Decimal(13000 * units), gross=Decimal(113000 * units),
              units=[NS(serial=f"LDP{i:014d}") for i in range(units)])  # fmt: skip
    return NS(number="DN-202611-000001", order=NS(number="SO-202611-000001", dealer=dealer), lines=[line],
              invoice=NS(number="SI-202611-000001", due_on=dt.date(2027, 1, 1)), shipped_on=dt.date(2026, 11, 2),
              net=line.net, tax=line.tax, gross=line.gross, received_on=dt.date(2026, 11, 5))  # fmt: skip


def test_a_delivery_note_with_hundreds_of_vins_runs_over_several_pages():
    from portal.shipping.pdf import delivery_note

    assert re.search(rb"/Count 1\b", delivery_note(_note(2, "A&B <Motors>")))
    long = delivery_note(_note(400))  # one table cell with every VIN could not split: a LayoutError before
    pages = int(re.search(rb"/Count (\d+)", long).group(1))
    assert long.startswith(b"%PDF") and pages >= 3


def test_a_partly_shipped_order_offers_no_cancel_button(client, world, shop):
    login(client, shop["finance"])
    assert "Cancel the order" in text(client.get(f"/orders/{shop['order']}"))
    world.shipment(shop["order"], [("OIL-1", 1)])
    assert "Cancel the order" not in text(client.get(f"/orders/{shop['order']}"))


def test_the_number_search_matches_literally(client, world, shop):
    world.shipment(shop["order"], [("OIL-1", 1)])
    login(client, shop["cm"])
    assert client.get("/api/v1/shipments?q=DN-").get_json()["total"] == 1
    assert client.get("/api/v1/shipments?q=_").get_json()["total"] == 0  # not a LIKE wildcard
