"""Returns (RMA, PRODUCT.md §13). Services flush, never commit; the entrypoint commits once.

The life of a return: `request` (a dealer administrator, within `PORTAL_RETURN_DAYS` of the shipment's receipt) →
`approve` (a channel manager; a restocking fee percentage only for `overstock`) or `reject` (with a reason) →
`ship_back` (the dealer: the goods leave its stock, a `return` stock movement per line or VIN) → `receive` (HQ, into a
warehouse: per line what is accepted — back into HQ stock, VIN units `returned` — and what is scrapped; one credit
note through the receivables service for the goods' invoiced gross less the fee; the sell-in taken back, dated the
day HQ received them).

Rules:
- What may be returned of a shipment line: its received quantity (less what was declared short or damaged at
  receipt) less what other live returns (not rejected) take of it, and never more than the dealer holds of the SKU
  now less what its other returns not yet shipped back will take. A VIN: in this shipment, held by the dealer now
  (received, not sold nor adjusted out), in no other live return.
- Money: a line's `value` is the shipment line's gross × quantity / its quantity, rounded half-up; when the returns
  of a shipment line take all of it, the last one takes what is left, so the values never exceed the invoiced gross.
  The fee is `value × pct / 100` rounded half-up, per line. The credit note is Σ (value − fee).
- Every step locks the return's row (FOR UPDATE) and checks the status it expects, so a second click answers 409
  and writes nothing; the credit note is posted once (`returns.credit_note_id` is unique).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.catalog.models import Product
from portal.credit import memos
from portal.credit import services as credit
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory.models import DealerStockMove, Warehouse
from portal.inventory.sums import add_moves_to_channel, add_to_channel
from portal.notify.services import notify
from portal.platform.errors import Conflict, Invalid
from portal.platform.ids import next_id
from portal.platform.money import ZERO, money
from portal.platform.timeutil import today, utcnow
from portal.returns.models import RETURN_REASONS, Return, ReturnLine, ReturnMessage, SellInCorrection
from portal.shipping.models import Shipment, ShipmentLine

LIVE = ("requested", "approved", "shipped_back", "received")  # every status but rejected
NOT_YET_BACK = ("requested", "approved")  # still in the dealer's stock
MAX_QUANTITY = 100_000


def actor_name(actor) -> str:
    return credit.actor_name(actor)


def return_days() -> int:
    return int(current_app.config.get("PORTAL_RETURN_DAYS", 90))


def _lock(ret: Return) -> Return:
    """The return re-read under a row lock (FOR UPDATE on PostgreSQL; SQLite: the write lock)."""
    stmt = select(Return).where(Return.id == ret.id).with_for_update(of=Return)
    return db.session.execute(stmt.execution_options(populate_existing=True)).unique().scalar_one()


def _expect(ret: Return, *statuses: str) -> None:
    if ret.status not in statuses:
        raise Conflict(
            _("Return %(number)s is %(status)s; this step is not possible now.", number=ret.number,
              status=ret.status),
            code="wrong_status",
        )  # fmt: skip


# ---------------------------------------------------------------- what may be returned


def _discrepant(shipment_id: int) -> dict[int, int]:
    """{shipment line id: quantity declared short or damaged at receipt} (those goods never entered the stock)."""
    from portal.returns.models import DeliveryDiscrepancy

    rows = db.session.execute(
        select(DeliveryDiscrepancy.shipment_line_id, func.sum(DeliveryDiscrepancy.quantity))
        .where(DeliveryDiscrepancy.shipment_id == shipment_id)
        .group_by(DeliveryDiscrepancy.shipment_line_id)
    ).all()
    return {line_id: int(q) for line_id, q in rows}


def _returned(shipment_line_ids, exclude_return_id: int | None = None) -> dict[int, tuple[int, Decimal]]:
    """{shipment line id: (quantity, value)} taken by live returns."""
    stmt = (
        select(ReturnLine.shipment_line_id, func.sum(ReturnLine.quantity), func.sum(ReturnLine.value))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(ReturnLine.shipment_line_id.in_(list(shipment_line_ids)), Return.status.in_(LIVE))
        .group_by(ReturnLine.shipment_line_id)
    )
    if exclude_return_id is not None:
        stmt = stmt.where(Return.id != exclude_return_id)
    return {line_id: (int(q), money(v or 0)) for line_id, q, v in db.session.execute(stmt)}


def _pending_by_product(dealer_id: int, exclude_return_id: int | None = None) -> dict[int, int]:
    """{product id: quantity} of the dealer's returns still in its stock (requested or approved)."""
    stmt = (
        select(ReturnLine.product_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.dealer_id == dealer_id, Return.status.in_(NOT_YET_BACK))
        .group_by(ReturnLine.product_id)
    )
    if exclude_return_id is not None:
        stmt = stmt.where(Return.id != exclude_return_id)
    return {pid: int(q) for pid, q in db.session.execute(stmt)}


