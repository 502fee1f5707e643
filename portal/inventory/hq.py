"""HQ stock and availability (PRODUCT.md §7), backorders and expected receipts (§12). Services flush; the
entrypoint commits once.

- `receive` / `adjust`: HQ's receipts and count corrections, one `HqStockMove` and one audit entry each. An
  adjustment never takes on hand below what is allocated (422). A receipt fills the earliest open expected receipts
  of the same warehouse and SKU.
- `allocate_order` (receives `portal.orders.events.order_approved`): when an order is approved, each stock line
  (a product with `build_to_order` False) waits in the SKU's **backorder queue** for what it still needs
  (`OrderLine.backordered`), and what is available is handed out in queue order at once — from the warehouses with
  the most available first. Whatever cannot be allocated stays `backordered`, with a `promised_on` date.
- The queue of a SKU: lines of orders a channel manager moved up first (earlier moves first), then by approval time,
  then order id, then line number (`queue_order`). Whenever stock of a SKU becomes available — a receipt, a positive
  count correction, a cancelled order's allocations given back — it goes to that queue in the same transaction
  (`_settle`), and the waiting lines' promised dates are planned again: walking the queue against the open expected
  receipts of the SKU (any warehouse) by expected date, a line is promised on the date of the expected receipt that
  brings the cumulative quantity up to everything queued up to and including it (never before today), else today +
  the product's lead time (or the last expected receipt's date when that is later: a line is never promised before
  one ahead of it in the queue). `replan(product_ids)` does the same for a set of SKUs when their expected receipts
  change.
- `release_order` (receives `portal.orders.events.order_cancelled`): a cancelled order waits no more (backordered 0)
  and gives its allocations back, which go to the SKU's queue.
- `consume_shipment` (receives `portal.shipping.events.goods_shipped`): the quantities of stock lines that
  ship leave on hand, from the line's allocations first, then from any available stock (most available first);
  what a line takes beyond its allocation comes off its backorder. When HQ does not hold enough the shipment is
  refused (422) and the action's transaction writes nothing.

Locks, one order everywhere (PostgreSQL): the order's row when the action is about one order (`FOR NO KEY UPDATE`:
moves and allocations of other transactions still reference it), then every `HqStock` row of the SKUs concerned
(`SELECT … FOR UPDATE`, in the order warehouse_id, product_id, re-read with `populate_existing`), then the order
lines waiting for those SKUs (`FOR NO KEY UPDATE`) and the expected receipts. Every change of a waiting line happens
under the HqStock locks of its SKU, so the queue of a SKU is handled by one transaction at a time. SQLite serialises
writers with BEGIN IMMEDIATE. Invariants kept here and checked by the tests: on_hand = Σ on_hand_delta of the moves,
allocated = Σ allocated_delta = Σ allocations, 0 ≤ allocated ≤ on_hand; for every stock line of an open order
quantity = allocated + backordered + shipped.

`availability(product)` / `availability_for(products)` give dealers a band (in stock, limited, build to order,
on request) and never HQ's numbers; HQ callers get `available` too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_pgettext
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portal.audit.services import record
from portal.catalog.models import Product
from portal.credit.services import actor_name
from portal.extensions import db
from portal.inventory.models import ExpectedReceipt, HqStock, HqStockMove, StockAllocation, Warehouse
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderLine
from portal.platform.errors import Conflict, Invalid
from portal.platform.timeutil import today, utcnow

MAX_QUANTITY = 1_000_000
BANDS = ("in_stock", "limited", "build_to_order", "on_request")
WAITING_STATUSES = OPEN_FOR_CREDIT  # approved, not shipped in full: the orders whose stock lines may wait
EXPECTED_STATUSES = ("open", "received", "cancelled")
CHUNK = 2000  # rows per multi-row statement (well under the parameter limits of both databases)


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


def _insert(table):
    return (pg_insert if _dialect() == "postgresql" else sqlite_insert)(table)


def _ensure_rows(pairs) -> None:
    """Make sure an HqStock row exists for each (warehouse_id, product_id) (INSERT … ON CONFLICT DO NOTHING)."""
    rows = [{"warehouse_id": w, "product_id": p, "on_hand": 0, "allocated": 0} for w, p in sorted(set(pairs))]
    if not rows:
        return
    stmt = _insert(HqStock).values(rows).on_conflict_do_nothing(index_elements=["warehouse_id", "product_id"])
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
    """Every warehouse's row of these products, locked; product id → rows.

    On PostgreSQL the rows are read twice: a row another transaction inserted and committed while this one waited
    for the locks is not in the first answer (its snapshot is older), and is in the second. A row inserted later
    cannot hold stock yet: whoever inserts one locks every row of its product before changing it."""
    by_product: dict[int, list[HqStock]] = defaultdict(list)
    ids = sorted({i for i in product_ids if i is not None})
    if not ids:
        return by_product
    rows = _lock(HqStock.product_id.in_(ids))
    if _dialect() == "postgresql":
        rows = _lock(HqStock.product_id.in_(ids))
    for row in rows:
        by_product[row.product_id].append(row)
    return by_product


def _lock_lines(*criteria) -> list[OrderLine]:
    """Order lines locked FOR NO KEY UPDATE (after the HqStock rows of their products), re-read as they are now."""
    stmt = (
        select(OrderLine)
        .where(*criteria)
        .order_by(OrderLine.id)
        .with_for_update(of=OrderLine, key_share=True)
        .execution_options(populate_existing=True)
    )
    return list(db.session.execute(stmt).unique().scalars())


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


# ---------------------------------------------------------------- the backorder queue


def queue_order() -> tuple:
    """ORDER BY of a SKU's backorder queue: moved up first (earlier moves first), then approval, order, line."""
    return (
        Order.moved_up_at.asc().nulls_last(),
        Order.approved_at.asc().nulls_last(),
        Order.id,
        OrderLine.line_no,
    )


