"""HQ stock pages (PRODUCT.md §7): the stock per SKU and warehouse with filters and exports, receiving and correcting
through the forms (refused input shown with 422, nothing written), the moves, the warehouses; dealers see bands on
the catalogue and the new-order page, never HQ's numbers; only HQ opens the stock pages."""

from __future__ import annotations

import io

import pytest

from portal.inventory.models import HqStock, HqStockMove, Warehouse
from tests.conftest import login, page_csrf


@pytest.fixture
def shop(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_STOCK_LIMITED_BELOW", 10)
    world.region("EAST")
    world.dealer("SH-1", "EAST", name="上海一号")
    world.credit_limit("SH-1", "1000000")
    world.product("OIL-1", list_price="10.00", category="oil", name="机油")
    world.product("FLT-1", list_price="20.00", category="filters", name="滤清器")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5")
    world.stock("OIL-1", 37, "SH")
    world.stock("OIL-1", 4, "TJ")
    world.stock("FLT-1", 3, "TJ")
    world.user("channel_manager", username="cm")
    world.user("finance", username="fin")
    world.user("dealer_staff", dealer="SH-1", username="sh.staff")
    world.user("region_manager", region="EAST", username="rm.east")


def as_user(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_the_stock_page_shows_each_sku_and_warehouse_with_totals(app, shop):
    html = as_user(app, "cm").get("/hq-stock").get_data(as_text=True)
    assert "HQ stock" in html and "Receive goods" in html and "Correct a count" in html
    assert html.count("<tr>") >= 3  # OIL-1 × SH, OIL-1 × TJ, FLT-1 × TJ
    assert ">37<" in html and ">44<" in html  # a row and the total on hand


def test_the_stock_page_filters_and_exports(app, shop):
    client = as_user(app, "fin")
    html = client.get("/hq-stock?warehouse=TJ").get_data(as_text=True)
    assert "FLT-1" in html and ">37<" not in html
    assert "Receive goods" not in html  # finance reads, does not change
    csv = client.get("/hq-stock?format=csv&category=oil").get_data(as_text=True)
    lines = csv.lstrip("\ufeff").strip().splitlines()
    assert lines[0] == "sku,name,category,category_name,warehouse,on_hand,allocated,available"
    assert lines[1:] == ["OIL-1,机油,oil,oil,SH,37,0,37", "OIL-1,机油,oil,oil,TJ,4,0,4"]  # not named: the code
    xlsx = client.get("/hq-stock?format=xlsx")
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[0][0] == "sku" and len(rows) == 4


def test_receiving_through_the_form(app, world, shop):
    client = as_user(app, "cm")
    csrf = page_csrf(client, "/hq-stock/receive")
    resp = client.post(
        "/hq-stock/receive",
        data={"csrf_token": csrf, "warehouse": "TJ", "sku": "FLT-1", "quantity": "12", "note": "lot 9"},
    )
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "12 of FLT-1 received into TJ" in page
    tj = world.get(Warehouse, code="TJ")["id"]
    assert world.count(HqStock, warehouse_id=tj) == 2
    assert world.count(HqStockMove, kind="receipt") == 4


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("receive", {"warehouse": "TJ", "sku": "NOPE", "quantity": "1"}, "Unknown SKU NOPE"),
        ("receive", {"warehouse": "TJ", "sku": "CAR-1", "quantity": "1"}, "built to order"),
        ("receive", {"warehouse": "TJ", "sku": "OIL-1", "quantity": "0"}, "Number must be between"),
        ("adjust", {"warehouse": "TJ", "sku": "OIL-1", "quantity": "-5", "reason": "count"}, "At most 4 can be taken"),
        ("adjust", {"warehouse": "TJ", "sku": "OIL-1", "quantity": "-1", "reason": ""}, "Say why"),
    ],
)
def test_refused_input_is_shown_with_422_and_nothing_is_written(app, world, shop, path, data, message):
    client = as_user(app, "cm")
    csrf = page_csrf(client, f"/hq-stock/{path}")
    before = world.snapshot()
    resp = client.post(f"/hq-stock/{path}", data={"csrf_token": csrf, **data})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert world.snapshot() == before


def test_a_form_without_its_csrf_token_changes_nothing(app, world, shop):
    client = as_user(app, "cm")
    before = world.snapshot()
    resp = client.post("/hq-stock/receive", data={"warehouse": "TJ", "sku": "OIL-1", "quantity": "3"})
    assert resp.status_code in (400, 422)
    assert world.snapshot() == before