def _held(dealer_id: int, product_ids) -> dict[int, int]:
    stmt = (
        select(DealerStockMove.product_id, func.sum(DealerStockMove.quantity))
        .where(DealerStockMove.dealer_id == dealer_id, DealerStockMove.product_id.in_(list(product_ids)))
        .group_by(DealerStockMove.product_id)
    )
    return {pid: int(q or 0) for pid, q in db.session.execute(stmt)}


def _serials_held(dealer_id: int, serials) -> set[str]:
    stmt = (
        select(DealerStockMove.serial)
        .where(DealerStockMove.dealer_id == dealer_id, DealerStockMove.serial.in_(list(serials)))
        .group_by(DealerStockMove.serial)
        .having(func.sum(DealerStockMove.quantity) > 0)
    )
    return set(db.session.execute(stmt).scalars())


def _serials_in_live_returns(serials) -> set[str]:
    stmt = (
        select(ReturnLine.serial)
        .join(Return, Return.id == ReturnLine.return_id)
        .where(ReturnLine.serial.in_(list(serials)), Return.status.in_(LIVE))
    )
    return set(db.session.execute(stmt).scalars())


def vins_of(shipment: Shipment) -> dict[int, list[tuple[str, int]]]:
    """{shipment line id: [(VIN, unit id)]} of the shipment's VIN lines — a re-shipment's VIN comes from the
    discrepancy it resolves (the unit shipped once, in the original shipment, and has no unit row here)."""
    from portal.returns.models import DeliveryDiscrepancy

    out = {ln.id: [(u.serial, u.unit_id) for u in ln.units] for ln in shipment.lines if ln.units}
    if shipment.kind == "reship":
        for serial, unit_id in db.session.execute(
            select(DeliveryDiscrepancy.serial, DeliveryDiscrepancy.unit_id).where(
                DeliveryDiscrepancy.reship_id == shipment.id, DeliveryDiscrepancy.serial.is_not(None)
            )
        ):
            out[shipment.lines[0].id] = [(serial, unit_id)]
    return out


def returnable(shipment: Shipment) -> list[dict]:
    """Per shipment line what may be returned now: [{line, sku, quantity (shipped), returnable, serials}]."""
    lines = list(shipment.lines)
    vins = vins_of(shipment)
    discrepant = _discrepant(shipment.id)
    returned = _returned(ln.id for ln in lines)
    held = _held(shipment.dealer_id, {ln.product_id for ln in lines})
    pending = _pending_by_product(shipment.dealer_id)
    all_serials = [serial for pairs in vins.values() for serial, _unit in pairs]
    held_serials = _serials_held(shipment.dealer_id, all_serials) if all_serials else set()
    live_serials = _serials_in_live_returns(all_serials) if all_serials else set()
    out = []
    for ln in lines:
        if ln.id in vins:
            serials = [s for s, _unit in vins[ln.id] if s in held_serials and s not in live_serials]
            out.append({"line": ln, "sku": ln.sku, "quantity": ln.quantity, "returnable": len(serials),
                        "serials": serials})  # fmt: skip
            continue
        left = ln.quantity - discrepant.get(ln.id, 0) - returned.get(ln.id, (0, ZERO))[0]
        in_stock = held.get(ln.product_id, 0) - pending.get(ln.product_id, 0)
        out.append({"line": ln, "sku": ln.sku, "quantity": ln.quantity, "returnable": max(0, min(left, in_stock)),
                    "serials": []})  # fmt: skip
    return out


