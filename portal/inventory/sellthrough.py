"""Sell-through (PRODUCT.md §7): the dealer's sales to end customers, and its stock adjustments.

`record` checks a whole batch of lines (portal form, API call or CSV import) and writes all of them or none: every
bad line is reported (`Invalid(fields={"lines.<i>.<field>": [...]})`, the shape the order lines use). Selling
more than the dealer holds is refused: its stock may never go negative on any day on or after the day of a sale —
a back-dated sale may not make a later day negative — counting the other lines of the batch. A VIN must have been
received by the dealer, on or before the day of the sale, and not sold (nor adjusted out, returned or transferred to a
sub-dealer, §16) since; a sub-dealer's VINs are those it received from its distributor.

While checking and writing, the dealer's row is locked (`SELECT … FOR NO KEY UPDATE` on PostgreSQL; SQLite
serialises writers with BEGIN IMMEDIATE), so two sales of the last unit cannot both pass. Each line gets its
`sale` movement, the monthly sums are added in the same transaction, and the batch leaves one audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import case, func, insert, select

from portal.audit.services import record as audit
from portal.catalog.models import Product
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory import dealer_stock
from portal.inventory.models import CUSTOMER_TYPES, DealerStockMove, SellThroughLine
from portal.inventory.sums import add_moves_to_channel, add_to_monthly
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import money
from portal.platform.timeutil import today, utcnow

MAX_QUANTITY = 100_000
MAX_LINES = 50_000
FIELDS = ("sold_on", "sku", "serial", "quantity", "unit_price", "city", "customer_type")


def actor_name(actor) -> str:
    return getattr(actor, "username", None) or "system"


def lock_dealer(dealer: Dealer) -> None:
    """The per-dealer mutex of its stock: the dealer row, locked for the rest of the transaction (FOR NO KEY UPDATE:
    inserts referencing the dealer do not wait). Everything that takes goods out of a dealer's stock holds it while
    it checks what is there: sales, adjustments, returns shipped back and a distributor's transfers (§16)."""
    stmt = select(Dealer.id).where(Dealer.id == dealer.id).with_for_update(key_share=True)
    db.session.execute(stmt).scalar_one()


# ---------------------------------------------------------------- checking


class _Errors:
    def __init__(self):
        self.by_line: dict[int, dict[str, list[str]]] = {}

    def add(self, index: int, field: str, message: str) -> None:
        self.by_line.setdefault(index, {}).setdefault(field, []).append(message)

    def bad(self, index: int) -> bool:
        return index in self.by_line

    def fields(self) -> dict[str, list[str]]:
        return {f"lines.{i}.{f}": msgs for i, per in sorted(self.by_line.items()) for f, msgs in per.items()}


def _products(skus) -> dict[str, Product]:
    skus = sorted({s for s in skus if s})
    found: dict[str, Product] = {}
    for start in range(0, len(skus), 500):
        stmt = select(Product).where(Product.sku.in_(skus[start : start + 500]))
        found.update({p.sku: p for p in db.session.execute(stmt).scalars()})
    return found


def serial_state(dealer_id: int, serials) -> dict[str, dict]:
    """{serial: {product_id, held, received_on}} for the dealer's VINs among `serials`: `held` > 0 while the VIN is on
    hand (its receipt counted, a sale, a transfer to a sub-dealer or a return taking it out); `received_on` its first
    receipt — a sub-dealer's receipt of a distributor's transfer (§16) is a receipt like HQ's."""
    serials = sorted({s for s in serials if s})
    out: dict[str, dict] = {}
    received = func.min(case((DealerStockMove.kind == "receipt", DealerStockMove.moved_on)))
    for start in range(0, len(serials), 500):
        stmt = (
            select(
                DealerStockMove.serial,
                func.min(DealerStockMove.product_id),
                func.sum(DealerStockMove.quantity),
                received,
            )  # fmt: skip
            .where(DealerStockMove.dealer_id == dealer_id, DealerStockMove.serial.in_(serials[start : start + 500]))
            .group_by(DealerStockMove.serial)
        )
        for serial, product_id, held, received_on in db.session.execute(stmt):
            out[serial] = {"product_id": product_id, "held": int(held or 0), "received_on": received_on}
    return out


