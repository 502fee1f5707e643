"""What the backorder tests share: reading a line's stock state, recording expected receipts through the service,
and the invariants every test checks at its end (PRODUCT.md §12, portal/inventory/hq.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select

from portal.extensions import db
from portal.inventory.models import ExpectedReceipt, HqStock, HqStockMove, StockAllocation
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderLine


def lines(world, order: str) -> dict[str, tuple[int, int, int, dt.date | None]]:
    """sku → (quantity, held allocated, backordered, promised_on) of an order's lines."""

    def read():
        rows = db.session.execute(
            select(OrderLine.sku, OrderLine.quantity, func.coalesce(func.sum(StockAllocation.quantity), 0),
                   OrderLine.backordered, OrderLine.promised_on)
            .join(Order, Order.id == OrderLine.order_id)
            .outerjoin(StockAllocation, StockAllocation.order_line_id == OrderLine.id)
            .where(Order.number == order)
            .group_by(OrderLine.id, OrderLine.sku, OrderLine.quantity, OrderLine.backordered, OrderLine.promised_on)
        ).all()  # fmt: skip
        return {sku: (q, int(held), back, on) for sku, q, held, back, on in rows}

    return world.run(read)


def waiting(world, sku: str) -> dict[str, int]:
    """order number → backordered of the SKU's waiting lines."""

    def read():
        rows = db.session.execute(
            select(Order.number, OrderLine.backordered)
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.sku == sku, OrderLine.backordered > 0)
        ).all()
        return dict(rows)

    return world.run(read)


def expect(world, sku: str, quantity: int, on: dt.date, warehouse: str = "SH", username: str | None = None) -> int:
    """HQ records an expected receipt through the service (the warehouse made when missing); its id."""
    from portal.dealers.models import User
    from portal.inventory import hq

    def make():
        actor = db.session.query(User).filter_by(username=username).one() if username else None
        if hq.warehouse_by_code(warehouse) is None:
            hq.create_warehouse(None, warehouse, f"仓库 {warehouse}")
        return hq.expect(actor, warehouse, sku, quantity, on).id

    return world._in_request(make)


def set_lead_time(world, sku: str, days: int) -> None:
    from portal.catalog.models import Product

    world.run(lambda: db.session.query(Product).filter_by(sku=sku).update({"lead_time_days": days}))


def move_up(world, order: str, username: str | None = None) -> None:
    from portal.dealers.models import User
    from portal.inventory import backorders

    def make():
        actor = db.session.query(User).filter_by(username=username).one() if username else None
        backorders.move_up(actor, db.session.query(Order).filter_by(number=order).one())

    world._in_request(make)


def adjust(world, sku: str, delta: int, warehouse: str = "SH") -> None:
    from portal.catalog.models import Product
    from portal.inventory import hq

    world._in_request(
        lambda: hq.adjust(
            None, hq.warehouse_by_code(warehouse), db.session.query(Product).filter_by(sku=sku).one(), delta, "count"
        )  # fmt: skip
    )


def expected_rows(world) -> dict[int, tuple[int, int, str]]:
    """id → (quantity, received, status) of every expected receipt."""
    return world.run(
        lambda: {
            e.id: (e.quantity, e.received, e.status) for e in db.session.execute(select(ExpectedReceipt)).scalars()
        }
    )


def check_invariants(world) -> None:
    """HQ stock: on hand = Σ on-hand deltas, allocated = Σ allocated deltas = Σ allocations, 0 ≤ allocated ≤ on
    hand. Every stock line of an open order: quantity = held + backordered + shipped, a promised date exactly when it
    waits; other lines wait for nothing. No SKU has stock available while one of its lines waits."""
    from portal.catalog.models import Product
    from portal.shipping.models import ShipmentLine

    def read():
        rows = db.session.execute(select(HqStock)).scalars().all()
        moves = {
            (w, p): (int(o), int(a))
            for w, p, o, a in db.session.execute(
                select(HqStockMove.warehouse_id, HqStockMove.product_id, func.sum(HqStockMove.on_hand_delta),
                       func.sum(HqStockMove.allocated_delta))
                .group_by(HqStockMove.warehouse_id, HqStockMove.product_id)
            )
        }  # fmt: skip
        allocs = {
            (w, p): int(q)
            for w, p, q in db.session.execute(
                select(StockAllocation.warehouse_id, OrderLine.product_id, func.sum(StockAllocation.quantity))
                .join(OrderLine, OrderLine.id == StockAllocation.order_line_id)
                .group_by(StockAllocation.warehouse_id, OrderLine.product_id)
            )
        }
        available: dict[int, int] = defaultdict(int)
        for r in rows:
            key = (r.warehouse_id, r.product_id)
            assert moves.get(key, (0, 0)) == (r.on_hand, r.allocated), key
            assert allocs.get(key, 0) == r.allocated, key
            assert 0 <= r.allocated <= r.on_hand
            available[r.product_id] += r.on_hand - r.allocated
        held = dict(
            db.session.execute(
                select(StockAllocation.order_line_id, func.sum(StockAllocation.quantity)).group_by(
                    StockAllocation.order_line_id
                )
            ).all()
        )
        shipped = dict(
            db.session.execute(
                select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity)).group_by(ShipmentLine.order_line_id)
            ).all()
        )
        stock_lines = db.session.execute(
            select(OrderLine.id, OrderLine.product_id, OrderLine.quantity, OrderLine.backordered, OrderLine.promised_on,
                   Order.status, Order.number)
            .join(Order, Order.id == OrderLine.order_id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(Product.build_to_order.is_(False))
        ).all()  # fmt: skip
        for line_id, product_id, quantity, back, promised, status, number in stock_lines:
            h, s = int(held.get(line_id) or 0), int(shipped.get(line_id) or 0)
            if status in OPEN_FOR_CREDIT:
                assert quantity == h + back + s, (number, quantity, h, back, s)
                assert (promised is not None) == (back > 0), (number, back, promised)
                if back:
                    assert available[product_id] == 0, (number, "waits while stock is available")
            else:
                assert back == 0 and h == 0, (number, status, back, h)

    world.run(read)
