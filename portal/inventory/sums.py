"""The monthly sums (`SellThroughMonthly`, `ChannelMonthly`), kept exact in the transaction that writes the rows.

Every writer of `SellThroughLine` rows calls `add_to_monthly` with the same rows in the same transaction: the sums
are incremented with one INSERT … ON CONFLICT DO UPDATE per (dealer, product, month), so two transactions adding to
the same month add up (the row lock of the upsert orders them) and a late line lands in its own month.

The channel roll-up (`ChannelMonthly`, per dealer, category and month) is incremented the same way by
`add_to_channel`: sell-through through `add_to_monthly`, sell-in by the shipping service when a shipment is
created, the other stock movements (receipts, adjustments, returns, transfers) where they are written.

What each measure of a dealer's row means (§16 adds the level; each row is one dealer's, whatever its level):

- `sell_in_qty` / `sell_in_amount`: the goods HQ shipped to the dealer, by ship date, gross as invoiced, less the
  sell-in taken back by returns and delivery discrepancies (`SellInCorrection`, negative). Only dealers that buy
  from HQ have any: summed over the channel it is HQ's sell-in, each piece once.
- `transfer_in_qty` / `transfer_in_amount` (§16): the goods a sub-dealer's distributor shipped to it out of its own
  stock (a transfer), by ship date, gross as invoiced by the distributor. Only sub-dealers have any.
- `sell_through_qty` / `sell_through_amount`: sales to end customers by the dealer itself, by sale date.
- `moved`: every stock movement other than a sale, signed, by movement date: receipts (+), adjustments (±), goods
  shipped back to HQ (`return`, −) and, for a distributor, goods transferred to its sub-dealers (`transfer`, −, on
  the ship date). A transfer is thus the sub-dealer's transfer in (and its receipt its `moved` +, on the receipt
  day) and goods out of the distributor; never the distributor's sell-through, nor anybody's sell-in.

Stock on hand at a month's end = Σ over the months up to it of (`moved` − `sell_through_qty`): for every dealer,
receipts − sales − transfers out − returns ± adjustments. A product moving to another
category moves its history with it (`recategorise`, in the product update's transaction). `channel_drift` recomputes
the roll-up from the rows and answers every difference (the test suite checks it after every test);
`rebuild_channel` writes it from scratch (migrations, bulk loads).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import Date, case, cast, delete, func, literal, select, type_coerce, union_all
from sqlalchemy.dialects import postgresql, sqlite

from portal.catalog.models import Product
from portal.extensions import db
from portal.inventory.models import ChannelMonthly, DealerStockMove, SellThroughLine, SellThroughMonthly
from portal.platform.money import ZERO, money, sql_sum
from portal.returns.models import SellInCorrection
from portal.shipping.models import Shipment, ShipmentLine

CHANNEL_MEASURES = ("sell_in_qty", "sell_in_amount", "sell_through_qty", "sell_through_amount", "moved",
                    "transfer_in_qty", "transfer_in_amount")


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_to_monthly(lines) -> int:
    """Add sell-through lines (objects or dicts with dealer_id, product_id, sold_on, quantity, amount, below_floor,
    floor_price, unit_price) to the monthly sums; returns how many (dealer, product, month) rows were touched."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, ZERO, 0, 0, ZERO])
    for line in lines:
        get = line.get if isinstance(line, dict) else lambda k, _l=line: getattr(_l, k)
        key = (get("dealer_id"), get("product_id"), month_of(get("sold_on")))
        acc = sums[key]
        quantity, amount = int(get("quantity")), money(get("amount"))
        acc[0] += 1
        acc[1] += quantity
        acc[2] += amount
        if get("below_floor"):
            acc[3] += 1
            acc[4] += quantity
            acc[5] += money((Decimal(get("floor_price")) - Decimal(get("unit_price"))) * quantity)
    if not sums:
        return 0
    rows = [
        {
            "dealer_id": d,
            "product_id": p,
            "month": m,
            "lines": a[0],
            "quantity": a[1],
            "amount": a[2],
            "below_floor_lines": a[3],
            "below_floor_quantity": a[4],
            "below_floor_gap": a[5],
        }  # fmt: skip
        for (d, p, m), a in sorted(sums.items())  # a fixed order: concurrent writers lock rows in the same order
    ]
    add_to_channel((d, p, m, {"sell_through_qty": a[1], "sell_through_amount": a[2]}) for (d, p, m), a in sums.items())
    stmt = _insert(SellThroughMonthly)  # executed with the rows as parameters: compiled once, cached (a multi-row
    table = SellThroughMonthly.__table__  # VALUES would be compiled again for every batch size)
    counters = ("lines", "quantity", "amount", "below_floor_lines", "below_floor_quantity", "below_floor_gap")
    stmt = stmt.on_conflict_do_update(
        index_elements=["dealer_id", "product_id", "month"],
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    db.session.execute(stmt, rows)
    return len(rows)


def _insert(model):
    make = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return make(model)


def add_to_channel(entries) -> int:
    """Add (dealer_id, product_id, day, {measure: value}) entries to the channel roll-up (each day counts in its
    month, each product in its category); returns how many (dealer, category, month) rows were touched."""
    entries = list(entries)
    if not entries:
        return 0
    product_ids = sorted({e[1] for e in entries})
    category = dict(db.session.execute(select(Product.id, Product.category).where(Product.id.in_(product_ids))).all())
    return _add_by_category((d, category[p], month_of(day), values) for d, p, day, values in entries)


def add_moves_to_channel(moves) -> int:
    """Stock movements other than sales (receipts, adjustments, returns, transfers: objects or dicts) into the
    roll-up's `moved`."""
    entries = []
    for mv in moves:
        get = mv.get if isinstance(mv, dict) else lambda k, _m=mv: getattr(_m, k)
        if get("kind") != "sale":
            entries.append((get("dealer_id"), get("product_id"), get("moved_on"), {"moved": int(get("quantity"))}))
    return add_to_channel(entries)


def add_shipment_to_channel(shipment) -> int:
    """A new shipment's lines into the roll-up's sell-in (gross, by ship date)."""
    return add_to_channel(
        (
            shipment.dealer_id,
            line.product_id,
            shipment.shipped_on,
            {"sell_in_qty": line.quantity, "sell_in_amount": line.gross},
        )  # fmt: skip
        for line in shipment.lines
    )


def add_transfer_to_channel(shipment, moves) -> int:
    """A distributor's transfer (§16) in one upsert: the sub-dealer's transfer in (the shipment's lines, gross, by
    ship date) and the distributor's goods out (its `transfer` movements, into `moved`)."""
    entries = [
        (shipment.dealer_id, line.product_id, shipment.shipped_on,
         {"transfer_in_qty": line.quantity, "transfer_in_amount": line.gross})
        for line in shipment.lines
    ]  # fmt: skip
    entries += [(mv.dealer_id, mv.product_id, mv.moved_on, {"moved": int(mv.quantity)}) for mv in moves]
    return add_to_channel(entries)


# ---------------------------------------------------------------- recomputing from the rows


def _month_sql(col):
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("month", col), Date)
    return type_coerce(func.date(col, "start of month"), Date)


