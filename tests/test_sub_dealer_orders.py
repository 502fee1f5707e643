"""A sub-dealer's orders are sold by its distributor (PRODUCT.md §16): the order's seller is the distributor, the credit
gate runs on the sub-dealer's own account with it, HQ's stock and the factory never take part (no allocation, no
backorder, no units — the distributor ships from its own stock), its admin alone decides and cancels them where HQ
would, and it is told when one waits for its decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.credit import services as credit
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory.models import HqStock, HqStockMove, StockAllocation
from portal.notify.models import Notification
from portal.orders.models import Order, OrderLine
from portal.production.models import Unit

ORDERS = "/api/v1/orders"


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.dealer("DIST-1", "EAST", name="一级甲")
    world.dealer("DIST-2", "EAST", name="一级乙")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级甲")
    world.sub_dealer("DIST-2", "SUB-2A", name="二级乙")
    world.credit_limit("DIST-1", "50000.00")
    world.credit_limit("SUB-1A", "2000.00")  # its credit with DIST-1
    world.product("OIL-1", list_price="100.00", tax_rate="0")
    world.product("CAR-1", list_price="1000.00", tax_rate="0", build_to_order=True, category="vehicles")
    world.stock("OIL-1", 5)  # HQ has 5: a seller order of 8 must neither take them nor wait for more
    return {
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin", locale="zh_CN"),
        "dist_staff": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "dist2_admin": world.user("dealer_admin", dealer="DIST-2", username="dist2.admin"),
        "sub_admin": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "sub_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "fin": world.user("finance", username="fin"),
        "cm": world.user("channel_manager", username="cm"),
    }


def _place(client, world, username, lines, **extra):
    body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], **extra}
    return client.post(ORDERS, json=body, headers=world.auth(username))


def _hq_stock(world) -> tuple:
    """HQ's stock rows, moves and allocations: what a seller order must never change."""
    return world.run(lambda: (
        sorted((r.on_hand, r.allocated) for r in db.session.execute(select(HqStock)).scalars()),
        db.session.execute(select(func.count()).select_from(HqStockMove)).scalar_one(),
        db.session.execute(select(func.count()).select_from(StockAllocation)).scalar_one(),
    ))  # fmt: skip


def _lines(world, number) -> list[tuple[str, int, int]]:
    return world.run(lambda: [
        (ln.sku, ln.quantity, ln.backordered)
        for ln in db.session.execute(
            select(OrderLine).join(Order).where(Order.number == number).order_by(OrderLine.line_no)).scalars()
    ])  # fmt: skip


def _units(world, number) -> int:
    return world.run(lambda: db.session.execute(
        select(func.count()).select_from(Unit).join(Order, Order.id == Unit.order_id).where(Order.number == number)
    ).scalar_one())  # fmt: skip


def test_a_sub_dealers_order_is_sold_by_its_distributor(client, world, ch):
    resp = _place(client, world, ch["sub_staff"], [("OIL-1", 3)])
    assert resp.status_code == 201, resp.get_json()
    order = resp.get_json()
    assert (order["dealer_code"], order["seller_code"], order["status"]) == ("SUB-1A", "DIST-1", "approved")
    stored = world.get(Order, number=order["number"])
    assert stored["seller_id"] == world.get(Dealer, code="DIST-1")["id"]
    own = _place(client, world, ch["dist_staff"], [("OIL-1", 1)]).get_json()
    assert (own["dealer_code"], own["seller_code"]) == ("DIST-1", None)  # the distributor buys from HQ
    assert world.get(Order, number=own["number"])["seller_id"] is None


