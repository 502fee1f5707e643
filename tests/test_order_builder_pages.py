"""The order pages of §12 through the browser's forms (no JavaScript): the builder backed by the server-side draft,
"add to order" from other pages, placing with an Idempotency-Key, order again, amending, ordering on a dealer's
behalf — and bad input answered with a message in place and nothing written."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from portal.orders.models import Order, OrderDraft
from portal.platform.timeutil import today
from tests.conftest import login, page_csrf
from tests.ordering_helpers import order_of


@pytest.fixture
def shop(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("NORTH", parent="HQ", name="华北大区")
    world.dealer("SH-1", "EAST", tier="A", name="上海一号")
    world.dealer("BJ-1", "NORTH", name="北京一号")
    world.product("OIL-1", list_price="100.00", category="parts", name="机油")
    world.product("FLT-1", list_price="20.00", category="parts", name="滤清器")
    world.product("CAR-1", list_price="100000.00", category="vehicle", build_to_order=True, name="远航 X5")
    world.option("CAR-1", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    world.option("CAR-1", "colour", "BLK", "曜石黑", "Obsidian black", delta="3000.00", position=1)
    world.option("CAR-1", "trim", "STD", "标准版", "Standard", default=True)
    world.option("CAR-1", "trim", "LUX", "豪华版", "Luxury", delta="10000.00", position=1)
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级配件政策")
    world.credit_limit("SH-1", "300000")
    world.credit_limit("BJ-1", "300000")
    return {
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh1.staff"),
        "bj": world.user("dealer_staff", dealer="BJ-1", username="bj1.staff"),
        "cm": world.user("channel_manager", username="cm"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "finance": world.user("finance", username="fin"),
        "showroom": world.address("SH-1", "展厅", "上海市浦东新区世纪大道1号", is_default=True),
        "warehouse": world.address("SH-1", "仓库", "上海市嘉定区安亭镇2号", recipient="李娜"),
        "bj_address": world.address("BJ-1", "北京展厅", "北京市朝阳区1号"),
    }


def text(resp) -> str:
    return resp.get_data(as_text=True)


def as_(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    client.csrf = page_csrf(client)  # the session's token (reading it from a page would show pending messages)
    return client


def add(client, sku: str, quantity="1", *, next_url=None, dealer=None, headers=None, **options):
    data = {"csrf_token": client.csrf, "sku": sku, "quantity": quantity}
    data.update({f"options-{group}": code for group, code in options.items()})
    if next_url is not None:
        data["next"] = next_url
    if dealer is not None:
        data["dealer"] = dealer
    return client.post("/orders/draft/add", data=data, headers=headers or {})


def basket_form(html: str) -> dict:
    """The builder's basket form as the browser would post it: hidden fields, quantities, options, details."""
    form = html.split('id="basket-form"', 1)[1].split("</form>", 1)[0]
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        data.setdefault(name, value)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(r'<option value="([^"]*)"', body)
        data[name] = chosen.group(1) if chosen else ""
    note = re.search(r'<textarea[^>]*name="note"[^>]*>(.*?)</textarea>', form, re.S)
    if note:
        data["note"] = note.group(1)
    return data


def post_basket(client, url="/orders/new", **changes):
    data = {**basket_form(text(client.get(url))), **changes}
    return client.post(url, data=data)


def draft_lines(world, username: str):
    from portal.dealers.models import User

    user_id = world.get(User, username=username)["id"]
    row = world.get(OrderDraft, user_id=user_id)
    return None if row is None else row["lines"]


# ------------------------------------------------------------------ the builder and the draft


def test_the_builder_shows_product_cards_with_my_price_options_and_the_credit(app, world, shop):
    client = as_(app, "sh1.staff")
    page = text(client.get("/orders/new"))
    assert 'data-product="OIL-1"' in page and 'data-product="CAR-1"' in page
    card = page.split('data-product="OIL-1"', 1)[1].split("</form>", 1)[0]
    assert "90.00" in card and "100.00" in card  # my price (10 % off), the list price struck through
    car = page.split('data-product="CAR-1"', 1)[1].split("</form>", 1)[0]
    assert 'name="options-colour"' in car and 'name="options-trim"' in car
    assert "Obsidian black (+3,000.00)" in car and 'value="WHT" selected' in car
    assert "300,000.00" in page  # the available credit
    assert "data-basket-bar" in page and "order.js" in page
    # a link "order this" from another page: the product's card, searched and with the quantity, ready to add
    page = text(client.get("/orders/new?add=OIL-1&qty=3"))
    card = page.split('data-product="OIL-1"', 1)[0].rsplit("<form", 1)[1]
    assert "is-prefill" in card and 'value="OIL-1"' in page
    assert 'id="qty-OIL-1" name="quantity" value="3"' in page and 'data-product="FLT-1"' not in page
    assert world.count(OrderDraft) == 0  # a link never writes