def check_basic(line: dict, index: int, errors: _Errors, products: dict[str, Product], *, first_day, now) -> None:
    """The checks of one line on its own (types, ranges, catalogue, dates)."""
    sku = line.get("sku")
    product = products.get(sku) if sku else None
    if not sku:
        errors.add(index, "sku", _("The SKU is missing."))
    elif product is None or not product.active:
        errors.add(index, "sku", _("Unknown or inactive SKU %(sku)s.", sku=sku))
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        errors.add(index, "quantity", _("A whole number from 1 to %(n)s.", n=MAX_QUANTITY))
    price = line.get("unit_price")
    if not isinstance(price, Decimal) or not price.is_finite() or price < 0 or price != money(price):
        errors.add(index, "unit_price", _("An amount of at least 0 with at most two decimals."))
    sold_on = line.get("sold_on")
    if not isinstance(sold_on, dt.date):
        errors.add(index, "sold_on", _("Date must be YYYY-MM-DD."))
    elif sold_on > now:
        errors.add(index, "sold_on", _("The date is in the future."))
    elif first_day is None:
        errors.add(index, "sold_on", _("Nothing has been received yet: there is no stock to sell."))
    elif sold_on < first_day:
        errors.add(index, "sold_on", _("Before the first receipt (%(day)s).", day=first_day.isoformat()))
    city = line.get("city")
    if city is not None and len(city) > 60:
        errors.add(index, "city", _("At most 60 characters."))
    ctype = line.get("customer_type")
    if ctype is not None and ctype not in CUSTOMER_TYPES:
        errors.add(index, "customer_type", _("One of: %(values)s.", values=", ".join(CUSTOMER_TYPES)))


def _check_serials(dealer, lines, errors: _Errors, products) -> None:
    state = serial_state(dealer.id, (ln.get("serial") for ln in lines))
    seen: dict[str, int] = {}
    for i, ln in enumerate(lines):
        serial = ln.get("serial")
        product = products.get(ln.get("sku"))
        if not serial:
            if product is not None and product.build_to_order and not errors.bad(i):
                errors.add(i, "serial", _("A unit built to order is sold by its VIN."))
            continue
        if len(serial) > 17:
            errors.add(i, "serial", _("A VIN has at most 17 characters."))
            continue
        if ln.get("quantity") != 1:
            errors.add(i, "quantity", _("A line with a VIN sells exactly one unit."))
        if serial in seen:
            errors.add(i, "serial", _("VIN %(vin)s is sold twice in this batch.", vin=serial))
            continue
        seen[serial] = i
        known = state.get(serial)
        if known is None or known["received_on"] is None:
            errors.add(i, "serial", _("VIN %(vin)s was never received by this dealer.", vin=serial))
        elif known["held"] <= 0:
            errors.add(i, "serial", _("VIN %(vin)s is sold already (or no longer in stock).", vin=serial))
        elif product is not None and known["product_id"] != product.id:
            errors.add(i, "serial", _("VIN %(vin)s is not a %(sku)s.", vin=serial, sku=product.sku))
        elif isinstance(ln.get("sold_on"), dt.date) and ln["sold_on"] < known["received_on"]:
            errors.add(i, "sold_on", _("VIN %(vin)s was received on %(day)s.", vin=serial, day=known["received_on"]))


_lowest_from = dealer_stock.lowest_from


def _check_stock(dealer, lines, errors: _Errors, products) -> None:
    """Refuse lines that would make the stock negative on their day or any later day (other lines counted).

    The batch is checked as a whole first; only when that fails are the lines taken one by one (in order) to say
    which of them do not fit."""
    by_product: dict[int, list[int]] = defaultdict(list)
    for i, ln in enumerate(lines):
        if not errors.bad(i):
            by_product[products[ln["sku"]].id].append(i)
    if not by_product:
        return
    history = dealer_stock.daily_moves(dealer.id, by_product)
    for pid, indexes in by_product.items():
        deltas: dict[dt.date, int] = defaultdict(int)
        for day, came, went in history.get(pid, []):
            deltas[day] += came - went
        trial = dict(deltas)
        for i in indexes:
            trial[lines[i]["sold_on"]] = trial.get(lines[i]["sold_on"], 0) - lines[i]["quantity"]
        if _lowest_from(trial, min(lines[i]["sold_on"] for i in indexes)) >= 0:
            continue
        for i in indexes:  # which ones do not fit: each line against the stock left by the lines before it
            day, qty = lines[i]["sold_on"], lines[i]["quantity"]
            available = max(_lowest_from(deltas, day), 0)
            if qty > available:
                errors.add(
                    i,
                    "quantity",
                    _(
                        "Only %(n)s of %(sku)s in stock on %(day)s and after.",
                        n=available,
                        sku=lines[i]["sku"],
                        day=day.isoformat(),
                    ),  # fmt: skip
                )
            else:
                deltas[day] = deltas.get(day, 0) - qty


