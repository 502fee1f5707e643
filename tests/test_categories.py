"""Product categories are data with a name in each language (issue 17): the `categories` table and its migration,
the row a new code brings, the page and the API that name them, the names shown wherever a category is (in the
reader's language, one query per request) and the name column beside the code in exports. Units read in the
reader's language too."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from portal.audit.models import AuditEntry
from portal.catalog.models import Category, PriceList, PriceRule, Product
from portal.extensions import db
from tests.conftest import login, page_csrf
from tests.querycount import counting


def page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def rows_of(client, url: str) -> list[dict]:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def name(world, code: str, zh: str, en: str) -> None:
    def make():
        row = db.session.get(Category, code)
        if row is None:
            db.session.add(Category(code=code, name=zh, name_en=en))
        else:
            row.name, row.name_en = zh, en

    world.run(make)


@pytest.fixture
def shop(world):
    """Region EAST, dealer SH-1 (tier A); a sedan (unit 台) and oil (unit pc), both categories named; a channel
    manager, a finance user and the dealer's staff, in Chinese and in English."""
    world.region("EAST")
    world.dealer("SH-1", "EAST", tier="A")
    world.product("CAR-1", list_price="100000.00", category="sedan", build_to_order=True)
    world.product("OIL-1", list_price="100.00", category="oil")
    world.run(lambda: db.session.query(Product).filter_by(sku="CAR-1").update({"unit": "台"}))
    name(world, "sedan", "轿车", "Sedan")
    name(world, "oil", "油品", "Oil")
    return {
        "cm": world.user("channel_manager", username="cm", locale="zh_CN"),
        "cm_en": world.user("channel_manager", username="cm.en", locale="en"),
        "fin": world.user("finance", username="fin"),
        "zh": world.user("dealer_staff", dealer="SH-1", username="sh1.zh", locale="zh_CN"),
        "en": world.user("dealer_staff", dealer="SH-1", username="sh1.en", locale="en"),
    }


def as_user(app, username: str):
    c = app.test_client()
    login(c, username)
    return c


def categories(world) -> dict[str, tuple[str, str]]:
    return world.run(lambda: {c.code: (c.name, c.name_en) for c in db.session.query(Category)})


# ---------------------------------------------------------------- the data and its migration


def test_the_migration_seeds_one_row_per_code_in_use_with_the_known_names(app):
    """Downgraded to 0012, products and a price rule carry codes; the upgrade names the known ones."""
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        downgrade(revision="0012")
        try:
            for sku, category in (("CAR-1", "sedan"), ("OIL-1", "oil"), ("OIL-2", "oil"), ("W-1", "gadgets")):
                db.session.add(Product(sku=sku, name=sku, category=category, unit="pc", list_price=Decimal("1"),
                                       tax_rate=Decimal("0.13")))  # fmt: skip
            # Core inserts of the columns 0012 has (the models have grown since: price_lists.seller_id, §16)
            pl = db.session.execute(PriceList.__table__.insert().values(
                name="促销", scope_kind="all", priority=0, active=True, created_by="t"))  # fmt: skip
            db.session.execute(PriceRule.__table__.insert().values(
                price_list_id=pl.inserted_primary_key[0], category="tyres", discount_pct=Decimal("5")))  # fmt: skip
            db.session.commit()
        finally:
            db.session.remove()
            upgrade()
        seeded = {c.code: (c.name, c.name_en) for c in db.session.query(Category)}
        db.session.remove()
    assert seeded == {
        "sedan": ("轿车", "Sedan"),
        "oil": ("油品", "Oil"),
        "tyres": ("轮胎", "Tyres"),  # from the price rule
        "gadgets": ("gadgets", "gadgets"),  # unknown: named after its code until HQ names it
    }


