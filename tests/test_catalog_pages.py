"""The catalogue pages: the list with each dealer's own prices, product forms and CSV import, price lists, the price
preview and a dealer's "my prices" — for each role, with refusals, and nothing written on bad input."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from portal.catalog.models import PriceList, PriceRule, Product
from tests.conftest import login, page_csrf


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("SH", parent="EAST", name="上海")
    world.region("NORTH", parent="HQ", name="华北大区")
    world.dealer("SH-1", "SH", tier="A", name="上海一号")
    world.dealer("BJ-1", "NORTH", tier="B", name="北京一号")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("V-1", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 SUV")
    world.product("OLD", list_price="50.00", category="parts", active=False, name="停产件")
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级配件政策")
    world.price_list("dealer:SH-1", [{"sku": "V-1", "unit_price": "90000.00"}], name="上海一号专享")
    return {
        "channel": world.user("channel_manager"),
        "sh_staff": world.user("dealer_staff", dealer="SH-1"),
        "bj_staff": world.user("dealer_staff", dealer="BJ-1"),
        "rm_east": world.user("region_manager", region="EAST"),
    }


def text(resp) -> str:
    return resp.get_data(as_text=True)


# ------------------------------------------------------------------ the catalogue


def test_a_dealer_sees_the_catalogue_with_its_own_prices_and_availability(client, channel):
    login(client, channel["sh_staff"])
    page = text(client.get("/products"))
    assert "P-1" in page and "V-1" in page and "OLD" not in page  # inactive products are HQ's only
    assert "90.00" in page and "A级配件政策" in page  # 10% off parts for tier A
    assert "90,000.00" in page and "上海一号专享" in page  # the dealer's own price list wins
    assert "Built to order" in page and "lead time 30 days" in page and "On request" in page
    csv_text = text(client.get("/products?format=csv"))
    assert csv_text.startswith("\ufeffsku,name,name_en,category,category_name,unit,list_price")
    row = next(line for line in csv_text.splitlines() if line.startswith("P-1,"))
    assert row.endswith(",90.00,A级配件政策")
    assert "OLD" not in csv_text


def test_another_dealer_sees_its_own_prices_not_the_first_ones(client, channel):
    login(client, channel["bj_staff"])
    page = text(client.get("/products"))
    assert "100.00" in page and "上海一号专享" not in page and "A级配件政策" not in page
    assert "List price: no price policy applies" in page


def test_hq_filters_and_exports_the_catalogue(client, channel):
    login(client, channel["channel"])
    assert "V-1" in text(client.get("/products?category=vehicle"))
    assert "P-1" not in text(client.get("/products?category=vehicle"))
    inactive = text(client.get("/products?active=0"))
    assert "OLD" in inactive and "P-1" not in inactive
    assert "V-1" in text(client.get("/products?q=suv")) and "P-1" not in text(client.get("/products?q=suv"))
    resp = client.get("/products?format=xlsx")
    rows = list(load_workbook(io.BytesIO(resp.data)).active.values)
    assert rows[0][0] == "sku" and {r[0] for r in rows[1:]} == {"P-1", "V-1", "OLD"}


def test_a_product_is_created_and_edited_in_the_browser(client, world, channel):
    login(client, channel["channel"])
    csrf = page_csrf(client, "/products/new")
    form = {
        "csrf_token": csrf,
        "sku": "AC-35",
        "name": "变频空调",
        "name_en": "Inverter AC",
        "category": "appliance",
        "unit": "台",
        "list_price": "2,380.50",
        "tax_rate": "0.13",
        "min_resale_price": "",
        "lead_time_days": "3",
        "active": "y",
    }
    resp = client.post("/products/new", data=form)
    assert resp.status_code == 302
    saved = world.get(Product, sku="AC-35")
    assert saved["list_price"] == Decimal("2380.50") and saved["build_to_order"] is False
    assert saved["min_resale_price"] is None and saved["active"] is True
    edit = text(client.get("/products/AC-35/edit"))
    assert "2380.50" in edit and 'value="0.13"' in edit
    resp = client.post(
        "/products/AC-35/edit",
        data={**form, "sku": "CHANGED", "list_price": "2400", "min_resale_price": "2500", "active": ""},
    )
    assert resp.status_code == 302
    saved = world.get(Product, sku="AC-35")
    assert saved["list_price"] == Decimal("2400.00") and saved["min_resale_price"] == Decimal("2500.00")
    assert saved["active"] is False and world.count(Product, sku="CHANGED") == 0


@pytest.mark.parametrize(
    "change, field_message",
    [
        ({"list_price": "12.345"}, "At most two decimal places."),
        ({"list_price": "abc"}, "Not a number."),
        ({"tax_rate": "1.5"}, "A rate from 0 to 1"),
        ({"sku": "P-1"}, "already exists"),
        ({"sku": "bad sku!"}, "Letters, digits"),
        ({"lead_time_days": "-1"}, "Number must be"),
        ({"name": ""}, "This field is required."),
    ],
)
def test_a_bad_product_form_writes_nothing(client, world, channel, change, field_message):
    login(client, channel["channel"])
    csrf = page_csrf(client, "/products/new")
    form = {
        "csrf_token": csrf,
        "sku": "NEW-1",
        "name": "新品",
        "category": "parts",
        "unit": "pc",
        "list_price": "10",
        "tax_rate": "0.13",
        "lead_time_days": "0",
        "active": "y",
    }
    before = world.snapshot()
    resp = client.post("/products/new", data={**form, **change})
    assert resp.status_code == 422
    assert field_message in text(resp)
    assert world.snapshot() == before


def test_only_hq_writes_the_catalogue_and_price_lists(client, channel):
    for user in (channel["sh_staff"], channel["rm_east"]):
        client = client.application.test_client()
        login(client, user)
        for url in ("/products/new", "/products/P-1/edit", "/products/import", "/price-lists", "/price-lists/new"):
            assert client.get(url).status_code == 403, (user, url)
        assert client.get("/price-lists/preview?dealer=SH-1&sku=P-1").status_code == 403
        assert client.get("/products").status_code == 200


def test_an_unknown_or_inactive_product_is_not_edited_by_mistake(client, channel):
    login(client, channel["channel"])
    assert client.get("/products/NOPE/edit").status_code == 404
    assert client.get("/products/OLD/edit").status_code == 200  # HQ edits inactive products


# ------------------------------------------------------------------ import


def _upload(client, csv_text: str, encoding: str = "utf-8"):
    csrf = page_csrf(client, "/products/import")
    return client.post(
        "/products/import",
        data={"csrf_token": csrf, "file": (io.BytesIO(csv_text.encode(encoding)), "products.csv")},
        content_type="multipart/form-data",
    )


def test_a_product_file_creates_and_updates_whole(client, world, channel):
    login(client, channel["channel"])
    resp = _upload(
        client,
        "sku,name,name_en,category,unit,list_price,build_to_order,lead_time_days\n"
        "P-1,机油滤清器,Oil filter,parts,pc,120.00,false,0\n"
        "WM-10,滚筒洗衣机,Washer,appliance,台,2650,no,2\n",
    )
    assert resp.status_code == 302
    assert world.get(Product, sku="P-1")["list_price"] == Decimal("120.00")
    assert world.get(Product, sku="WM-10")["lead_time_days"] == 2
    follow = text(client.get(resp.headers["Location"]))
    assert "1 products created, 1 updated" in follow


def test_a_bad_product_file_lists_every_rejected_row_and_writes_nothing(client, world, channel):
    login(client, channel["channel"])
    before = world.snapshot()
    resp = _upload(
        client,
        "sku,name,category,unit,list_price\n"
        "P-1,机油滤清器,parts,pc,130.00\n"
        "X-2,,parts,pc,10\n"
        "X-3,新品,parts,pc,1.234\n",
    )
    assert resp.status_code == 422
    page = text(resp)
    assert "Nothing was imported." in page and "Rejected rows: 2" in page
    assert "<td>3</td>" in page and "name is required" in page
    assert "<td>4</td>" in page and "At most two decimal places." in page
    assert world.snapshot() == before


def test_a_product_file_with_missing_columns_or_not_utf8_is_refused(client, world, channel):
    login(client, channel["channel"])
    before = world.snapshot()
    resp = _upload(client, "sku,name\nP-9,x\n")
    assert resp.status_code == 422 and "Missing columns: category, unit, list_price." in text(resp)
    resp = _upload(client, "sku,name,category,unit,list_price\nP-9,机油,parts,pc,1\n", encoding="gb18030")
    assert resp.status_code == 422 and "The file must be UTF-8 CSV." in text(resp)
    assert world.snapshot() == before


# ------------------------------------------------------------------ price lists


def _price_list_form(csrf: str, **over) -> dict:
    data = {
        "csrf_token": csrf,
        "name": "华东促销",
        "scope": "region:EAST",
        "valid_from": "2026-01-01",
        "valid_to": "",
        "priority": "5",
        "active": "y",
        "rules-0-sku": "P-1",
        "rules-0-min_qty": "10",
        "rules-0-unit_price": "80.00",
        "rules-1-category": "vehicle",
        "rules-1-discount_pct": "2.5",
    }
    for i in range(2, 7):
        data.update({f"rules-{i}-{f}": "" for f in ("sku", "category", "min_qty", "unit_price", "discount_pct")})
    data.update(over)
    return data


def test_a_price_list_is_created_listed_and_edited(client, world, channel):
    login(client, channel["channel"])
    csrf = page_csrf(client, "/price-lists/new")
    resp = client.post("/price-lists/new", data=_price_list_form(csrf))
    assert resp.status_code == 302
    pl = world.get(PriceList, name="华东促销")
    assert (pl["scope_kind"], pl["scope_value"], pl["priority"]) == ("region", "EAST", 5)
    assert world.count(PriceRule, price_list_id=pl["id"]) == 2
    listing = text(client.get("/price-lists"))
    assert "华东促销" in listing and "Region EAST" in listing and "In force" in listing
    assert "华东促销" in text(client.get("/price-lists?kind=region")) and "华东促销" not in text(
        client.get("/price-lists?kind=tier")
    )
    assert "华东促销" in text(client.get("/price-lists?format=csv"))
    edit = text(client.get(f"/price-lists/{pl['id']}/edit"))
    assert 'value="80.00"' in edit and 'value="2.5"' in edit and 'name="rules-6-sku"' in edit  # 2 rules + 5 blank
    # clearing the second row removes its rule; the list is renamed
    resp = client.post(
        f"/price-lists/{pl['id']}/edit",
        data=_price_list_form(csrf, name="华东促销二期", **{"rules-1-category": "", "rules-1-discount_pct": ""}),
    )
    assert resp.status_code == 302
    assert world.get(PriceList, id=pl["id"])["name"] == "华东促销二期"
    assert world.count(PriceRule, price_list_id=pl["id"]) == 1


@pytest.mark.parametrize(
    "over, message",
    [
        ({"scope": "tier:Z"}, "Tier must be A, B or C."),
        ({"scope": "region:NOWHERE"}, "Unknown region NOWHERE."),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "The end cannot be before the start."),
        ({"rules-0-discount_pct": "5"}, "Give either a unit price or a discount."),
        ({"rules-0-sku": "NOPE"}, "Unknown SKU NOPE."),
        ({"rules-1-category": "", "rules-1-sku": ""}, "Give either a SKU or a category."),
        ({"rules-0-unit_price": "1.999"}, "At most two decimal places."),
        ({"rules-1-discount_pct": "120"}, "A discount from 0 to 100 percent."),
        ({"rules-0-min_qty": "ten"}, "The minimum quantity is a whole number."),
    ],
)
def test_a_bad_price_list_writes_nothing(client, world, channel, over, message):
    login(client, channel["channel"])
    csrf = page_csrf(client, "/price-lists/new")
    before = world.snapshot()
    resp = client.post("/price-lists/new", data=_price_list_form(csrf, **over))
    assert resp.status_code == 422
    assert message in text(resp)
    assert world.snapshot() == before


def test_a_price_list_needs_a_rule(client, world, channel):
    login(client, channel["channel"])
    csrf = page_csrf(client, "/price-lists/new")
    before = world.snapshot()
    empty = {f"rules-{i}-{f}": "" for i in (0, 1) for f in ("sku", "category", "min_qty", "unit_price", "discount_pct")}
    resp = client.post("/price-lists/new", data=_price_list_form(csrf, **empty))
    assert resp.status_code == 422 and "A price list needs at least one rule." in text(resp)
    assert world.snapshot() == before


def test_the_price_preview_explains_the_deciding_rule(client, channel):
    login(client, channel["channel"])
    page = text(client.get("/price-lists/preview"))
    assert "Show the price" in page
    page = text(client.get("/price-lists/preview?dealer=SH-1&sku=V-1&qty=2&on=2026-11-23"))
    assert "90,000.00" in page and "上海一号专享" in page and "decides" in page
    assert "180,000.00" in page and "23,400.00" in page and "203,400.00" in page  # net, tax, gross for 2
    page = text(client.get("/price-lists/preview?dealer=BJ-1&sku=P-1&qty=1"))
    assert "100.00" in page and "No price list has a rule for this product" in page
    resp = client.get("/price-lists/preview?dealer=NOPE&sku=P-1&qty=1")
    assert resp.status_code == 422 and "Unknown dealer." in text(resp)
    resp = client.get("/price-lists/preview?dealer=SH-1&sku=P-1&qty=0")
    assert resp.status_code == 422


# ------------------------------------------------------------------ a dealer's own prices


def test_a_dealer_reads_and_exports_its_prices_for_a_quantity_and_date(client, world, channel):
    world.price_list("tier:A", [{"sku": "P-1", "min_qty": 50, "unit_price": "70.00"}], name="大单价", priority=1)
    login(client, channel["sh_staff"])
    page = text(client.get("/dealers/SH-1/prices"))
    assert "90.00" in page and "A级配件政策" in page and "Tier A" in page and "OLD" not in page
    page = text(client.get("/dealers/SH-1/prices?qty=50&date=2026-11-23"))
    assert "70.00" in page and "大单价" in page and "from 50 units" in page
    csv_text = text(client.get("/dealers/SH-1/prices?qty=50&format=csv"))
    row = next(line for line in csv_text.splitlines() if line.startswith("P-1,"))
    assert ",70.00,100.00,大单价,tier:A,1,50," in row
    assert "P-1" in text(client.get("/dealers/SH-1/prices?q=机油")) and "V-1" not in text(
        client.get("/dealers/SH-1/prices?q=机油")
    )
    assert client.get("/dealers/BJ-1/prices").status_code == 404


def test_hq_and_the_region_manager_read_a_dealers_prices(client, channel):
    login(client, channel["rm_east"])
    assert "90,000.00" in text(client.get("/dealers/SH-1/prices"))
    assert client.get("/dealers/BJ-1/prices").status_code == 404
    client = client.application.test_client()
    login(client, channel["channel"])
    assert "100.00" in text(client.get("/dealers/BJ-1/prices"))
