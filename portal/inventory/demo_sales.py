"""Demo sell-through: twelve months of the dealers' sales to end customers, consistent with their stock.

Each dealer starts the year with the stock it carried over from before the portal (an opening `receipt` per SKU,
one per VIN for vehicles, dated the day before the first month), then receives what HQ shipped to it in the demo
(shipping's `receive`). Sales follow the season (a peak before the Spring Festival, a dip in February, the autumn and
year-end peaks) and never exceed what the dealer holds on the day; vehicles are sold by VIN, oldest first, so the
delivered units are sold too. A few dealers move slowly (a large opening stock, few sales) and a few sell vehicles
below the minimum resale price. The lines are written per dealer through the sell-through service (checked,
monthly sums kept in the same transaction, one audit entry per dealer).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from portal.catalog.models import Product
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory import sellthrough
from portal.inventory.models import DealerStockMove
from portal.inventory.sums import add_moves_to_channel
from portal.platform.money import money
from portal.platform.timeutil import today
from portal.production.vin import make_vin

# sales by month of the year, relative to an average month
SEASON = {1: 1.45, 2: 0.65, 3: 0.9, 4: 1.0, 5: 1.05, 6: 0.95, 7: 0.8, 8: 0.85, 9: 1.2, 10: 1.35, 11: 1.1, 12: 1.3}
TIER_SIZE = {"A": 1.5, "B": 1.0, "C": 0.6}
CITY_BY_PREFIX = {"SH": "上海", "NJ": "南京", "SZ": "苏州", "HZ": "杭州", "NB": "宁波", "BJ": "北京", "TJ": "天津",
                  "SJZ": "石家庄", "GZ": "广州", "SZN": "深圳", "XM": "厦门", "CD": "成都", "CQ": "重庆", "XA": "西安",
                  "WH": "武汉", "CS": "长沙"}  # fmt: skip
VEHICLE_CUSTOMERS = (("individual", 75), ("business", 14), ("fleet", 8), ("government", 3))
PART_CUSTOMERS = (("individual", 55), ("business", 33), ("fleet", 12))
OPENING_VIN_BASE = 500_000  # unit numbers of the carried-over vehicles (the line's own units count from 1)


def _months(first: dt.date, last: dt.date):
    day = first
    while day <= last:
        nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        yield day, min(nxt - dt.timedelta(days=1), last)
        day = nxt


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([k for k, _w in weighted], weights=[w for _k, w in weighted])[0]


def _city(rng: random.Random, dealer: Dealer) -> str:
    prefix = dealer.code.split("-")[0].rstrip("0123456789")
    home = CITY_BY_PREFIX.get(prefix, "上海")
    return home if rng.random() < 0.85 else rng.choice(list(CITY_BY_PREFIX.values()))


def load_sell_through(rng: random.Random, echo=print) -> dict:
    now = today()
    first = (now.replace(day=1) - dt.timedelta(days=320)).replace(day=1)  # 11 whole months and this one
    opening_day = first - dt.timedelta(days=1)
    dealers = db.session.execute(select(Dealer).where(Dealer.status == "active").order_by(Dealer.code)).scalars().all()
    products = db.session.execute(select(Product).where(Product.active.is_(True)).order_by(Product.sku)).scalars().all()
    vehicles = [p for p in products if p.build_to_order]
    parts = [p for p in products if not p.build_to_order]
    others = [d.id for d in dealers[1:]]  # the first dealer (sh001's, the demo's own) is an ordinary one
    slow = set(rng.sample(others, k=min(3, len(others))))
    cheap = set(rng.sample([i for i in others if i not in slow], k=min(3, max(0, len(others) - 3))))
    wmi = current_app.config.get("PORTAL_VIN_WMI", "LDP")
    opening_vins = 0
    written = below = 0
    for dealer in dealers:
        size = TIER_SIZE.get(dealer.tier, 1.0) * (0.3 if dealer.id in slow else 1.0)
        received = dict(  # what HQ shipped and the dealer received in the demo is sold too (first day it came)
            db.session.execute(
                select(DealerStockMove.product_id, func.min(DealerStockMove.moved_on))
                .where(DealerStockMove.dealer_id == dealer.id)
                .group_by(DealerStockMove.product_id)
            ).all()
        )
        carried = rng.sample(vehicles, k=min(len(vehicles), rng.randint(2, 3)))
        carried += [p for p in vehicles if p.id in received and p not in carried]
        stocked = rng.sample(parts, k=min(len(parts), rng.randint(4, 6)))
        stocked += [p for p in parts if p.id in received and p not in stocked]
        # what the dealer would sell, month by month, if it had the goods
        plan: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
        for product in carried + stocked:
            per_month = (rng.uniform(0.8, 2.0) if product.build_to_order else rng.uniform(10, 40)) * size
            for start, end in _months(first, now):
                share = (end.day - start.day + 1) / 30
                wanted = max(0, round(rng.gauss(per_month * SEASON[start.month] * share, per_month * 0.2)))
                if not product.build_to_order and wanted:
                    visits = max(1, min(wanted, rng.randint(1, 3)))
                    for k in range(visits):
                        qty = wanted // visits + (1 if k < wanted % visits else 0)
                        plan[product.id].append((start + dt.timedelta(days=rng.randint(0, end.day - start.day)), qty))
                else:
                    for _unit in range(wanted):
                        plan[product.id].append((start + dt.timedelta(days=rng.randint(0, end.day - start.day)), 1))
        # the opening stock: the sales until the portal's shipments arrive and a safety stock the dealer keeps on the
        # floor (slow movers: far more than they will sell)
        safety: dict[int, int] = {}
        openings = []
        for product in carried + stocked:
            until = received.get(product.id, now + dt.timedelta(days=1))
            planned = sum(q for d, q in plan[product.id] if d < until)
            monthly = sum(q for _d, q in plan[product.id]) / 12
            # the dealer keeps some of what the portal's shipments brought on the floor
            safety[product.id] = max(1, round(monthly * rng.uniform(0.3, 0.8))) if product.id in received else 0
            cover = rng.uniform(2.5, 3.5) if dealer.id in slow else rng.uniform(1.0, 1.04)
            opening = max(1 if product.build_to_order else 5, round(planned * cover))
            if product.build_to_order:
                for _unit in range(opening):
                    opening_vins += 1
                    vin = make_vin(wmi, product.id, OPENING_VIN_BASE + opening_vins, opening_day)
                    openings.append(_opening(dealer, product, 1, opening_day, vin))
            else:
                openings.append(_opening(dealer, product, opening, opening_day, None))
        db.session.add_all(openings)
        add_moves_to_channel(openings)
        db.session.flush()
        lines = _sales(rng, dealer, plan, {p.id: p for p in products}, now, safety, cheap=dealer.id in cheap)
        if not lines:
            continue
        actor = (
            db.session.execute(
                select(User).where(User.dealer_id == dealer.id, User.active.is_(True)).order_by(User.id).limit(1)
            )
            .unique()
            .scalar_one_or_none()
        )
        source = "api" if rng.random() < 0.25 else "portal"
        saved = sellthrough.record(actor, dealer, lines, source=source, objects=False)
        written += len(saved)
        below += sum(1 for r in saved if r["below_floor"])
    echo(f"  sell-through: {written} lines over 12 months ({below} below the floor), {opening_vins} vehicles carried "
         f"over; slow movers: {len(slow)}, below-floor sellers: {len(cheap)}")  # fmt: skip
    return {"lines": written, "below_floor": below}


def _opening(dealer, product, quantity, day, serial) -> DealerStockMove:
    return DealerStockMove(
        dealer_id=dealer.id,
        product_id=product.id,
        sku=product.sku,
        serial=serial,
        quantity=quantity,
        kind="receipt",
        moved_on=day,
        note="opening stock carried over from before the portal",
        created_by="demo",
    )


def _sales(rng, dealer, plan, products, now, safety, *, cheap: bool) -> list[dict]:
    """The planned sales that the stock allows, keeping the safety stock, day by day (vehicles by VIN, oldest
    first)."""
    moves = db.session.execute(
        select(
            DealerStockMove.product_id,
            DealerStockMove.moved_on,
            DealerStockMove.serial,
            DealerStockMove.quantity,
            DealerStockMove.shipment_id,
        )
        .where(DealerStockMove.dealer_id == dealer.id, DealerStockMove.kind == "receipt")
        .order_by(DealerStockMove.moved_on, DealerStockMove.id)
    ).all()
    arrivals: dict[int, list[tuple]] = defaultdict(list)
    for product_id, day, serial, quantity, shipment_id in moves:
        arrivals[product_id].append((day, serial, quantity, shipment_id))
    lines: list[dict] = []
    for product_id, wanted in plan.items():
        product = products[product_id]
        incoming = arrivals.get(product_id, [])
        held_vins: list[str] = []
        held = 0
        k = 0
        first_real = next((i for i, a in enumerate(incoming) if a[3] is not None), len(incoming))
        for day, qty in sorted(wanted):
            if day > now:
                continue
            while k < len(incoming) and incoming[k][0] <= day:
                if incoming[k][1]:
                    held_vins.append(incoming[k][1])
                held += incoming[k][2]
                k += 1
            qty = min(qty, held - (safety.get(product_id, 0) if k > first_real else 0))
            if qty <= 0:
                continue
            held -= qty
            line = {"sold_on": day, "sku": product.sku, "quantity": qty, "serial": None, "city": _city(rng, dealer)}
            if product.build_to_order:
                line["serial"] = held_vins.pop(0)
                line["customer_type"] = _pick(rng, VEHICLE_CUSTOMERS)
                floor = product.min_resale_price or product.list_price
                if cheap and rng.random() < 0.35:
                    price = floor * Decimal(str(round(rng.uniform(0.93, 0.99), 3)))
                else:
                    price = floor * Decimal(str(round(rng.uniform(1.01, 1.09), 3)))
                line["unit_price"] = money(price.quantize(Decimal("100")))
            else:
                line["customer_type"] = _pick(rng, PART_CUSTOMERS)
                line["unit_price"] = money(product.list_price * Decimal(str(round(rng.uniform(1.1, 1.4), 2))))
            lines.append(line)
    return lines