def line_value(line: ShipmentLine, quantity: int, taken: tuple[int, Decimal]) -> Decimal:
    """The invoiced gross of `quantity` pieces of the line (rounded half-up), given what earlier returns or claims
    `taken` of it (quantity, value): the last pieces take exactly what is left, never more than was invoiced."""
    taken_qty, taken_value = taken
    if taken_qty + quantity >= line.quantity:
        return money(line.gross - taken_value)
    return money(line.gross * quantity / line.quantity)


def fee_of(value: Decimal, pct: Decimal) -> Decimal:
    return money(value * pct / 100)


def window_ends(shipment: Shipment) -> dt.date | None:
    return shipment.received_on + dt.timedelta(days=return_days()) if shipment.received_on else None


# ---------------------------------------------------------------- request


def _shipment_of(dealer: Dealer, number: str) -> Shipment:
    shipment = db.session.execute(
        select(Shipment).where(Shipment.number == (number or "").strip(), Shipment.dealer_id == dealer.id)
    ).unique().scalar_one_or_none()
    if shipment is None:
        raise Invalid(fields={"shipment_number": [_("No such shipment of this dealer.")]})
    return shipment


def request_return(actor, dealer: Dealer, *, shipment_number: str, lines: list[dict], reason: str,
                   note: str | None = None) -> Return:  # fmt: skip
    """A dealer administrator asks to return goods of one received shipment (see the module's rules)."""
    from portal.inventory.sellthrough import lock_dealer

    errors: dict[str, list[str]] = {}
    if reason not in RETURN_REASONS:
        errors["reason"] = [_("One of: %(values)s.", values=", ".join(RETURN_REASONS))]
    if not lines:
        errors["lines"] = [_("Name at least one SKU quantity or VIN.")]
    if errors:
        raise Invalid(fields=errors)
    lock_dealer(dealer)  # its stock: one return or sale at a time
    shipment = _shipment_of(dealer, shipment_number)
    if shipment.seller_id is not None:  # §16: goods a distributor transferred go back to it, not to HQ
        raise Invalid(fields={"shipment_number": [
            _("This shipment came from %(seller)s: settle returns with it.", seller=shipment.seller.code)]})
    if shipment.status != "received":
        raise Invalid(fields={"shipment_number": [_("Only goods received can be returned.")]})
    if today() > window_ends(shipment):
        raise Invalid(fields={"shipment_number": [
            _("Received on %(day)s: returns are accepted within %(n)s days.", day=shipment.received_on.isoformat(),
              n=return_days())]})  # fmt: skip
    can = {row["line"].id: row for row in returnable(shipment)}
    vins = vins_of(shipment)
    line_of_id = {ln.id: ln for ln in shipment.lines}
    by_sku = {ln.sku: ln for ln in shipment.lines if ln.id not in vins}
    by_serial = {s: line_of_id[line_id] for line_id, pairs in vins.items() for s, _unit in pairs}
    unit_of = {s: unit for pairs in vins.values() for s, unit in pairs}
    wanted: dict[int, int] = defaultdict(int)
    serials: list[tuple[ShipmentLine, str]] = []
    for i, item in enumerate(lines):
        serial, sku, quantity = item.get("serial"), item.get("sku"), item.get("quantity")
        if serial:
            serial = str(serial).strip().upper()
            line = by_serial.get(serial)
            if line is None:
                errors[f"lines.{i}.serial"] = [_("VIN %(serial)s is not in this shipment.", serial=serial)]
            elif serial not in can[line.id]["serials"] or any(s == serial for _l, s in serials):
                errors[f"lines.{i}.serial"] = [_("VIN %(serial)s is not in your stock (sold, or already being "
                                                 "returned).", serial=serial)]  # fmt: skip
            else:
                serials.append((line, serial))
            continue
        line = by_sku.get((sku or "").strip())
        if line is None:
            errors[f"lines.{i}.sku"] = [_("%(sku)s is not a stock line of this shipment (a VIN is returned by its "
                                          "VIN).", sku=sku or "")]  # fmt: skip
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= MAX_QUANTITY:
            errors[f"lines.{i}.quantity"] = [_("A whole number from 1 to %(n)s.", n=MAX_QUANTITY)]
        else:
            wanted[line.id] += quantity
            if wanted[line.id] > can[line.id]["returnable"]:
                errors[f"lines.{i}.quantity"] = [
                    _("At most %(n)s of %(sku)s can be returned (received − sold − already returned).",
                      n=can[line.id]["returnable"], sku=line.sku)]  # fmt: skip
    if errors:
        raise Invalid(fields=errors)
    ret = Return(
        number=f"RT-{today():%Y%m}-{next_id(Return):06d}",
        dealer_id=dealer.id,
        shipment_id=shipment.id,
        reason=reason,
        note=(note or "").strip() or None,
        status="requested",
        restocking_fee_pct=Decimal("0.00"),
        requested_by=actor_name(actor),
    )
    taken = _returned(can)
    line_of = {ln.id: ln for ln in shipment.lines}
    for line_id, quantity in sorted(wanted.items()):
        line = line_of[line_id]
        value = line_value(line, quantity, taken.get(line_id, (0, ZERO)))
        ret.lines.append(ReturnLine(shipment_line_id=line.id, product_id=line.product_id, sku=line.sku,
                                    quantity=quantity, value=value, fee=ZERO))  # fmt: skip
    for line, serial in serials:
        done_qty, done_value = taken.get(line.id, (0, ZERO))
        value = line_value(line, 1, (done_qty, done_value))
        taken[line.id] = (done_qty + 1, done_value + value)
        ret.lines.append(ReturnLine(shipment_line_id=line.id, product_id=line.product_id, sku=line.sku, serial=serial,
                                    unit_id=unit_of[serial], quantity=1, value=value, fee=ZERO))  # fmt: skip
    db.session.add(ret)
    db.session.flush()
    record(actor, "return.request", "return", ret.number, dealer_id=dealer.id,
           after={"shipment": shipment.number, "reason": reason, "value": str(total_value(ret)),
                  "lines": [_line_audit(ln) for ln in ret.lines]})  # fmt: skip
    _notify_hq(ret, "requested", lambda: (
        _("Return %(number)s requested", number=ret.number),
        _("%(dealer)s asks to return goods of %(shipment)s (%(value)s CNY).", dealer=dealer.code,
          shipment=shipment.number, value=total_value(ret))))  # fmt: skip
    return ret


