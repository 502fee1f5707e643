"""HQ stock and availability (PRODUCT.md §7, first paragraph). Services flush; the entrypoint commits once.

- `receive` / `adjust`: HQ's receipts and count corrections, one `HqStockMove` and one audit entry each. An
  adjustment never takes on hand below what is allocated (422).
- `allocate_order` (receives `portal.orders.events.order_approved`): when an order is approved, each stock line
  (a product with `build_to_order` False) is allocated from the warehouses with the most available first, as much
  as is available. What cannot be allocated is a **backorder**: it is simply the line's quantity minus what is
  allocated (no row of its own); the audit entry of the allocation lists it per SKU, and shipping takes it from
  whatever is available by then. Receipts do not allocate to waiting backorders by themselves.
- `release_order` (receives `portal.orders.events.order_cancelled`): a cancelled order gives its allocations back.
- `consume_shipment` (receives `portal.shipping.events.goods_shipped`): the quantities of stock lines that
  ship leave on hand, from the line's allocations first, then from any available stock (most available first);
  when HQ does not hold enough the shipment is refused (422) and the action's transaction writes nothing.

Every check locks the `HqStock` rows it depends on (`SELECT … FOR UPDATE`, in the order warehouse_id, product_id,
re-read with `populate_existing`) inside the action's transaction; SQLite serialises writers with BEGIN IMMEDIATE.
Invariants kept here and checked by the tests: on_hand = Σ on_hand_delta of the moves, allocated = Σ
allocated_delta = Σ allocations, 0 ≤ allocated ≤ on_hand.

`availability(product)` / `availability_for(products)` give dealers a band (in stock, limited, build to order,
on request) and never HQ's numbers; HQ callers get `available` too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.audit.services import record
from portal.catalog.models import Product
from portal.credit.services import actor_name
from portal.extensions import db
from portal.inventory.models import HqStock, HqStockMove, StockAllocation, Warehouse
from portal.orders.models import Order, OrderLine
from portal.platform.errors import Invalid
from portal.platform.timeutil import today

MAX_QUANTITY = 1_000_000
BANDS = ("in_stock", "limited", "build_to_order", "on_request")


# ---------------------------------------------------------------- warehouses


def create_warehouse(actor, code: str, name: str, city: str | None = None) -> Warehouse:
    code = (code or "").strip().upper()
    name = (name or "").strip()
    errors = {}
    if not code or len(code) > 32:
        errors["code"] = [_("1 to 32 characters.")]
    if not name or len(name) > 120:
        errors["name"] = [_("1 to 120 characters.")]
    if errors:
        raise Invalid(fields=errors)
    if db.session.execute(select(Warehouse.id).where(Warehouse.code == code)).first():
        raise Invalid(fields={"code": [_("Warehouse %(code)s already exists.", code=code)]}, code="duplicate")
    warehouse = Warehouse(code=code, name=name, city=(city or "").strip() or None, active=True)
    db.session.add(warehouse)
    record(actor, "warehouse.create", "warehouse", code, after={"name": name, "city": warehouse.city})
    db.session.flush()
    return warehouse


def warehouse_by_code(code: str) -> Warehouse | None:
    return db.session.execute(select(Warehouse).where(Warehouse.code == (code or "").strip().upper())).scalar()


# ---------------------------------------------------------------- locking


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _ensure_rows(pairs) -> None:
    """Make sure an HqStock row exists for each (warehouse_id, product_id) (INSERT … ON CONFLICT DO NOTHING)."""
    rows = [{"warehouse_id": w, "product_id": p, "on_hand": 0, "allocated": 0} for w, p in sorted(set(pairs))]
    if not rows:
        return
    insert = pg_insert if _dialect() == "postgresql" else sqlite_insert
    stmt = insert(HqStock).values(rows).on_conflict_do_nothing(index_elements=["warehouse_id", "product_id"])
    db.session.execute(stmt)


def _lock(*criteria) -> list[HqStock]:
    """The HqStock rows matching `criteria`, locked FOR UPDATE in a fixed order and re-read as they are now."""
    stmt = (
        select(HqStock)
        .where(*criteria)
        .order_by(HqStock.warehouse_id, HqStock.product_id)
        .with_for_update(of=HqStock)
        .execution_options(populate_existing=True)
    )
    return list(db.session.execute(stmt).unique().scalars())


def _lock_products(product_ids) -> dict[int, list[HqStock]]:
    """Every warehouse's row of these products, locked; product id → rows."""
    by_product: dict[int, list[HqStock]] = defaultdict(list)
    if product_ids:
        for row in _lock(HqStock.product_id.in_(sorted(set(product_ids)))):
            by_product[row.product_id].append(row)
    return by_product


