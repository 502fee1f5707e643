"""The orders API of the multi-level channel (PRODUCT.md §16): every order says who sells it (`seller_code`, null =
HQ); an order may name its seller and must name the right one; the distributor's users order on a sub-dealer's
behalf, HQ and the regions do not; only the distributor's admin decides a sub-dealer's order in credit review; and
`GET /orders` keeps a distributor's purchases and sales apart (`?seller=`, `?dealer=`), within the one scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.dealers.models import User
from portal.extensions import db
from portal.notify.models import Notification
from portal.orders.models import Order

ORDERS = "/api/v1/orders"


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", approval_limit="1000000")
    world.region("NORTH", parent="HQ", approval_limit="1000000")
    world.dealer("DIST-1", "EAST")
    world.dealer("DIST-2", "NORTH")
    world.dealer("SH-9", "EAST")  # buys from HQ, sells to nobody
    world.sub_dealer("DIST-1", "SUB-1A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    for code in ("DIST-1", "DIST-2", "SH-9"):
        world.credit_limit(code, "100000.00")
    for code in ("SUB-1A", "SUB-1B", "SUB-2A"):
        world.credit_limit(code, "500.00")
    world.product("OIL-1", list_price="100.00", tax_rate="0")
    people = {
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "dist_staff": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "dist2_admin": world.user("dealer_admin", dealer="DIST-2", username="dist2.admin"),
        "sub_admin": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "sub_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "sib_staff": world.user("dealer_staff", dealer="SUB-1B", username="sub1b.staff"),
        "sub2_staff": world.user("dealer_staff", dealer="SUB-2A", username="sub2a.staff"),
        "sh9_admin": world.user("dealer_admin", dealer="SH-9", username="sh9.admin"),
        "fin": world.user("finance", username="fin"),
        "cm": world.user("channel_manager", username="cm"),
        "hq_admin": world.user("hq_admin", username="hq.admin"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
    }
    return people


def _body(quantity: int = 1, **extra) -> dict:
    return {"lines": [{"sku": "OIL-1", "quantity": quantity}], **extra}


def _place(client, world, username, quantity=1, **extra) -> dict:
    resp = client.post(ORDERS, json=_body(quantity, **extra), headers=world.auth(username))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# ---------------------------------------------------------------- seller_code


@pytest.mark.parametrize("given", ["DIST-1", "dist-1", None])
def test_a_sub_dealer_may_name_its_distributor(client, world, ch, given):
    order = _place(client, world, ch["sub_staff"], seller_code=given)
    assert order["seller_code"] == "DIST-1"
    got = client.get(f"{ORDERS}/{order['number']}", headers=world.auth(ch["sub_staff"])).get_json()
    assert got["seller_code"] == "DIST-1"


@pytest.mark.parametrize("given", ["HQ", "DIST-2", "SH-9", "NOBODY"])
def test_a_sub_dealer_naming_another_seller_is_refused_and_nothing_is_written(client, world, ch, given):
    headers = world.auth(ch["sub_staff"])
    before = world.snapshot()
    resp = client.post(ORDERS, json=_body(seller_code=given), headers=headers)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["fields"]["seller_code"] == ["SUB-1A buys from its distributor DIST-1 only."]
    assert world.snapshot() == before


def test_a_dealer_that_buys_from_hq_names_hq_or_nothing(client, world, ch):
    assert _place(client, world, ch["sh9_admin"], seller_code="HQ")["seller_code"] is None
    assert _place(client, world, ch["sh9_admin"])["seller_code"] is None
    resp = client.post(ORDERS, json=_body(seller_code="DIST-1"), headers=world.auth(ch["sh9_admin"]))
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"]["seller_code"] == ["SH-9 buys from HQ."]
    assert world.count(Order, dealer_id=world.get(User, username="sh9.admin")["dealer_id"]) == 2


def test_a_quote_and_a_draft_say_who_sells(client, world, ch):
    headers = world.auth(ch["sub_staff"])
    quote = client.post(f"{ORDERS}/quote", json=_body(2), headers=headers).get_json()
    assert (quote["seller_code"], quote["gross"]) == ("DIST-1", "200.00")
    draft = client.put(f"{ORDERS}/draft", json=_body(2), headers=headers).get_json()
    assert draft["seller_code"] == "DIST-1"
    order = client.post(f"{ORDERS}/draft/submit", headers=headers).get_json()
    assert (order["seller_code"], order["status"]) == ("DIST-1", "approved")


# ---------------------------------------------------------------- on the sub-dealer's behalf


@pytest.mark.parametrize("who", ["dist_staff", "dist_admin"])
def test_the_distributors_users_order_for_its_sub_dealer(client, world, ch, who):
    order = _place(client, world, ch[who], 2, dealer_code="SUB-1A")
    assert (order["dealer_code"], order["seller_code"], order["placed_by"]) == ("SUB-1A", "DIST-1", ch[who])
    assert order["events"][0]["comment"] == f"Placed on the dealer's behalf by {ch[who]}."
    told = world.run(lambda: sorted(db.session.execute(
        select(User.username, Notification.kind).join(User, User.id == Notification.user_id)).all()))  # fmt: skip
    assert told == [("sub1a.admin", "order_placed_for"), ("sub1a.staff", "order_placed_for")]


@pytest.mark.parametrize(("who", "status"), [("cm", 403), ("rm_east", 403), ("dist2_admin", 404), ("sib_staff", 404),
                                             ("rm_north", 404)])  # fmt: skip
def test_nobody_else_orders_for_a_sub_dealer(client, world, ch, who, status):
    headers = world.auth(ch[who])
    before = world.snapshot()
    resp = client.post(ORDERS, json=_body(dealer_code="SUB-1A"), headers=headers)
    assert resp.status_code == status, resp.get_json()
    assert world.snapshot() == before


def test_a_draft_for_a_sub_dealer_is_submitted_once_by_its_key(client, world, ch):
    headers = world.auth(ch["dist_staff"])
    draft = client.put(f"{ORDERS}/draft", json=_body(3, dealer_code="SUB-1A"), headers=headers).get_json()
    assert (draft["dealer_code"], draft["seller_code"]) == ("SUB-1A", "DIST-1")
    again = client.put(f"{ORDERS}/draft", json=_body(4), headers=headers).get_json()  # keeps the draft's dealer
    assert again["dealer_code"] == "SUB-1A"
    key = {"Idempotency-Key": "dist-1-sub"}
    first = client.post(f"{ORDERS}/draft/submit", headers={**headers, **key})
    repeat = client.post(f"{ORDERS}/draft/submit", headers={**headers, **key})
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.get_json()["number"] == first.get_json()["number"]
    assert first.get_json()["placed_by"] == "dist1.staff" and world.count(Order) == 1


# ---------------------------------------------------------------- approval


def _review(client, world, ch) -> str:
    order = _place(client, world, ch["sub_staff"], 8)  # 800 > 500
    assert order["status"] == "credit_review"
    return order["number"]


@pytest.mark.parametrize("who", ["fin", "cm", "hq_admin", "rm_east", "sub_admin"])
def test_only_the_distributors_admin_decides_a_sub_dealers_order(client, world, ch, who):
    number = _review(client, world, ch)
    for action, body in (("approve", {}), ("reject", {"comment": "no"})):
        resp = client.post(f"{ORDERS}/{number}/{action}", json=body, headers=world.auth(ch[who]))
        assert resp.status_code == 403, (who, action, resp.get_json())
        assert resp.get_json()["error"]["message"] == "SUB-1A buys from DIST-1: only DIST-1's admin does this for it."
    assert world.get(Order, number=number)["status"] == "credit_review"


@pytest.mark.parametrize(("who", "status"), [("dist_staff", 403), ("dist2_admin", 404), ("rm_north", 404)])
def test_the_distributors_staff_and_strangers_do_not_decide(client, world, ch, who, status):
    number = _review(client, world, ch)
    resp = client.post(f"{ORDERS}/{number}/approve", json={}, headers=world.auth(ch[who]))
    assert resp.status_code == status
    assert world.get(Order, number=number)["status"] == "credit_review"


def test_the_distributors_admin_approves_and_rejects(client, world, ch):
    first, second = _review(client, world, ch), _review(client, world, ch)
    headers = world.auth(ch["dist_admin"])
    resp = client.post(f"{ORDERS}/{first}/approve", json={"comment": "ok"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "approved"
    no_reason = client.post(f"{ORDERS}/{second}/reject", json={}, headers=headers)
    assert no_reason.status_code == 422 and "comment" in no_reason.get_json()["error"]["fields"]
    resp = client.post(f"{ORDERS}/{second}/reject", json={"comment": "超出额度"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"


def test_a_distributors_admin_never_decides_its_own_hq_order(client, world, ch):
    world.credit_limit("DIST-1", "0")
    number = _place(client, world, ch["dist_staff"])["number"]
    assert world.get(Order, number=number)["status"] == "credit_review"
    resp = client.post(f"{ORDERS}/{number}/approve", json={}, headers=world.auth(ch["dist_admin"]))
    assert resp.status_code == 403
    assert resp.get_json()["error"]["message"] == "DIST-1 buys from HQ: only HQ does this for it."
    ok = client.post(f"{ORDERS}/{number}/approve", json={}, headers=world.auth(ch["fin"]))
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"


# ---------------------------------------------------------------- lists


@pytest.fixture
def orders(client, world, ch) -> dict:
    return {
        "dist": _place(client, world, ch["dist_staff"])["number"],
        "sub1a": _place(client, world, ch["sub_staff"])["number"],
        "sub1b": _place(client, world, ch["sib_staff"])["number"],
        "sub2a": _place(client, world, ch["sub2_staff"])["number"],
        "sh9": _place(client, world, ch["sh9_admin"])["number"],
    }


def _listed(client, world, username, query: str = "") -> list[str] | tuple[int, dict]:
    resp = client.get(f"{ORDERS}{query}", headers=world.auth(username))
    if resp.status_code != 200:
        return resp.status_code, resp.get_json()["error"]
    return sorted(o["number"] for o in resp.get_json()["items"])


def test_a_distributors_list_is_its_purchases_its_sales_apart(client, world, ch, orders):
    for who in ("dist_staff", "dist_admin"):
        assert _listed(client, world, ch[who]) == [orders["dist"]]  # "my orders": its own with HQ
        assert _listed(client, world, ch[who], "?seller=DIST-1") == sorted([orders["sub1a"], orders["sub1b"]])
        assert _listed(client, world, ch[who], "?dealer=SUB-1A") == [orders["sub1a"]]
        assert _listed(client, world, ch[who], "?dealer=SUB-2A") == []  # another distributor's: nothing
    items = client.get(f"{ORDERS}?seller=DIST-1", headers=world.auth(ch["dist_staff"])).get_json()["items"]
    assert {(o["dealer_code"], o["seller_code"]) for o in items} == {("SUB-1A", "DIST-1"), ("SUB-1B", "DIST-1")}


@pytest.mark.parametrize(("who", "seller"), [("dist_staff", "DIST-2"), ("sub_staff", "DIST-1"), ("dist_staff", "HQ"),
                                             ("dist_staff", "SUB-1A"), ("rm_north", "DIST-1")])  # fmt: skip
def test_a_seller_outside_the_scope_is_refused(client, world, ch, orders, who, seller):
    status, error = _listed(client, world, ch[who], f"?seller={seller}")
    assert status == 422 and error["fields"]["seller"] == [f"No distributor {seller}."]


def test_a_sub_dealer_sees_its_own_orders_only(client, world, ch, orders):
    assert _listed(client, world, ch["sub_staff"]) == [orders["sub1a"]]
    assert _listed(client, world, ch["sub_staff"], "?dealer=SUB-1B") == []
    assert _listed(client, world, ch["sub_staff"], "?dealer=DIST-1") == []


def test_hq_and_regions_see_both_levels_and_filter_by_seller(client, world, ch, orders):
    assert _listed(client, world, ch["cm"]) == sorted(orders.values())
    assert _listed(client, world, ch["cm"], "?seller=HQ") == sorted([orders["dist"], orders["sh9"]])
    assert _listed(client, world, ch["cm"], "?seller=DIST-2") == [orders["sub2a"]]
    assert _listed(client, world, ch["rm_east"], "?seller=dist-1") == sorted([orders["sub1a"], orders["sub1b"]])
    assert _listed(client, world, ch["rm_east"], "?seller=HQ") == sorted([orders["dist"], orders["sh9"]])