@dataclass
class Settled:
    """What `_settle` did: the allocations it made (one per line and warehouse) and the lines it changed."""

    allocations: list[dict] = field(default_factory=list)  # {line_id, order_id, number, sku, warehouse_id, quantity}
    lines: dict[int, tuple[int, dt.date | None]] = field(default_factory=dict)  # line id → (backordered, promised_on)

    def by_order(self) -> dict[str, int]:
        """order number → pieces allocated to it."""
        out: dict[str, int] = defaultdict(int)
        for a in self.allocations:
            out[a["number"]] += a["quantity"]
        return dict(sorted(out.items()))


def _settle(stock: dict[int, list[HqStock]], product_ids, who: str = "system", on: dt.date | None = None) -> Settled:
    """Hand what is available of these products to the lines waiting for them, in queue order, and plan the promised
    date of what still waits. The caller holds the HqStock rows of these products (`_lock_products`: `stock`).

    A bounded number of statements whatever the queue's length: one to read (and lock) the waiting lines, one for
    the open expected receipts, one for the lead times, then one statement each for the allocations, their moves and
    the lines that changed."""
    result = Settled()
    pids = sorted({p for p in product_ids if p is not None})
    if not pids:
        return result
    db.session.flush()  # what the caller changed is what the queries below read
    waiting = db.session.execute(
        select(OrderLine.id, OrderLine.order_id, OrderLine.product_id, OrderLine.sku, OrderLine.backordered,
               OrderLine.promised_on, Order.number)
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.product_id.in_(pids), OrderLine.backordered > 0, Order.status.in_(WAITING_STATUSES))
        .order_by(OrderLine.product_id, *queue_order())
        .with_for_update(of=OrderLine, key_share=True)
    ).all()  # fmt: skip
    if not waiting:
        return result
    waiting_pids = sorted({w.product_id for w in waiting})
    expected: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for pid, expected_on, outstanding in db.session.execute(
        select(ExpectedReceipt.product_id, ExpectedReceipt.expected_on,
               ExpectedReceipt.quantity - ExpectedReceipt.received)
        .where(ExpectedReceipt.product_id.in_(waiting_pids), ExpectedReceipt.status == "open",
               ExpectedReceipt.quantity > ExpectedReceipt.received)
        .order_by(ExpectedReceipt.product_id, ExpectedReceipt.expected_on, ExpectedReceipt.id)
    ):  # fmt: skip
        expected[pid].append((expected_on, int(outstanding)))
    lead = dict(
        db.session.execute(select(Product.id, Product.lead_time_days).where(Product.id.in_(waiting_pids))).all()
    )
    now, on = today(), on or today()
    for pid, lines in groupby(waiting, key=lambda w: w.product_id):
        rows = stock.get(pid, [])
        free = sum(max(r.available, 0) for r in rows)
        plan, j, covered, last = expected.get(pid, []), 0, 0, None
        fallback = now + dt.timedelta(days=int(lead.get(pid) or 0))
        demand = 0
        for ln in lines:
            back = ln.backordered
            if free > 0:
                give = min(back, free)
                need = give
                for row in _by_most_available(rows):
                    if need <= 0 or row.available <= 0:
                        break
                    take = min(need, row.available)
                    row.allocated += take
                    result.allocations.append({"line_id": ln.id, "order_id": ln.order_id, "number": ln.number,
                                               "sku": ln.sku, "warehouse_id": row.warehouse_id, "product_id": pid,
                                               "quantity": take})  # fmt: skip
                    need -= take
                free -= give
                back -= give
            promised = None
            if back > 0:
                demand += back
                while covered < demand and j < len(plan):
                    last, outstanding = plan[j]
                    covered += outstanding
                    j += 1
                # never before a line ahead of it: past the expected receipts, the lead time or the last of them
                promised = max(last, now) if covered >= demand else max(fallback, last or fallback)
            if (back, promised) != (ln.backordered, ln.promised_on):
                result.lines[ln.id] = (back, promised)
    _write_settled(result, who, on)
    return result


