"""The returns (RMA) and delivery-discrepancy pages (PRODUCT.md §13): the dealer administrator requests a return
through the form and ships the goods back, the channel manager approves with a restocking fee (overstock) and
receives them, messages go both ways, open discrepancies are resolved from their list by a re-shipment or a credit
note; the list exports to CSV and XLSX; bad input shows its errors and writes nothing; another dealer gets 404."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.platform.timeutil import freeze, today
from portal.returns.models import DeliveryDiscrepancy, Return, ReturnLine, ReturnMessage
from tests import test_returns
from tests.conftest import login, page_csrf
from tests.test_shipping_api import T0

shop = test_returns.shop  # the fixture: SH-1 received 2 cars and 7 × OIL-1


@pytest.fixture
def as_user(app):
    """A logged-in test client of its own per user (each keeps its session)."""
    clients: dict[str, object] = {}

    def get(username: str):
        if username not in clients:
            c = app.test_client()
            assert login(c, username).status_code == 302
            clients[username] = c
        return clients[username]

    return get


def state(world) -> dict:
    snap = world.snapshot()
    snap.pop("api_tokens", None)
    snap.pop("notifications", None)
    return snap


def save(artifacts_dir, name: str, resp) -> None:
    (artifacts_dir / f"returns-{name}.html").write_text(resp.get_data(as_text=True), encoding="utf-8")


def qty_field(html: str, sku: str) -> str:
    m = re.search(rf'data-line="{re.escape(sku)}".*?name="(qty-\d+)"', html, re.S)
    assert m, f"no quantity input for {sku}"
    return m.group(1)


def request_form(c, shop, reason="overstock", oil="3", serials=(), note="多订了"):
    url = f"/returns/new?shipment={shop['shipment']}"
    page = c.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    data = {"csrf_token": page_csrf(c, url), "reason": reason, "note": note, "shipment": shop["shipment"],
            qty_field(html, "OIL-1"): oil, "serial": list(serials)}  # fmt: skip
    return c.post(url, data=data)


def rows_of(resp) -> str:
    """The list's table (the bell's notifications name return numbers too)."""
    html = resp.get_data(as_text=True)
    start = html.index("data-returns")
    return html[start : html.index("</table>", start)]


def the_return(world) -> dict:
    return world.get(Return)


def post(c, url: str, data: dict | None = None, csrf_from: str | None = None):
    body = {"csrf_token": page_csrf(c, csrf_from or url.rsplit("/", 1)[0]), **(data or {})}
    return c.post(url, data=body)


def test_the_whole_life_through_the_pages(world, shop, as_user, artifacts_dir):
    dealer, cm = as_user("sh.admin"), as_user("cm")
    car = shop["serials"][0]
    # the dealer administrator picks the shipment and asks
    picker = dealer.get("/returns/new")
    assert picker.status_code == 200 and shop["shipment"] in picker.get_data(as_text=True)
    form = dealer.get(f"/returns/new?shipment={shop['shipment']}")
    html = form.get_data(as_text=True)
    assert car in html and 'name="serial"' in html and "At most 7" in html
    save(artifacts_dir, "new", form)
    resp = request_form(dealer, shop, reason="overstock", oil="3", serials=[car])
    assert resp.status_code == 302, resp.get_data(as_text=True)
    ret = the_return(world)
    assert resp.headers["Location"].endswith(f"/returns/{ret['number']}")
    assert ret["status"] == "requested" and ret["reason"] == "overstock" and ret["note"] == "多订了"
    assert world.count(ReturnLine) == 2
    number = ret["number"]
    detail = f"/returns/{number}"
    # the dealer sees no decision buttons; the channel manager does, with the fee input (overstock)
    page = dealer.get(detail).get_data(as_text=True)
    assert 'data-actions="decide"' not in page and 'data-actions="ship_back"' not in page
    page = cm.get(detail).get_data(as_text=True)
    assert 'data-actions="decide"' in page and 'name="approve-restocking_fee_pct"' in page
    save(artifacts_dir, "detail-requested", cm.get(detail))
    resp = post(cm, f"{detail}/approve", {"approve-restocking_fee_pct": "15", "approve-comment": "同意"}, detail)
    assert resp.status_code == 302
    ret = the_return(world)
    assert ret["status"] == "approved" and ret["restocking_fee_pct"] == Decimal("15.00")
    # 3 of 7 OIL-1 = 112.99, fee 16.95; the car 113000.00, fee 16950.00
    fees = world.run(lambda: sorted(x.fee for x in ReturnLine.query.all()))
    assert fees == [Decimal("16.95"), Decimal("16950.00")]
    # messages both ways
    assert post(dealer, f"{detail}/messages", {"msg-body": "什么时候寄回？"}, detail).status_code == 302
    assert post(cm, f"{detail}/messages", {"msg-body": "本周内寄回即可"}, detail).status_code == 302
    assert world.count(ReturnMessage) == 2
    page = dealer.get(detail).get_data(as_text=True)
    assert "什么时候寄回？" in page and "本周内寄回即可" in page and 'data-actions="ship_back"' in page
    # the dealer ships back
    assert post(dealer, f"{detail}/ship-back", {"ship-shipped_on": ""}, detail).status_code == 302
    assert the_return(world)["status"] == "shipped_back"
    # HQ receives: 2 accepted, 1 scrapped, the car accepted
    page = cm.get(detail)
    assert 'data-actions="receive"' in page.get_data(as_text=True) and "WH-1" in page.get_data(as_text=True)
    save(artifacts_dir, "detail-receive", page)
    resp = post(cm, f"{detail}/receive", {"receive-warehouse_code": "WH-1", "accepted-0": "2", "scrapped-0": "1",
                                          "vin-0": "accepted"}, detail)  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)
    ret = the_return(world)
    assert ret["status"] == "received" and ret["credit_note_id"]
    note = world.get(LedgerEntry, id=ret["credit_note_id"])
    assert note["amount"] == Decimal("113112.99") - Decimal("16966.95")
    page = dealer.get(detail)
    html = page.get_data(as_text=True)
    assert note["number"] in html and "data-credit-note" in html and 'data-step="received"' in html
    save(artifacts_dir, "detail-received", page)
    # every action on a received return is refused: a flash, nothing written
    before = state(world)
    resp = post(cm, f"{detail}/approve", {}, detail)
    assert resp.status_code == 302 and state(world) == before
    assert "this step is not possible now" in cm.get(detail).get_data(as_text=True)


def test_the_form_shows_errors_and_writes_nothing(world, shop, as_user):
    dealer = as_user("sh.admin")
    before = state(world)
    for oil, reason, expect in (
        ("8", "damaged", "At most 7 of OIL-1"),
        ("abc", "damaged", "A whole number from 0 to 7"),
        ("2", "", "This field is required"),
        ("0", "damaged", "Name at least one SKU quantity or VIN"),
    ):
        resp = request_form(dealer, shop, reason=reason, oil=oil)
        assert resp.status_code == 422, (oil, reason)
        assert expect in resp.get_data(as_text=True), (oil, reason)
        assert state(world) == before
    # a sold VIN is refused on its own checkbox
    sold = shop["serials"][0]
    world.sell("SH-1", [{"sku": "CAR-1", "serial": sold, "quantity": 1, "sold_on": today(),
                         "unit_price": Decimal("120000.00")}])  # fmt: skip
    before = state(world)
    resp = request_form(dealer, shop, reason="damaged", oil="", serials=[sold])
    assert resp.status_code == 422 and "is not in your stock" in resp.get_data(as_text=True)
    assert state(world) == before


def test_decision_and_receipt_errors_show_and_write_nothing(world, shop, as_user):
    dealer, cm = as_user("sh.admin"), as_user("cm")
    assert request_form(dealer, shop, reason="damaged", oil="2").status_code == 302
    detail = f"/returns/{the_return(world)['number']}"
    before = state(world)
    resp = post(cm, f"{detail}/reject", {"reject-comment": ""}, detail)
    assert resp.status_code == 422 and "This field is required" in resp.get_data(as_text=True)
    resp = post(cm, f"{detail}/approve", {"approve-restocking_fee_pct": "10"}, detail)  # damaged: no fee
    assert resp.status_code == 422 and "overstock returns only" in resp.get_data(as_text=True)
    resp = post(cm, f"{detail}/approve", {"approve-restocking_fee_pct": "abc"}, detail)
    assert resp.status_code == 422
    resp = post(cm, f"{detail}/messages", {"msg-body": "  "}, detail)
    assert resp.status_code == 422
    assert state(world) == before
    # the dealer cannot ship back before the approval: flashed, nothing written
    resp = post(dealer, f"{detail}/ship-back", {}, detail)
    assert resp.status_code == 302 and state(world) == before
    assert post(cm, f"{detail}/approve", {}, detail).status_code == 302
    assert post(dealer, f"{detail}/ship-back", {}, detail).status_code == 302
    before = state(world)
    resp = post(cm, f"{detail}/receive", {"receive-warehouse_code": "WH-1", "accepted-0": "3", "scrapped-0": "0"},
                detail)  # fmt: skip
    assert resp.status_code == 422 and "Accepted + scrapped must be 2" in resp.get_data(as_text=True)
    resp = post(cm, f"{detail}/receive", {"receive-warehouse_code": "WH-1", "accepted-0": "x", "scrapped-0": "0"},
                detail)  # fmt: skip
    assert resp.status_code == 422
    resp = post(cm, f"{detail}/receive", {"receive-warehouse_code": "NOWHERE", "accepted-0": "2"}, detail)
    assert resp.status_code == 422
    assert state(world) == before


def test_a_rejection_with_a_reason(world, shop, as_user):
    dealer, cm = as_user("sh.admin"), as_user("cm")
    assert request_form(dealer, shop, reason="quality", oil="7").status_code == 302
    detail = f"/returns/{the_return(world)['number']}"
    assert post(cm, f"{detail}/reject", {"reject-comment": "非质量问题"}, detail).status_code == 302
    ret = the_return(world)
    assert ret["status"] == "rejected" and ret["comment"] == "非质量问题"
    assert "非质量问题" in dealer.get(detail).get_data(as_text=True)


def test_the_list_filters_and_exports(world, shop, as_user, artifacts_dir):
    from openpyxl import load_workbook

    dealer, cm = as_user("sh.admin"), as_user("cm")
    assert request_form(dealer, shop, reason="damaged", oil="2").status_code == 302
    assert request_form(dealer, shop, reason="quality", oil="1").status_code == 302
    first, second = world.run(lambda: sorted(r.number for r in Return.query.all()))
    assert post(cm, f"/returns/{first}/reject", {"reject-comment": "no"}, f"/returns/{first}").status_code == 302
    page = cm.get("/returns")
    html = rows_of(page)
    assert first in html and second in html and html.index(second) < html.index(first)  # newest first
    save(artifacts_dir, "list", page)
    queue = rows_of(cm.get("/returns?status=queue"))
    assert second in queue and first not in queue
    rejected = rows_of(cm.get("/returns?status=rejected"))
    assert first in rejected and second not in rejected
    assert first not in rows_of(cm.get("/returns?dealer=XA-1"))
    csv = cm.get("/returns?format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert first in text and second in text and "SH-1" in text and ",75.33," in text and ",37.66," in text
    only = cm.get("/returns?format=csv&status=rejected").get_data(as_text=True)
    assert first in only and second not in only
    xlsx = cm.get("/returns?format=xlsx")
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.get_data())).active.iter_rows(values_only=True))
    assert rows[0][0] == "number" and {r[0] for r in rows[1:]} == {first, second}
    # the dealer exports its own; another dealer sees nothing
    assert second in dealer.get("/returns?format=csv").get_data(as_text=True)
    other = as_user("xa.admin")
    assert first not in rows_of(other.get("/returns"))
    assert first not in other.get("/returns?format=csv").get_data(as_text=True)


def test_another_dealer_gets_404(world, shop, as_user):
    dealer, other = as_user("sh.admin"), as_user("xa.admin")
    assert request_form(dealer, shop, reason="damaged", oil="1").status_code == 302
    detail = f"/returns/{the_return(world)['number']}"
    before = state(world)
    assert other.get(detail).status_code == 404
    assert other.get(f"/returns/new?shipment={shop['shipment']}").status_code == 404
    token = page_csrf(other, "/returns")
    for action, data in (("messages", {"msg-body": "hi"}), ("ship-back", {})):
        assert other.post(f"{detail}/{action}", data={"csrf_token": token, **data}).status_code == 404
    assert state(world) == before
    # dealer staff cannot request; a region manager cannot decide
    staff = as_user("sh.staff")
    assert staff.get(f"/returns/new?shipment={shop['shipment']}").status_code == 403
    rm = as_user("rm.east")
    assert rm.get(detail).status_code == 200
    assert rm.post(f"{detail}/approve", data={"csrf_token": page_csrf(rm, detail)}).status_code == 403


# ---------------------------------------------------------------- delivery discrepancies


@pytest.fixture
def claims(client, world, shop):
    """A second shipment (3 × OIL-1) received with 1 short and 1 damaged: two open claims of SH-1."""
    with freeze(T0):
        order = world.order("SH-1", [("OIL-1", 3)])
    shipment = world.shipment(order, [("OIL-1", 3)])
    resp = client.post(f"/api/v1/shipments/{shipment}/receive", headers=world.auth("sh.staff"),
                       json={"discrepancies": [{"sku": "OIL-1", "quantity": 1, "kind": "short", "note": "少一桶"},
                                               {"sku": "OIL-1", "quantity": 1, "kind": "damaged"}]})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    return world.run(lambda: sorted(d.number for d in DeliveryDiscrepancy.query.all()))


def test_discrepancies_are_resolved_from_their_list(world, claims, as_user, artifacts_dir):
    cm, dealer, other = as_user("cm"), as_user("sh.admin"), as_user("xa.admin")
    short, damaged = claims
    page = cm.get("/discrepancies")
    html = page.get_data(as_text=True)
    assert html.count('value="reship"') == 2 and html.count('value="credit"') == 2 and "少一桶" in html
    save(artifacts_dir, "discrepancies", page)
    mine = dealer.get("/discrepancies").get_data(as_text=True)
    assert short in mine and 'value="reship"' not in mine
    assert short not in other.get("/discrepancies").get_data(as_text=True)
    token = page_csrf(cm, "/discrepancies")
    resp = cm.post(f"/discrepancies/{short}/resolve", data={"csrf_token": token, "how": "reship",
                                                            "next": "/discrepancies?status=open"})  # fmt: skip
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/discrepancies?status=open")
    resp = cm.post(f"/discrepancies/{damaged}/resolve", data={"csrf_token": token, "how": "credit"})
    assert resp.status_code == 302
    got = world.run(lambda: {d.number: (d.status, d.reship_id, d.credit_note_id)
                             for d in DeliveryDiscrepancy.query.all()})  # fmt: skip
    assert got[short][0] == "reshipped" and got[short][1] and got[damaged][0] == "credited" and got[damaged][2]
    html = cm.get("/discrepancies").get_data(as_text=True)
    assert 'value="reship"' not in html and "data-reship" in html and "data-credit-note" in html
    # a second click: flashed, nothing written; a bad "how" and another dealer's manager too
    before = state(world)
    cm.post(f"/discrepancies/{damaged}/resolve", data={"csrf_token": token, "how": "reship"})
    assert "already resolved" in cm.get("/discrepancies").get_data(as_text=True)
    cm.post(f"/discrepancies/{damaged}/resolve", data={"csrf_token": token, "how": "refund"})
    assert state(world) == before
    for who, status in ((other, 403), (dealer, 403)):  # dealers may not resolve (returns.decide)
        token = page_csrf(who, "/discrepancies")
        assert (
            who.post(f"/discrepancies/{short}/resolve", data={"csrf_token": token, "how": "credit"}).status_code
            == status
        )
    assert cm.get("/discrepancies?status=credited").get_data(as_text=True).count("data-discrepancy=") == 1