def test_the_draft_survives_leaving_the_page_and_logging_out(app, world, shop):
    client = as_(app, "sh1.staff")
    resp = add(client, "CAR-1", "2", colour="BLK", trim="LUX")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/orders/new")
    assert "2 × CAR-1 added to your order draft." in text(client.get("/orders/new"))
    add(client, "OIL-1", "3")
    wanted = (today() + dt.timedelta(days=10)).isoformat()
    resp = post_basket(client, requested_on=wanted, ship_to=str(shop["warehouse"]), note="请月底前交付", action="save")
    assert resp.status_code == 302
    client.post("/logout", data={"csrf_token": client.csrf})
    assert client.get("/orders/new").status_code == 302  # logged out: to the login page

    again = as_(app, "sh1.staff")
    page = text(again.get("/orders/new"))
    assert 'name="quantity-0" value="2"' in page and 'name="quantity-1" value="3"' in page
    assert "Colour: Obsidian black · Trim: Luxury" in page  # the options chosen
    assert f'value="{wanted}"' in page and "请月底前交付" in page
    assert f'<option value="{shop["warehouse"]}" selected' in page
    # 2 × (100 000 + 3 000 + 10 000) + 3 × 90.00, and 13 % tax
    assert "255,685.10" in page
    assert draft_lines(world, "sh1.staff") == [
        {"sku": "CAR-1", "quantity": 2, "options": {"colour": "BLK", "trim": "LUX"}},
        {"sku": "OIL-1", "quantity": 3},
    ]


def test_quantities_change_and_lines_go_through_the_basket_form(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "3")
    add(client, "FLT-1", "1")
    assert post_basket(client, **{"quantity-0": "5", "action": "save"}).status_code == 302
    assert draft_lines(world, "sh1.staff")[0]["quantity"] == 5
    assert post_basket(client, remove="0").status_code == 302
    assert draft_lines(world, "sh1.staff") == [{"sku": "FLT-1", "quantity": 1}]
    add(client, "FLT-1", "2")  # the same product adds up on its line
    assert draft_lines(world, "sh1.staff") == [{"sku": "FLT-1", "quantity": 3}]


def test_the_draft_can_be_deleted(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "3")
    resp = client.post("/orders/draft/discard", data={"csrf_token": client.csrf})
    assert resp.status_code == 302 and world.count(OrderDraft) == 0
    assert "Your order draft was deleted." in text(client.get(resp.headers["Location"]))


def test_add_to_order_from_another_page_comes_back_there_with_a_message(app, world, shop):
    client = as_(app, "sh1.staff")
    resp = add(client, "OIL-1", "4", next_url="/products?q=OIL")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/products?q=OIL")
    assert "4 × OIL-1 added to your order draft." in text(client.get("/products?q=OIL"))
    for elsewhere in ("https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        resp = add(client, "OIL-1", "1", next_url=elsewhere)
        assert resp.headers["Location"].endswith("/orders/new"), elsewhere  # never off the site
    assert draft_lines(world, "sh1.staff") == [{"sku": "OIL-1", "quantity": 8}]


def test_order_js_gets_the_basket_back_as_fragments(app, world, shop):
    client = as_(app, "sh1.staff")
    resp = add(client, "CAR-1", "1", headers={"X-Requested-With": "order.js"}, colour="BLK")
    body = resp.get_json()
    assert resp.status_code == 200 and body["ok"] and body["count"] == 1
    assert body["message"] == "1 × CAR-1 added to your order draft."
    assert set(body["fragments"]) == {"basket-lines", "basket-totals", "basket-bar"}
    assert "116,390.00" in body["fragments"]["basket-bar"]  # 103 000 + 13 % tax
    bad = add(client, "CAR-1", "1", headers={"X-Requested-With": "order.js"}, colour="RED")
    assert bad.status_code == 422 and not bad.get_json()["ok"]
    assert "CAR-1 offers no" in bad.get_json()["message"]
    assert draft_lines(world, "sh1.staff") == [{"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLK"}}]


