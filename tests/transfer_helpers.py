"""A two-level channel with goods in the distributor's yard (PRODUCT.md §16), for the transfer tests.

HQ sells DIST-1 three cars, a van and 30 cans of oil, ships them and DIST-1 receives them (the real flow: HQ's
shipment, DIST-1's receipt); DIST-2 holds one car of its own. DIST-1 keeps a price list for its sub-dealers, and
SUB-1A (45 days' terms) orders 2 cars and 10 cans from it — its order sold by DIST-1. The clock is frozen (`NOW`), the
distributor's goods arrived on `ARRIVED`, the sub-dealer ordered on `ORDERED`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import force_locale

from portal.extensions import db
from portal.platform.timeutil import freeze

NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai
TODAY = dt.date(2026, 11, 20)
PLACED = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
ARRIVED = dt.date(2026, 11, 6)
ORDERED = dt.datetime(2026, 11, 8, 2, 0, tzinfo=dt.UTC)


def set_limit(world, dealer: str, amount: str) -> None:
    """The dealer's credit limit, written directly (the setting service's rules are not what these tests are about)."""
    from portal.credit.services import lock_credit

    world.run(lambda: setattr(lock_credit(world._dealer_obj(dealer)), "credit_limit", Decimal(amount)))


def seller_list(world, seller: str, rules: dict[str, str]) -> None:
    """A distributor's price list for all its sub-dealers: {sku: net unit price}."""
    from portal.catalog.models import PriceList, PriceRule

    def make():
        pl = PriceList(name=f"{seller} 二级价", scope_kind="all", scope_value=None,
                       seller_id=world._dealer_obj(seller).id, created_by="test")  # fmt: skip
        for sku, price in rules.items():
            pl.rules.append(PriceRule(sku=sku, unit_price=Decimal(price)))
        db.session.add(pl)

    world.run(make)


def sub_order(world, dealer: str, lines: list[tuple[str, int]], at: dt.datetime = ORDERED) -> str:
    """A sub-dealer's order through the ordering service, sold by its distributor (the seller is set here too while
    the ordering side does not set it yet)."""
    from portal.orders.models import Order

    with freeze(at):
        number = world.order(dealer, lines)

    def seller():
        order = db.session.query(Order).filter_by(number=number).one()
        if order.seller_id is None:
            order.seller_id = order.dealer.parent_id
        if order.status == "credit_review":  # not this module's subject: the orders are approved
            order.status = "approved"

    world.run(seller)
    return number


def hq_delivers(world, dealer: str, lines: list[tuple[str, int]], *, shipped_on=ARRIVED, received_on=ARRIVED) -> list:
    """HQ sells, builds, ships and the dealer receives: the dealer's stock, by the real flow. Answers the VINs."""
    from portal.orders.models import Order
    from portal.shipping import services

    with freeze(PLACED):
        number = world.order(dealer, lines)
    serials = world.serials(number)
    if serials:
        world.mes_events([{"event_id": f"done-{s}", "serial": s, "stage": "completed",
                           "occurred_at": PLACED + dt.timedelta(days=2)} for s in serials])  # fmt: skip

    def ship():
        order = db.session.query(Order).filter_by(number=number).one()
        stock = [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines if not ln.product.build_to_order]
        shipment, _created = services.ship(None, order, serials=serials, lines=stock, shipped_on=shipped_on)
        services.receive(None, shipment, received_on)

    world._in_request(ship)
    return serials


def make_chain(world) -> dict:
    world.region("EAST")
    world.dealer("DIST-1", "EAST", payment_terms_days=30, address="杭州市西湖区文三路 1 号",
                 contact_phone="0571-8888 0001")  # fmt: skip
    world.dealer("DIST-2", "EAST")
    world.sub_dealer("DIST-1", "SUB-1A", payment_terms_days=45)
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("VAN-1", list_price="80000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="33.33")
    world.stock("OIL-1", 100)
    for code in ("DIST-1", "DIST-2"):
        set_limit(world, code, "10000000")
    for code in ("SUB-1A", "SUB-1B", "SUB-2A"):
        set_limit(world, code, "5000000")
    with freeze(NOW):
        hq_delivers(world, "DIST-1", [("CAR-1", 3), ("VAN-1", 1), ("OIL-1", 30)])
        other = hq_delivers(world, "DIST-2", [("CAR-1", 1)])
    seller_list(world, "DIST-1", {"CAR-1": "120000.00", "OIL-1": "40.00"})
    seller_list(world, "DIST-2", {"CAR-1": "125000.00", "OIL-1": "41.00"})
    order = sub_order(world, "SUB-1A", [("CAR-1", 2), ("OIL-1", 10)])
    users = {
        "dist": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "dist_admin": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "dist2": world.user("dealer_staff", dealer="DIST-2", username="dist2.staff"),
        "sub": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "sub_admin": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "cm": world.user("channel_manager", username="cm"),
    }
    return {"order": order, "cars": held_vins(world, "DIST-1", "CAR-1"), "van": held_vins(world, "DIST-1", "VAN-1")[0],
            "other_car": other[0], "users": users}  # fmt: skip


def held_vins(world, dealer: str, sku: str | None = None) -> list[str]:
    """The dealer's VINs on hand (of one SKU), the longest held first."""
    from portal.inventory import dealer_stock

    return world.run(
        lambda: [v["serial"] for v in dealer_stock.vins_on_hand(world._dealer_obj(dealer).id)
                 if sku is None or v["sku"] == sku]
    )  # fmt: skip


def on_hand(world, dealer: str) -> dict[str, int]:
    """{sku: quantity} on hand now."""
    from portal.catalog.models import Product
    from portal.inventory import dealer_stock

    def read():
        held = dealer_stock.on_hand(world._dealer_obj(dealer).id)
        skus = dict(db.session.query(Product.id, Product.sku).all())
        return {skus[pid]: q for pid, q in held.items()}

    return world.run(read)


def incoming(world, dealer: str) -> dict[str, int]:
    from portal.catalog.models import Product
    from portal.inventory import dealer_stock

    def read():
        coming = dealer_stock.incoming(world._dealer_obj(dealer).id)
        skus = dict(db.session.query(Product.id, Product.sku).all())
        return {skus[pid]: q for pid, q in coming.items()}

    return world.run(read)


def actor(username: str | None):
    """The user behind a service call (inside the caller's app context)."""
    from portal.dealers.models import User

    return db.session.query(User).filter_by(username=username).one() if username else None


def transfer(world, order: str, username: str | None, *, serials=None, lines=None, shipped_on=None, key=None):
    """Ship an order through the service as `username`; answers the shipment number (and raises what it raises)."""
    from portal.orders.models import Order
    from portal.shipping import services

    def make():
        with force_locale("en"):  # the messages the tests read
            return _ship()

    def _ship():
        shipment, _created = services.ship(
            actor(username),
            db.session.query(Order).filter_by(number=order).one(),
            serials=serials or [],
            lines=[{"sku": s, "quantity": q} for s, q in lines or []],
            shipped_on=shipped_on,
            idempotency_key=key,
        )
        return shipment.number

    return world._in_request(make)


def receive(world, number: str, username: str | None, *, received_on=None, discrepancies=None) -> None:
    from portal.shipping import services
    from portal.shipping.models import Shipment

    def make():
        shipment = db.session.query(Shipment).filter_by(number=number).one()
        with force_locale("en"):
            services.receive(actor(username), shipment, received_on, discrepancies)

    world._in_request(make)
