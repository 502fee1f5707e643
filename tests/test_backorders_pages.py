"""Backorder pages (PRODUCT.md §12): the backorder list for every role in its own scope (HQ with the summary by SKU,
what is expected and on hand; dealers and regions never HQ's figures), moving an order up from it (channel
managers), the expected receipts page (list, form, cancel; refused input 422, nothing written), and the order pages:
allocated / backordered / promised per line on the order, backordered and the earliest promise on the order list
(one query for the page)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.extensions import db
from portal.inventory.models import ExpectedReceipt
from portal.orders.models import Order
from portal.platform.timeutil import freeze
from tests.backorders_helpers import check_invariants, expect, lines, set_lead_time
from tests.conftest import login, page_csrf
from tests.querycount import counting

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.region("NORTH")
    for code, region in (("SH-1", "EAST"), ("SH-2", "EAST"), ("BJ-1", "NORTH")):
        world.dealer(code, region, name=f"经销商 {code}")
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00", name="机油")
    world.product("WIPER-1", list_price="20.00", name="雨刮")
    set_lead_time(world, "OIL-1", 15)
    set_lead_time(world, "WIPER-1", 9)
    world.stock("OIL-1", 2, "SH")
    with freeze(T0):
        expect(world, "WIPER-1", 40, dt.date(2026, 3, 20), "TJ")
        orders = {
            "sh1": world.order("SH-1", [("OIL-1", 5)]),
            "sh2": world.order("SH-2", [("OIL-1", 4), ("WIPER-1", 6)]),
            "bj1": world.order("BJ-1", [("WIPER-1", 7)]),
        }
    for role, extra, name in (
        ("channel_manager", {}, "cm"),
        ("finance", {}, "fin"),
        ("dealer_staff", {"dealer": "SH-1"}, "sh1.staff"),
        ("dealer_admin", {"dealer": "SH-2"}, "sh2.admin"),
        ("region_manager", {"region": "EAST"}, "rm.east"),
        ("region_manager", {"region": "NORTH"}, "rm.north"),
        ("hq_admin", {}, "admin"),
    ):
        world.user(role, username=name, **extra)
    return orders


def as_user(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page(client, url, status=200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, (url, resp.status_code)
    return resp.get_data(as_text=True)


@pytest.mark.parametrize("who", ["cm", "fin", "admin", "sh1.staff", "sh2.admin", "rm.east", "rm.north"])
def test_the_backorder_page_renders_for_every_role_in_its_scope(app, world, shop, who):
    html = page(as_user(app, who), "/backorders")
    assert "Backorders" in html and "By SKU" in html
    visible = {
        "cm": {"sh1", "sh2", "bj1"}, "fin": {"sh1", "sh2", "bj1"}, "admin": {"sh1", "sh2", "bj1"},
        "sh1.staff": {"sh1"}, "sh2.admin": {"sh2"}, "rm.east": {"sh1", "sh2"}, "rm.north": {"bj1"},
    }[who]  # fmt: skip
    for key, number in shop.items():
        assert (number in html) == (key in visible), (who, key)
    hq = who in ("cm", "fin", "admin")
    assert ("On hand" in html) == hq and ("Next expected on" in html) == hq  # HQ's figures: HQ only
    assert ("Expected receipts" in html) == hq
    assert ("data-move-up" in html) == (who in ("cm", "admin"))
    if who == "sh1.staff":
        assert 'name="dealer"' not in html and "经销商 SH-2" not in html


def test_the_hq_summary_shows_what_waits_what_is_expected_and_on_hand(app, world, shop):
    html = page(as_user(app, "cm"), "/backorders")
    assert 'data-backordered="WIPER-1">13<' in html and 'data-backordered="OIL-1">7<' in html
    assert "2026-03-20" in html  # the wipers' expected receipt: their promise and next expected date
    filtered = page(as_user(app, "cm"), "/backorders?sku=OIL-1&dealer=SH-2")
    assert shop["sh2"] in filtered and shop["sh1"] not in filtered and "WIPER-1</a>" not in filtered


def test_the_backorder_list_exports(app, world, shop):
    csv = page(as_user(app, "rm.east"), "/backorders?format=csv").lstrip("\ufeff").strip().splitlines()
    assert csv[0] == "sku,name,order_number,dealer_code,dealer_name,quantity,backordered,promised_on,approved_at," \
                     "moved_up_at"  # fmt: skip
    assert len(csv) == 4 and not any("BJ-1" in row for row in csv)  # sh1 OIL, sh2 OIL, sh2 WIPER


@pytest.mark.parametrize(("who", "dealer"), [("sh1.staff", "SH-2"), ("rm.east", "BJ-1"), ("rm.north", "NO-SUCH")])
def test_another_tenants_dealer_filter_answers_404(app, world, shop, who, dealer):
    page(as_user(app, who), f"/backorders?dealer={dealer}", status=404)


def test_a_channel_manager_moves_an_order_up_from_the_list(app, world, shop):
    client = as_user(app, "cm")
    csrf = page_csrf(client, "/backorders")
    resp = client.post(f"/orders/{shop['sh2']}/move-up", data={"csrf_token": csrf, "back": "list"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/backorders")
    html = page(client, resp.headers["Location"])
    assert f"Order {shop['sh2']} moved up the backorder queue." in html
    assert world.get(Order, number=shop["sh2"])["moved_up_at"] is not None
    assert html.index(shop["sh2"]) < html.index(shop["sh1"])  # first in the OIL-1 queue now
    world.stock("OIL-1", 4, "SH")
    assert lines(world, shop["sh2"])["OIL-1"][1:3] == (4, 0) and lines(world, shop["sh1"])["OIL-1"][1:3] == (2, 3)
    check_invariants(world)


def test_moving_up_from_a_page_refused_for_others_and_for_orders_not_waiting(app, world, shop):
    world.stock("WIPER-1", 20, "SH")
    for who in ("fin", "sh1.staff", "rm.east"):
        client = as_user(app, who)
        before = world.snapshot()
        resp = client.post(f"/orders/{shop['sh1']}/move-up", data={"csrf_token": page_csrf(client)})
        assert resp.status_code == 403 and world.snapshot() == before
    client = as_user(app, "cm")
    before = world.snapshot()
    resp = client.post(f"/orders/{shop['bj1']}/move-up", data={"csrf_token": page_csrf(client), "back": "order"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/orders/{shop['bj1']}")
    assert "has no backordered line" in page(client, resp.headers["Location"])
    assert world.snapshot() == before


def test_the_expected_receipts_page_lists_records_and_cancels(app, world, shop):
    client = as_user(app, "cm")
    html = page(client, "/hq-stock/expected")
    assert "Expected receipts" in html and "New expected receipt" in html and "WIPER-1" in html
    csrf = page_csrf(client, "/hq-stock/expected")
    with freeze(T0):
        data = {"csrf_token": csrf, "warehouse_code": "SH", "sku": "OIL-1", "quantity": "10",
                "expected_on": "2026-03-12", "note": "lot 3"}  # fmt: skip
        resp = client.post("/hq-stock/expected", data=data)
    assert resp.status_code == 302
    html = page(client, resp.headers["Location"])
    assert "10 of OIL-1 expected in SH on 2026-03-12." in html and "lot 3" in html
    assert lines(world, shop["sh1"])["OIL-1"][3] == dt.date(2026, 3, 12)
    made = world.get(ExpectedReceipt, note="lot 3")["id"]
    with freeze(T0):
        resp = client.post(f"/hq-stock/expected/{made}/cancel", data={"csrf_token": csrf})
    assert resp.status_code == 302 and world.get(ExpectedReceipt, id=made)["status"] == "cancelled"
    assert f"Expected receipt {made} cancelled." in page(client, resp.headers["Location"])
    assert lines(world, shop["sh1"])["OIL-1"][3] == dt.date(2026, 3, 17)  # today (frozen then) + 15 days
    csv = page(client, "/hq-stock/expected?format=csv&status=cancelled").lstrip("\ufeff").splitlines()
    assert csv[0].startswith("id,expected_on,warehouse_code,sku") and len(csv) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quantity": "0"}, "Number must be between"),
        ({"expected_on": "2026-03-01"}, "Today or later."),
        ({"sku": "NOPE"}, "Unknown SKU NOPE"),
        ({"expected_on": ""}, "Enter the expected date."),
    ],
)
def test_refused_expected_receipts_are_shown_with_422_and_nothing_is_written(app, world, shop, data, message):
    client = as_user(app, "cm")
    csrf = page_csrf(client, "/hq-stock/expected")
    good = {"csrf_token": csrf, "warehouse_code": "SH", "sku": "OIL-1", "quantity": "3", "expected_on": "2026-03-12"}
    before = world.snapshot()
    with freeze(T0):
        resp = client.post("/hq-stock/expected", data={**good, **data})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert world.snapshot() == before


def test_only_hq_reads_expected_receipts_and_finance_changes_nothing(app, world, shop):
    for who in ("sh1.staff", "rm.east"):
        page(as_user(app, who), "/hq-stock/expected", status=403)
    finance = as_user(app, "fin")
    html = page(finance, "/hq-stock/expected")
    assert "WIPER-1" in html and "New expected receipt" not in html and "data-cancel-expected" not in html
    made = world.run(lambda: db.session.query(ExpectedReceipt.id).scalar())
    resp = finance.post(f"/hq-stock/expected/{made}/cancel", data={"csrf_token": page_csrf(finance)})
    assert resp.status_code == 403 and world.get(ExpectedReceipt, id=made)["status"] == "open"


def test_the_hq_stock_pages_link_to_expected_receipts_and_backorders(app, world, shop):
    client = as_user(app, "fin")
    for url in ("/hq-stock", "/hq-stock/moves", "/hq-stock/warehouses"):
        html = page(client, url)
        assert 'href="/hq-stock/expected"' in html and 'href="/backorders"' in html, url


@pytest.mark.parametrize("who", ["sh1.staff", "cm", "rm.east"])
def test_the_order_page_shows_allocated_backordered_and_promised_per_line(app, world, shop, who):
    html = page(as_user(app, who), f"/orders/{shop['sh1']}")
    assert "data-backorder-note" in html
    row = html[html.index('data-line-sku="OIL-1"') :]
    row = row[: row.index("</tr>")]
    assert "data-allocated>2<" in row and "data-backordered>3<" in row and "2026-03-17" in row
    assert ("data-move-up" in html) == (who == "cm")


def test_the_order_list_shows_the_backorder_and_the_earliest_promise_in_one_query(app, world, shop):
    client = as_user(app, "sh2.admin")
    html = page(client, "/orders")
    cell = html[html.index(f'data-backordered="{shop["sh2"]}"') :]
    cell = cell[: cell.index("</td>")]
    assert ">10<" in cell and "promised 2026-03-17" in cell  # 4 oil (lead time) + 6 wipers (expected 03-20)
    csv = page(client, "/orders?format=csv").lstrip("\ufeff").splitlines()
    # the last column: the seller (§16), empty when HQ sells
    assert csv[0].endswith(",backordered,promised_on,seller_code") and csv[1].endswith(",10,2026-03-17,")

    def statements_on_the_list() -> int:
        with counting(app, only="order_lines") as seen:
            page(as_user(app, "cm"), "/orders")
        return len(seen)

    few = statements_on_the_list()
    with freeze(T0):
        for _ in range(6):
            world.order("BJ-1", [("WIPER-1", 1)])
    assert statements_on_the_list() == few
