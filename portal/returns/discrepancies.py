"""Delivery discrepancies (到货差异, PRODUCT.md §13). Services flush, never commit.

When the dealer receives a shipment it may declare goods `short` or `damaged` — by SKU quantity or by VIN, with a
note (`declare`, called by `shipping.services.receive` in the receipt's transaction). Those goods do not enter its
stock (a VIN stays `shipped`); the sell-in is taken back on the day of the receipt (a `SellInCorrection` for their
invoiced gross), and a claim opens for HQ. HQ resolves it once (the row locked, status `open` expected):

- `reship`: the goods are sent again in a shipment of kind `reship` — no new invoice, the same order, the same price
  (its line's gross is the goods' invoiced value, so the sell-in is back); quantities leave HQ stock as any shipment;
  a VIN is sent again as that VIN. The dealer receives it as any shipment.
- `credit`: a credit note for the goods' invoiced gross through the receivables service, against the shipment's
  invoice; the sell-in stays taken back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal.audit.services import record
from portal.credit import memos
from portal.credit import services as credit
from portal.dealers.models import User
from portal.extensions import db
from portal.notify.services import notify
from portal.platform.errors import Conflict, Invalid
from portal.platform.ids import next_id
from portal.platform.money import money
from portal.platform.timeutil import today, utcnow
from portal.returns.models import DISCREPANCY_KINDS, DeliveryDiscrepancy, SellInCorrection
from portal.shipping.models import Shipment, ShipmentLine

MAX_NOTE = 1000


def check(shipment: Shipment, items: list[dict]) -> tuple[dict[int, int], dict[str, dict], list[dict]]:
    """Validate what the dealer declares: ({shipment line id: quantity short or damaged}, {serial: item}, the items
    normalised). A SKU must be a stock line of the shipment (its quantities together at most the line's); a VIN must
    be in the shipment, once. Nothing is written; an `Invalid` lists every bad item."""
    from portal.returns.services import vins_of

    errors: dict[str, list[str]] = {}
    vins = vins_of(shipment)  # a re-shipment's VIN too (it has no unit row of its own)
    line_of = {ln.id: ln for ln in shipment.lines}
    by_sku = {ln.sku: ln for ln in shipment.lines if ln.id not in vins}
    by_serial = {serial: line_of[line_id] for line_id, pairs in vins.items() for serial, _unit in pairs}
    quantities: dict[int, int] = defaultdict(int)
    serials: dict[str, dict] = {}
    clean = []
    for i, item in enumerate(items or []):
        kind, note = item.get("kind"), (item.get("note") or "").strip() or None
        if kind not in DISCREPANCY_KINDS:
            errors[f"discrepancies.{i}.kind"] = [_("short or damaged.")]
        if note and len(note) > MAX_NOTE:
            errors[f"discrepancies.{i}.note"] = [_("At most %(n)s characters.", n=MAX_NOTE)]
        serial = (item.get("serial") or "").strip().upper()
        if serial:
            if serial not in by_serial:
                errors[f"discrepancies.{i}.serial"] = [_("VIN %(serial)s is not in this shipment.", serial=serial)]
            elif serial in serials:
                errors[f"discrepancies.{i}.serial"] = [_("VIN %(serial)s is named twice.", serial=serial)]
            else:
                serials[serial] = {"serial": serial, "kind": kind, "note": note, "line": by_serial[serial]}
                clean.append(serials[serial])
            continue
        sku, quantity = (item.get("sku") or "").strip(), item.get("quantity")
        line = by_sku.get(sku)
        if line is None:
            errors[f"discrepancies.{i}.sku"] = [_("%(sku)s is not a stock line of this shipment (a VIN is declared "
                                                  "by its VIN).", sku=sku)]  # fmt: skip
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors[f"discrepancies.{i}.quantity"] = [_("A whole number from 1 to %(n)s.", n=line.quantity)]
        elif quantities[line.id] + quantity > line.quantity:
            errors[f"discrepancies.{i}.quantity"] = [_("At most %(n)s of %(sku)s were shipped.", n=line.quantity,
                                                       sku=sku)]  # fmt: skip
        else:
            quantities[line.id] += quantity
            clean.append({"sku": sku, "quantity": quantity, "kind": kind, "note": note, "line": line})
    if errors:
        raise Invalid(fields=errors)
    return dict(quantities), serials, clean


def declare(actor, shipment: Shipment, items: list[dict], on: dt.date) -> list[DeliveryDiscrepancy]:
    """The claims of a receipt (`items` as `check` returned them), with their sell-in taken back."""
    from portal.returns.services import line_value, vins_of

    who = credit.actor_name(actor)
    unit_of = {serial: unit for pairs in vins_of(shipment).values() for serial, unit in pairs}
    taken: dict[int, tuple[int, object]] = {}
    made = []
    for item in items:
        line, serial = item["line"], item.get("serial")
        quantity = 1 if serial else item["quantity"]
        value = line_value(line, quantity, taken.get(line.id, (0, money(0))))
        taken[line.id] = (taken.get(line.id, (0, money(0)))[0] + quantity, taken.get(line.id, (0, money(0)))[1] + value)
        disc = DeliveryDiscrepancy(
            number=f"DC-{on:%Y%m}-{next_id(DeliveryDiscrepancy):06d}",
            dealer_id=shipment.dealer_id,
            shipment_id=shipment.id,
            shipment_line_id=line.id,
            product_id=line.product_id,
            sku=line.sku,
            serial=serial,
            unit_id=unit_of.get(serial) if serial else None,
            quantity=quantity,
            kind=item["kind"],
            note=item.get("note"),
            value=money(value),
            declared_on=on,
            declared_by=who,
            status="open",
        )
        db.session.add(disc)
        db.session.flush()  # its id (the next number) before the next one
        made.append(disc)
    corrections = [
        SellInCorrection(
            dealer_id=d.dealer_id,
            product_id=d.product_id,
            sku=d.sku,
            corrected_on=on,
            quantity=-d.quantity,
            amount=-d.value,
            discrepancy_id=d.id,
        )  # fmt: skip
        for d in made
    ]
    db.session.add_all(corrections)
    from portal.returns.services import add_corrections_to_channel

    add_corrections_to_channel(corrections)
    for d in made:
        record(actor, "discrepancy.declare", "discrepancy", d.number, dealer_id=d.dealer_id,
               after={"shipment": shipment.number, "sku": d.sku, "serial": d.serial, "quantity": d.quantity,
                      "kind": d.kind, "value": str(d.value), "note": d.note})  # fmt: skip
    if made:
        _notify_hq(shipment, made)
    return made


def _lock(disc: DeliveryDiscrepancy) -> DeliveryDiscrepancy:
    stmt = select(DeliveryDiscrepancy).where(DeliveryDiscrepancy.id == disc.id).with_for_update(of=DeliveryDiscrepancy)
    disc = db.session.execute(stmt.execution_options(populate_existing=True)).unique().scalar_one()
    if disc.status != "open":
        raise Conflict(_("Discrepancy %(number)s is already resolved.", number=disc.number), code="already_resolved")
    return disc


def resolve_by_credit(actor, disc: DeliveryDiscrepancy, on: dt.date | None = None) -> DeliveryDiscrepancy:
    """A credit note for the goods' invoiced gross, against the shipment's invoice (once)."""
    credit.lock_credit(disc.dealer)
    disc = _lock(disc)
    on = on or today()
    invoice = disc.shipment.invoice
    note = credit.post_credit_note(
        actor, disc.dealer, amount=disc.value, issued_on=on, invoice_number=invoice.number if invoice else None,
        reason=f"Delivery discrepancy {disc.number} ({disc.shipment.number})",
        memo={"code": memos.DISCREPANCY, "number": disc.number, "shipment": disc.shipment.number},
    )  # fmt: skip
    disc.status, disc.credit_note = "credited", note
    disc.resolved_by, disc.resolved_at = credit.actor_name(actor), utcnow()
    db.session.flush()
    record(actor, "discrepancy.credit", "discrepancy", disc.number, dealer_id=disc.dealer_id,
           before={"status": "open"}, after={"status": "credited", "credit_note": note.number,
                                              "amount": str(disc.value)})  # fmt: skip
    _notify_dealer(disc, "credited")
    return disc


def resolve_by_reship(actor, disc: DeliveryDiscrepancy, shipped_on: dt.date | None = None) -> DeliveryDiscrepancy:
    """The goods sent again: a `reship` shipment of the same order with no invoice (once)."""
    from portal.shipping import events
    from portal.shipping.services import _lock as lock_order

    credit.lock_credit(disc.dealer)  # the lock order of every shipment: credit row, then order
    disc = _lock(disc)
    on = shipped_on or today()
    if on > today() or on < disc.declared_on:
        raise Invalid(fields={"shipped_on": [_("Between the receipt and today.")]})
    original = disc.shipment
    order = lock_order(original.order)
    source = db.session.get(ShipmentLine, disc.shipment_line_id)
    net = money(source.net * disc.quantity / source.quantity) if disc.quantity != source.quantity else source.net
    tax = money(disc.value - net)
    shipment = Shipment(
        number=f"DN-{on:%Y%m}-{next_id(Shipment):06d}",
        order_id=order.id,
        dealer_id=disc.dealer_id,
        kind="reship",
        status="in_transit",
        shipped_on=on,
        net=net,
        tax=tax,
        gross=disc.value,
        invoice_id=None,
        request_hash=f"reship:{disc.number}",
        created_by=credit.actor_name(actor),
    )
    line = ShipmentLine(order_line_id=source.order_line_id, product_id=source.product_id, sku=source.sku,
                        quantity=disc.quantity, unit_price=source.unit_price, tax_rate=source.tax_rate, net=net,
                        tax=tax, gross=disc.value)  # fmt: skip
    shipment.lines.append(line)
    db.session.add(shipment)
    db.session.flush()
    from portal.inventory.sums import add_shipment_to_channel

    add_shipment_to_channel(shipment)  # the sell-in back (the correction stays: together they net to the original)
    if not disc.serial:
        # quantities leave HQ's warehouses as for any shipment (portal.wiring)
        events.goods_shipped.send(actor, order=order, shipment=shipment, quantities_by_line={line.id: disc.quantity})
    disc.status, disc.reship = "reshipped", shipment
    disc.resolved_by, disc.resolved_at = credit.actor_name(actor), utcnow()
    db.session.flush()
    record(actor, "discrepancy.reship", "discrepancy", disc.number, dealer_id=disc.dealer_id,
           before={"status": "open"}, after={"status": "reshipped", "shipment": shipment.number})  # fmt: skip
    _notify_dealer(disc, "reshipped")
    return disc


def reship_serials(shipment: Shipment) -> dict[int, str]:
    """{shipment line id: VIN} of a reship shipment's VIN lines (a VIN sent again has no shipment unit row: the
    unit shipped once, in the original shipment)."""
    if shipment.kind != "reship":
        return {}
    rows = (
        db.session.execute(select(DeliveryDiscrepancy.serial).where(DeliveryDiscrepancy.reship_id == shipment.id))
        .scalars()
        .all()
    )
    serial = next((s for s in rows if s), None)
    return {shipment.lines[0].id: serial} if serial and shipment.lines else {}


def _notify_hq(shipment: Shipment, made: list[DeliveryDiscrepancy]) -> None:
    users = (
        db.session.execute(select(User).where(User.role == "channel_manager", User.active.is_(True)))
        .unique()
        .scalars()
        .all()
    )
    for user in users:
        with force_locale(user.locale):
            title = _("Delivery discrepancy on %(shipment)s", shipment=shipment.number)
            body = ", ".join(f"{d.number} {d.serial or d.sku} ×{d.quantity}" for d in made)
        notify(user, kind="discrepancy", title=title, body=body, link="/discrepancies",
               dedupe_key=f"discrepancy:{shipment.number}")  # fmt: skip


def _notify_dealer(disc: DeliveryDiscrepancy, event: str) -> None:
    users = (
        db.session.execute(
            select(User).where(User.dealer_id == disc.dealer_id, User.active.is_(True), User.role == "dealer_admin")
        )
        .unique()
        .scalars()
        .all()
    )
    for user in users:
        with force_locale(user.locale):
            if event == "credited":
                title = _("Discrepancy %(number)s credited", number=disc.number)
                body = _("Credit note for %(amount)s CNY.", amount=disc.value)
            else:
                title = _("Discrepancy %(number)s: goods sent again", number=disc.number)
                body = _("Shipment %(shipment)s, no new invoice.", shipment=disc.reship.number if disc.reship else "")
        notify(user, kind="discrepancy", title=title, body=body, link="/discrepancies",
               dedupe_key=f"discrepancy:{disc.number}:{event}")  # fmt: skip


def discrepancies_query(scope, *, status: str | None = None):
    stmt = scope.select(DeliveryDiscrepancy).order_by(
        DeliveryDiscrepancy.created_at.desc(), DeliveryDiscrepancy.id.desc()
    )
    if status:
        stmt = stmt.where(DeliveryDiscrepancy.status == status)
    return stmt