def _line_audit(line: ReturnLine) -> dict:
    out = {"sku": line.sku, "quantity": line.quantity, "value": str(line.value)}
    if line.serial:
        out["serial"] = line.serial
    return out


def total_value(ret: Return) -> Decimal:
    return money(sum((ln.value for ln in ret.lines), ZERO))


def total_fee(ret: Return) -> Decimal:
    return money(sum((ln.fee for ln in ret.lines), ZERO))


def credit_amount(ret: Return) -> Decimal:
    return money(total_value(ret) - total_fee(ret))


# ---------------------------------------------------------------- decide


def approve(actor, ret: Return, restocking_fee_pct: Decimal | None = None, comment: str | None = None) -> Return:
    ret = _lock(ret)
    _expect(ret, "requested")
    pct = money(restocking_fee_pct if restocking_fee_pct is not None else ZERO)
    if pct < 0 or pct > 100:
        raise Invalid(fields={"restocking_fee_pct": [_("From 0 to 100.")]})
    if pct and ret.reason != "overstock":
        raise Invalid(fields={"restocking_fee_pct": [_("A restocking fee applies to overstock returns only.")]})
    ret.restocking_fee_pct = pct
    for line in ret.lines:
        line.fee = fee_of(line.value, pct)
    ret.status = "approved"
    ret.decided_by, ret.decided_at, ret.comment = actor_name(actor), utcnow(), (comment or "").strip() or None
    db.session.flush()
    record(actor, "return.approve", "return", ret.number, dealer_id=ret.dealer_id, before={"status": "requested"},
           after={"status": "approved", "restocking_fee_pct": str(pct), "fee": str(total_fee(ret)),
                  "comment": ret.comment})  # fmt: skip
    _notify_dealer(ret, "approved", lambda: (
        _("Return %(number)s approved", number=ret.number),
        _("Ship the goods back to HQ. Credit on receipt: %(amount)s CNY.", amount=credit_amount(ret))))
    return ret