def test_placing_twice_with_the_same_form_key_makes_one_order(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    data = {**basket_form(text(client.get("/orders/new"))), "action": "place"}
    first = client.post("/orders/new", data=data)
    second = client.post("/orders/new", data=data)  # the double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert world.count(Order) == 1 and world.count(OrderDraft) == 0
    number = first.headers["Location"].rsplit("/", 1)[-1]
    assert "was already placed" in text(client.get(second.headers["Location"]))
    got = order_of(world, number)
    assert got["status"] == "approved" and got["gross"] == Decimal("203.40")  # 2 × 90.00 + 13 %
    assert got["ship_to"] == shop["showroom"]  # the default address


def test_a_page_built_from_another_version_of_the_draft_changes_nothing(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    stale = basket_form(text(client.get("/orders/new")))
    add(client, "FLT-1", "1")  # another tab
    before = world.snapshot()
    resp = client.post("/orders/new", data={**stale, "remove": "0"})
    assert resp.status_code == 409 and "changed in another window" in text(resp)
    assert world.snapshot() == before


# ------------------------------------------------------------------ bad input: a message, nothing written


def test_a_past_delivery_date_is_refused_in_place(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    before = world.snapshot()
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    resp = post_basket(client, requested_on=yesterday, **{"quantity-0": "5", "action": "place"})
    assert resp.status_code == 422
    page = text(resp)
    assert "A delivery date from today on." in page
    assert 'data-errors-for="requested_on"><div>A delivery date from today on.' in page
    assert 'name="quantity-0" value="5"' in page  # what was typed stays on the page
    assert world.snapshot() == before and world.count(Order) == 0
    resp = post_basket(client, requested_on="31/12/2026", action="save")
    assert resp.status_code == 422 and "Date must be YYYY-MM-DD." in text(resp)
    resp = post_basket(client, requested_on=yesterday, **{"quantity-0": "abc", "action": "save"})
    assert "A delivery date from today on." in text(resp) and "A whole number from 1 to 100000." in text(resp)
    assert world.snapshot() == before


def test_a_ship_to_of_another_dealer_is_refused(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    before = world.snapshot()
    resp = post_basket(client, ship_to=str(shop["bj_address"]), action="place")
    assert resp.status_code == 422
    assert 'data-errors-for="ship_to"><div>Not one of SH-1&#39;s ship-to addresses.' in text(resp)
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "RED"}, "CAR-1 offers no Colour RED."),
        ({"interior": "BEI"}, "CAR-1 has no option group interior."),
    ],
)
def test_options_not_offered_are_refused(app, world, shop, options, message):
    client = as_(app, "sh1.staff")
    before = world.snapshot()
    resp = add(client, "CAR-1", "1", **options)
    assert message in text(client.get(resp.headers["Location"]))
    assert world.snapshot() == before


def test_a_group_without_a_default_must_be_chosen(app, world, shop):
    world.option("CAR-1", "package", "WIN", "冬季包", "Winter pack", delta="2000.00")  # no default
    client = as_(app, "sh1.staff")
    page = text(client.get("/orders/new"))
    car = page.split('data-product="CAR-1"', 1)[1].split("</form>", 1)[0]
    assert 'name="options-package" required' in car and '<option value="">Choose…</option>' in car
    before = world.snapshot()
    resp = add(client, "CAR-1", "1", colour="WHT")
    assert "Choose the Package of CAR-1." in text(client.get(resp.headers["Location"]))
    assert world.snapshot() == before
    add(client, "CAR-1", "1", package="WIN")
    assert draft_lines(world, "sh1.staff") == [{"sku": "CAR-1", "quantity": 1, "options": {"package": "WIN"}}]


def test_options_on_a_stock_product_and_bad_quantities_are_refused(app, world, shop):
    client = as_(app, "sh1.staff")
    before = world.snapshot()
    for (sku, quantity, options), message in [
        (("OIL-1", "1", {"colour": "WHT"}), "OIL-1 is a stock product and has no options."),
        (("OIL-1", "0", {}), "A whole number from 1 to 100000."),
        (("OIL-1", "1.5", {}), "A whole number from 1 to 100000."),
        (("NOPE", "1", {}), "Unknown or inactive SKU NOPE."),
    ]:
        resp = add(client, sku, quantity, **options)
        assert resp.status_code == 302
        assert message in text(client.get(resp.headers["Location"])), sku
    assert world.snapshot() == before
    add(client, "OIL-1", "2")
    before = world.snapshot()
    resp = post_basket(client, **{"quantity-0": "abc", "action": "save"})
    assert resp.status_code == 422 and "A whole number from 1 to 100000." in text(resp)
    resp = post_basket(client, **{"options-0-colour": "WHT", "action": "save"})
    assert resp.status_code == 422 and "OIL-1 is a stock product and has no options." in text(resp)
    assert world.snapshot() == before


