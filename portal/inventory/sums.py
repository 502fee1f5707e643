"""The monthly sums of sell-through (`SellThroughMonthly`), kept exact in the transaction that writes the lines.

Every writer of `SellThroughLine` rows calls `add_to_monthly` with the same rows in the same transaction: the sums
are incremented with one INSERT … ON CONFLICT DO UPDATE per (dealer, product, month), so two transactions adding to
the same month add up (the row lock of the upsert orders them) and a late line lands in its own month.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.inventory.models import SellThroughMonthly
from portal.platform.money import ZERO, money


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
        {"dealer_id": d, "product_id": p, "month": m, "lines": a[0], "quantity": a[1], "amount": a[2],
         "below_floor_lines": a[3], "below_floor_quantity": a[4], "below_floor_gap": a[5]}  # fmt: skip
        for (d, p, m), a in sorted(sums.items())  # a fixed order: concurrent writers lock rows in the same order
    ]
    dialect = db.session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make(SellThroughMonthly)  # executed with the rows as parameters: compiled once, cached (a multi-row
    table = SellThroughMonthly.__table__  # VALUES would be compiled again for every batch size)
    counters = ("lines", "quantity", "amount", "below_floor_lines", "below_floor_quantity", "below_floor_gap")
    stmt = stmt.on_conflict_do_update(
        index_elements=["dealer_id", "product_id", "month"],
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    db.session.execute(stmt, rows)
    return len(rows)
