"""HQ manages a build-to-order product's options (§12): the service's rules, the options page, the API — with bad
input refused field by field and nothing written, dealers and region managers kept out of the writes, and one audit
entry per change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import inspect

from portal.audit.models import AuditEntry
from portal.catalog.labels import options_text
from portal.catalog.models import ProductOption
from portal.extensions import db
from portal.platform.errors import Conflict, Invalid
from tests.conftest import login, page_csrf


@pytest.fixture
def cat(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST", name="上海一号")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True, name="远航 X5")
    world.product("OIL-1", list_price="100.00", name="机油")
    world.option("CAR-1", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    world.option("CAR-1", "colour", "RED", "烈焰红", "Flame red", delta="3000.00", position=2)
    world.option("CAR-1", "trim", "LUX", "豪华版", "Luxury", delta="12000.00")
    return {
        "cm": world.user("channel_manager", username="cm"),
        "cm_zh": world.user("channel_manager", username="cm.zh", locale="zh_CN"),
        "admin": world.user("hq_admin", username="root"),
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
    }


def text(resp) -> str:
    return resp.get_data(as_text=True)


def options(world, sku: str = "CAR-1") -> dict[str, dict]:
    """`group/code` → the option's columns, for every option of the product."""
    from portal.catalog.models import Product

    def read():
        product_id = db.session.query(Product.id).filter_by(sku=sku).scalar()
        rows = db.session.query(ProductOption).filter_by(product_id=product_id)
        return {
            f"{o.group}/{o.code}": {a.key: getattr(o, a.key) for a in inspect(ProductOption).column_attrs} for o in rows
        }

    return world.run(read)


def audit(world, action: str) -> list[tuple[str, str, dict | None, dict | None]]:
    def read():
        rows = db.session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id)
        return [(e.actor, e.object_key, e.before, e.after) for e in rows]

    return world.run(read)


def call(world, fn):
    """Run a service call inside a request (as a page or the API would) as the channel manager, in English; its error
    if any."""
    from portal.catalog import option_admin
    from portal.catalog.models import Product
    from portal.dealers.models import User

    def run():
        actor = db.session.query(User).filter_by(username="cm").one()
        product = db.session.query(Product).filter_by(sku="CAR-1").one()
        stock = db.session.query(Product).filter_by(sku="OIL-1").one()
        try:
            with force_locale("en"):
                fn(option_admin, actor, product, stock)
        except (Invalid, Conflict) as exc:
            db.session.rollback()
            return exc
        return None

    return world._in_request(run)


# ------------------------------------------------------------------ the service's rules


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"group": "wheels"}, "group", "One of: colour, interior, trim, package."),
        ({"code": "W H T"}, "code", "Capital letters, digits and - only"),
        ({"code": "X" * 21}, "code", "Capital letters, digits and - only"),
        ({"code": "wht"}, "code", "Colour WHT already exists."),  # codes are capitals: wht is WHT
        ({"label": "  "}, "label", "Required."),
        ({"label_en": ""}, "label_en", "Required."),
        ({"label": "长" * 61}, "label", "At most 60 characters."),
        ({"price_delta": "-1"}, "price_delta", "Must not be negative."),
        ({"price_delta": "1.005"}, "price_delta", "At most two decimal places."),
        ({"price_delta": "abc"}, "price_delta", "Not a number."),
        ({"price_delta": Decimal("NaN")}, "price_delta", "Not a number."),
        ({"position": -1}, "position", "A whole number from 0 to 9999."),
    ],
)
def test_bad_options_are_refused_field_by_field(world, cat, kwargs, field, message):
    data = {"group": "colour", "code": "BLK", "label": "曜石黑", "label_en": "Obsidian black", "price_delta": "0"}
    before = world.snapshot()
    exc = call(world, lambda svc, actor, product, stock: svc.create_option(actor, product, **{**data, **kwargs}))
    assert isinstance(exc, Invalid) and exc.status == 422
    assert list(exc.fields) == [field] and message in exc.fields[field][0]
    assert world.snapshot() == before


def test_a_stock_product_has_no_options(world, cat):
    exc = call(
        world, lambda svc, actor, product, stock: svc.create_option(actor, stock, "colour", "BLK", "黑", "Black", "0")
    )
    assert isinstance(exc, Invalid) and exc.fields == {"sku": ["Only products built to order have options."]}
    assert "OIL-1 is a stock product" in exc.message
    assert options(world, "OIL-1") == {}


