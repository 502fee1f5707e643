"""Demo shipments: HQ ships what the demo line has built and older stock orders, through the shipping service (so
every shipment is invoiced through the receivables service, dated its ship date); most of them have been received
by the dealer, the last few days' are still on their way."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from portal.extensions import db
from portal.orders.models import Order
from portal.platform.timeutil import freeze, portal_tz, today
from portal.production import stages as st
from portal.production.models import Unit
from portal.shipping import services
from portal.shipping.models import Shipment


def _local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(portal_tz()).date()


def load_shipments(rng: random.Random, shipper, echo=print) -> dict:
    now_day = today()
    built = select(Unit.order_id, func.max(Unit.stage_at).label("done")).where(Unit.stage == st.completed())
    done_at = dict(db.session.execute(built.group_by(Unit.order_id)).all())
    has_units = set(db.session.execute(select(Unit.order_id).distinct()).scalars())
    stock_only = (
        db.session.execute(
            select(Order).where(Order.status == "approved", Order.id.not_in(select(Unit.order_id).distinct()))
        )
        .unique()
        .scalars()
        .all()
    )
    built_orders = db.session.execute(select(Order).where(Order.status == "built")).unique().scalars().all()
    made = received = 0
    for order in sorted(built_orders + stock_only, key=lambda o: o.created_at):
        placed = _local_date(order.created_at)
        if order.id in has_units:
            ready = _local_date(done_at[order.id])
            if (now_day - ready).days <= 5 and rng.random() < 0.6:
                continue  # just off the line: waiting in the yard for its truck (HQ can ship it in the demo)
        else:  # stock: leaves the warehouse a few days after approval, unless it was approved this week
            ready = placed + dt.timedelta(days=rng.randint(2, 6))
            if rng.random() < 0.25:
                continue
        shipped_on = min(now_day, ready + dt.timedelta(days=rng.randint(0, 3)))
        if shipped_on < placed:
            continue
        lines = [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines]
        with freeze(dt.datetime.combine(shipped_on, dt.time(10), portal_tz())):
            shipment, _created = services.ship(shipper, order, lines=lines, shipped_on=shipped_on)
        made += 1
        arrives = shipped_on + dt.timedelta(days=rng.randint(2, 6))
        if arrives <= now_day:
            dealer_user = next((u for u in _dealer_users(order.dealer_id)), None)
            with freeze(dt.datetime.combine(arrives, dt.time(15), portal_tz())):
                services.receive(dealer_user, shipment, arrives)
            received += 1
    db.session.flush()
    total = db.session.execute(select(func.count(Shipment.id))).scalar_one()
    echo(f"  shipments: {made} made ({received} received, {made - received} in transit), {total} in all")
    return {"shipments": made, "received": received}


def _dealer_users(dealer_id: int):
    from portal.dealers.models import User

    return (
        db.session.execute(select(User).where(User.dealer_id == dealer_id, User.active.is_(True)).order_by(User.id))
        .unique()
        .scalars()
    )
