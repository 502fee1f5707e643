"""The dealer's stock (进销存, PRODUCT.md §7): on hand now and as of a date, incoming, VINs on hand, age by FIFO.

Every figure is derived from the dealer's signed movements (`DealerStockMove`): on hand on a date is the sum of the
movements up to and including that date. Sums are SQL aggregates; the FIFO age runs in Python over one dealer's
movements already summed per product and day (a dealer holds thousands of moves, a few hundred product-days).

A distributor's transfer to its sub-dealer (§16) is a `transfer` movement out of its stock on the ship date (one per
VIN) and the sub-dealer's incoming stock until it confirms the receipt (then `receipt` movements, as from HQ).

FIFO: within a day the goods that came in are counted before the goods that went out; sales and negative
adjustments consume the oldest receipts (and positive adjustments) first; what is left is aged from the day it came
in to the as-of date, in the buckets of `AGE_BUCKETS`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque

from sqlalchemy import and_, case, func, or_, select

from portal.catalog.models import Product
from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.platform.timeutil import today
from portal.shipping.models import Shipment, ShipmentLine

# (key, first day, last day) — last None: no upper bound
AGE_BUCKETS = (("0_30", 0, 30), ("31_60", 31, 60), ("61_90", 61, 90), ("91_180", 91, 180), ("over_180", 181, None))


def bucket_of(days: int) -> str:
    for key, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return key
    return AGE_BUCKETS[0][0]  # a receipt dated after as_of cannot be counted; never reached


def on_hand(dealer_id: int, as_of: dt.date | None = None) -> dict[int, int]:
    """{product_id: quantity} on hand at the end of `as_of` (today when None); products at zero left out."""
    stmt = (
        select(DealerStockMove.product_id, func.sum(DealerStockMove.quantity))
        .where(DealerStockMove.dealer_id == dealer_id)
        .group_by(DealerStockMove.product_id)
    )
    if as_of is not None:
        stmt = stmt.where(DealerStockMove.moved_on <= as_of)
    return {pid: int(q) for pid, q in db.session.execute(stmt) if q}


def daily_moves(dealer_id: int, product_ids=None, as_of: dt.date | None = None) -> dict[int, list[tuple]]:
    """{product_id: [(day, in, out), …]} in day order: what came in and went out (as a positive number) each day."""
    qty = DealerStockMove.quantity
    stmt = (
        select(
            DealerStockMove.product_id,
            DealerStockMove.moved_on,
            func.sum(case((qty > 0, qty), else_=0)),
            func.sum(case((qty < 0, -qty), else_=0)),
        )
        .where(DealerStockMove.dealer_id == dealer_id)
        .group_by(DealerStockMove.product_id, DealerStockMove.moved_on)
        .order_by(DealerStockMove.product_id, DealerStockMove.moved_on)
    )
    if product_ids is not None:
        stmt = stmt.where(DealerStockMove.product_id.in_(list(product_ids)))
    if as_of is not None:
        stmt = stmt.where(DealerStockMove.moved_on <= as_of)
    out: dict[int, list[tuple]] = defaultdict(list)
    for pid, day, came, went in db.session.execute(stmt):
        out[pid].append((day, int(came or 0), int(went or 0)))
    return out


def fifo_lots(days: list[tuple]) -> list[tuple[dt.date, int]]:
    """The lots left after FIFO consumption: [(day they came in, quantity)], oldest first.

    `days` is [(day, in, out)] in day order. An `out` larger than what is there (never allowed by the services)
    empties the queue and the rest is ignored."""
    lots: deque[list] = deque()
    for day, came, went in days:
        if came:
            lots.append([day, came])
        while went and lots:
            take = min(went, lots[0][1])
            lots[0][1] -= take
            went -= take
            if not lots[0][1]:
                lots.popleft()
    return [(day, qty) for day, qty in lots]


def lowest_from(deltas: dict[dt.date, int], start: dt.date) -> int:
    """The lowest end-of-day balance on `start` or any later day, given per-day net movements: the balance at the end
    of `start` (whether or not anything moved that day), then after each later day with a movement."""
    running = sum(quantity for day, quantity in deltas.items() if day <= start)
    lowest = running
    for day in sorted(d for d in deltas if d > start):
        running += deltas[day]
        lowest = min(lowest, running)
    return lowest


def available_from(dealer_id: int, product_ids, day: dt.date) -> dict[int, int]:
    """{product_id: quantity} that may leave the dealer's stock on `day` without making that day or any later day
    negative (what a sale, a transfer to a sub-dealer or a return may take; the caller holds the stock lock)."""
    product_ids = list(product_ids)
    out = dict.fromkeys(product_ids, 0)
    if not product_ids:
        return out
    for pid, days in daily_moves(dealer_id, product_ids).items():
        deltas: dict[dt.date, int] = defaultdict(int)
        for moved_on, came, went in days:
            deltas[moved_on] += came - went
        out[pid] = max(lowest_from(deltas, day), 0)
    return out


def age_buckets(lots, as_of: dt.date) -> dict[str, int]:
    out = {key: 0 for key, _low, _high in AGE_BUCKETS}
    for day, qty in lots:
        out[bucket_of((as_of - day).days)] += qty
    return out


def incoming(dealer_id: int, as_of: dt.date | None = None) -> dict[int, int]:
    """{product_id: quantity} in shipments on their way to the dealer (shipped, not yet received) at `as_of`."""
    stmt = (
        select(ShipmentLine.product_id, func.sum(ShipmentLine.quantity))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.dealer_id == dealer_id)
        .group_by(ShipmentLine.product_id)
    )
    if as_of is None:
        stmt = stmt.where(Shipment.status == "in_transit")
    else:
        stmt = stmt.where(
            Shipment.shipped_on <= as_of, or_(Shipment.received_on.is_(None), Shipment.received_on > as_of)
        )
    return {pid: int(q) for pid, q in db.session.execute(stmt) if q}


def incoming_shipments(dealer_id: int) -> list[Shipment]:
    stmt = select(Shipment).where(Shipment.dealer_id == dealer_id, Shipment.status == "in_transit")
    return db.session.execute(stmt.order_by(Shipment.shipped_on, Shipment.id)).unique().scalars().all()


def outgoing_shipments(dealer_id: int) -> list[Shipment]:
    """A distributor's transfers on their way to its sub-dealers (§16): out of its stock, not yet received."""
    stmt = select(Shipment).where(Shipment.seller_id == dealer_id, Shipment.status == "in_transit")
    return db.session.execute(stmt.order_by(Shipment.shipped_on, Shipment.id)).unique().scalars().all()