def test_correcting_a_count_with_its_reason_and_the_moves_page(app, world, shop):
    client = as_user(app, "cm")
    form = client.get("/hq-stock/adjust?sku=OIL-1&warehouse=SH").get_data(as_text=True)
    assert 'value="OIL-1"' in form
    csrf = page_csrf(client, "/hq-stock/adjust")
    resp = client.post(
        "/hq-stock/adjust",
        data={"csrf_token": csrf, "warehouse": "SH", "sku": "OIL-1", "quantity": "-2", "reason": "2 broken"},
    )
    assert resp.status_code == 302
    moves = client.get("/hq-stock/moves?sku=OIL-1&warehouse=SH").get_data(as_text=True)
    assert "2 broken" in moves and "Adjustment" in moves and "-2" in moves
    csv = client.get("/hq-stock/moves?format=csv&kind=adjustment").get_data(as_text=True)
    assert "2 broken" in csv and csv.count("\n") == 2


def test_warehouses_are_listed_and_created(app, world, shop):
    client = as_user(app, "cm")
    html = client.get("/hq-stock/warehouses").get_data(as_text=True)
    assert "SH" in html and "TJ" in html
    csrf = page_csrf(client, "/hq-stock/warehouses")
    data = {"csrf_token": csrf, "code": "cd", "name": "成都仓", "city": "成都"}
    resp = client.post("/hq-stock/warehouses", data=data)
    assert resp.status_code == 302 and world.get(Warehouse, code="CD")["name"] == "成都仓"
    again = client.post("/hq-stock/warehouses", data={"csrf_token": csrf, "code": "CD", "name": "x"})
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    finance = as_user(app, "fin")
    refused = finance.post("/hq-stock/warehouses", data={"csrf_token": page_csrf(finance), "code": "X", "name": "x"})
    assert refused.status_code == 403


def test_dealers_see_bands_on_the_catalogue_and_the_new_order_page_never_numbers(app, world, shop):
    client = as_user(app, "sh.staff")
    for url in ("/products", "/orders/new?q="):
        html = client.get(url).get_data(as_text=True)
        assert 'data-band="in_stock"' in html, url  # OIL-1: 41 available
        assert 'data-band="limited"' in html, url  # FLT-1: 3
        assert "Built to order" in html, url
        assert "data-hq-available" not in html and "41 available" not in html, url


def test_one_availability_for_a_product_on_every_dealer_page(app, world, shop):
    """The catalogue, "my prices" and the new-order page show the same band for each product (my prices said "from
    stock" for a product out of stock that the catalogue showed as on request)."""
    import re

    world.product("NONE-1", list_price="5.00", category="oil", name="无货件")  # a stock product with no stock
    client = as_user(app, "sh.staff")
    pages = {url: client.get(url).get_data(as_text=True) for url in ("/products", "/dealers/SH-1/prices",
                                                                      "/orders/new?q=")}  # fmt: skip

    def band(html: str, sku: str) -> str:  # a table row, or the product's card in the order builder
        card = f'data-product="{sku}"'
        if card in html:
            row = html.split(card, 1)[1].split("data-product=", 1)[0]
        else:
            row = next(r for r in html.split("<tr") if sku in r)
        found = re.search(r'data-band="(\w+)"', row)
        return found.group(1) if found else "build_to_order" if "Built to order" in row else "?"

    for sku, expected in (("OIL-1", "in_stock"), ("FLT-1", "limited"), ("NONE-1", "on_request"),
                          ("CAR-1", "build_to_order")):  # fmt: skip
        assert {url: band(html, sku) for url, html in pages.items()} == dict.fromkeys(pages, expected), sku


def test_hq_sees_the_numbers_on_the_catalogue(app, shop):
    html = as_user(app, "cm").get("/products").get_data(as_text=True)
    assert "41 available" in html and "3 available" in html


@pytest.mark.parametrize("who", ["sh.staff", "rm.east"])
def test_only_hq_opens_the_stock_pages(app, world, shop, who):
    client = as_user(app, who)
    before = world.snapshot()
    for url in ("/hq-stock", "/hq-stock/moves", "/hq-stock/warehouses", "/hq-stock/receive", "/hq-stock/adjust",
                "/hq-stock?format=csv"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    csrf = page_csrf(client)
    assert client.post("/hq-stock/receive", data={"csrf_token": csrf, "warehouse": "SH", "sku": "OIL-1",
                                                  "quantity": "1"}).status_code == 403  # fmt: skip
    assert world.snapshot() == before
    assert "HQ stock" not in client.get("/").get_data(as_text=True)