def _channel_sources(product_ids=None):
    """The roll-up's rows recomputed from the underlying rows (optionally for some products only)."""
    zero = literal(0)
    mv, s, sl, sh, c = DealerStockMove, SellThroughLine, ShipmentLine, Shipment, SellInCorrection

    def cols(dealer_id, month, si_q=zero, si_a=zero, st_q=zero, st_a=zero, moved=zero, tr_q=zero, tr_a=zero):
        return [dealer_id.label("dealer_id"), Product.category.label("category"), month.label("month"),
                si_q.label("sell_in_qty"), si_a.label("sell_in_amount"), st_q.label("sell_through_qty"),
                st_a.label("sell_through_amount"), moved.label("moved"), tr_q.label("transfer_in_qty"),
                tr_a.label("transfer_in_amount")]  # fmt: skip

    by_hq = sh.seller_id.is_(None)
    parts = [
        # HQ's shipments are sell-in, a distributor's are its sub-dealer's transfers in (§16)
        select(*cols(sh.dealer_id, _month_sql(sh.shipped_on), si_q=case((by_hq, sl.quantity), else_=zero),
                     si_a=case((by_hq, sl.gross), else_=zero), tr_q=case((by_hq, zero), else_=sl.quantity),
                     tr_a=case((by_hq, zero), else_=sl.gross)))  # fmt: skip
        .select_from(sl)
        .join(sh, sh.id == sl.shipment_id)
        .join(Product, Product.id == sl.product_id),
        # sell-in taken back by returns and delivery discrepancies (negative), in the month of the correction
        select(*cols(c.dealer_id, _month_sql(c.corrected_on), si_q=c.quantity, si_a=c.amount))
        .select_from(c)
        .join(Product, Product.id == c.product_id),
        select(*cols(s.dealer_id, _month_sql(s.sold_on), st_q=s.quantity, st_a=s.amount))
        .select_from(s)
        .join(Product, Product.id == s.product_id),
        select(*cols(mv.dealer_id, _month_sql(mv.moved_on), moved=mv.quantity))
        .select_from(mv)
        .join(Product, Product.id == mv.product_id)
        .where(mv.kind != "sale"),
    ]
    if product_ids is not None:
        parts = [p.where(Product.id.in_(product_ids)) for p in parts]
    u = union_all(*parts).subquery("channel_rows")
    return select(
        u.c.dealer_id,
        u.c.category,
        type_coerce(u.c.month, Date).label("month"),
        *[(sql_sum(u.c[k]) if k.endswith("amount") else func.sum(u.c[k])).label(k) for k in CHANNEL_MEASURES],
    ).group_by(u.c.dealer_id, u.c.category, u.c.month)  # fmt: skip