def vins_on_hand(dealer_id: int, as_of: dt.date | None = None, product_id: int | None = None) -> list[dict]:
    """The dealer's VINs received and not sold (nor adjusted out, returned or transferred) at `as_of`:
    [{serial, sku, received_on, age_days}], the longest held first."""
    as_of_day = as_of or today()
    received = func.min(case((DealerStockMove.kind == "receipt", DealerStockMove.moved_on)))
    stmt = (
        select(DealerStockMove.serial, DealerStockMove.sku, received.label("received_on"))
        .where(DealerStockMove.dealer_id == dealer_id, DealerStockMove.serial.is_not(None))
        .group_by(DealerStockMove.serial, DealerStockMove.sku)
        .having(func.sum(DealerStockMove.quantity) > 0)
        .order_by(received, DealerStockMove.serial)
    )
    if as_of is not None:
        stmt = stmt.where(DealerStockMove.moved_on <= as_of)
    if product_id is not None:
        stmt = stmt.where(DealerStockMove.product_id == product_id)
    rows = []
    for serial, sku, received_on in db.session.execute(stmt):
        rows.append(
            {
                "serial": serial,
                "sku": sku,
                "received_on": received_on,
                "age_days": (as_of_day - received_on).days if received_on else None,
            }  # fmt: skip
        )
    return rows


def first_receipt(dealer_id: int) -> dt.date | None:
    stmt = select(func.min(DealerStockMove.moved_on)).where(
        DealerStockMove.dealer_id == dealer_id, DealerStockMove.kind == "receipt"
    )
    return db.session.execute(stmt).scalar_one_or_none()


def stock_report(dealer, as_of: dt.date | None = None) -> dict:
    """The dealer's stock page / API answer: per SKU on hand, incoming and age buckets; the VINs on hand."""
    as_of_day = as_of or today()
    held = on_hand(dealer.id, as_of_day)
    coming = incoming(dealer.id, as_of)
    moves = daily_moves(dealer.id, held, as_of_day)
    ages = {pid: age_buckets(fifo_lots(days), as_of_day) for pid, days in moves.items()}
    ids = set(held) | set(coming)
    products = (
        {p.id: p for p in db.session.execute(select(Product).where(Product.id.in_(ids))).scalars()} if ids else {}
    )
    empty = {key: 0 for key, _low, _high in AGE_BUCKETS}
    items = [
        {
            "sku": products[pid].sku,
            "name": products[pid].name,
            "name_en": products[pid].name_en,
            "category": products[pid].category,
            "on_hand": held.get(pid, 0),
            "incoming": coming.get(pid, 0),
            "age": ages.get(pid, empty),
        }
        for pid in sorted(ids, key=lambda i: products[i].sku)
    ]
    totals = {
        "on_hand": sum(i["on_hand"] for i in items),
        "incoming": sum(i["incoming"] for i in items),
        "age": {key: sum(i["age"][key] for i in items) for key in empty},
    }
    return {
        "dealer_code": dealer.code,
        "as_of": as_of_day,
        "items": items,
        "totals": totals,
        "vins": vins_on_hand(dealer.id, as_of),
    }


def moves_query(dealer_id: int, *, product_id=None, date_from=None, date_to=None):
    stmt = select(DealerStockMove).where(DealerStockMove.dealer_id == dealer_id)
    conds = []
    if product_id is not None:
        conds.append(DealerStockMove.product_id == product_id)
    if date_from is not None:
        conds.append(DealerStockMove.moved_on >= date_from)
    if date_to is not None:
        conds.append(DealerStockMove.moved_on <= date_to)
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt.order_by(DealerStockMove.moved_on.desc(), DealerStockMove.id.desc())