def reject(actor, ret: Return, comment: str) -> Return:
    if not (comment or "").strip():
        raise Invalid(fields={"comment": [_("Say why the return is rejected.")]})
    ret = _lock(ret)
    _expect(ret, "requested")
    ret.status = "rejected"
    ret.decided_by, ret.decided_at, ret.comment = actor_name(actor), utcnow(), comment.strip()
    db.session.flush()
    record(actor, "return.reject", "return", ret.number, dealer_id=ret.dealer_id, before={"status": "requested"},
           after={"status": "rejected", "comment": ret.comment})  # fmt: skip
    _notify_dealer(ret, "rejected", lambda: (_("Return %(number)s rejected", number=ret.number), ret.comment))
    return ret


# ---------------------------------------------------------------- ship back


def ship_back(actor, ret: Return, shipped_on: dt.date | None = None) -> Return:
    """The dealer sends the goods: a `return` movement out of its stock per line (per VIN), on `shipped_on`."""
    from portal.inventory.sellthrough import lock_dealer

    lock_dealer(ret.dealer)
    ret = _lock(ret)
    _expect(ret, "approved")
    on = shipped_on or today()
    if on > today() or on < ret.created_at.date() - dt.timedelta(days=1):
        raise Invalid(fields={"shipped_on": [_("Between the request and today.")]})
    held = _held(ret.dealer_id, {ln.product_id for ln in ret.lines})
    serials = [ln.serial for ln in ret.lines if ln.serial]
    held_serials = _serials_held(ret.dealer_id, serials) if serials else set()
    need: dict[int, int] = defaultdict(int)
    for line in ret.lines:
        need[line.product_id] += line.quantity
    short = [ln.serial for ln in ret.lines if ln.serial and ln.serial not in held_serials]
    short += [ln.sku for ln in ret.lines if not ln.serial and held.get(ln.product_id, 0) < need[ln.product_id]]
    if short:
        raise Conflict(_("No longer in your stock: %(what)s.", what=", ".join(sorted(set(short)))), code="not_in_stock")
    who = actor_name(actor)
    moves = [
        DealerStockMove(dealer_id=ret.dealer_id, product_id=ln.product_id, sku=ln.sku, serial=ln.serial,
                        quantity=-ln.quantity, kind="return", moved_on=on, return_id=ret.id,
                        note=ret.number, created_by=who)  # fmt: skip
        for ln in ret.lines
    ]
    db.session.add_all(moves)
    add_moves_to_channel(moves)
    ret.status, ret.shipped_back_on, ret.shipped_back_by = "shipped_back", on, who
    db.session.flush()
    record(actor, "return.ship_back", "return", ret.number, dealer_id=ret.dealer_id, before={"status": "approved"},
           after={"status": "shipped_back", "shipped_on": on.isoformat()})  # fmt: skip
    _notify_hq(ret, "shipped_back", lambda: (
        _("Return %(number)s shipped back", number=ret.number),
        _("%(dealer)s shipped the goods back on %(day)s.", dealer=ret.dealer.code, day=on.isoformat())))
    return ret


# ---------------------------------------------------------------- receive at HQ