def test_a_new_code_brings_its_category_and_the_api_contract_is_unchanged(client, world, shop):
    cm = world.auth("cm")
    body = {"sku": "NEW-1", "name": "新品", "category": "gadgets", "unit": "box", "list_price": "9.90",
            "build_to_order": False}  # fmt: skip
    resp = client.post("/api/v1/products", json=body, headers=cm)
    assert resp.status_code == 201 and resp.get_json()["category"] == "gadgets"  # still the code
    assert categories(world)["gadgets"] == ("gadgets", "gadgets")
    # a second product of the same code changes nothing; nor does an update to a known code
    body = {**body, "sku": "NEW-2"}
    assert client.post("/api/v1/products", json=body, headers=cm).status_code == 201
    assert client.patch("/api/v1/products/NEW-2", json={"category": "oil"}, headers=cm).status_code == 200
    assert categories(world)["oil"] == ("油品", "Oil")
    # an update to a new code, the CSV import and a price rule bring theirs
    assert client.patch("/api/v1/products/NEW-2", json={"category": "toys"}, headers=cm).status_code == 200
    data = "sku,name,category,unit,list_price\nIMP-1,导入件,imported,pc,5.00\n".encode()
    resp = client.post("/api/v1/products/import", data={"file": (io.BytesIO(data), "p.csv")}, headers=cm,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    rule = {"name": "促销", "scope": "all", "rules": [{"category": "promo", "discount_pct": "5"}]}
    assert client.post("/api/v1/price-lists", json=rule, headers=cm).status_code == 201
    known = categories(world)
    assert {k: known[k] for k in ("toys", "imported", "promo")} == {
        "toys": ("toys", "toys"), "imported": ("imported", "imported"), "promo": ("promo", "promo"),
    }  # fmt: skip


def test_the_product_form_brings_its_category_too(app, world, shop):
    client = as_user(app, "cm")
    csrf = page_csrf(client, "/products/new")
    form = {"csrf_token": csrf, "sku": "F-1", "name": "表单件", "category": "formed", "unit": "pc",
            "list_price": "1.00", "tax_rate": "0.13", "lead_time_days": "0", "active": "y"}  # fmt: skip
    assert client.post("/products/new", data=form).status_code == 302
    assert categories(world)["formed"] == ("formed", "formed")


# ---------------------------------------------------------------- the API


def test_the_api_lists_and_renames_categories(client, world, shop):
    listed = client.get("/api/v1/categories", headers=world.auth("sh1.en")).get_json()  # every user reads them
    assert listed["total"] == 2 and listed["items"] == [
        {"code": "oil", "name": "油品", "name_en": "Oil"}, {"code": "sedan", "name": "轿车", "name_en": "Sedan"},
    ]  # fmt: skip
    cm = world.auth("cm")
    resp = client.patch("/api/v1/categories/oil", json={"name_en": "Oils and fluids"}, headers=cm)
    assert resp.status_code == 200 and resp.get_json() == {"code": "oil", "name": "油品", "name_en": "Oils and fluids"}
    entry = world.run(lambda: db.session.query(AuditEntry).filter_by(action="category.update").one())
    assert entry  # the audit case itself is in tests/test_audit_actions.py
    # refused: finance and dealers do not name categories; unknown fields, empty names, unknown codes
    assert client.patch("/api/v1/categories/oil", json={"name": "x"}, headers=world.auth("fin")).status_code == 403
    assert client.patch("/api/v1/categories/oil", json={"name": "x"}, headers=world.auth("sh1.en")).status_code == 403
    assert client.patch("/api/v1/categories/oil", json={"code": "x"}, headers=cm).status_code == 422
    assert client.patch("/api/v1/categories/oil", json={"name": ""}, headers=cm).status_code == 422
    assert client.patch("/api/v1/categories/oil", json={"name": "   "}, headers=cm).status_code == 422
    assert client.patch("/api/v1/categories/none", json={"name": "x"}, headers=cm).status_code == 404
    assert categories(world)["oil"] == ("油品", "Oils and fluids")


# ---------------------------------------------------------------- the page


def test_channel_managers_name_categories_on_their_page(app, world, shop):
    world.product("NEW-1", category="gadgets")
    world.run(lambda: db.session.add(Category(code="gadgets", name="gadgets", name_en="gadgets")))
    client = as_user(app, "cm")
    html = page(client, "/products")
    assert 'data-nav-item="categories"' in html  # in the catalogue menu
    html = page(client, "/categories")
    assert 'data-category="gadgets"' in html and "data-unnamed" in html and "轿车" in html
    csrf = page_csrf(client, "/categories/gadgets/edit")
    resp = client.post("/categories/gadgets/edit", data={"csrf_token": csrf, "name": "小工具", "name_en": "Gadgets"})
    assert resp.status_code == 302
    assert categories(world)["gadgets"] == ("小工具", "Gadgets")
    assert world.count(AuditEntry, action="category.update", object_key="gadgets") == 1
    # an empty name is refused and nothing is saved; without the CSRF token nothing happens either
    resp = client.post("/categories/gadgets/edit", data={"csrf_token": csrf, "name": "", "name_en": "G"})
    assert resp.status_code == 422
    resp = client.post("/categories/gadgets/edit", data={"name": "坏", "name_en": "Bad"})
    assert resp.status_code in (400, 422)
    assert categories(world)["gadgets"] == ("小工具", "Gadgets")
    # others: no page, no menu entry
    for user in ("fin", "sh1.zh"):
        other = as_user(app, user)
        assert other.get("/categories").status_code == 403
        assert other.get("/categories/oil/edit").status_code == 403
        assert 'data-nav-item="categories"' not in page(other, "/products")


# ---------------------------------------------------------------- shown in the reader's language


def _cells(html: str, code: str) -> list[str]:
    """The text of each element marked data-category="<code>"."""
    marker = f'data-category="{code}">'
    return [part.split("<", 1)[0] for part in html.split(marker)[1:]]


def test_the_catalogue_shows_names_and_units_in_each_language(app, world, shop):
    zh, en = as_user(app, "sh1.zh"), as_user(app, "sh1.en")
    html = page(zh, "/products")
    assert set(_cells(html, "sedan")) == {"轿车"} and set(_cells(html, "oil")) == {"油品"}
    assert ">台<" in html and ">件<" in html and ">pc<" not in html and ">sedan<" not in html
    assert '<option value="sedan" >轿车</option>' in html or '<option value="sedan">轿车</option>' in html
    html = page(en, "/products")
    assert set(_cells(html, "sedan")) == {"Sedan"} and set(_cells(html, "oil")) == {"Oil"}
    assert ">unit<" in html and ">pc<" in html and ">台<" not in html
    # my prices, the order form
    assert set(_cells(page(zh, "/dealers/SH-1/prices"), "sedan")) == {"轿车"}
    assert set(_cells(page(en, "/dealers/SH-1/prices"), "oil")) == {"Oil"}
    assert set(_cells(page(zh, "/orders/new"), "sedan")) == {"轿车"}
    assert set(_cells(page(en, "/orders/new"), "sedan")) == {"Sedan"}


def test_an_unnamed_code_shows_as_stored(app, world, shop):
    world.product("X-1", category="mystery")  # no row: a product written before categories, or by hand
    world.run(lambda: db.session.query(Product).filter_by(sku="X-1").update({"unit": "barrel"}))
    html = page(as_user(app, "sh1.zh"), "/products")
    assert set(_cells(html, "mystery")) == {"mystery"} and ">barrel<" in html


def test_a_price_rule_on_a_category_and_an_order_line_unit_read_in_the_language(app, world, shop):
    world.price_list("tier:A", [{"category": "oil", "discount_pct": "10"}], name="A级油品政策")
    zh, en = as_user(app, "sh1.zh"), as_user(app, "sh1.en")
    assert "产品类别 油品" in page(zh, "/dealers/SH-1/prices")  # "why this price": the rule's target
    assert "category Oil" in page(en, "/dealers/SH-1/prices")
    order = world.order("SH-1", [("CAR-1", 1), ("OIL-1", 2)], username="sh1.en")
    html = page(en, f"/orders/{order}")
    assert ">unit</span>" in html and ">pc</span>" in html
    html = page(zh, f"/orders/{order}")
    assert ">台</span>" in html and ">件</span>" in html


def test_hq_stock_channel_flow_and_rebate_targets_show_names(app, world, shop):
    world.stock("OIL-1", 5)
    assert set(_cells(page(as_user(app, "cm"), "/hq-stock"), "oil")) == {"油品"}
    assert set(_cells(page(as_user(app, "cm.en"), "/hq-stock"), "oil")) == {"Oil"}
    world.dealer_receipt("SH-1", "OIL-1", 3, on=dt.date(2026, 1, 5))
    url = "/analytics/channel-flow?from=2026-01-01&to=2026-03-31&group_by=category"
    assert "油品" in _cells(page(as_user(app, "cm"), url), "oil")
    assert "Oil" in _cells(page(as_user(app, "cm.en"), url), "oil")
    world.rebate_programme("RB-1", targets={"categories": ["oil"]})
    assert "categories Oil" in page(as_user(app, "cm.en"), "/rebates")


def test_names_are_read_once_per_request(app, world, shop):
    for i in range(30):
        world.product(f"P-{i:02d}", category=("oil", "sedan", "parts")[i % 3])
    client = as_user(app, "sh1.en")
    with counting(app, only="FROM categories") as seen:
        html = page(client, "/products?per_page=50")
    assert html.count('data-category="') >= 32
    assert len(seen) == 1, seen


# ---------------------------------------------------------------- exports: the code stays, the name is added


def test_exports_keep_the_code_and_add_the_name(app, world, shop):
    zh, cm_en = as_user(app, "sh1.zh"), as_user(app, "cm.en")
    rows = rows_of(zh, "/products?format=csv")
    assert {(r["sku"], r["category"], r["category_name"], r["unit"]) for r in rows} == {
        ("CAR-1", "sedan", "轿车", "台"), ("OIL-1", "oil", "油品", "pc"),
    }  # fmt: skip
    rows = rows_of(cm_en, "/products?format=csv")
    assert {(r["category"], r["category_name"]) for r in rows} == {("sedan", "Sedan"), ("oil", "Oil")}
    sheet = list(load_workbook(io.BytesIO(cm_en.get("/products?format=xlsx").data)).active.values)
    header = list(sheet[0])
    assert header[header.index("category") + 1] == "category_name"
    assert {(r[header.index("category")], r[header.index("category_name")]) for r in sheet[1:]} == {
        ("sedan", "Sedan"), ("oil", "Oil"),
    }  # fmt: skip
    rows = rows_of(zh, "/dealers/SH-1/prices?format=csv")
    assert {(r["category"], r["category_name"]) for r in rows} == {("sedan", "轿车"), ("oil", "油品")}
    world.stock("OIL-1", 5)
    rows = rows_of(cm_en, "/hq-stock?format=csv")
    assert [(r["category"], r["category_name"]) for r in rows] == [("oil", "Oil")]
    world.dealer_receipt("SH-1", "OIL-1", 3, on=dt.date(2026, 1, 5))
    rows = rows_of(cm_en, "/analytics/channel-flow?from=2026-01-01&to=2026-03-31&group_by=category&format=csv")
    assert [(r["category"], r["category_name"]) for r in rows] == [("oil", "Oil")]
    # the exported file imports again as it is (the name column is ignored)
    data = cm_en.get("/products?format=csv").get_data(as_text=True)
    resp = app.test_client()
    login(resp, "cm")
    csrf = page_csrf(resp, "/products/import")
    answer = resp.post("/products/import", content_type="multipart/form-data",
                       data={"csrf_token": csrf, "file": (io.BytesIO(data.encode()), "products.csv")})  # fmt: skip
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert categories(world)["sedan"] == ("轿车", "Sedan")


def test_the_category_table_is_in_the_migrated_schema(app):
    with app.app_context():
        names = db.session.execute(text("SELECT count(*) FROM categories")).scalar_one()
        db.session.remove()
    assert names == 0