def _move(row: HqStock, kind: str, on_hand: int, allocated: int, who: str, *, on=None, order_id=None,
          shipment_id=None, note=None) -> HqStockMove:  # fmt: skip
    row.on_hand += on_hand
    row.allocated += allocated
    move = HqStockMove(
        warehouse_id=row.warehouse_id,
        product_id=row.product_id,
        kind=kind,
        on_hand_delta=on_hand,
        allocated_delta=allocated,
        moved_on=on or today(),
        order_id=order_id,
        shipment_id=shipment_id,
        note=note,
        created_by=who,
    )
    db.session.add(move)
    return move


def _quantity(value, field: str, *, signed: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_QUANTITY
    ok = ok and (value != 0 if signed else value > 0)
    if not ok:
        message = (
            _("A whole number other than 0, from -%(n)s to %(n)s.", n=MAX_QUANTITY)
            if signed
            else _("A whole number from 1 to %(n)s.", n=MAX_QUANTITY)
        )
        raise Invalid(fields={field: [message]})
    return value


def _stock_product(product: Product, field: str = "sku") -> Product:
    if product.build_to_order:
        raise Invalid(fields={field: [_("%(sku)s is built to order; HQ holds no stock of it.", sku=product.sku)]})
    return product


# ---------------------------------------------------------------- receipts and adjustments


def receive(actor, warehouse: Warehouse, product: Product, quantity: int, on: dt.date | None = None,
            note: str | None = None) -> HqStockMove:  # fmt: skip
    """Goods arrive in an HQ warehouse (from the factory or a supplier)."""
    quantity = _quantity(quantity, "quantity")
    _stock_product(product)
    if not warehouse.active:
        raise Invalid(fields={"warehouse": [_("Warehouse %(code)s is closed.", code=warehouse.code)]})
    on = on or today()
    if on > today():
        raise Invalid(fields={"received_on": [_("Not in the future.")]})
    _ensure_rows([(warehouse.id, product.id)])
    (row,) = _lock(HqStock.warehouse_id == warehouse.id, HqStock.product_id == product.id)
    before = row.on_hand
    move = _move(row, "receipt", quantity, 0, actor_name(actor), on=on, note=(note or "").strip() or None)
    record(actor, "stock.receive", "hq_stock", f"{warehouse.code}/{product.sku}",
           before={"on_hand": before}, after={"on_hand": row.on_hand, "received_on": on.isoformat(),
                                              "quantity": quantity})  # fmt: skip
    db.session.flush()
    return move


def adjust(actor, warehouse: Warehouse, product: Product, delta: int, reason: str,
           on: dt.date | None = None) -> HqStockMove:  # fmt: skip
    """A count correction (signed); on hand never falls below what is allocated."""
    delta = _quantity(delta, "quantity", signed=True)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(fields={"reason": [_("Say why the count is corrected.")]})
    _stock_product(product)
    if delta > 0:
        _ensure_rows([(warehouse.id, product.id)])
    rows = _lock(HqStock.warehouse_id == warehouse.id, HqStock.product_id == product.id)
    row = rows[0] if rows else None
    if row is None or row.on_hand + delta < row.allocated:
        on_hand, allocated = (row.on_hand, row.allocated) if row else (0, 0)
        raise Invalid(
            _("%(code)s holds %(on_hand)s of %(sku)s, %(allocated)s of them allocated: at most %(n)s can be taken "
              "off.", code=warehouse.code, on_hand=on_hand, sku=product.sku, allocated=allocated,
              n=on_hand - allocated),
            code="below_allocated",
            fields={"quantity": [_("At most %(n)s can be taken off.", n=on_hand - allocated)]},
        )  # fmt: skip
    before = row.on_hand
    move = _move(row, "adjustment", delta, 0, actor_name(actor), on=on, note=reason)
    record(actor, "stock.adjust", "hq_stock", f"{warehouse.code}/{product.sku}",
           before={"on_hand": before}, after={"on_hand": row.on_hand, "delta": delta, "reason": reason})  # fmt: skip
    db.session.flush()
    return move


# ---------------------------------------------------------------- orders: allocate, release


def _stock_lines(order: Order) -> list[OrderLine]:
    return [ln for ln in order.lines if not ln.product.build_to_order]


def _by_most_available(rows: list[HqStock]) -> list[HqStock]:
    return sorted(rows, key=lambda r: (-r.available, r.warehouse_id))


def _allocations(line_ids) -> dict[tuple[int, int], StockAllocation]:
    if not line_ids:
        return {}
    stmt = (
        select(StockAllocation)
        .where(StockAllocation.order_line_id.in_(sorted(line_ids)))
        .order_by(StockAllocation.order_line_id, StockAllocation.warehouse_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {(a.order_line_id, a.warehouse_id): a for a in db.session.execute(stmt).scalars()}


def allocate_order(actor, order: Order) -> dict[str, int]:
    """Allocate the stock lines of a just-approved order; answers the backorder per SKU (0 when none)."""
    lines = _stock_lines(order)
    if not lines:
        return {}
    stock = _lock_products(ln.product_id for ln in lines)
    held = _allocations(ln.id for ln in lines)
    who, on = actor_name(actor), today()
    allocated, backorder = {}, {}
    for line in lines:
        already = sum(a.quantity for (line_id, _w), a in held.items() if line_id == line.id)
        need = line.quantity - already  # approved once only; never allocate a line twice
        for row in _by_most_available(stock.get(line.product_id, [])):
            if need <= 0 or row.available <= 0:
                break
            take = min(need, row.available)
            _move(row, "allocation", 0, take, who, on=on, order_id=order.id)
            alloc = held.get((line.id, row.warehouse_id))
            if alloc is None:
                alloc = held[(line.id, row.warehouse_id)] = StockAllocation(
                    order_line_id=line.id, warehouse_id=row.warehouse_id, quantity=0
                )
                db.session.add(alloc)
            alloc.quantity += take
            need -= take
        allocated[line.sku] = line.quantity - max(need, 0)
        backorder[line.sku] = max(need, 0)
    record(actor, "stock.allocate", "order", order.number,
           after={"allocated": allocated, "backorder": {k: v for k, v in backorder.items() if v}},
           dealer_id=order.dealer_id)  # fmt: skip
    db.session.flush()
    return backorder


def release_order(actor, order: Order) -> int:
    """Give back what a cancelled order still holds; answers the quantity released."""
    lines = _stock_lines(order)
    if not lines:
        return 0
    stock = _lock_products(ln.product_id for ln in lines)  # stock rows first, then allocations: one lock order
    held = {k: a for k, a in _allocations(ln.id for ln in lines).items() if a.quantity > 0}
    if not held:
        return 0
    rows = {(r.warehouse_id, r.product_id): r for rs in stock.values() for r in rs}
    product_of = {ln.id: ln for ln in lines}
    who, released = actor_name(actor), {}
    for (line_id, warehouse_id), alloc in sorted(held.items()):
        line = product_of[line_id]
        _move(rows[(warehouse_id, line.product_id)], "release", 0, -alloc.quantity, who, order_id=order.id)
        released[line.sku] = released.get(line.sku, 0) + alloc.quantity
        alloc.quantity = 0
    record(actor, "stock.release", "order", order.number, after={"released": released}, dealer_id=order.dealer_id)
    db.session.flush()
    return sum(released.values())


# ---------------------------------------------------------------- shipping: consume


def consume_shipment(actor, order: Order, shipment, quantities_by_line: dict[int, int]) -> None:
    """Take the shipped quantities of stock lines out of HQ stock: the line's allocations first, then any
    available stock. Refuses (422) when HQ does not hold enough; the caller's transaction then writes nothing."""
    lines = {ln.id: ln for ln in _stock_lines(order) if quantities_by_line.get(ln.id)}
    if not lines:
        return
    stock = _lock_products(ln.product_id for ln in lines.values())
    rows = {(r.warehouse_id, r.product_id): r for rs in stock.values() for r in rs}
    held = _allocations(lines)
    # check first, write after: every short line is reported at once
    short = {}
    for line in lines.values():
        mine = sum(a.quantity for (line_id, _w), a in held.items() if line_id == line.id)
        free = sum(r.available for r in stock.get(line.product_id, []))
        if mine + free < quantities_by_line[line.id]:
            short[line.sku] = mine + free
    if short:
        raise Invalid(
            _("HQ stock is short: %(skus)s.", skus=", ".join(f"{s} ({n})" for s, n in sorted(short.items()))),
            code="stock_short",
            fields={
                "lines": [_("%(sku)s: HQ holds only %(n)s to ship.", sku=sku, n=n) for sku, n in sorted(short.items())]
            },
        )
    who, on, taken = actor_name(actor), shipment.shipped_on, {}
    for line_id, line in sorted(lines.items()):
        need = quantities_by_line[line_id]
        for (held_line, warehouse_id), alloc in sorted(held.items()):
            if held_line != line_id or need <= 0 or alloc.quantity <= 0:
                continue
            take = min(need, alloc.quantity)
            _move(rows[(warehouse_id, line.product_id)], "shipment", -take, -take, who, on=on, order_id=order.id,
                  shipment_id=shipment.id)  # fmt: skip
            alloc.quantity -= take
            need -= take
        for row in _by_most_available(stock.get(line.product_id, [])):
            if need <= 0:
                break
            if row.available <= 0:
                continue
            take = min(need, row.available)
            _move(row, "shipment", -take, 0, who, on=on, order_id=order.id, shipment_id=shipment.id)
            need -= take
        taken[line.sku] = quantities_by_line[line_id]
    record(actor, "stock.ship", "shipment", shipment.number, after={"order": order.number, "taken": taken},
           dealer_id=order.dealer_id)  # fmt: skip
    db.session.flush()


# ---------------------------------------------------------------- availability bands


def limited_below() -> int:
    return int(current_app.config.get("PORTAL_STOCK_LIMITED_BELOW", 10))


def band_for(product: Product, available: int) -> dict:
    if product.build_to_order:
        return {"band": "build_to_order", "lead_time_days": product.lead_time_days}
    if available >= limited_below():
        return {"band": "in_stock", "lead_time_days": None}
    if available > 0:
        return {"band": "limited", "lead_time_days": None}
    return {"band": "on_request", "lead_time_days": product.lead_time_days or None}


def available_by_product(product_ids) -> dict[int, int]:
    """product id → available across warehouses, for many products in one query."""
    ids = sorted({i for i in product_ids if i is not None})
    if not ids:
        return {}
    stmt = (
        select(HqStock.product_id, func.sum(HqStock.on_hand - HqStock.allocated))
        .where(HqStock.product_id.in_(ids))
        .group_by(HqStock.product_id)
    )
    return {pid: int(n or 0) for pid, n in db.session.execute(stmt)}


def availability_for(products, *, with_numbers: bool = False) -> dict[int, dict]:
    """product id → {band, lead_time_days} (+ available for HQ), one query for all of them."""
    products = list(products)
    free = available_by_product(p.id for p in products)
    out = {}
    for p in products:
        answer = band_for(p, free.get(p.id, 0))
        if with_numbers and not p.build_to_order:
            answer["available"] = free.get(p.id, 0)
        out[p.id] = answer
    return out


def availability(product: Product, *, with_numbers: bool = False) -> dict:
    return availability_for([product], with_numbers=with_numbers)[product.id]


# ---------------------------------------------------------------- lists


def stock_query(scope, *, sku=None, warehouse=None, category=None, q=None):
    """HqStock rows in scope (HQ only), by SKU then warehouse."""
    stmt = (
        scope.select(HqStock)
        .join(Product, Product.id == HqStock.product_id)
        .join(Warehouse, Warehouse.id == HqStock.warehouse_id)
        .order_by(Product.sku, Warehouse.code)
    )
    if sku:
        stmt = stmt.where(Product.sku == sku.strip())
    if warehouse:
        stmt = stmt.where(Warehouse.code == warehouse.strip().upper())
    if category:
        stmt = stmt.where(Product.category == category)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Product.sku).like(like) | func.lower(Product.name).like(like)
                          | func.lower(Product.name_en).like(like))  # fmt: skip
    return stmt


def moves_query(scope, *, sku=None, warehouse=None, kind=None, order=None, date_from=None, date_to=None):
    stmt = scope.select(HqStockMove).order_by(HqStockMove.created_at.desc(), HqStockMove.id.desc())
    if sku:
        stmt = stmt.where(HqStockMove.product_id.in_(select(Product.id).where(Product.sku == sku.strip())))
    if warehouse:
        stmt = stmt.where(
            HqStockMove.warehouse_id.in_(select(Warehouse.id).where(Warehouse.code == warehouse.strip().upper()))
        )
    if kind:
        stmt = stmt.where(HqStockMove.kind == kind)
    if order:
        stmt = stmt.where(HqStockMove.order_id.in_(select(Order.id).where(Order.number == order.strip())))
    if date_from:
        stmt = stmt.where(HqStockMove.moved_on >= date_from)
    if date_to:
        stmt = stmt.where(HqStockMove.moved_on <= date_to)
    return stmt


def move_labels(moves) -> dict[str, dict]:
    """Codes, SKUs and numbers for a page of moves, one query each: {"warehouses": {id: code}, "products": ...}."""
    from portal.shipping.models import Shipment

    moves = list(moves)

    def names(key_col, label_col, ids):
        ids = {i for i in ids if i}
        return dict(db.session.execute(select(key_col, label_col).where(key_col.in_(ids))).all()) if ids else {}

    return {
        "warehouses": names(Warehouse.id, Warehouse.code, (m.warehouse_id for m in moves)),
        "products": names(Product.id, Product.sku, (m.product_id for m in moves)),
        "orders": names(Order.id, Order.number, (m.order_id for m in moves)),
        "shipments": names(Shipment.id, Shipment.number, (m.shipment_id for m in moves)),
    }


def warehouse_totals() -> dict[int, dict[str, int]]:
    """warehouse id → {skus, on_hand, allocated, available}."""
    stmt = (
        select(HqStock.warehouse_id, func.count(), func.sum(HqStock.on_hand), func.sum(HqStock.allocated))
        .where(HqStock.on_hand > 0)
        .group_by(HqStock.warehouse_id)
    )
    return {
        w: {"skus": int(n), "on_hand": int(o or 0), "allocated": int(a or 0), "available": int(o or 0) - int(a or 0)}
        for w, n, o, a in db.session.execute(stmt)
    }


def totals(product_ids=None) -> dict[str, int]:
    stmt = select(func.coalesce(func.sum(HqStock.on_hand), 0), func.coalesce(func.sum(HqStock.allocated), 0))
    if product_ids is not None:
        stmt = stmt.where(HqStock.product_id.in_(product_ids))
    on_hand, allocated = db.session.execute(stmt).one()
    return {"on_hand": int(on_hand), "allocated": int(allocated), "available": int(on_hand) - int(allocated)}