def test_an_inactive_code_is_reactivated_not_created_again(world, cat):
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.deactivate_option(
                actor, db.session.query(ProductOption).filter_by(code="RED").one()
            ),
        )
        is None
    )
    exc = call(
        world, lambda svc, actor, product, stock: svc.create_option(actor, product, "colour", "red", "红", "Red", "0")
    )
    assert exc.fields == {"code": ["Colour RED exists but is inactive: reactivate it."]}
    # the same code in another group is another option
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.create_option(
                actor, product, "interior", "red", "红色内饰", "Red interior", "1,500"
            ),
        )
        is None
    )
    made = options(world)["interior/RED"]
    assert made["price_delta"] == Decimal("1500.00") and made["active"] and not made["is_default"]


def test_a_new_default_takes_the_mark_from_the_old_one(world, cat):
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.create_option(
                actor, product, "colour", "BLK", "曜石黑", "Obsidian black", Decimal("0"), is_default=True
            ),
        )
        is None
    )
    found = options(world)
    assert found["colour/BLK"]["is_default"] and not found["colour/WHT"]["is_default"]
    assert audit(world, "product_option.create")[-1] == (
        "cm",
        "CAR-1/colour/BLK",
        None,
        {
            "group": "colour",
            "code": "BLK",
            "label": "曜石黑",
            "label_en": "Obsidian black",
            "price_delta": "0.00",
            "is_default": True,
            "active": True,
            "position": 0,
            "replaced_default": "WHT",
        },
    )
    # an update making RED the default takes it from BLK; the trim group keeps its own (none)
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.update_option(
                actor, db.session.query(ProductOption).filter_by(code="RED").one(), is_default=True
            ),
        )
        is None
    )
    found = options(world)
    assert [k for k, o in found.items() if o["is_default"]] == ["colour/RED"]
    assert audit(world, "product_option.update") == [
        (
            "cm",
            "CAR-1/colour/RED",
            {"is_default": False, "replaced_default": None},
            {"is_default": True, "replaced_default": "BLK"},
        )
    ]


def test_an_update_keeps_group_and_code_and_an_inactive_option_is_nobodys_default(world, cat):
    red = lambda: db.session.query(ProductOption).filter_by(code="RED").one()  # noqa: E731
    exc = call(world, lambda svc, actor, product, stock: svc.update_option(actor, red(), code="BLUE", group="trim"))
    assert set(exc.fields) == {"code", "group"}
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.deactivate_option(
                actor, db.session.query(ProductOption).filter_by(code="WHT").one()
            ),
        )
        is None
    )
    assert options(world)["colour/WHT"]["is_default"] is False and options(world)["colour/WHT"]["active"] is False
    exc = call(
        world,
        lambda svc, actor, product, stock: svc.update_option(
            actor, db.session.query(ProductOption).filter_by(code="WHT").one(), is_default=True
        ),
    )
    assert exc.fields == {"is_default": ["An inactive option cannot be the default."]}
    exc = call(
        world,
        lambda svc, actor, product, stock: svc.deactivate_option(
            actor, db.session.query(ProductOption).filter_by(code="WHT").one()
        ),
    )
    assert isinstance(exc, Conflict) and exc.code == "already_inactive"
    # offered again, and the default in the same change
    assert (
        call(
            world,
            lambda svc, actor, product, stock: svc.update_option(
                actor,
                db.session.query(ProductOption).filter_by(code="WHT").one(),
                active=True,
                is_default=True,
                label_en="Pearl white (new)",
            ),
        )
        is None
    )
    wht = options(world)["colour/WHT"]
    assert wht["active"] and wht["is_default"] and wht["label_en"] == "Pearl white (new)"
    assert audit(world, "product_option.deactivate") == [
        ("cm", "CAR-1/colour/WHT", {"is_default": True, "active": True}, {"is_default": False, "active": False})
    ]


