"""Demo HQ stock: four warehouses (Shanghai, Tianjin, Guangzhou, Chengdu) and the factory's receipts of parts over the
demo's months, through the HQ stock service (so every receipt is a move with its audit entry), enough for the demo's
stock orders; the orders still waiting are then allocated in the order they were placed, as they would have been
had the goods been there at approval. Most parts end in stock, one is limited and one is on request, so a dealer sees
every band in the catalogue."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlalchemy import select

from portal.catalog.models import Product
from portal.extensions import db
from portal.inventory import hq
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderLine
from portal.platform.timeutil import freeze, portal_tz, today

WAREHOUSES = (
    ("SH", "上海中心仓 Shanghai DC", "上海"),
    ("TJ", "天津北方仓 Tianjin DC", "天津"),
    ("GZ", "广州华南仓 Guangzhou DC", "广州"),
    ("CD", "成都西部仓 Chengdu DC", "成都"),
)


def load_hq_stock(rng: random.Random, actor, days: int = 90, echo=print) -> dict:
    now_day = today()
    warehouses = [hq.create_warehouse(actor, code, name, city) for code, name, city in WAREHOUSES]
    parts = (
        db.session.execute(select(Product).where(Product.build_to_order.is_(False)).order_by(Product.sku))
        .scalars()
        .all()
    )
    ordered: dict[int, int] = defaultdict(int)  # every stock piece ordered and not cancelled or rejected
    for product_id, quantity in db.session.execute(
        select(OrderLine.product_id, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.status.not_in(("rejected", "cancelled", "submitted", "credit_review")))
    ):
        ordered[product_id] += quantity
    short = {parts[1].sku: 6, parts[-1].sku: 0} if len(parts) > 2 else {}  # limited, on request
    receipts = 0
    for product in parts:
        total = ordered.get(product.id, 0) + short.get(product.sku, rng.randint(40, 240))
        # a few factory lots spread over the months, most of them into Shanghai and Tianjin
        lots = max(1, min(total // 15, rng.randint(3, 7))) if total else 0
        sizes = _split(rng, total, lots)
        for size in sizes:
            on = now_day - dt.timedelta(days=rng.randint(days - 25, days))  # before the demo's first orders
            warehouse = rng.choices(warehouses, weights=(5, 3, 2, 1))[0]
            with freeze(dt.datetime.combine(on, dt.time(rng.randint(8, 17)), portal_tz())):
                hq.receive(actor, warehouse, product, size, on=on, note=f"工厂入库 批次 {rng.randint(1000, 9999)}")
            receipts += 1
    # the stock orders that are still open, allocated as at their approval
    waiting = (
        db.session.execute(select(Order).where(Order.status.in_(OPEN_FOR_CREDIT)).order_by(Order.created_at))
        .unique()
        .scalars()
        .all()
    )
    allocated = 0
    for order in waiting:
        if all(ln.product.build_to_order for ln in order.lines):
            continue
        with freeze(order.created_at):
            hq.allocate_order(actor, order)
        allocated += 1
    db.session.flush()
    echo(f"  HQ stock: {len(warehouses)} warehouses, {receipts} receipts of {len(parts)} parts, {allocated} orders "
         "allocated")  # fmt: skip
    return {"warehouses": len(warehouses), "receipts": receipts, "allocated": allocated}


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    if parts <= 1:
        return [total] if total else []
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if total > parts else []
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    return [s for s in sizes if s > 0]