def test_a_dealer_on_credit_hold_is_told_why_and_nothing_is_placed(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    world.hold("SH-1", "逾期未付")
    page = text(client.get("/orders/new"))
    assert "Your account is on credit hold: 逾期未付" in page and "data-place disabled" in page
    before = world.snapshot()
    resp = post_basket(client, action="place")
    assert resp.status_code == 409 and "The dealer is on credit hold: 逾期未付" in text(resp)
    assert world.snapshot() == before


# ------------------------------------------------------------------ order again


def test_order_again_copies_the_lines_and_lists_what_can_no_longer_be_ordered(app, world, shop):
    from portal.catalog.models import Product
    from portal.extensions import db

    number = world.order_with("SH-1", [{"sku": "OIL-1", "quantity": 3}, {"sku": "FLT-1", "quantity": 2},
                                       {"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLK"}}])  # fmt: skip
    world.run(lambda: db.session.query(Product).filter_by(sku="FLT-1").update({"active": False}))
    client = as_(app, "sh1.staff")
    assert "data-reorder" in text(client.get(f"/orders/{number}"))
    resp = client.post(f"/orders/{number}/reorder", data={"csrf_token": client.csrf})
    assert resp.status_code == 302 and "/orders/new" in resp.headers["Location"]
    page = text(client.get(resp.headers["Location"]))
    assert f"The lines of order {number} are in your order draft, at today" in page
    assert "Not copied into the draft: FLT-1 × 2: No longer sold." in page
    assert draft_lines(world, "sh1.staff") == [
        {"sku": "OIL-1", "quantity": 3},
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLK", "trim": "STD"}},  # as placed, defaults included
    ]


# ------------------------------------------------------------------ the order page and amendments


def test_the_order_page_shows_the_delivery_the_options_and_who_placed_it(app, world, shop):
    wanted = today() + dt.timedelta(days=30)
    number = world.order_with("SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLK"}}],
                              username="cm", requested_on=wanted, ship_to=shop["warehouse"])  # fmt: skip
    asap = world.order_with("SH-1", [{"sku": "OIL-1", "quantity": 1}])
    client = as_(app, "sh1.staff")
    page = text(client.get(f"/orders/{number}"))
    assert wanted.isoformat() in page and "仓库" in page and "上海市嘉定区安亭镇2号" in page
    assert "Placed on your behalf by cm." in page
    assert "Colour: Obsidian black · Trim: Standard" in page
    assert 'class="table mb-0 align-middle table-stack' in page and 'data-label="Gross"' in page
    page = text(client.get(f"/orders/{asap}"))
    assert "As soon as possible" in page and "Placed on your behalf" not in page
    assert "data-amend" in page and "data-reorder" in page


def amend_form(html: str) -> dict:
    form = html.split('id="amend-form"', 1)[1].split("</form>", 1)[0]
    data: dict = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        if name.endswith("[]"):
            data.setdefault(name, []).append(value)
        else:
            data.setdefault(name, value)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(r'<option value="([^"]*)"', body)
        data[name] = chosen.group(1) if chosen else ""
    note = re.search(r'<textarea[^>]*name="note"[^>]*>(.*?)</textarea>', form, re.S)
    data["note"] = note.group(1) if note else ""
    return data


