"""Backorders (PRODUCT.md §12): who waits for what, in which order, until when; moving an order up the queue.

The queue, the allocation of what arrives and the promised dates live in `portal.inventory.hq` (they change with
HQ's stock, under its locks); this module reads them for the lists, pages and API, and holds the one action on the
queue itself, `move_up`.

Every list here is scoped in the query (`scope.select(Order)`): a dealer reads its own backorders, a region manager
those of its region's dealers, HQ all of them. The figures only HQ may read (the expected receipts, HQ's stock) go
through the scope of their own models, which answers nothing outside HQ.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.catalog.models import Product
from portal.credit.services import actor_name
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory import hq
from portal.inventory.models import ExpectedReceipt, HqStock, Warehouse
from portal.orders.models import Order, OrderLine
from portal.platform.errors import Conflict
from portal.platform.timeutil import today, utcnow

ROW_COLUMNS = ("order_number", "dealer_code", "dealer_name", "sku", "name", "name_en", "quantity", "backordered",
               "promised_on", "approved_at", "moved_up_at", "status")  # fmt: skip


# ---------------------------------------------------------------- reading


def backorders_query(scope, sku: str | None = None, dealer: str | None = None):
    """The waiting stock lines in the caller's scope, one row each (the `ROW_COLUMNS`), by SKU then queue order.
    `dealer` is a dealer code, `sku` a SKU (exact)."""
    stmt = (
        scope.select(Order)
        .with_only_columns(
            Order.number.label("order_number"),
            Dealer.code.label("dealer_code"),
            Dealer.name.label("dealer_name"),
            OrderLine.sku,
            Product.name,
            Product.name_en,
            OrderLine.quantity,
            OrderLine.backordered,
            OrderLine.promised_on,
            Order.approved_at,
            Order.moved_up_at,
            Order.status,
            Order.id.label("order_id"),
            OrderLine.id.label("line_id"),
        )
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Dealer, Dealer.id == Order.dealer_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderLine.backordered > 0, Order.status.in_(hq.WAITING_STATUSES))
        .order_by(OrderLine.sku, *hq.queue_order())
    )
    if sku:
        stmt = stmt.where(OrderLine.sku == sku.strip())
    if dealer:
        stmt = stmt.where(Dealer.code == dealer.strip())
    return stmt


def rows_page(stmt, page: int, per_page: int) -> dict:
    """`{items, page, per_page, total}` of a statement answering rows (not objects)."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    offset = (page - 1) * per_page
    items = [] if offset >= total else db.session.execute(stmt.limit(per_page).offset(offset)).all()
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def summary_by_sku(scope, sku: str | None = None, dealer: str | None = None) -> list[dict]:
    """Per SKU: waiting lines, orders, dealers, pieces backordered, the earliest and latest promised dates — of the
    backorders in scope; for HQ also what is expected (open expected receipts: pieces, next date) and on hand."""
    waiting = backorders_query(scope, sku, dealer).order_by(None).subquery()
    stmt = (
        select(
            waiting.c.sku,
            waiting.c.name,
            waiting.c.name_en,
            func.count(),
            func.count(waiting.c.order_id.distinct()),
            func.count(waiting.c.dealer_code.distinct()),
            func.sum(waiting.c.backordered),
            func.min(waiting.c.promised_on),
            func.max(waiting.c.promised_on),
        )
        .group_by(waiting.c.sku, waiting.c.name, waiting.c.name_en)
        .order_by(func.sum(waiting.c.backordered).desc(), waiting.c.sku)
    )
    out = [
        {"sku": s, "name": n, "name_en": en, "lines": int(lines), "orders": int(orders), "dealers": int(dealers),
         "backordered": int(back or 0), "first_promised": first, "last_promised": last}
        for s, n, en, lines, orders, dealers, back, first, last in db.session.execute(stmt)
    ]  # fmt: skip
    if not out or not scope.is_hq:
        return out
    skus = [row["sku"] for row in out]
    expected = scope.select(ExpectedReceipt).with_only_columns(
        Product.sku,
        func.sum(ExpectedReceipt.quantity - ExpectedReceipt.received),
        func.min(ExpectedReceipt.expected_on),
    )
    expected = (
        expected.select_from(ExpectedReceipt)
        .join(Product, Product.id == ExpectedReceipt.product_id)
        .where(ExpectedReceipt.status == "open", Product.sku.in_(skus))
        .group_by(Product.sku)
    )
    by_sku = {s: (int(q or 0), on) for s, q, on in db.session.execute(expected)}
    stock = (
        scope.select(HqStock)
        .with_only_columns(Product.sku, func.sum(HqStock.on_hand), func.sum(HqStock.on_hand - HqStock.allocated))
        .select_from(HqStock)
        .join(Product, Product.id == HqStock.product_id)
        .where(Product.sku.in_(skus))
        .group_by(Product.sku)
    )
    on_hand = {s: (int(o or 0), int(a or 0)) for s, o, a in db.session.execute(stock)}
    for row in out:
        row["expected"], row["next_expected_on"] = by_sku.get(row["sku"], (0, None))
        row["on_hand"], row["available"] = on_hand.get(row["sku"], (0, 0))
    return out


