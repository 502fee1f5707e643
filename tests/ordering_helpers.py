"""What the ordering tests of §12 share (drafts, options, amendments, on-behalf orders): acting as a user through
the services inside a request, options on a product, and reading an order back as plain data."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from portal.extensions import db


def as_user(world, username: str | None, fn):
    """Run fn(actor) in a request as this user (None: the portal itself) and commit; its result."""
    from portal.dealers.models import User

    def make():
        actor = None
        if username:
            actor = db.session.execute(select(User).filter_by(username=username)).unique().scalar_one()
        return fn(actor)

    return world._in_request(make)


def option(world, sku: str, group: str, code: str, label: str, label_en: str, delta: str = "0.00",
           default: bool = False, position: int = 0) -> int:  # fmt: skip
    """An option of a build-to-order product, written directly; its id."""
    from portal.catalog.models import Product, ProductOption

    def make():
        product = db.session.execute(select(Product).filter_by(sku=sku)).scalar_one()
        opt = ProductOption(product_id=product.id, group=group, code=code, label=label, label_en=label_en,
                            price_delta=Decimal(delta), is_default=default, position=position)  # fmt: skip
        db.session.add(opt)
        db.session.flush()
        return opt.id

    return world.run(make)


def order_of(world, number: str) -> dict:
    """An order as plain data: status, gross, requested_on, ship_to id, placed_by username, and its lines
    [{sku, quantity, unit_price, gross, options codes, backordered}] in line order."""
    from portal.orders.models import Order

    def read():
        o = db.session.execute(select(Order).filter_by(number=number)).unique().scalar_one()
        return {
            "status": o.status,
            "gross": o.gross,
            "net": o.net,
            "requested_on": o.requested_on,
            "ship_to": o.ship_to_id,
            "placed_by": o.placed_by.username if o.placed_by else None,
            "lines": [
                {"sku": ln.sku, "quantity": ln.quantity, "list_price": ln.list_price, "unit_price": ln.unit_price,
                 "gross": ln.gross, "options": [x["code"] for x in ln.options or ()], "backordered": ln.backordered}
                for ln in o.lines
            ],  # fmt: skip
            "events": [(e.from_status, e.to_status, (e.data or {}).get("note")) for e in o.events],
        }

    return world.run(read)


def units_of(world, number: str) -> list[tuple[str, list[str] | None]]:
    """(sku, option codes) of each unit of the order, by id."""
    from portal.orders.models import Order
    from portal.production.models import Unit

    def read():
        rows = db.session.execute(
            select(Unit.sku, Unit.options).join(Order, Order.id == Unit.order_id).where(Order.number == number)
            .order_by(Unit.id)
        ).all()  # fmt: skip
        return [(sku, [o["code"] for o in opts] if opts else None) for sku, opts in rows]

    return world.run(read)


def place(world, username: str | None, dealer: str, lines: list[dict], **kw) -> str:
    """Place an order through the service as this user; its number."""
    from portal.dealers.models import Dealer
    from portal.orders import services

    def make(actor):
        d = db.session.execute(select(Dealer).filter_by(code=dealer)).unique().scalar_one()
        return services.place_order(actor, d, lines, **kw)[0].number

    return as_user(world, username, make)


def amend(world, username: str | None, number: str, lines: list[dict], **kw):
    """Amend an order through the service as this user; the order's new status."""
    from portal.orders import services
    from portal.orders.models import Order

    def make(actor):
        o = db.session.execute(select(Order).filter_by(number=number)).unique().scalar_one()
        return services.amend(actor, o, lines, **kw).status

    return as_user(world, username, make)