# Writing what `_settle` decided: on PostgreSQL one statement each, whatever the number of rows, with the rows passed
# as arrays (`unnest`): a thousand rows cost one round trip and a short statement, not a thousand of either (a
# multi-row VALUES of thousands of parameters spends longer being parsed by the driver than being run). On SQLite
# (in-process, no round trips) the plain executemany / multi-row VALUES forms.

_PG_MOVES = text(
    "INSERT INTO hq_stock_moves (warehouse_id, product_id, kind, on_hand_delta, allocated_delta, moved_on, order_id,"
    " created_by, created_at)"
    " SELECT v.w, v.p, 'allocation', 0, v.q, :on, v.o, :who, :at"
    " FROM unnest(CAST(:w AS integer[]), CAST(:p AS integer[]), CAST(:q AS integer[]), CAST(:o AS integer[]))"
    " AS v(w, p, q, o)"
)
_PG_ALLOCATIONS = text(
    "INSERT INTO stock_allocations (order_line_id, warehouse_id, quantity)"
    " SELECT v.l, v.w, v.q FROM unnest(CAST(:l AS integer[]), CAST(:w AS integer[]), CAST(:q AS integer[]))"
    " AS v(l, w, q)"
    " ON CONFLICT (order_line_id, warehouse_id) DO UPDATE SET quantity = stock_allocations.quantity + EXCLUDED.quantity"
)
_PG_LINES = text(
    "UPDATE order_lines SET backordered = v.b, promised_on = v.p"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:b AS integer[]), CAST(:p AS date[])) AS v(id, b, p)"
    " WHERE order_lines.id = v.id"
)


