"""The pages of a distributor's sales (PRODUCT.md §16): each order says who sells it; the distributor has its Sales
page, the approvals of its sub-dealers' orders and a work queue of them on its home, decided by its admin alone; HQ's
and the regions' approval pages and queues hold HQ's orders only; the menu offers the sales to a distributor's
users."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.orders.models import Order
from portal.platform.timeutil import freeze
from tests.conftest import login, page_csrf

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", approval_limit="1000000")
    world.dealer("DIST-1", "EAST", name="一级甲")
    world.dealer("DIST-2", "EAST", name="一级乙")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级甲")
    world.sub_dealer("DIST-1", "SUB-1B", name="二级乙")
    world.sub_dealer("DIST-2", "SUB-2A", name="二级丙")
    world.credit_limit("DIST-1", "0")  # its own orders with HQ wait for HQ's review
    for code in ("SUB-1A", "SUB-1B", "SUB-2A"):
        world.credit_limit(code, "500.00")
    world.product("OIL-1", list_price="100.00", tax_rate="0")
    return {
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "dist_staff": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "sub_admin": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "sub_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "sub1b_staff": world.user("dealer_staff", dealer="SUB-1B", username="sub1b.staff"),
        "sub2_staff": world.user("dealer_staff", dealer="SUB-2A", username="sub2a.staff"),
        "dist2_admin": world.user("dealer_admin", dealer="DIST-2", username="dist2.admin"),
        "fin": world.user("finance", username="fin"),
        "cm": world.user("channel_manager", username="cm"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
    }


@pytest.fixture
def placed(world, ch) -> dict:
    """In credit review: SUB-1A's (9 days), SUB-1B's (2 days), SUB-2A's, and DIST-1's own with HQ; approved: SUB-1A's
    small one."""
    out = {}
    for name, dealer, user, quantity, days in (
        ("old", "SUB-1A", ch["sub_staff"], 8, 9),
        ("new", "SUB-1B", ch["sub1b_staff"], 7, 2),
        ("other", "SUB-2A", ch["sub2_staff"], 9, 1),
        ("hq", "DIST-1", ch["dist_staff"], 1, 1),
        ("small", "SUB-1A", ch["sub_staff"], 2, 0),
    ):
        with freeze(NOW - dt.timedelta(days=days)):
            out[name] = world.order(dealer, [("OIL-1", quantity)], username=user)
    return out


def as_user(app, username: str):
    """A browser session of this user."""
    client = app.test_client()
    login(client, username)
    return client


def text(resp) -> str:
    assert resp.status_code == 200, resp.request.path
    return resp.get_data(as_text=True)


def main(resp) -> str:
    return text(resp).split("<main", 1)[1].split("</main>", 1)[0]


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-order="([^"]+)"', html)


def test_an_order_page_says_who_sells_it(app, client, world, ch, placed):
    login(client, ch["sub_staff"])
    html = text(client.get(f"/orders/{placed['old']}"))
    assert 'data-seller="DIST-1"' in html and "一级甲" in html
    assert 'data-review-by="DIST-1"' in html and "waits for credit review by DIST-1" in html
    client = as_user(app, ch["fin"])
    assert 'data-seller="HQ"' in text(client.get(f"/orders/{placed['hq']}"))
    page = text(client.get(f"/orders/{placed['old']}"))
    assert 'data-review-by="DIST-1"' in page and "data-approve" not in page  # HQ does not decide it


def test_the_distributors_admin_decides_on_the_order_page(client, world, ch, placed):
    login(client, ch["dist_admin"])
    page = text(client.get(f"/orders/{placed['old']}"))
    assert "data-approve" in page and "data-reject" in page
    assert "data-excess>Exceeds available credit by 500.00 CNY." in page
    token = page_csrf(client, f"/orders/{placed['old']}")
    resp = client.post(f"/orders/{placed['old']}/approve", data={"csrf_token": token, "decision-comment": "ok"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert world.get(Order, number=placed["old"])["status"] == "approved"
    own = text(client.get(f"/orders/{placed['hq']}"))  # its own order with HQ: HQ decides
    assert "data-approve" not in own and 'data-review-by="HQ"' in own


def test_the_sales_page_lists_the_sub_dealers_orders(client, world, ch, placed):
    login(client, ch["dist_admin"])
    html = main(client.get("/sales"))
    assert rows(html) == [placed["small"], placed["new"], placed["old"]]  # newest first; never its own nor DIST-2's
    assert 'data-to-decide="2"' in html and "二级甲" in html
    assert rows(main(client.get("/sales?status=credit_review&dealer=SUB-1A"))) == [placed["old"]]
    assert rows(main(client.get("/sales?dealer=SUB-2A"))) == []
    csv_text = text(client.get("/sales?format=csv"))
    assert csv_text.lstrip("\ufeff").startswith("number,created_at,dealer_code") and placed["hq"] not in csv_text


def test_the_sales_page_is_a_distributors(app, client, world, ch, placed):
    login(client, ch["dist_staff"])
    html = main(client.get("/sales"))
    assert len(rows(html)) == 3 and "data-to-decide" not in html  # staff see the sales, admins decide
    for who in ("sub_admin", "fin", "rm"):
        assert as_user(app, ch[who]).get("/sales").status_code == 403, who


def test_the_distributors_approvals_hold_its_sub_dealers_orders(app, client, world, ch, placed):
    login(client, ch["dist_admin"])
    html = main(client.get("/approvals"))
    assert rows(html) == [placed["old"], placed["new"]]  # longest waiting first
    assert "Sub-dealer orders to decide" in html and 'id="region"' not in html
    assert rows(main(client.get("/approvals?dealer=SUB-1B"))) == [placed["new"]]
    for who, status in (("dist_staff", 403), ("sub_admin", 403), ("dist2_admin", 200)):
        resp = as_user(app, ch[who]).get("/approvals")
        assert resp.status_code == status, who
    assert rows(main(resp)) == [placed["other"]]  # DIST-2's admin: its own sub-dealer's


@pytest.mark.parametrize("who", ["fin", "cm", "rm"])
def test_hq_and_the_regions_approvals_hold_hq_orders_only(client, world, ch, placed, who):
    login(client, ch[who])
    assert rows(main(client.get("/approvals"))) == [placed["hq"]]
    queues = {q["key"]: q for q in client.get("/api/v1/home/queues").get_json()["queues"]}
    assert [it["key"] for it in queues["approvals"]["items"]] == [placed["hq"]]
    if who == "rm":
        assert queues["waiting_for_hq"]["total"] == 0


def test_the_distributors_admin_has_its_queue_on_its_home(client, world, ch, placed):
    login(client, ch["dist_admin"])
    html = main(client.get("/home"))
    card = re.search(r'data-queue="sales_to_decide"(.*?)\n    </div>\n', html, re.S).group(1)
    assert re.findall(r'data-order="([^"]+)" data-queue-item', card) == [placed["old"], placed["new"]]
    ages = [a.strip() for a in re.findall(r'class="badge queue-age [^"]*" data-age="[^"]*"[^>]*>([^<]*)<', card)]
    assert ages == ["9 d", "2 d"]
    assert f'href="/orders/{placed["old"]}"' in card and "500.00 CNY over available credit" in card
    queues = client.get("/api/v1/home/queues").get_json()["queues"]
    assert queues[0]["key"] == "sales_to_decide" and queues[0]["total"] == 2
    assert queues[0]["see_all"] == "/approvals"
    assert [it["key"] for it in queues[0]["items"]] == [placed["old"], placed["new"]]
    whole = main(client.get("/home/queues/sales_to_decide"))
    assert placed["old"] in whole and placed["other"] not in whole


@pytest.mark.parametrize("who", ["dist_staff", "sub_admin", "fin"])
def test_nobody_else_has_the_sales_queue(client, world, ch, placed, who):
    login(client, ch[who])
    keys = [q["key"] for q in client.get("/api/v1/home/queues").get_json()["queues"]]
    assert "sales_to_decide" not in keys
    assert client.get("/home/queues/sales_to_decide").status_code == 404


def test_the_distributors_own_queues_are_its_own(app, world, ch):
    """A transfer to a sub-dealer waits for the sub-dealer to receive it, not for its distributor (whose scope covers
    the sub-dealer): each sees its own shipments to receive."""
    world.dealer_receipt("DIST-1", "OIL-1", 10)
    sold = world.order("SUB-1A", [("OIL-1", 2)], username=ch["sub_staff"])
    transfer = world.shipment(sold, [("OIL-1", 2)])
    world.credit_limit("DIST-1", "100000.00")
    bought = world.order("DIST-1", [("OIL-1", 1)], username=ch["dist_staff"])
    world.stock("OIL-1", 5)
    from_hq = world.shipment(bought, [("OIL-1", 1)])
    for who, expected in (("dist_admin", from_hq), ("dist_staff", from_hq), ("sub_admin", transfer)):
        queues = {q["key"]: q for q in as_user(app, ch[who]).get("/api/v1/home/queues").get_json()["queues"]}
        assert [it["key"] for it in queues["shipments_to_receive"]["items"]] == [expected], who


def test_the_menu_offers_the_sales_to_a_distributors_users(app, world, ch):
    html = text(as_user(app, ch["dist_admin"]).get("/home"))
    assert 'data-nav="sales"' in html and 'data-nav-item="sales-orders"' in html
    assert 'data-nav-item="sales-approvals"' in html
    html = text(as_user(app, ch["dist_staff"]).get("/orders"))
    assert 'data-nav-item="sales-orders"' in html and 'data-nav-item="sales-approvals"' not in html
    for who in ("sub_admin", "fin"):
        assert 'data-nav="sales"' not in text(as_user(app, ch[who]).get("/home")), who


def test_the_distributors_home_shows_its_sales(client, world, ch, placed):
    login(client, ch["dist_staff"])
    html = main(client.get("/home"))
    figures = dict(re.findall(r'data-figure="(sub-dealers|open-sales|open-sales-gross|sales-review)"[^>]*>([^<]+)<',
                              html))  # fmt: skip
    assert figures == {"sub-dealers": "2", "open-sales": "3", "open-sales-gross": "1,700.00", "sales-review": "2"}
    open_orders = html.split("data-open-orders", 1)[1]
    assert placed["hq"] in open_orders and placed["old"] not in open_orders  # its own open orders only


def test_the_orders_list_keeps_purchases_and_sales_apart(app, client, world, ch, placed):
    login(client, ch["dist_staff"])
    html = main(client.get("/orders"))
    assert placed["hq"] in html and placed["old"] not in html and "data-nav-sales" in html
    client = as_user(app, ch["cm"])
    html = main(client.get("/orders?seller=DIST-1"))
    assert placed["old"] in html and placed["new"] in html and placed["hq"] not in html and placed["other"] not in html
    assert 'data-sold-by="DIST-1"' in html
    assert placed["hq"] in main(client.get("/orders?seller=HQ"))
    bad = main(client.get("/orders?seller=SUB-1A"))
    assert "data-seller-error" in bad and "No distributor SUB-1A." in bad and placed["old"] not in bad


def test_the_distributor_builds_an_order_for_its_sub_dealer(app, client, world, ch):
    login(client, ch["dist_staff"])
    html = main(client.get("/orders/new?dealer=SUB-1A"))
    assert "data-on-behalf" in html and 'data-sold-by="DIST-1"' in html and "data-dealer-code>SUB-1A<" in html
    chooser = main(client.get("/orders/new?choose=1"))
    assert 'value="SUB-1A"' in chooser and 'value="SUB-2A"' not in chooser
    own = main(client.get("/orders/new"))
    assert "data-on-behalf" not in own and "data-sold-by" not in own
    client = as_user(app, ch["sub_staff"])
    assert 'data-sold-by="DIST-1"' in main(client.get("/orders/new"))
    assert client.get("/orders/new?dealer=SUB-1B").status_code == 404