def test_an_amendment_up_goes_to_credit_review_and_down_back_to_approved(app, world, shop):
    number = world.order_with("SH-1", [{"sku": "CAR-1", "quantity": 1}], username="sh1.staff")
    assert order_of(world, number)["status"] == "approved"  # 113 000 within 300 000
    client = as_(app, "sh1.staff")
    url = f"/orders/{number}/amend"
    form = amend_form(text(client.get(url)))
    assert form["sku[]"] == ["CAR-1"] and form["quantity[]"] == ["1"]
    preview = client.post(url, data={**form, "quantity[]": ["3"], "action": "preview"})
    page = text(preview)
    assert preview.status_code == 200 and "339,000.00" in page  # 3 × 113 000
    assert 'data-outcome="credit_review"' in page and "39,000.00" in page  # over the 300 000 it may use
    assert order_of(world, number)["gross"] == Decimal("113000.00")  # a preview writes nothing
    # a product added from the search, with options
    found = text(client.post(url, data={**form, "q": "OIL", "action": "search"}))
    assert 'name="addqty-OIL-1"' in found
    added = client.post(url, data={**form, "add": "OIL-1", "addqty-OIL-1": "2", "action": "preview"})
    assert amend_form(text(added))["sku[]"] == ["CAR-1", "OIL-1"]
    saved = client.post(url, data={**form, "quantity[]": ["3"], "action": "save"})
    assert saved.status_code == 302
    assert "waits for credit review" in text(client.get(saved.headers["Location"]))
    got = order_of(world, number)
    assert got["status"] == "credit_review" and got["gross"] == Decimal("339000.00")
    form = amend_form(text(client.get(url)))
    saved = client.post(url, data={**form, "quantity[]": ["2"], "action": "save"})
    assert saved.status_code == 302
    got = order_of(world, number)
    assert got["status"] == "approved" and got["gross"] == Decimal("226000.00")
    assert [e[2] for e in got["events"]].count("amended") == 2


def test_amendment_errors_are_shown_in_place_and_nothing_is_written(app, world, shop):
    number = world.order_with("SH-1", [{"sku": "OIL-1", "quantity": 3}], username="sh1.staff")
    client = as_(app, "sh1.staff")
    url = f"/orders/{number}/amend"
    form = amend_form(text(client.get(url)))
    before = world.snapshot()
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    cases = [
        ({"quantity[]": ["0"]}, "A whole number from 1 to 100000."),
        ({"requested_on": yesterday}, "A delivery date from today on."),
        ({"ship_to": str(shop["bj_address"])}, "ship-to addresses"),
        ({"sku[]": ["OIL-1", "CAR-1"], "opts[]": ["", "colour=RED"], "quantity[]": ["3", "1"], "new[]": ["0", "1"]},
         "CAR-1 offers no"),
        ({"sku[]": [], "opts[]": [], "quantity[]": [], "new[]": []}, "An order needs at least one line."),
    ]  # fmt: skip
    for change, message in cases:
        resp = client.post(url, data={**form, **change, "action": "save"})
        assert resp.status_code == 422, change
        assert message in text(resp), change
    assert world.snapshot() == before


def test_no_amendment_once_production_started(app, world, shop):
    number = world.order_with("SH-1", [{"sku": "CAR-1", "quantity": 1}], username="sh1.staff")
    serial = world.serials(number)[0]
    world.mes_events([{"event_id": "e1", "serial": serial, "stage": "body", "occurred_at": dt.datetime.now(dt.UTC)}])
    client = as_(app, "sh1.staff")
    page = text(client.get(f"/orders/{number}"))
    assert "data-amend" not in page and "data-reorder" in page
    before = world.snapshot()
    resp = client.get(f"/orders/{number}/amend")
    assert resp.status_code == 409 and "can no longer be amended" in text(resp)
    data = {"csrf_token": client.csrf, "sku[]": "CAR-1", "opts[]": "", "quantity[]": "2", "new[]": "0",
            "action": "save"}  # fmt: skip
    resp = client.post(f"/orders/{number}/amend", data=data)
    assert resp.status_code == 409 and "can no longer be amended" in text(resp)
    assert world.snapshot() == before


def test_other_dealers_cannot_amend_or_reorder(app, world, shop):
    number = world.order_with("SH-1", [{"sku": "OIL-1", "quantity": 3}])
    for username in ("bj1.staff", "rm.north"):
        client = as_(app, username)
        assert client.get(f"/orders/{number}/amend").status_code == 404
        assert client.post(f"/orders/{number}/reorder", data={"csrf_token": client.csrf}).status_code == 404
    finance = as_(app, "fin")
    assert "data-amend" not in text(finance.get(f"/orders/{number}"))
    assert finance.get(f"/orders/{number}/amend").status_code == 403


# ------------------------------------------------------------------ on the dealer's behalf (代客下单)