def _write_settled(result: Settled, who: str, on: dt.date) -> None:
    allocations = result.allocations
    if allocations and _dialect() == "postgresql":
        column = lambda key: [a[key] for a in allocations]  # noqa: E731
        db.session.execute(_PG_MOVES, {"w": column("warehouse_id"), "p": column("product_id"),
                                       "q": column("quantity"), "o": column("order_id"), "on": on, "who": who,
                                       "at": utcnow()})  # fmt: skip
        db.session.execute(_PG_ALLOCATIONS, {"l": column("line_id"), "w": column("warehouse_id"),
                                             "q": column("quantity")})  # fmt: skip
    elif allocations:
        db.session.execute(
            HqStockMove.__table__.insert(),
            [{"warehouse_id": a["warehouse_id"], "product_id": a["product_id"], "kind": "allocation",
              "on_hand_delta": 0, "allocated_delta": a["quantity"], "moved_on": on, "order_id": a["order_id"],
              "shipment_id": None, "note": None, "created_by": who} for a in allocations],
        )  # fmt: skip
        table = StockAllocation.__table__
        rows = [{"order_line_id": a["line_id"], "warehouse_id": a["warehouse_id"], "quantity": a["quantity"]}
                for a in allocations]  # fmt: skip
        for start in range(0, len(rows), CHUNK):
            stmt = _insert(table).values(rows[start : start + CHUNK])
            stmt = stmt.on_conflict_do_update(
                index_elements=["order_line_id", "warehouse_id"],
                set_={"quantity": table.c.quantity + stmt.excluded.quantity},
            )
            db.session.execute(stmt)
    for a in allocations:  # what this session holds of them is stale now
        held = db.session.identity_map.get(identity_key(StockAllocation, (a["line_id"], a["warehouse_id"])))
        if held is not None:
            db.session.expire(held)
    if result.lines:
        _write_lines(result.lines)


def _write_lines(lines: dict[int, tuple[int, dt.date | None]]) -> None:
    """backordered and promised_on of many lines in one statement; the session's copies follow."""
    ordered = sorted(lines.items())
    if _dialect() == "postgresql":
        db.session.execute(_PG_LINES, {"ids": [i for i, _v in ordered], "b": [b for _i, (b, _p) in ordered],
                                       "p": [p.isoformat() if p else None for _i, (_b, p) in ordered]})  # fmt: skip
    else:
        table = OrderLine.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("line_id"))
            .values(backordered=bindparam("new_backordered"), promised_on=bindparam("new_promised_on"))
        )
        db.session.execute(stmt, [{"line_id": i, "new_backordered": b, "new_promised_on": p} for i, (b, p) in ordered])
    for line_id, (back, promised) in lines.items():
        line = db.session.identity_map.get(identity_key(OrderLine, line_id))
        if line is not None:
            set_committed_value(line, "backordered", back)
            set_committed_value(line, "promised_on", promised)


def replan(product_ids, actor=None) -> Settled:
    """Lock these SKUs' stock rows, hand out what is available to their queues and plan the promised dates again:
    after anything that changes a queue, the expected receipts or the stock of these SKUs."""
    ids = sorted({p for p in product_ids if p is not None})
    stock = _lock_products(ids)
    return _settle(stock, ids, actor_name(actor), today())


# ---------------------------------------------------------------- receipts and adjustments


def receive(actor, warehouse: Warehouse, product: Product, quantity: int, on: dt.date | None = None,
            note: str | None = None) -> HqStockMove:  # fmt: skip
    """Goods arrive in an HQ warehouse (from the factory or a supplier): they fill the earliest open expected
    receipts of the warehouse and SKU, and go to the SKU's waiting backorders in queue order."""
    quantity = _quantity(quantity, "quantity")
    _stock_product(product)
    if not warehouse.active:
        raise Invalid(fields={"warehouse": [_("Warehouse %(code)s is closed.", code=warehouse.code)]})
    on = on or today()
    if on > today():
        raise Invalid(fields={"received_on": [_("Not in the future.")]})
    _ensure_rows([(warehouse.id, product.id)])
    stock = _lock_products([product.id])
    row = next(r for r in stock[product.id] if r.warehouse_id == warehouse.id)
    before = row.on_hand
    who = actor_name(actor)
    move = _move(row, "receipt", quantity, 0, who, on=on, note=(note or "").strip() or None)
    filled = _fill_expected(warehouse, product, quantity)
    settled = _settle(stock, [product.id], who, on)
    after = {"on_hand": row.on_hand, "received_on": on.isoformat(), "quantity": quantity}
    if filled:
        after["expected"] = filled
    if settled.allocations:
        after["allocated"] = settled.by_order()
    record(actor, "stock.receive", "hq_stock", f"{warehouse.code}/{product.sku}", before={"on_hand": before},
           after=after)  # fmt: skip
    db.session.flush()
    return move


