"""The order pages: the builder (with and without JavaScript), the list with filters and exports, one order with its
history and actions, the approval queue — for each role, with refusals, and nothing written on bad input."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from portal.orders.models import STATUSES, Order, OrderEvent
from portal.platform.timeutil import freeze
from portal.platform.web import ORDER_STATUS_LABELS
from tests.conftest import login, page_csrf


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区", approval_limit="1000")
    world.region("NORTH", parent="HQ", name="华北大区", approval_limit="1000")
    world.dealer("SH-1", "EAST", tier="A", name="上海一号")
    world.dealer("BJ-1", "NORTH", name="北京一号")
    world.product("P-1", list_price="100.00", category="parts", name="机油滤清器")
    world.product("P-2", list_price="1000.00", category="appliance", name="空调")
    world.price_list("tier:A", [{"category": "parts", "discount_pct": "10"}], name="A级配件政策")
    world.credit_limit("SH-1", "10000")
    world.credit_limit("BJ-1", "10000")
    return {
        "sh_staff": world.user("dealer_staff", dealer="SH-1"),
        "sh_admin": world.user("dealer_admin", dealer="SH-1"),
        "bj_staff": world.user("dealer_staff", dealer="BJ-1"),
        "finance": world.user("finance"),
        "channel": world.user("channel_manager"),
        "rm_east": world.user("region_manager", region="EAST"),
        "rm_north": world.user("region_manager", region="NORTH"),
    }


def text(resp) -> str:
    return resp.get_data(as_text=True)


def builder(client, **data):
    csrf = page_csrf(client, "/orders/new")
    key = re.search(r'name="key" type="hidden" value="([^"]+)"', text(client.get("/orders/new"))).group(1)
    return client.post("/orders/new", data={"csrf_token": csrf, "key": key, **data})


def order_number(location: str) -> str:
    return location.rsplit("/", 1)[-1]


def test_every_status_has_a_label():
    assert set(ORDER_STATUS_LABELS) == set(STATUSES)


# ------------------------------------------------------------------ the builder


def test_the_builder_shows_the_catalogue_my_prices_and_the_available_credit(client, channel):
    login(client, channel["sh_staff"])
    page = text(client.get("/orders/new"))
    assert '<meta name="csrf-token" content="' in page and "order.js" in page
    assert "P-1" in page and "90.00" in page and "1,000.00" in page  # my price for parts, the list price else
    assert "10,000.00" in page  # available credit
    page = text(client.get("/orders/new?add=P-2&qty=3"))
    assert 'name="sku[]" value="P-2"' in page and 'name="quantity[]" value="3"' in page
    assert "3,390.00" in page  # priced on the server too: 3 × 1000 + 13 % tax
    assert 'name="sku[]" value="NOPE"' not in text(client.get("/orders/new?add=NOPE"))


def test_without_javascript_lines_are_added_searched_and_removed_and_nothing_is_written(client, world, channel):
    login(client, channel["sh_staff"])
    before = world.snapshot()
    resp = builder(client, add="P-1", **{"addqty-P-1": "3"})
    page = text(resp)
    assert resp.status_code == 200
    assert 'name="quantity[]" value="3"' in page and "270.00" in page and "305.10" in page  # 3 × 90.00, +13 %
    resp = builder(client, add="P-1", **{"addqty-P-1": "2", "sku[]": "P-1", "quantity[]": "3"})
    assert 'name="quantity[]" value="5"' in text(resp)  # the same SKU adds up on one line
    resp = builder(client, action="search", q="空调", **{"sku[]": "P-1", "quantity[]": "3"})
    page = text(resp)
    assert 'data-product="P-2"' in page and 'data-product="P-1"' not in page and 'value="P-1"' in page
    resp = builder(client, remove="P-1", **{"sku[]": "P-1", "quantity[]": "3"})
    assert 'name="sku[]"' not in text(resp).split("<template")[0]
    resp = builder(client, action="refresh", **{"sku[]": "P-1", "quantity[]": "abc"})
    assert resp.status_code == 422 and "A whole number from 1 to 100000." in text(resp)
    assert world.snapshot() == before


def test_an_order_that_fits_the_credit_is_placed_and_approved(client, world, channel):
    login(client, channel["sh_staff"])
    resp = builder(client, action="place", note="请尽快发货", **{"sku[]": ["P-1", "P-2"], "quantity[]": ["2", "1"]})
    assert resp.status_code == 302
    number = order_number(resp.headers["Location"])
    order = world.get(Order, number=number)
    assert order["status"] == "approved" and str(order["gross"]) == "1333.40"  # 180 + 1000 net, +13 %
    assert order["note"] == "请尽快发货"
    page = text(client.get(resp.headers["Location"]))
    assert f"Order {number} placed and approved." in page
    assert "A级配件政策" in page and "10% off the list price" in page and "1,333.40" in page


def test_an_order_beyond_the_credit_goes_to_credit_review(client, world, channel):
    login(client, channel["sh_staff"])
    resp = builder(client, action="place", **{"sku[]": "P-2", "quantity[]": "9"})  # 10 170.00 gross > 10 000
    assert resp.status_code == 302
    number = order_number(resp.headers["Location"])
    assert world.get(Order, number=number)["status"] == "credit_review"
    page = text(client.get(resp.headers["Location"]))
    assert "waits for credit review" in page and "170.00" in page


def test_a_dealer_on_credit_hold_is_told_why_and_nothing_is_stored(client, world, channel):
    from portal.credit import services as credit

    world._in_request(lambda: credit.set_hold(None, world._dealer_obj("SH-1"), "逾期未付"))
    login(client, channel["sh_staff"])
    page = text(client.get("/orders/new"))
    assert "Your account is on credit hold: 逾期未付" in page and "data-place disabled" in page
    before = world.snapshot()
    resp = builder(client, action="place", **{"sku[]": "P-1", "quantity[]": "1"})
    assert resp.status_code == 409
    assert "The dealer is on credit hold: 逾期未付" in text(resp)
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "lines, message",
    [
        ({}, "An order needs at least one line."),
        ({"sku[]": "P-1", "quantity[]": "0"}, "A whole number from 1 to 100000."),
        ({"sku[]": "P-1", "quantity[]": "1.5"}, "A whole number from 1 to 100000."),
        ({"sku[]": "NOPE", "quantity[]": "1"}, "Unknown or inactive SKU NOPE."),
        ({"sku[]": ["P-1", "P-1"], "quantity[]": ["1", "2"]}, "Each SKU once per order: P-1."),
    ],
)
def test_bad_lines_are_shown_and_nothing_is_stored(client, world, channel, lines, message):
    login(client, channel["sh_staff"])
    before = world.snapshot()
    resp = builder(client, action="place", **lines)
    assert resp.status_code == 422
    assert message in text(resp)
    assert world.snapshot() == before


def test_a_double_submit_places_one_order(client, world, channel):
    login(client, channel["sh_staff"])
    csrf = page_csrf(client, "/orders/new")
    data = {"csrf_token": csrf, "key": "web-test-key-1", "action": "place", "sku[]": "P-1", "quantity[]": "1"}
    first = client.post("/orders/new", data=data)
    second = client.post("/orders/new", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert world.count(Order) == 1
    assert "was already placed" in text(client.get(second.headers["Location"]))
    changed = client.post("/orders/new", data={**data, "quantity[]": "2"})
    assert changed.status_code == 422 and "already used for another order" in text(changed)
    assert world.count(Order) == 1


def test_hq_and_region_managers_do_not_place_orders(client, channel):
    for user in (channel["finance"], channel["rm_east"]):
        c = client.application.test_client()
        login(c, user)
        assert c.get("/orders/new").status_code == 403


def test_the_quote_api_answers_the_browser_session_with_the_csrf_header(client, channel):
    """The contract order.js relies on: same-origin session, X-CSRFToken from <meta name="csrf-token">."""
    login(client, channel["sh_staff"])
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(client.get("/orders/new"))).group(1)
    body = {"lines": [{"sku": "P-1", "quantity": 2}]}
    resp = client.post("/api/v1/orders/quote", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["gross"] == "203.40" and data["available"] == "10000.00" and data["lines"][0]["rule"]["price_list"]
    assert client.post("/api/v1/orders/quote", json=body).status_code == 400  # no CSRF header: refused


# ------------------------------------------------------------------ the list


@pytest.fixture
def orders(world, channel):
    with freeze(dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)):
        fits = world.order("SH-1", [("P-1", 1)], username=channel["sh_staff"])
    with freeze(dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC)):
        big = world.order("SH-1", [("P-2", 9)], username=channel["sh_staff"])  # excess 271.70 over 9 898.30
        huge = world.order("BJ-1", [("P-2", 20)])  # 22 600 gross: excess 12 600 > the region's 1 000
    return {"fits": fits, "big": big, "huge": huge}


def test_the_orders_list_filters_pages_and_exports(client, channel, orders):
    login(client, channel["finance"])
    page = text(client.get("/orders"))
    assert all(n in page for n in orders.values())
    assert orders["huge"] in text(client.get("/orders?dealer=BJ-1")) and orders["big"] not in text(
        client.get("/orders?dealer=BJ-1")
    )
    review = text(client.get("/orders?status=credit_review"))
    assert orders["big"] in review and orders["fits"] not in review
    assert orders["fits"] not in text(client.get("/orders?region=NORTH"))
    assert orders["huge"] not in text(client.get("/orders?sku=P-1"))
    assert orders["fits"] in text(client.get("/orders?from=2026-11-01&to=2026-11-05"))
    assert orders["big"] not in text(client.get("/orders?from=2026-11-01&to=2026-11-05"))
    assert orders["fits"] in text(client.get(f"/orders?q={orders['fits'][-4:]}"))
    paged = text(client.get("/orders?per_page=1&page=2"))
    assert "3 in all · page 2 of 3" in paged
    csv_text = text(client.get("/orders?format=csv"))
    assert csv_text.startswith("\ufeffnumber,created_at,dealer_code") and all(n in csv_text for n in orders.values())
    rows = list(load_workbook(io.BytesIO(client.get("/orders?format=xlsx&dealer=SH-1").data)).active.values)
    assert {r[0] for r in rows[1:]} == {orders["fits"], orders["big"]}


def test_the_orders_list_is_scoped(client, channel, orders):
    login(client, channel["sh_admin"])
    page = text(client.get("/orders"))
    assert orders["fits"] in page and orders["huge"] not in page
    assert orders["huge"] not in text(client.get("/orders?dealer=BJ-1&format=csv"))
    assert client.get(f"/orders/{orders['huge']}").status_code == 404
    c = client.application.test_client()
    login(c, channel["rm_north"])
    page = text(c.get("/orders"))
    assert orders["huge"] in page and orders["fits"] not in page


# ------------------------------------------------------------------ one order


def test_an_order_in_review_shows_lines_history_credit_and_the_decision(client, channel, orders):
    login(client, channel["finance"])
    page = text(client.get(f"/orders/{orders['big']}"))
    assert "Credit review" in page and "Product P-2" in page and "Product P-1" not in page  # English names
    assert "List price: no price policy applies" in page
    assert "Exceeds available credit by 271.70 CNY." in page  # 10 170.00 gross − (10 000 − 101.70 approved)
    assert "Ageing today" in page and orders["fits"] in page  # recent orders of the dealer
    assert "data-approve" in page and "data-reject" in page and "data-cancel" in page
    history = page.split("History")[1]
    assert "Credit review" in history and "Submitted" in history and channel["sh_staff"] in history


def test_finance_approves_with_a_comment(client, world, channel, orders):
    login(client, channel["finance"])
    csrf = page_csrf(client, f"/orders/{orders['big']}")
    resp = client.post(f"/orders/{orders['big']}/approve", data={"decision-csrf_token": csrf, "decision-comment": "ok"})
    assert resp.status_code == 302
    assert world.get(Order, number=orders["big"])["status"] == "approved"
    page = text(client.get(resp.headers["Location"]))
    assert f"Order {orders['big']} approved." in page and "ok" in page
    # a second approval is refused with the reason, and nothing changes
    before = world.snapshot()
    resp = client.post(f"/orders/{orders['big']}/approve", data={"decision-csrf_token": csrf})
    assert resp.status_code == 409 and "Only orders in credit review can be approved." in text(resp)
    assert world.snapshot() == before


def test_a_rejection_needs_a_comment(client, world, channel, orders):
    login(client, channel["channel"])
    csrf = page_csrf(client, f"/orders/{orders['big']}")
    before = world.snapshot()
    resp = client.post(f"/orders/{orders['big']}/reject", data={"decision-csrf_token": csrf, "decision-comment": " "})
    assert resp.status_code == 422 and "Say why the order is rejected." in text(resp)
    assert world.snapshot() == before
    resp = client.post(
        f"/orders/{orders['big']}/reject", data={"decision-csrf_token": csrf, "decision-comment": "额度不足"}
    )
    assert resp.status_code == 302
    assert world.get(Order, number=orders["big"])["status"] == "rejected"
    assert world.count(OrderEvent, comment="额度不足") == 1


def test_a_region_manager_approves_only_within_the_regions_limit(client, world, channel, orders):
    login(client, channel["rm_east"])
    queue = text(client.get("/approvals"))
    assert orders["big"] in queue and orders["huge"] not in queue and "Yes" in queue
    csrf = page_csrf(client, f"/orders/{orders['big']}")
    resp = client.post(f"/orders/{orders['big']}/approve", data={"decision-csrf_token": csrf})
    assert resp.status_code == 302 and world.get(Order, number=orders["big"])["status"] == "approved"
    c = client.application.test_client()
    login(c, channel["rm_north"])
    queue = text(c.get("/approvals"))
    assert orders["huge"] in queue and "Beyond your limit" in queue
    page = text(c.get(f"/orders/{orders['huge']}"))
    assert "beyond your approval limit" in page and "data-approve" not in page
    before = world.snapshot()
    csrf = page_csrf(c, f"/orders/{orders['huge']}")
    resp = c.post(f"/orders/{orders['huge']}/approve", data={"decision-csrf_token": csrf})
    assert resp.status_code == 403 and "beyond your approval limit" in text(resp)
    assert world.snapshot() == before


def test_dealers_do_not_approve(client, world, channel, orders):
    login(client, channel["sh_admin"])
    assert client.get("/approvals").status_code == 403
    page = text(client.get(f"/orders/{orders['big']}"))
    assert "waits for credit review by HQ" in page and "data-approve" not in page
    csrf = page_csrf(client, f"/orders/{orders['big']}")
    before = world.snapshot()
    assert client.post(f"/orders/{orders['big']}/approve", data={"decision-csrf_token": csrf}).status_code == 403
    assert world.snapshot() == before


def test_a_dealer_cancels_before_production_and_hq_before_shipping(client, world, channel, orders):
    login(client, channel["sh_staff"])
    csrf = page_csrf(client, f"/orders/{orders['fits']}")
    resp = client.post(f"/orders/{orders['fits']}/cancel", data={"cancel-csrf_token": csrf, "cancel-comment": "下错了"})
    assert resp.status_code == 302 and world.get(Order, number=orders["fits"])["status"] == "cancelled"
    assert "data-cancel" not in text(client.get(f"/orders/{orders['fits']}"))

    def start_production():
        from portal.extensions import db

        db.session.query(Order).filter_by(number=orders["big"]).update({"status": "in_production"})

    world.run(start_production)
    page = text(client.get(f"/orders/{orders['big']}"))
    assert "data-cancel" not in page
    before = world.snapshot()
    resp = client.post(f"/orders/{orders['big']}/cancel", data={"cancel-csrf_token": csrf})
    assert resp.status_code == 409 and "Production has started; ask HQ to cancel." in text(resp)
    assert world.snapshot() == before
    c = client.application.test_client()
    login(c, channel["channel"])
    assert "data-cancel" in text(c.get(f"/orders/{orders['big']}"))
    csrf = page_csrf(c, f"/orders/{orders['big']}")
    resp = c.post(f"/orders/{orders['big']}/cancel", data={"cancel-csrf_token": csrf, "cancel-comment": "停产"})
    assert resp.status_code == 302 and world.get(Order, number=orders["big"])["status"] == "cancelled"
    c = client.application.test_client()
    login(c, channel["rm_north"])
    csrf = page_csrf(c, f"/orders/{orders['huge']}")
    assert c.post(f"/orders/{orders['huge']}/cancel", data={"cancel-csrf_token": csrf}).status_code == 403


# ------------------------------------------------------------------ the approval queue


def test_the_approval_queue_is_oldest_first_scoped_and_exported(client, world, channel, orders):
    with freeze(dt.datetime(2026, 11, 12, 2, 0, tzinfo=dt.UTC)):
        later = world.order("SH-1", [("P-2", 10)], username=channel["sh_staff"])
    login(client, channel["finance"])
    queue = text(client.get("/approvals"))
    assert queue.index(orders["big"]) < queue.index(orders["huge"]) < queue.index(later)
    assert orders["fits"] not in queue
    assert orders["huge"] not in text(client.get("/approvals?region=EAST"))
    csv_text = text(client.get("/approvals?format=csv"))
    assert csv_text.splitlines()[0].lstrip("\ufeff") == (
        "number,created_at,dealer_code,dealer_name,region,gross,excess,may_approve"
    )
    assert len(csv_text.splitlines()) == 4