def test_options_read_as_one_line_in_the_readers_language(app):
    chosen = [
        {"group": "colour", "code": "WHT", "label": "珍珠白", "label_en": "Pearl white"},
        {"group": "trim", "code": "LUX", "label": "豪华版", "label_en": "Luxury", "price_delta": "12000.00"},
    ]
    with app.test_request_context():
        with force_locale("en"):
            assert options_text(chosen) == "Colour: Pearl white · Trim: Luxury"
            assert options_text([{"group": "package", "label": "冬季包", "label_en": ""}]) == "Package: 冬季包"
        with force_locale("zh_CN"):
            assert options_text(chosen) == "车身颜色：珍珠白 · 配置：豪华版"
            assert options_text([{"group": "interior", "label": "黑色真皮", "label_en": "Black leather"}]) == (
                "内饰：黑色真皮"
            )
        assert options_text(None) == "" and options_text([]) == ""


# ------------------------------------------------------------------ the options page


def test_the_product_page_links_to_the_options_of_build_to_order_products_only(client, cat):
    login(client, cat["cm"])
    assert 'href="/products/CAR-1/options" data-options-link' in text(client.get("/products/CAR-1/edit"))
    assert "data-options-link" not in text(client.get("/products/OIL-1/edit"))


def test_hq_lists_adds_edits_deactivates_and_reactivates_options_in_the_browser(client, world, cat):
    login(client, cat["cm"])
    page = text(client.get("/products/CAR-1/options"))
    for group in ("colour", "interior", "trim", "package"):
        assert f'data-group="{group}"' in page
    assert "Pearl white" in page and "Flame red" in page and "+3,000.00" in page and "+12,000.00" in page
    assert page.index('data-option="colour/WHT"') < page.index('data-option="colour/RED"')  # by position
    assert "No options in this group" in page  # interior and package
    csrf = page_csrf(client, "/products/CAR-1/options")
    form = {
        "csrf_token": csrf,
        "group": "interior",
        "code": "blk-lea",
        "label": "黑色真皮",
        "label_en": "Black leather",
        "price_delta": "2,500.00",
        "position": "1",
        "is_default": "y",
    }
    resp = client.post("/products/CAR-1/options", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/products/CAR-1/options")
    made = options(world)["interior/BLK-LEA"]
    assert made["price_delta"] == Decimal("2500.00") and made["is_default"] and made["position"] == 1
    assert "Option Interior BLK-LEA added." in text(client.get("/products/CAR-1/options"))
    edit_url = "/products/CAR-1/options/colour/RED/edit"
    edit = text(client.get(edit_url))
    assert 'value="3000.00"' in edit and 'value="烈焰红"' in edit
    resp = client.post(
        edit_url,
        data={"csrf_token": csrf, "label": "烈焰红", "label_en": "Flame red", "price_delta": "3,200", "position": "2"},
    )
    assert resp.status_code == 302 and options(world)["colour/RED"]["price_delta"] == Decimal("3200.00")
    resp = client.post("/products/CAR-1/options/colour/RED/deactivate", data={"csrf_token": csrf})
    assert resp.status_code == 302 and options(world)["colour/RED"]["active"] is False
    page = text(client.get("/products/CAR-1/options"))
    assert "Option Colour RED deactivated: new orders cannot choose it." in page
    assert 'action="/products/CAR-1/options/colour/RED/reactivate"' in page
    client.post("/products/CAR-1/options/colour/RED/deactivate", data={"csrf_token": csrf})
    assert "Colour RED is inactive already." in text(client.get("/products/CAR-1/options"))
    resp = client.post("/products/CAR-1/options/colour/RED/reactivate", data={"csrf_token": csrf})
    assert resp.status_code == 302 and options(world)["colour/RED"]["active"] is True
    assert [a for a, *_rest in audit(world, "product_option.update")] == ["cm", "cm"]  # the edit, the reactivation
    assert client.get("/products/CAR-1/options/wheels/RED/edit").status_code == 404
    assert client.get("/products/CAR-1/options/colour/NOPE/edit").status_code == 404
    assert client.get("/products/NOPE/options").status_code == 404


@pytest.mark.parametrize(
    "change, message",
    [
        ({"code": "WHT"}, "Colour WHT already exists."),
        ({"code": "白色"}, "Capital letters, digits and - only"),
        ({"price_delta": "-5"}, "Must not be negative."),
        ({"price_delta": "1.234"}, "At most two decimal places."),
        ({"label": ""}, "This field is required."),
        ({"group": "wheels"}, "Not a valid choice."),
    ],
)
def test_a_bad_option_form_answers_422_and_writes_nothing(client, world, cat, change, message):
    login(client, cat["cm"])
    csrf = page_csrf(client, "/products/CAR-1/options")
    form = {
        "csrf_token": csrf,
        "group": "colour",
        "code": "BLK",
        "label": "曜石黑",
        "label_en": "Obsidian black",
        "price_delta": "0",
        "position": "0",
    }
    before = world.snapshot()
    resp = client.post("/products/CAR-1/options", data={**form, **change})
    assert resp.status_code == 422 and message in text(resp)
    assert world.snapshot() == before


def test_an_edit_cannot_make_an_inactive_option_the_default(client, world, cat):
    world.run(lambda: db.session.query(ProductOption).filter_by(code="RED").update({"active": False}))
    login(client, cat["cm"])
    csrf = page_csrf(client, "/products/CAR-1/options")
    before = world.snapshot()
    resp = client.post(
        "/products/CAR-1/options/colour/RED/edit",
        data={
            "csrf_token": csrf,
            "label": "烈焰红",
            "label_en": "Flame red",
            "price_delta": "0",
            "position": "0",
            "is_default": "y",
        },
    )
    assert resp.status_code == 422 and "An inactive option cannot be the default." in text(resp)
    assert world.snapshot() == before


def test_the_options_page_of_a_stock_product_says_why_it_has_none(client, world, cat):
    login(client, cat["cm"])
    page = text(client.get("/products/OIL-1/options"))
    assert "data-not-built-to-order" in page and "OIL-1 is a stock product" in page and 'id="add-option"' not in page
    before = world.snapshot()
    resp = client.post(
        "/products/OIL-1/options",
        data={
            "csrf_token": page_csrf(client),
            "group": "colour",
            "code": "BLK",
            "label": "黑",
            "label_en": "Black",
            "price_delta": "0",
            "position": "0",
        },
    )
    assert resp.status_code == 422 and "OIL-1 is a stock product" in text(resp)
    assert world.snapshot() == before


def test_the_options_page_in_chinese(client, cat):
    login(client, cat["cm_zh"])
    page = text(client.get("/products/CAR-1/options"))
    for label in ("车身颜色", "内饰", "配置", "选装包", "珍珠白", "默认"):
        assert label in page


def test_only_hq_manages_options(client, world, cat):
    login(client, cat["admin"])
    assert client.get("/products/CAR-1/options").status_code == 200
    for user in (cat["staff"], cat["rm"]):
        other = client.application.test_client()
        login(other, user)
        csrf = page_csrf(other)
        before = world.snapshot()
        assert other.get("/products/CAR-1/options").status_code == 403
        assert (
            other.post(
                "/products/CAR-1/options",
                data={"csrf_token": csrf, "group": "colour", "code": "X", "label": "x", "label_en": "x"},
            ).status_code
            == 403
        )
        for action in ("edit", "deactivate", "reactivate"):
            url = f"/products/CAR-1/options/colour/WHT/{action}"
            assert other.post(url, data={"csrf_token": csrf}).status_code == 403, (user, url)
        assert world.snapshot() == before


# ------------------------------------------------------------------ the API


def test_dealers_read_the_active_options_and_hq_all_of_them(client, world, cat):
    world.run(lambda: db.session.query(ProductOption).filter_by(code="RED").update({"active": False}))
    dealer = client.get("/api/v1/products/CAR-1/options", headers=world.auth(cat["staff"]))
    assert dealer.status_code == 200
    assert dealer.get_json() == {
        "items": [
            {
                "group": "colour",
                "code": "WHT",
                "label": "珍珠白",
                "label_en": "Pearl white",
                "price_delta": "0.00",
                "is_default": True,
                "active": True,
                "position": 0,
            },
            {
                "group": "trim",
                "code": "LUX",
                "label": "豪华版",
                "label_en": "Luxury",
                "price_delta": "12000.00",
                "is_default": False,
                "active": True,
                "position": 0,
            },
        ]
    }
    hq = client.get("/api/v1/products/CAR-1/options", headers=world.auth(cat["cm"])).get_json()
    assert [(o["group"], o["code"], o["active"]) for o in hq["items"]] == [
        ("colour", "WHT", True),
        ("colour", "RED", False),
        ("trim", "LUX", True),
    ]
    assert client.get("/api/v1/products/OIL-1/options", headers=world.auth(cat["staff"])).get_json() == {"items": []}
    assert client.get("/api/v1/products/NOPE/options", headers=world.auth(cat["staff"])).status_code == 404


def test_hq_creates_and_changes_options_through_the_api(client, world, cat):
    headers = world.auth(cat["cm"])
    body = {
        "group": "package",
        "code": "winter",
        "label": "冬季包",
        "label_en": "Winter package",
        "price_delta": "4800.00",
        "is_default": False,
        "position": 3,
    }
    resp = client.post("/api/v1/products/CAR-1/options", json=body, headers=headers)
    assert resp.status_code == 201
    assert resp.get_json() == {**body, "code": "WINTER", "active": True}
    resp = client.patch(
        "/api/v1/products/CAR-1/options/package/WINTER",
        json={"price_delta": "5000", "is_default": True},
        headers=headers,
    )
    assert resp.status_code == 200 and resp.get_json()["price_delta"] == "5000.00" and resp.get_json()["is_default"]
    resp = client.patch("/api/v1/products/CAR-1/options/package/winter", json={"active": False}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["active"] is False and resp.get_json()["is_default"] is False
    again = client.patch("/api/v1/products/CAR-1/options/package/WINTER", json={"active": False}, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_inactive"
    resp = client.patch("/api/v1/products/CAR-1/options/package/WINTER", json={"active": True}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["active"] is True
    created = [entry for entry in audit(world, "product_option.create") if entry[0] == "cm"]  # not the fixture's
    assert [(actor, key, after["code"]) for actor, key, _before, after in created] == [
        ("cm", "CAR-1/package/WINTER", "WINTER")
    ]
    keys = [key for _a, key, *_r in audit(world, "product_option.update")]
    assert keys == ["CAR-1/package/WINTER", "CAR-1/package/WINTER"]  # the change, the reactivation
    assert [key for _a, key, *_r in audit(world, "product_option.deactivate")] == ["CAR-1/package/WINTER"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"group": "wheels"}, "group"),
        ({"code": "B L K"}, "code"),
        ({"code": "WHT"}, "code"),
        ({"label": ""}, "label"),
        ({"price_delta": "-1.00"}, "price_delta"),
        ({"price_delta": "1.005"}, "price_delta"),
        ({"price_delta": 1.5}, "price_delta"),
        ({"position": "1"}, "position"),
        ({"colour": "black"}, "colour"),
    ],
)
def test_bad_api_input_is_refused_with_its_fields(client, world, cat, body, field):
    base = {"group": "colour", "code": "BLK", "label": "曜石黑", "label_en": "Obsidian black"}
    headers = world.auth(cat["cm"])
    before = world.snapshot()
    resp = client.post("/api/v1/products/CAR-1/options", json={**base, **body}, headers=headers)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert world.snapshot() == before


def test_api_writes_are_refused_outside_hq_and_for_what_does_not_exist(client, world, cat):
    body = {"group": "colour", "code": "BLK", "label": "曜石黑", "label_en": "Obsidian black"}
    tokens = {user: world.auth(user) for user in (cat["staff"], cat["rm"], cat["cm"])}
    before = world.snapshot()
    for user in (cat["staff"], cat["rm"]):
        headers = tokens[user]
        assert client.post("/api/v1/products/CAR-1/options", json=body, headers=headers).status_code == 403
        resp = client.patch("/api/v1/products/CAR-1/options/colour/WHT", json={"label": "x"}, headers=headers)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    headers = tokens[cat["cm"]]
    assert client.post("/api/v1/products/NOPE/options", json=body, headers=headers).status_code == 404
    for url in ("/api/v1/products/CAR-1/options/wheels/WHT", "/api/v1/products/CAR-1/options/colour/NOPE"):
        resp = client.patch(url, json={"label": "x"}, headers=headers)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.post("/api/v1/products/OIL-1/options", json=body, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"] == {
        "sku": ["Only products built to order have options."]
    }
    resp = client.patch("/api/v1/products/CAR-1/options/colour/WHT", json={"code": "BLK"}, headers=headers)
    assert resp.status_code == 422 and "code" in resp.get_json()["error"]["fields"]
    assert world.snapshot() == before


def test_the_options_operations_are_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/products/{sku}/options"])
    assert "patch" in spec["paths"]["/api/v1/products/{sku}/options/{group}/{code}"]
    schemas = spec["components"]["schemas"]
    assert set(schemas["ProductOptionCreate"]["required"]) == {"group", "code", "label", "label_en"}
    assert schemas["ProductOption"]["properties"]["price_delta"]["type"] == "string"