def test_the_gate_is_the_sub_dealers_account_with_its_distributor(app, client, world, ch):
    fits = _place(client, world, ch["sub_staff"], [("OIL-1", 15)]).get_json()  # 1,500 of 2,000
    over = _place(client, world, ch["sub_staff"], [("OIL-1", 8)]).get_json()  # 800 > the 500 left
    assert (fits["status"], over["status"]) == ("approved", "credit_review")
    with app.app_context():
        sub = db.session.execute(select(Dealer).filter_by(code="SUB-1A")).unique().scalar_one()
        dist = db.session.execute(select(Dealer).filter_by(code="DIST-1")).unique().scalar_one()
        assert credit.credit_summary(sub)["available"] == Decimal("500.00")
        assert credit.credit_summary(dist)["available"] == Decimal("50000.00")  # its sales are not its purchases
        db.session.remove()


def test_hq_stock_and_production_leave_a_seller_order_alone(client, world, ch):
    before = _hq_stock(world)
    order = _place(client, world, ch["sub_staff"], [("OIL-1", 8), ("CAR-1", 1)]).get_json()
    assert order["status"] == "approved"
    assert _lines(world, order["number"]) == [("OIL-1", 8, 0), ("CAR-1", 1, 0)]  # nothing backordered at HQ
    assert [ln["allocated"] for ln in order["lines"]] == [0, 0] and order["units"] == []
    assert _units(world, order["number"]) == 0
    assert _hq_stock(world) == before  # HQ's 5 pieces neither allocated nor moved


def test_an_order_approved_by_the_distributor_takes_nothing_of_hqs(client, world, ch):
    before = _hq_stock(world)
    order = _place(client, world, ch["sub_staff"], [("OIL-1", 15), ("CAR-1", 1)]).get_json()  # 1,500 + 1,000
    assert order["status"] == "credit_review"
    world.approve(order["number"], ch["dist_admin"])
    assert world.get(Order, number=order["number"])["status"] == "approved"
    assert _lines(world, order["number"]) == [("OIL-1", 15, 0), ("CAR-1", 1, 0)]
    assert _units(world, order["number"]) == 0 and _hq_stock(world) == before


def test_an_amended_seller_order_still_takes_nothing_of_hqs(client, world, ch):
    before = _hq_stock(world)
    order = _place(client, world, ch["sub_staff"], [("OIL-1", 2), ("CAR-1", 1)]).get_json()
    resp = client.patch(f"{ORDERS}/{order['number']}", headers=world.auth(ch["sub_staff"]),
                        json={"lines": [{"sku": "OIL-1", "quantity": 9}, {"sku": "CAR-1", "quantity": 1}]})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "approved" and resp.get_json()["gross"] == "1900.00"
    assert _lines(world, order["number"]) == [("OIL-1", 9, 0), ("CAR-1", 1, 0)]
    assert _units(world, order["number"]) == 0 and _hq_stock(world) == before
    world.cancel(order["number"], ch["sub_staff"])  # giving back: there is nothing to give back
    assert world.get(Order, number=order["number"])["status"] == "cancelled" and _hq_stock(world) == before


def test_an_hq_order_still_allocates_and_makes_units(client, world, ch):
    order = _place(client, world, ch["dist_staff"], [("OIL-1", 8), ("CAR-1", 1)]).get_json()
    assert _lines(world, order["number"]) == [("OIL-1", 8, 3), ("CAR-1", 1, 0)]  # 5 allocated, 3 backordered
    assert _units(world, order["number"]) == 1


def test_no_order_while_the_distributor_is_suspended(client, world, ch):
    world.run(lambda: setattr(db.session.execute(select(Dealer).filter_by(code="DIST-1")).unique().scalar_one(),
                              "status", "suspended"))  # fmt: skip
    headers = {who: world.auth(ch[who]) for who in ("sub_staff", "dist_staff")}
    before = world.snapshot()
    for who in ("sub_staff", "dist_staff"):
        extra = {"dealer_code": "SUB-1A"} if who == "dist_staff" else {}
        resp = client.post(ORDERS, json={"lines": [{"sku": "OIL-1", "quantity": 1}], **extra}, headers=headers[who])
        assert resp.status_code == 409, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "seller_suspended" and "DIST-1" in error["message"]
    assert world.snapshot() == before