def validate(dealer, lines: list[dict], *, now: dt.date | None = None) -> _Errors:
    """Every check of every line; the errors found (empty when the batch may be written)."""
    errors = _Errors()
    now = now or today()
    products = _products(ln.get("sku") for ln in lines)
    first_day = dealer_stock.first_receipt(dealer.id)
    for i, ln in enumerate(lines):
        check_basic(ln, i, errors, products, first_day=first_day, now=now)
    _check_serials(dealer, lines, errors, products)
    _check_stock(dealer, lines, errors, products)
    return errors


def normalise(line: dict) -> dict:
    out = {k: line.get(k) for k in FIELDS}
    for key in ("sku", "serial", "city", "customer_type"):
        if isinstance(out[key], str):
            out[key] = out[key].strip() or None
    if out["serial"]:
        out["serial"] = out["serial"].upper()
    return out


# ---------------------------------------------------------------- writing


def record(actor, dealer: Dealer, lines: list[dict], *, source: str, job_id: str | None = None,
           objects: bool = True) -> list:  # fmt: skip
    """Check the whole batch and write all of its lines, or raise Invalid with every bad line and write nothing."""
    if not lines:
        raise Invalid(fields={"lines": [_("At least one line.")]})
    if len(lines) > MAX_LINES:
        raise Invalid(fields={"lines": [_("At most %(n)s lines.", n=MAX_LINES)]})
    lines = [normalise(ln) for ln in lines]
    lock_dealer(dealer)
    errors = validate(dealer, lines)
    if errors.by_line:
        raise Invalid(_("Nothing was saved: %(n)s line(s) are not valid.", n=len(errors.by_line)),
                      fields=errors.fields())  # fmt: skip
    return write(actor, dealer, lines, source=source, job_id=job_id, objects=objects)


def write(
    actor, dealer: Dealer, lines: list[dict], *, source: str, job_id: str | None = None, objects: bool = True
) -> list:
    """Write checked lines: the sale movements, the lines linked to them, the monthly sums, one audit entry.

    Bulk INSERTs (one multi-row statement per table, ids returned in the order of the lines). Answers the lines as
    objects, or — `objects=False`, for imports and the demo — as the dicts written."""
    who = actor_name(actor)
    products = _products(ln["sku"] for ln in lines)
    now = utcnow()
    move_rows = [
        {"dealer_id": dealer.id, "product_id": products[ln["sku"]].id, "sku": ln["sku"], "serial": ln["serial"],
         "quantity": -ln["quantity"], "kind": "sale", "moved_on": ln["sold_on"], "created_by": who, "created_at": now}
        for ln in lines
    ]  # fmt: skip
    move_ids = db.session.scalars(
        insert(DealerStockMove).returning(DealerStockMove.id, sort_by_parameter_order=True), move_rows
    ).all()
    rows = []
    for ln, move_id in zip(lines, move_ids, strict=True):
        product = products[ln["sku"]]
        floor = product.min_resale_price
        price = money(ln["unit_price"])
        rows.append(
            {"dealer_id": dealer.id, "product_id": product.id, "sku": ln["sku"], "serial": ln["serial"],
             "quantity": ln["quantity"], "unit_price": price, "amount": money(price * ln["quantity"]),
             "floor_price": floor, "below_floor": floor is not None and price < floor, "sold_on": ln["sold_on"],
             "city": ln["city"], "customer_type": ln["customer_type"], "source": source, "job_id": job_id,
             "stock_move_id": move_id, "created_by": who, "created_at": now}
        )  # fmt: skip
    if objects:
        out = db.session.scalars(
            insert(SellThroughLine).returning(SellThroughLine, sort_by_parameter_order=True), rows
        ).all()
    else:
        db.session.execute(insert(SellThroughLine), rows)
        out = rows
    add_to_monthly(rows)
    audit(
        actor,
        "sell_through.record",
        "dealer",
        dealer.code,
        after={
            "lines": len(rows),
            "quantity": sum(r["quantity"] for r in rows),
            "amount": str(money(sum((r["amount"] for r in rows), Decimal(0)))),
            "from": min(r["sold_on"] for r in rows).isoformat(),
            "to": max(r["sold_on"] for r in rows).isoformat(),
            "source": source,
            **({"job_id": job_id} if job_id else {}),
        },
        dealer_id=dealer.id,
    )
    return out


