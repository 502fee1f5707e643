"""Demo HQ stock: four warehouses (Shanghai, Tianjin, Guangzhou, Chengdu) and the factory's lots of parts every other
Monday, through the HQ stock service (so every receipt is a move with its audit entry). Each lot tops the part up to
about four weeks of the channel's expected orders, plus what approved orders are still waiting for (backorders), so
the dealers' stock orders are allocated when they are approved. In the last weeks the factory sends no more brake
pads and wipers: HQ sells what it holds (dealers order no more than HQ has available), and at the end a small lot of
brake pads is in and the wipers are out, so a dealer sees every band in the catalogue (in stock, limited, on
request)."""

from __future__ import annotations

import datetime as dt
import math
import random

from sqlalchemy import func, select

from portal.extensions import db
from portal.inventory import hq
from portal.inventory.models import HqStock, StockAllocation
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderLine

WAREHOUSES = (
    ("SH", "上海中心仓 Shanghai DC", "上海"),
    ("TJ", "天津北方仓 Tianjin DC", "天津"),
    ("GZ", "广州华南仓 Guangzhou DC", "广州"),
    ("CD", "成都西部仓 Chengdu DC", "成都"),
)
WEIGHTS = (5, 3, 2, 1)  # most lots go to Shanghai and Tianjin
LOT_EVERY_DAYS = 14
COVER_WEEKS = 4
LIMITED, ON_REQUEST = "P-BRAKE-PAD", "P-WIPER"  # the parts that end low (limited) and out (on request)
ENDING = {LIMITED: 6, ON_REQUEST: 0}
ENDING_WEEKS = 6  # no lot of them in the last weeks


def create_warehouses(actor) -> list:
    return [hq.create_warehouse(actor, code, name, city) for code, name, city in WAREHOUSES]


def backorders() -> dict[int, int]:
    """product id → pieces approved orders wait for beyond what is allocated to them."""
    ordered = dict(
        db.session.execute(
            select(OrderLine.product_id, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.status.in_(OPEN_FOR_CREDIT))
            .group_by(OrderLine.product_id)
        ).all()
    )
    held = dict(
        db.session.execute(
            select(OrderLine.product_id, func.sum(StockAllocation.quantity))
            .join(OrderLine, OrderLine.id == StockAllocation.order_line_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.status.in_(OPEN_FOR_CREDIT))
            .group_by(OrderLine.product_id)
        ).all()
    )
    return {pid: int(q) - int(held.get(pid) or 0) for pid, q in ordered.items() if int(q) > int(held.get(pid) or 0)}


def available() -> dict[int, int]:
    return {
        pid: int(q)
        for pid, q in db.session.execute(
            select(HqStock.product_id, func.sum(HqStock.on_hand - HqStock.allocated)).group_by(HqStock.product_id)
        )
    }


def factory_lots(actor, rng: random.Random, warehouses, parts, weekly: dict[int, float], ending: bool) -> int:
    """Every part topped up to its cover (`weekly`: the channel's expected orders a week) plus its backorders;
    `ending`: the weeks before today, when the factory sends no more of the two parts that end low and out.
    Answers the receipts made."""
    free, waiting = available(), backorders()
    made = 0
    for product in parts:
        if ending and product.sku in ENDING:
            continue
        week = weekly.get(product.id, 0)
        lot = COVER_WEEKS * week + waiting.get(product.id, 0) - free.get(product.id, 0)
        if lot <= 0 or (lot < week / 2 and not waiting.get(product.id)):
            continue
        warehouse = rng.choices(warehouses, weights=WEIGHTS[: len(warehouses)])[0]
        hq.receive(actor, warehouse, product, 10 * math.ceil(lot / 10), note=f"工厂入库 批次 {rng.randint(1000, 9999)}")
        made += 1
    return made


def top_up_limited(actor, rng: random.Random, warehouses, parts) -> None:
    """At the end: the limited part keeps a few pieces (a lot just in), so its band is `limited`, not out."""
    free, waiting = available(), backorders()
    for product in parts:
        if product.sku == LIMITED and free.get(product.id, 0) <= 0:
            hq.receive(actor, warehouses[0], product, ENDING[LIMITED] + waiting.get(product.id, 0),
                       note=f"工厂入库 批次 {rng.randint(1000, 9999)}")  # fmt: skip
    db.session.flush()


def next_monday(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)
