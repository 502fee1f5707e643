"""The order pages: the list with filters and exports, one order with its history and actions, the approval queue —
for each role, with refusals, and nothing written on bad input (the builder: tests/test_order_builder_pages.py)."""

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
