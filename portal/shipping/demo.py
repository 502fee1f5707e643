"""Demo shipments: HQ ships an order whole once its vehicles are built (a day to three after the last one left the
line) or, for a stock order, a few days after approval — through the shipping service, so each shipment is invoiced
through the receivables service, dated its ship date, and takes its stock out of HQ's warehouses. A shipment waits
while HQ is short of a part (the backorder ships after the next factory lot). The dealer confirms receipt two to six
days later; the last days' shipments are still on their way."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from portal.dealers.models import User
from portal.extensions import db
from portal.inventory.models import HqStock, StockAllocation
from portal.orders.models import Order
from portal.shipping import services
from portal.shipping.models import Shipment


def stock_short(order: Order) -> dict[str, int]:
    """The stock lines HQ cannot fill now (what the line holds allocated plus what is free): sku → missing."""
    lines = [ln for ln in order.lines if not ln.product.build_to_order]
    if not lines:
        return {}
    held = dict(
        db.session.execute(
            select(StockAllocation.order_line_id, func.sum(StockAllocation.quantity))
            .where(StockAllocation.order_line_id.in_([ln.id for ln in lines]))
            .group_by(StockAllocation.order_line_id)
        ).all()
    )
    free = dict(
        db.session.execute(
            select(HqStock.product_id, func.sum(HqStock.on_hand - HqStock.allocated))
            .where(HqStock.product_id.in_([ln.product_id for ln in lines]))
            .group_by(HqStock.product_id)
        ).all()
    )
    short = {}
    for ln in lines:
        missing = ln.quantity - int(held.get(ln.id) or 0) - int(free.get(ln.product_id) or 0)
        if missing > 0:
            short[ln.sku] = missing
    return short


def ship(shipper, order: Order, day: dt.date) -> Shipment:
    lines = [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines]
    shipment, _created = services.ship(shipper, order, lines=lines, shipped_on=day)
    return shipment


def receiver(dealer_id: int) -> User | None:
    return (
        db.session.execute(select(User).where(User.dealer_id == dealer_id, User.active.is_(True)).order_by(User.id))
        .unique()
        .scalars()
        .first()
    )


def receive(shipment: Shipment, day: dt.date) -> Shipment:
    return services.receive(receiver(shipment.dealer_id), shipment, day)