def test_who_cancels_a_seller_order(client, world, ch):
    numbers = [_place(client, world, ch["sub_staff"], [("OIL-1", 1)]).get_json()["number"] for _ in range(3)]
    for who in ("fin", "cm", "dist_staff"):  # HQ does not sell it; the distributor's staff does not decide
        resp = client.post(f"{ORDERS}/{numbers[0]}/cancel", json={}, headers=world.auth(ch[who]))
        assert resp.status_code == 403, (who, resp.get_json())
    assert "DIST-1" in resp.get_json()["error"]["message"]
    assert client.post(f"{ORDERS}/{numbers[0]}/cancel", json={},
                       headers=world.auth(ch["dist2_admin"])).status_code == 404  # fmt: skip
    assert world.get(Order, number=numbers[0])["status"] == "approved"
    ok = client.post(f"{ORDERS}/{numbers[0]}/cancel", json={"comment": "缺货"}, headers=world.auth(ch["dist_admin"]))
    assert ok.status_code == 200 and ok.get_json()["status"] == "cancelled"
    own = client.post(f"{ORDERS}/{numbers[1]}/cancel", json={}, headers=world.auth(ch["sub_staff"]))
    assert own.status_code == 200 and own.get_json()["status"] == "cancelled"


def test_the_distributor_cancels_where_hq_would_the_sub_dealer_before_production(app, world, ch):
    from portal.orders import services

    number = world.order("SUB-1A", [("OIL-1", 1)], username=ch["sub_staff"])
    world.run(lambda: setattr(db.session.execute(select(Order).filter_by(number=number)).unique().scalar_one(),
                              "status", "built"))  # fmt: skip
    with app.test_request_context():
        order = db.session.execute(select(Order).filter_by(number=number)).unique().scalar_one()
        users = {u.username: u for u in db.session.execute(select(User)).unique().scalars()}
        assert not services.may_cancel(users["sub1a.staff"], order)
        assert not services.may_cancel(users["fin"], order)
        assert services.may_cancel(users["dist1.admin"], order)
        db.session.remove()


def _notes(world) -> list[tuple[str, str, str]]:
    return world.run(lambda: sorted(db.session.execute(
        select(User.username, Notification.kind, Notification.title).join(User, User.id == Notification.user_id)
    ).all()))  # fmt: skip


def test_an_order_in_credit_review_tells_the_distributors_admins_not_hq(client, world, ch):
    order = _place(client, world, ch["sub_staff"], [("OIL-1", 25)]).get_json()  # 2,500 > 2,000
    assert order["status"] == "credit_review"
    number = order["number"]
    assert _notes(world) == [("dist1.admin", "order_to_decide", f"订单 {number}（SUB-1A）待您审核")]
    body = world.run(lambda: db.session.execute(select(Notification.body)).scalar_one())
    assert "2,500.00" in body and "500.00" in body
    resp = client.post(f"{ORDERS}/{number}/reject", json={"comment": "额度不足"}, headers=world.auth(ch["dist_admin"]))
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    told = {(u, k) for u, k, _t in _notes(world)}
    assert told == {("dist1.admin", "order_to_decide"), ("sub1a.admin", "order_rejected"),
                    ("sub1a.staff", "order_rejected")}  # fmt: skip


def test_an_amendment_back_into_credit_review_tells_the_distributor_again(client, world, ch):
    number = _place(client, world, ch["sub_staff"], [("OIL-1", 25)]).get_json()["number"]
    world.approve(number, ch["dist_admin"])
    resp = client.patch(f"{ORDERS}/{number}", json={"lines": [{"sku": "OIL-1", "quantity": 30}]},
                        headers=world.auth(ch["sub_staff"]))  # fmt: skip
    assert resp.get_json()["status"] == "credit_review"
    kinds = [k for u, k, _t in _notes(world) if u == "dist1.admin"]
    assert kinds == ["order_to_decide", "order_to_decide"]