def receive(
    actor,
    ret: Return,
    *,
    warehouse_code: str,
    lines: list[dict] | None = None,
    serials: list[dict] | None = None,
    received_on: dt.date | None = None,
) -> tuple[Return, object]:
    """HQ receives the goods: per SKU `{sku, accepted, scrapped}` (they add up to what was shipped back), per VIN
    `{serial, outcome: accepted | scrapped}` (accepted when left out). Accepted stock goes back into the warehouse,
    accepted VIN units become `returned`; one credit note for Σ (value − fee) against the shipment's invoice; the
    sell-in is taken back on the day received. Answers (return, credit note or None when nothing is credited)."""
    from portal.inventory import hq

    ret = _lock(ret)
    _expect(ret, "shipped_back")
    on = received_on or today()
    if on > today() or on < ret.shipped_back_on:
        raise Invalid(fields={"received_on": [_("Between the ship-back date and today.")]})
    warehouse = db.session.execute(
        select(Warehouse).where(Warehouse.code == (warehouse_code or "").strip())
    ).scalar_one_or_none()
    if warehouse is None or not warehouse.active:
        raise Invalid(fields={"warehouse_code": [_("No such open warehouse.")]})
    outcome = _receipt_outcome(ret, lines or [], serials or [])
    who = actor_name(actor)
    for line in ret.lines:
        line.accepted, line.scrapped = outcome[line.id]
    products = {p.id: p for p in db.session.execute(
        select(Product).where(Product.id.in_({ln.product_id for ln in ret.lines}))).scalars()}  # fmt: skip
    back: dict[int, int] = defaultdict(int)
    for line in ret.lines:
        if not line.serial and line.accepted and not products[line.product_id].build_to_order:
            back[line.product_id] += line.accepted
    for product_id, quantity in sorted(back.items()):
        hq.take_back(actor, warehouse, products[product_id], quantity, on=on, return_id=ret.id, note=ret.number)
    accepted_units = [ln.unit_id for ln in ret.lines if ln.unit_id and ln.accepted]
    if accepted_units:
        from portal.production import services as production
        from portal.shipping.services import _moment

        production.move_units(actor, accepted_units, "returned", _moment(on), source="return")
    amount = credit_amount(ret)
    note = None
    if amount > 0:
        note = credit.post_credit_note(
            actor, ret.dealer, amount=amount, issued_on=on, invoice_number=ret.shipment.invoice.number
            if ret.shipment.invoice is not None else None,
            reason=f"Return {ret.number} ({ret.shipment.number})",
            memo={"code": memos.RETURN, "number": ret.number, "shipment": ret.shipment.number},
        )  # fmt: skip
        ret.credit_note = note
    corrections = [
        SellInCorrection(dealer_id=ret.dealer_id, product_id=ln.product_id, sku=ln.sku, corrected_on=on,
                         quantity=-ln.quantity, amount=-money(ln.value - ln.fee), return_line_id=ln.id)  # fmt: skip
        for ln in ret.lines
    ]
    db.session.add_all(corrections)
    add_corrections_to_channel(corrections)
    ret.status, ret.received_on, ret.received_by, ret.warehouse_id = "received", on, who, warehouse.id
    db.session.flush()
    record(actor, "return.receive", "return", ret.number, dealer_id=ret.dealer_id, before={"status": "shipped_back"},
           after={"status": "received", "warehouse": warehouse.code, "received_on": on.isoformat(),
                  "accepted": sum(ln.accepted for ln in ret.lines), "scrapped": sum(ln.scrapped for ln in ret.lines),
                  "credit_note": note.number if note else None, "amount": str(amount)})  # fmt: skip
    _notify_dealer(ret, "received", lambda: (
        _("Return %(number)s received", number=ret.number),
        _("Credit note %(note)s: %(amount)s CNY.", note=note.number if note else "—", amount=amount)))
    return ret, note