# ---------------------------------------------------------------- adjustments


def adjust(actor, dealer: Dealer, sku: str, delta: int, reason: str, serial: str | None = None,
           on: dt.date | None = None) -> DealerStockMove:  # fmt: skip
    """A correction of the dealer's stock (count, damage, found goods) by its administrator; never below zero. A
    distributor's admin sees its sub-dealers' stock (§16) but corrects its own only."""
    own = getattr(actor, "dealer_id", None)
    if own is not None and own != dealer.id:
        raise Forbidden(_("Only %(dealer)s's administrator adjusts its stock.", dealer=dealer.code))
    on = on or today()
    errors: dict[str, list[str]] = {}
    product = _products([sku]).get(sku) if sku else None
    if product is None:
        errors["sku"] = [_("Unknown SKU %(sku)s.", sku=sku or "—")]
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0 or abs(delta) > MAX_QUANTITY:
        errors["delta"] = [_("A whole number other than 0, at most %(n)s either way.", n=MAX_QUANTITY)]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why the stock is adjusted.")]
    elif len(reason) > 500:
        errors["reason"] = [_("At most 500 characters.")]
    if on > today():
        errors["moved_on"] = [_("The date is in the future.")]
    serial = (serial or "").strip().upper() or None
    if errors:
        raise Invalid(fields=errors)
    lock_dealer(dealer)
    if serial:
        state = serial_state(dealer.id, [serial]).get(serial)
        if abs(delta) != 1:
            errors["delta"] = [_("A VIN is adjusted by +1 or −1.")]
        elif state is None or state["received_on"] is None:
            errors["serial"] = [_("VIN %(vin)s was never received by this dealer.", vin=serial)]
        elif state["product_id"] != product.id:
            errors["serial"] = [_("VIN %(vin)s is not a %(sku)s.", vin=serial, sku=product.sku)]
        elif delta < 0 and state["held"] <= 0:
            errors["serial"] = [_("VIN %(vin)s is not in stock.", vin=serial)]
        elif delta > 0 and state["held"] > 0:
            errors["serial"] = [_("VIN %(vin)s is in stock already.", vin=serial)]
    elif product.build_to_order:
        errors["serial"] = [_("Units built to order are adjusted by VIN.")]
    if not errors and delta < 0:
        history = dealer_stock.daily_moves(dealer.id, [product.id]).get(product.id, [])
        deltas: dict[dt.date, int] = defaultdict(int)
        for day, came, went in history:
            deltas[day] += came - went
        available = max(_lowest_from(deltas, on), 0)
        if -delta > available:
            errors["delta"] = [_("Only %(n)s in stock on %(day)s and after.", n=available, day=on.isoformat())]
    if errors:
        raise Invalid(fields=errors)
    move = DealerStockMove(
        dealer_id=dealer.id,
        product_id=product.id,
        sku=product.sku,
        serial=serial,
        quantity=delta,
        kind="adjustment",
        moved_on=on,
        note=reason.strip(),
        created_by=actor_name(actor),
    )
    db.session.add(move)
    add_moves_to_channel([move])
    audit(actor, "dealer_stock.adjust", "dealer", dealer.code,
          after={"sku": product.sku, "delta": delta, "serial": serial, "reason": reason.strip(),
                 "moved_on": on.isoformat()},
          dealer_id=dealer.id)  # fmt: skip
    db.session.flush()
    return move


# ---------------------------------------------------------------- reading


def lines_query(scope, *, dealer=None, date_from=None, date_to=None, sku=None, below_floor=None):
    stmt = scope.select(SellThroughLine)
    if dealer:
        stmt = stmt.where(SellThroughLine.dealer_id == select(Dealer.id).where(Dealer.code == dealer).scalar_subquery())
    if date_from:
        stmt = stmt.where(SellThroughLine.sold_on >= date_from)
    if date_to:
        stmt = stmt.where(SellThroughLine.sold_on <= date_to)
    if sku:
        stmt = stmt.where(SellThroughLine.sku == sku)
    if below_floor:
        stmt = stmt.where(SellThroughLine.below_floor.is_(True))
    return stmt.order_by(SellThroughLine.sold_on.desc(), SellThroughLine.id.desc())