def test_a_channel_manager_orders_for_a_dealer_from_its_overview(app, world, shop):
    client = as_(app, "cm")
    overview = text(client.get("/dealers/SH-1"))
    assert 'href="/orders/new?dealer=SH-1" data-place-for' in overview
    assert "data-place-for" not in text(as_(app, "sh1.staff").get("/dealers/SH-1"))
    page = text(client.get("/orders/new?dealer=SH-1"))
    assert "data-on-behalf" in page and 'name="dealer" value="SH-1"' in page and "Dealer price" in page
    resp = add(client, "OIL-1", "2", dealer="SH-1", next_url="/orders/new?dealer=SH-1")
    assert resp.headers["Location"].endswith("/orders/new?dealer=SH-1")
    resp = post_basket(client, "/orders/new?dealer=SH-1", action="place")
    assert resp.status_code == 302
    number = resp.headers["Location"].rsplit("/", 1)[-1]
    got = order_of(world, number)
    assert got["placed_by"] == "cm" and got["gross"] == Decimal("203.40")  # SH-1's price: tier A, 10 % off
    assert "Placed on your behalf by cm." in text(as_(app, "sh1.staff").get(f"/orders/{number}"))
    # without a dealer and without a draft: choose one first
    assert 'name="dealer" list="dealer-codes"' in text(client.get("/orders/new"))


def test_a_region_manager_orders_only_inside_its_region(app, world, shop):
    inside = as_(app, "rm.east")
    assert inside.get("/orders/new?dealer=SH-1").status_code == 200
    outside = as_(app, "rm.north")
    before = world.snapshot()
    assert outside.get("/orders/new?dealer=SH-1").status_code == 404
    assert add(outside, "OIL-1", "1", dealer="SH-1").status_code == 404
    assert outside.get("/orders/new?dealer=NO-SUCH").status_code == 404
    assert world.snapshot() == before
    # a dealer user never orders for another dealer; finance does not order at all
    assert as_(app, "sh1.staff").get("/orders/new?dealer=BJ-1").status_code == 404
    assert as_(app, "fin").get("/orders/new").status_code == 403


def test_a_managers_draft_for_one_dealer_is_never_placed_from_another_dealers_page(app, world, shop):
    client = as_(app, "cm")
    add(client, "OIL-1", "2", dealer="SH-1")
    page = text(client.get("/orders/new?dealer=BJ-1"))
    assert "Your order draft is for 上海一号 (1 lines)." in page and "data-place disabled" in page
    before = world.snapshot()
    resp = post_basket(client, "/orders/new?dealer=BJ-1", action="place")
    assert resp.status_code == 409 and world.count(Order) == 0
    assert world.snapshot() == before
    add(client, "FLT-1", "1", dealer="BJ-1")  # starting one for BJ-1 replaces it
    from portal.dealers.models import Dealer

    assert world.get(OrderDraft)["dealer_id"] == world.get(Dealer, code="BJ-1")["id"]
    assert draft_lines(world, "cm") == [{"sku": "FLT-1", "quantity": 1}]


def test_order_js_saves_a_change_and_gets_the_totals_back(app, world, shop):
    client = as_(app, "sh1.staff")
    add(client, "OIL-1", "2")
    data = {**basket_form(text(client.get("/orders/new"))), "quantity-0": "4", "action": "save"}
    resp = client.post("/orders/new", data=data, headers={"X-Requested-With": "order.js"})
    body = resp.get_json()
    assert resp.status_code == 200 and body["ok"] and body["count"] == 1
    assert "406.80" in body["fragments"]["basket-totals"]  # 4 × 90.00 + 13 %
    assert draft_lines(world, "sh1.staff") == [{"sku": "OIL-1", "quantity": 4}]
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    resp = client.post(
        "/orders/new", data={**data, "requested_on": yesterday}, headers={"X-Requested-With": "order.js"}
    )
    assert resp.status_code == 422
    assert resp.get_json()["field_errors"] == {"requested_on": ["A delivery date from today on."]}


def test_an_order_beyond_the_available_credit_is_placed_for_credit_review(app, world, shop):
    world.credit_limit("SH-1", "100000")
    client = as_(app, "sh1.staff")
    add(client, "CAR-1", "1")  # 113,000.00 > 100,000.00
    page = text(client.get("/orders/new"))
    assert "113,000.00" in page
    data = {**basket_form(page), "action": "place"}
    placed = client.post("/orders/new", data=data)
    assert placed.status_code == 302
    number = placed.headers["Location"].rsplit("/", 1)[-1]
    assert order_of(world, number)["status"] == "credit_review"


@pytest.mark.parametrize("username", ["fin"])
def test_finance_does_not_place_orders(app, world, shop, username):
    client = as_(app, username)
    assert client.get("/orders/new").status_code == 403
    assert add(client, "OIL-1").status_code == 403
    assert world.count(OrderDraft) == 0