def _receipt_outcome(ret: Return, lines: list[dict], serials: list[dict]) -> dict[int, tuple[int, int]]:
    """{return line id: (accepted, scrapped)} from the request, every line accounted for exactly."""
    errors: dict[str, list[str]] = {}
    by_sku: dict[str, list[ReturnLine]] = defaultdict(list)
    for line in ret.lines:
        if not line.serial:
            by_sku[line.sku].append(line)
    vin_lines = {ln.serial: ln for ln in ret.lines if ln.serial}
    out: dict[int, tuple[int, int]] = {ln.id: (1, 0) for ln in vin_lines.values()}  # a VIN left out is accepted
    seen: set[str] = set()
    for i, item in enumerate(lines):
        sku = (item.get("sku") or "").strip()
        accepted, scrapped = item.get("accepted", 0), item.get("scrapped", 0)
        if sku not in by_sku or sku in seen:
            errors[f"lines.{i}.sku"] = [_("%(sku)s is not a stock line of this return (once each).", sku=sku)]
            continue
        seen.add(sku)
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (accepted, scrapped))
        shipped = sum(ln.quantity for ln in by_sku[sku])
        if not ok or accepted + scrapped != shipped:
            errors[f"lines.{i}.accepted"] = [_("Accepted + scrapped must be %(n)s, what was shipped back.",
                                               n=shipped)]  # fmt: skip
            continue
        for line in by_sku[sku]:  # one line per SKU in practice; spread in line order otherwise
            take = min(accepted, line.quantity)
            out[line.id] = (take, line.quantity - take)
            accepted -= take
    for sku in by_sku:
        if sku not in seen and not errors:
            errors["lines"] = [_("Say what was accepted and scrapped of %(sku)s.", sku=sku)]
    for i, item in enumerate(serials):
        serial = (item.get("serial") or "").strip().upper()
        outcome = item.get("outcome", "accepted")
        if serial not in vin_lines:
            errors[f"serials.{i}.serial"] = [_("VIN %(serial)s is not in this return.", serial=serial)]
        elif outcome not in ("accepted", "scrapped"):
            errors[f"serials.{i}.outcome"] = [_("accepted or scrapped.")]
        else:
            out[vin_lines[serial].id] = (1, 0) if outcome == "accepted" else (0, 1)
    if errors:
        raise Invalid(fields=errors)
    return out


def add_corrections_to_channel(corrections) -> int:
    """Sell-in taken back into the channel roll-up (negative sell-in in the month of the correction)."""
    return add_to_channel(
        (c.dealer_id, c.product_id, c.corrected_on, {"sell_in_qty": c.quantity, "sell_in_amount": c.amount})
        for c in corrections
    )


# ---------------------------------------------------------------- conversation and notifications


def add_message(actor, ret: Return, body: str) -> ReturnMessage:
    if not (body or "").strip():
        raise Invalid(fields={"body": [_("Write a message.")]})
    if len(body) > 2000:
        raise Invalid(fields={"body": [_("At most %(n)s characters.", n=2000)]})
    side = "dealer" if getattr(actor, "dealer_id", None) else "hq"
    message = ReturnMessage(return_id=ret.id, author=actor_name(actor), side=side, body=body.strip())
    db.session.add(message)
    db.session.flush()
    say = lambda: (_("Message on return %(number)s", number=ret.number), message.body[:200])  # noqa: E731
    (_notify_hq if side == "dealer" else _notify_dealer)(ret, f"message:{message.id}", say)
    return message


def _notify_users(users, ret: Return, event: str, say) -> None:
    """`say()` → (title, body), called in each recipient's language; once per user and event."""
    for user in users:
        with force_locale(user.locale):
            title, body = say()
        notify(user, kind="return", title=title, body=body or "", link=f"/returns/{ret.number}",
               dedupe_key=f"return:{ret.number}:{event}")  # fmt: skip


def _notify_dealer(ret: Return, event: str, say) -> None:
    users = db.session.execute(
        select(User).where(User.dealer_id == ret.dealer_id, User.active.is_(True), User.role == "dealer_admin")
    ).unique().scalars().all()
    _notify_users(users, ret, event, say)


def _notify_hq(ret: Return, event: str, say) -> None:
    users = db.session.execute(
        select(User).where(User.role == "channel_manager", User.active.is_(True))
    ).unique().scalars().all()
    _notify_users(users, ret, event, say)


def returns_query(scope, *, status: str | None = None, dealer: str | None = None):
    stmt = scope.select(Return).order_by(Return.created_at.desc(), Return.id.desc())
    if status:
        stmt = stmt.where(Return.status == status)
    if dealer:
        stmt = stmt.where(Return.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    return stmt