def rebuild_channel() -> int:
    """Write the whole roll-up again from the rows (after a bulk load, or to repair); answers the row count."""
    db.session.execute(delete(ChannelMonthly))
    src = _channel_sources().subquery("src")
    db.session.execute(
        ChannelMonthly.__table__.insert().from_select(
            ["dealer_id", "category", "month", *CHANNEL_MEASURES], select(src)
        )  # fmt: skip
    )
    return db.session.execute(select(func.count()).select_from(ChannelMonthly)).scalar_one()


def channel_drift() -> list[dict]:
    """Every (dealer, category, month) where the roll-up differs from the rows (empty when exact)."""
    want: dict[tuple, tuple] = {}
    for r in db.session.execute(_channel_sources()).all():
        want[(r.dealer_id, r.category, _as_date(r.month))] = tuple(_norm(k, r._mapping[k]) for k in CHANNEL_MEASURES)
    have: dict[tuple, tuple] = {}
    for r in db.session.execute(select(ChannelMonthly)).scalars():
        have[(r.dealer_id, r.category, r.month)] = tuple(_norm(k, getattr(r, k)) for k in CHANNEL_MEASURES)
    blank = tuple(_norm(k, 0) for k in CHANNEL_MEASURES)
    out = []
    for key in sorted(set(want) | set(have), key=str):
        w, h = want.get(key, blank), have.get(key, blank)
        if w != h:
            out.append({"dealer_id": key[0], "category": key[1], "month": key[2], "expected": w, "stored": h})
    return out


def _norm(name: str, value):
    return money(value or 0) if name.endswith("amount") else int(value or 0)


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def recategorise(product_id: int, old: str, new: str) -> None:
    """A product moved from category `old` to `new`: move its whole history in the roll-up with it."""
    if old == new:
        return
    rows = db.session.execute(_channel_sources([product_id])).all()  # already grouped under the new category
    entries_out, entries_in = [], []
    for r in rows:
        values = {k: r._mapping[k] or 0 for k in CHANNEL_MEASURES}
        entries_out.append((r.dealer_id, old, _as_date(r.month), {k: -v for k, v in values.items()}))
        entries_in.append((r.dealer_id, new, _as_date(r.month), values))
    _add_by_category(entries_out + entries_in)


def _add_by_category(entries) -> int:
    """(dealer_id, category, month, {measure: value}) entries summed per row and added with one upsert each."""
    sums: dict[tuple, dict] = {}
    for dealer_id, category, month, values in entries:
        acc = sums.setdefault((dealer_id, category, month), dict.fromkeys(CHANNEL_MEASURES, 0))
        for k, v in values.items():
            acc[k] += v
    if not sums:
        return 0
    rows = [
        {"dealer_id": d, "category": c, "month": m, **{k: _norm(k, v) for k, v in acc.items()}}
        for (d, c, m), acc in sorted(sums.items())  # a fixed order: concurrent writers lock rows in the same order
    ]
    stmt = _insert(ChannelMonthly)
    table = ChannelMonthly.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["dealer_id", "category", "month"],
        set_={name: table.c[name] + stmt.excluded[name] for name in CHANNEL_MEASURES},
    )
    db.session.execute(stmt, rows)
    return len(rows)