def order_backorders(order_ids) -> dict[int, tuple[int, object]]:
    """order id → (pieces backordered, earliest promised date), for a page of orders in one query (ids already read
    through the caller's scope)."""
    ids = sorted({i for i in order_ids if i is not None})
    if not ids:
        return {}
    stmt = (
        select(OrderLine.order_id, func.sum(OrderLine.backordered), func.min(OrderLine.promised_on))
        .where(OrderLine.order_id.in_(ids), OrderLine.backordered > 0)
        .group_by(OrderLine.order_id)
    )
    return {order_id: (int(n or 0), on) for order_id, n, on in db.session.execute(stmt)}


def expected_query(scope, *, sku: str | None = None, warehouse: str | None = None, status: str | None = None):
    """Expected receipts (HQ only: the scope answers nothing to anyone else) with their warehouse code and SKU:
    rows (ExpectedReceipt, warehouse_code, sku, name, name_en), the open ones first, by expected date."""
    stmt = (
        scope.select(ExpectedReceipt)
        .add_columns(Warehouse.code.label("warehouse_code"), Product.sku, Product.name, Product.name_en)
        .join(Warehouse, Warehouse.id == ExpectedReceipt.warehouse_id)
        .join(Product, Product.id == ExpectedReceipt.product_id)
        .order_by((ExpectedReceipt.status != "open"), ExpectedReceipt.expected_on, ExpectedReceipt.id)
    )
    if sku:
        stmt = stmt.where(Product.sku == sku.strip())
    if warehouse:
        stmt = stmt.where(Warehouse.code == warehouse.strip().upper())
    if status:
        stmt = stmt.where(ExpectedReceipt.status == status)
    return stmt


def expected_dict(row) -> dict:
    """One row of `expected_query` as the API and the pages show it."""
    expected = row[0]
    return {
        "id": expected.id,
        "warehouse_code": row.warehouse_code,
        "sku": row.sku,
        "name": row.name,
        "name_en": row.name_en,
        "quantity": expected.quantity,
        "received": expected.received,
        "outstanding": expected.outstanding,
        "expected_on": expected.expected_on,
        "status": expected.status,
        "overdue": expected.status == "open" and expected.expected_on < today(),
        "note": expected.note,
        "created_by": expected.created_by,
        "created_at": expected.created_at,
    }


# ---------------------------------------------------------------- moving an order up


def move_up(actor, order: Order) -> Order:
    """A channel manager moves an order up every backorder queue it waits in: it goes before every order never moved
    up (after those moved up earlier). 409 `not_backordered` when none of its lines waits. Moving it up again keeps
    its place (and writes nothing). Allocations already made stay where they are; the promised dates follow."""
    order = db.session.execute(
        select(Order)
        .where(Order.id == order.id)
        .with_for_update(of=Order, key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()  # the order's row first, then the stock rows, then the lines: hq's lock order
    stock_lines = [ln for ln in order.lines if not ln.product.build_to_order]
    pids = [ln.product_id for ln in stock_lines]
    stock = hq._lock_products(pids)
    lines = hq._lock_lines(OrderLine.id.in_([ln.id for ln in stock_lines])) if stock_lines else []
    waiting = {ln.sku: ln.backordered for ln in lines if ln.backordered > 0}
    if not waiting or order.status not in hq.WAITING_STATUSES:
        raise Conflict(_("Order %(number)s has no backordered line: there is nothing to move up.",
                         number=order.number), code="not_backordered")  # fmt: skip
    if order.moved_up_at is not None:
        return order
    order.moved_up_at = utcnow()
    record(actor, "order.move_up", "order", order.number, before={"moved_up_at": None},
           after={"moved_up_at": order.moved_up_at.isoformat(), "backordered": waiting},
           dealer_id=order.dealer_id)  # fmt: skip
    hq._settle(stock, pids, actor_name(actor))
    db.session.flush()
    return order