def take_back(actor, warehouse: Warehouse, product: Product, quantity: int, *, on: dt.date, return_id: int,
              note: str | None = None) -> HqStockMove:  # fmt: skip
    """Goods a dealer returned, accepted into an HQ warehouse (§13): a `return` move, then the SKU's waiting
    backorders are served in queue order, as after any receipt (no expected receipt is filled: they were not
    expected from the factory)."""
    quantity = _quantity(quantity, "accepted")
    _stock_product(product)
    _ensure_rows([(warehouse.id, product.id)])
    stock = _lock_products([product.id])
    row = next(r for r in stock[product.id] if r.warehouse_id == warehouse.id)
    who = actor_name(actor)
    move = _move(row, "return", quantity, 0, who, on=on, note=note)
    move.return_id = return_id
    _settle(stock, [product.id], who, on)
    db.session.flush()
    return move


def _fill_expected(warehouse: Warehouse, product: Product, quantity: int) -> dict[str, int]:
    """A receipt counts against the open expected receipts of its warehouse and SKU, earliest first; answers
    expected receipt id → pieces counted. The caller holds the SKU's HqStock rows."""
    rows = (
        db.session.execute(
            select(ExpectedReceipt)
            .where(ExpectedReceipt.warehouse_id == warehouse.id, ExpectedReceipt.product_id == product.id,
                   ExpectedReceipt.status == "open")
            .order_by(ExpectedReceipt.expected_on, ExpectedReceipt.id)
            .with_for_update(of=ExpectedReceipt)
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )  # fmt: skip
    filled = {}
    for expected in rows:
        if quantity <= 0:
            break
        take = min(quantity, expected.quantity - expected.received)
        expected.received += take
        if expected.received >= expected.quantity:
            expected.status = "received"
        filled[str(expected.id)] = take
        quantity -= take
    return filled


def adjust(actor, warehouse: Warehouse, product: Product, delta: int, reason: str,
           on: dt.date | None = None) -> HqStockMove:  # fmt: skip
    """A count correction (signed); on hand never falls below what is allocated. Pieces found go to the SKU's
    waiting backorders."""
    delta = _quantity(delta, "quantity", signed=True)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(fields={"reason": [_("Say why the count is corrected.")]})
    _stock_product(product)
    if delta > 0:
        _ensure_rows([(warehouse.id, product.id)])
    stock = _lock_products([product.id])
    row = next((r for r in stock.get(product.id, []) if r.warehouse_id == warehouse.id), None)
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
    who = actor_name(actor)
    move = _move(row, "adjustment", delta, 0, who, on=on, note=reason)
    after = {"on_hand": row.on_hand, "delta": delta, "reason": reason}
    if delta > 0:
        settled = _settle(stock, [product.id], who, on)
        if settled.allocations:
            after["allocated"] = settled.by_order()
    record(actor, "stock.adjust", "hq_stock", f"{warehouse.code}/{product.sku}", before={"on_hand": before},
           after=after)  # fmt: skip
    db.session.flush()
    return move


# ---------------------------------------------------------------- expected receipts


def _resolve(warehouse, product) -> tuple[Warehouse | None, Product | None]:
    if isinstance(warehouse, str):
        warehouse = warehouse_by_code(warehouse)
    if isinstance(product, str):
        product = db.session.execute(select(Product).where(Product.sku == product.strip())).scalar()
    return warehouse, product


def expect(actor, warehouse: Warehouse | str | None, product: Product | str | None, quantity, expected_on,
           note: str | None = None) -> ExpectedReceipt:  # fmt: skip
    """HQ expects `quantity` of a stock SKU in a warehouse on a date. Every problem is reported at once, by field
    (warehouse_code, sku, quantity, expected_on, note); nothing is written then. The SKU's promised dates follow."""
    given_warehouse, given_sku = warehouse, product
    warehouse, product = _resolve(warehouse, product)
    errors: dict[str, list[str]] = {}
    if warehouse is None:
        errors["warehouse_code"] = [_("Unknown warehouse %(code)s.", code=given_warehouse or "")]
    elif not warehouse.active:
        errors["warehouse_code"] = [_("Warehouse %(code)s is closed.", code=warehouse.code)]
    if product is None:
        errors["sku"] = [_("Unknown SKU %(sku)s.", sku=given_sku or "")]
    elif product.build_to_order:
        errors["sku"] = [_("%(sku)s is built to order; HQ holds no stock of it.", sku=product.sku)]
    try:
        quantity = _quantity(quantity, "quantity")
    except Invalid as exc:
        errors.update(exc.fields)
    if not isinstance(expected_on, dt.date) or isinstance(expected_on, dt.datetime):
        errors["expected_on"] = [_("A date as YYYY-MM-DD.")]
    elif expected_on < today():
        errors["expected_on"] = [_("Today or later.")]
    note = (note or "").strip() or None
    if note is not None and len(note) > 500:
        errors["note"] = [_("At most %(n)s characters.", n=500)]
    if errors:
        raise Invalid(fields=errors)
    _ensure_rows([(warehouse.id, product.id)])
    stock = _lock_products([product.id])
    who = actor_name(actor)
    expected = ExpectedReceipt(warehouse_id=warehouse.id, product_id=product.id, quantity=quantity, received=0,
                               expected_on=expected_on, status="open", note=note, created_by=who)  # fmt: skip
    db.session.add(expected)
    db.session.flush()
    record(actor, "stock.expect", "expected_receipt", str(expected.id),
           after={"warehouse": warehouse.code, "sku": product.sku, "quantity": quantity,
                  "expected_on": expected_on.isoformat(), "note": note})  # fmt: skip
    _settle(stock, [product.id], who)
    db.session.flush()
    return expected


def cancel_expected(actor, expected: ExpectedReceipt, reason: str | None = None) -> ExpectedReceipt:
    """HQ no longer expects what is outstanding of an expected receipt (409 `not_open` once received or cancelled);
    the SKU's promised dates follow."""
    stock = _lock_products([expected.product_id])
    expected = db.session.execute(
        select(ExpectedReceipt)
        .where(ExpectedReceipt.id == expected.id)
        .with_for_update(of=ExpectedReceipt)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if expected.status != "open":
        raise Conflict(_("This expected receipt is no longer open (%(status)s).",
                         status=expected_status_label(expected.status)), code="not_open")  # fmt: skip
    expected.status = "cancelled"
    reason = (reason or "").strip() or None
    outstanding = expected.quantity - expected.received
    record(actor, "stock.expect_cancel", "expected_receipt", str(expected.id), before={"status": "open"},
           after={"status": "cancelled", "outstanding": outstanding, "reason": reason})  # fmt: skip
    _settle(stock, [expected.product_id], actor_name(actor))
    db.session.flush()
    return expected


EXPECTED_STATUS_LABELS = {
    "open": lazy_pgettext("expected receipt", "Open"),
    "received": lazy_pgettext("expected receipt", "Received"),
    "cancelled": lazy_pgettext("expected receipt", "Cancelled"),
}


def expected_status_label(status: str) -> str:
    return str(EXPECTED_STATUS_LABELS.get(status, status))


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


def held_by_line(line_ids) -> dict[int, int]:
    """order line id → pieces HQ holds allocated to it now, for many lines in one query."""
    ids = sorted({i for i in line_ids if i is not None})
    if not ids:
        return {}
    stmt = (
        select(StockAllocation.order_line_id, func.sum(StockAllocation.quantity))
        .where(StockAllocation.order_line_id.in_(ids))
        .group_by(StockAllocation.order_line_id)
    )
    return {line_id: int(n or 0) for line_id, n in db.session.execute(stmt)}


def allocate_order(actor, order: Order) -> dict[str, int]:
    """A just-approved order's stock lines join their SKUs' queues for what they still need, and get what is
    available (earlier waiting lines first); answers the backorder per SKU (0 when none). A seller order (§16)
    takes nothing of HQ's: its distributor ships from its own stock."""
    if order.seller_id is not None:
        return {}
    lines = _stock_lines(order)
    if not lines:
        return {}
    pids = [ln.product_id for ln in lines]
    stock = _lock_products(pids)
    held = held_by_line(ln.id for ln in lines)
    for line in _lock_lines(OrderLine.id.in_([ln.id for ln in lines])):
        line.backordered = max(0, line.quantity - held.get(line.id, 0))  # approved once only: never twice
    who, on = actor_name(actor), today()
    settled = _settle(stock, pids, who, on)
    mine = {ln.id for ln in lines}
    allocated, backorder, others = {}, {}, defaultdict(int)
    for line in lines:
        allocated[line.sku] = line.quantity - line.backordered
        backorder[line.sku] = line.backordered
    for a in settled.allocations:
        if a["line_id"] not in mine:
            others[a["number"]] += a["quantity"]
    after = {"allocated": allocated, "backorder": {k: v for k, v in backorder.items() if v}}
    if others:
        after["waiting_orders"] = dict(sorted(others.items()))  # earlier backorders served first
    record(actor, "stock.allocate", "order", order.number, after=after, dealer_id=order.dealer_id)
    db.session.flush()
    return backorder


def _given_back(actor, order: Order, stock, pids, who: str, released: dict[str, int]) -> int:
    """What an order gave back goes to the SKUs' queues (dates replanned), audited as `stock.release` with whom it
    went to; answers the quantity released."""
    settled = _settle(stock, pids, who, today())
    if released:
        after = {"released": released}
        if settled.allocations:
            after["allocated"] = settled.by_order()
        record(actor, "stock.release", "order", order.number, after=after, dealer_id=order.dealer_id)
    db.session.flush()
    return sum(released.values())


def release_order(actor, order: Order) -> int:
    """A cancelled order waits no more and gives back what it holds, which goes to the SKUs' queues; answers the
    quantity released (none for a seller order, §16: it holds nothing of HQ's)."""
    if order.seller_id is not None:
        return 0
    lines = _stock_lines(order)
    if not lines:
        return 0
    pids = [ln.product_id for ln in lines]
    stock = _lock_products(pids)  # stock rows first, then the lines and allocations: one lock order
    for line in _lock_lines(OrderLine.id.in_([ln.id for ln in lines])):
        line.backordered, line.promised_on = 0, None
    held = {k: a for k, a in _allocations(ln.id for ln in lines).items() if a.quantity > 0}
    rows = {(r.warehouse_id, r.product_id): r for rs in stock.values() for r in rs}
    product_of = {ln.id: ln for ln in lines}
    who, released = actor_name(actor), {}
    for (line_id, warehouse_id), alloc in sorted(held.items()):
        line = product_of[line_id]
        _move(rows[(warehouse_id, line.product_id)], "release", 0, -alloc.quantity, who, order_id=order.id)
        released[line.sku] = released.get(line.sku, 0) + alloc.quantity
        alloc.quantity = 0
    return _given_back(actor, order, stock, pids, who, released)


def follow_amendment(actor, order: Order, removed=(), was_approved: bool = False) -> int:
    """An amended order's stock lines (receives `portal.orders.events.order_amended`, before nothing is shipped):
    while the order is approved each line holds at most its new quantity — what it held beyond goes back to the
    SKU's queue — and waits for the rest (an increase joins the queue at the order's place); removed lines, and
    every line of an order that went back to credit review, hold and wait for nothing. Answers the quantity
    released. A seller order (§16) never holds nor waits for HQ stock: nothing to follow."""
    if order.seller_id is not None:
        return 0
    gone = [ln for ln in removed if not ln.product.build_to_order]
    lines = list({ln.id: ln for ln in _stock_lines(order) + gone}.values())  # removed lines are still on the order
    if not lines:
        return 0
    holding = order.status in WAITING_STATUSES
    pids = [ln.product_id for ln in lines]
    stock = _lock_products(pids)  # stock rows first, then the lines and allocations: one lock order
    locked = {ln.id: ln for ln in _lock_lines(OrderLine.id.in_([ln.id for ln in lines]))}
    allocations = _allocations(locked)
    rows = {(r.warehouse_id, r.product_id): r for rs in stock.values() for r in rs}
    gone_ids = {ln.id for ln in gone}
    who, released = actor_name(actor), {}
    for line_id, line in sorted(locked.items()):
        target = line.quantity if holding and line_id not in gone_ids else 0
        mine = sorted(((w, a) for (held_line, w), a in allocations.items() if held_line == line_id and a.quantity > 0),
                      key=lambda wa: (wa[1].quantity, wa[0]))  # fmt: skip
        held = sum(a.quantity for _w, a in mine)
        excess = held - target
        for warehouse_id, alloc in mine:  # give back from the smallest holdings first
            if excess <= 0:
                break
            give = min(excess, alloc.quantity)
            _move(rows[(warehouse_id, line.product_id)], "release", 0, -give, who, order_id=order.id)
            alloc.quantity -= give
            excess -= give
            released[line.sku] = released.get(line.sku, 0) + give
        line.backordered = max(0, target - min(held, target))
        if not line.backordered:
            line.promised_on = None
    if gone_ids:  # the removed lines are deleted after this: their (empty) allocation rows go first
        db.session.flush()
        for (line_id, _w), alloc in allocations.items():
            if line_id in gone_ids:
                db.session.delete(alloc)
    return _given_back(actor, order, stock, pids, who, released)


# ---------------------------------------------------------------- shipping: consume


def _shipped_by_line(line_ids) -> dict[int, int]:
    from portal.shipping.models import ShipmentLine

    ids = sorted(line_ids)
    if not ids:
        return {}
    stmt = (
        select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity))
        .where(ShipmentLine.order_line_id.in_(ids))
        .group_by(ShipmentLine.order_line_id)
    )
    return {line_id: int(n or 0) for line_id, n in db.session.execute(stmt)}


def consume_shipment(actor, order: Order, shipment, quantities_by_line: dict[int, int]) -> None:
    """Take the shipped quantities of stock lines out of HQ stock: the line's allocations first, then any
    available stock (which comes off the line's backorder). Refuses (422) when HQ does not hold enough; the caller's
    transaction then writes nothing."""
    lines = {ln.id: ln for ln in _stock_lines(order) if quantities_by_line.get(ln.id)}
    if not lines:
        return
    stock = _lock_products(ln.product_id for ln in lines.values())
    rows = {(r.warehouse_id, r.product_id): r for rs in stock.values() for r in rs}
    lines = {ln.id: ln for ln in _lock_lines(OrderLine.id.in_(list(lines)))}
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
    # a line never waits for more than it has left to ship beyond what it holds (quantity = held + backordered +
    # shipped): what it took from free stock comes off its backorder; shipped in full, it waits for nothing
    db.session.flush()
    shipped = _shipped_by_line(lines)
    changed = set()
    for line_id, line in lines.items():
        holds = sum(a.quantity for (held_line, _w), a in held.items() if held_line == line_id)
        waits = max(0, min(line.backordered, line.quantity - shipped.get(line_id, 0) - holds))
        if waits != line.backordered:
            line.backordered = waits
            if not waits:
                line.promised_on = None
            changed.add(line.product_id)
    if changed:
        _settle(stock, changed, who, on)
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
