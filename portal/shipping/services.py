"""Shipping an order and receiving it (PRODUCT.md §5). Services flush; the entrypoint commits once.

`ship` takes built units (by VIN) and stock quantities of an order, posts **one invoice** for them through the
receivables service (dated the ship date, due after the dealer's payment terms), moves the units to `shipped`, and
the order to `shipped` once every line is shipped in full. The order row is locked first, so two shipments of the
same order are made one after the other and never ship a piece twice; an `Idempotency-Key` makes a retried request
answer the first shipment and post nothing. The value shipped leaves the order's part of the exposure and enters
the receivables in the same transaction.

`receive` is the dealer's confirmation: a `receipt` stock movement per line (one per VIN), the units `delivered`,
and the order `delivered` once all of it is shipped and received.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.credit import services as credit
from portal.dealers.models import User
from portal.extensions import db
from portal.inventory.models import DealerStockMove
from portal.inventory.sums import add_moves_to_channel, add_shipment_to_channel
from portal.notify.services import notify
from portal.orders import services as orders
from portal.orders.models import OPEN_FOR_CREDIT, Order
from portal.platform.errors import Conflict, Invalid
from portal.platform.ids import next_id
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.timeutil import portal_tz, today, utcnow
from portal.production import services as production
from portal.production import stages as st
from portal.production.models import Unit
from portal.shipping import events
from portal.shipping.models import Shipment, ShipmentLine, ShipmentUnit

SHIPPABLE = OPEN_FOR_CREDIT  # approved, in production, built: approved and not yet (fully) shipped


def shipped_value(dealer_id):
    """Gross already shipped (so invoiced) of a dealer's orders that still count as open: taken off their gross in
    the exposure, as SQL (a receiver of `credit.events.open_order_exposure`)."""
    return -(
        select(sql_sum(Shipment.gross))
        .join(Order, Order.id == Shipment.order_id)
        .where(Shipment.dealer_id == dealer_id, Order.status.in_(OPEN_FOR_CREDIT), Shipment.kind == "sale")
        .scalar_subquery()
    )


def refuse_cancel_after_shipping(actor, order: Order) -> None:
    """A receiver of `orders.events.order_before_cancel`: what is shipped is invoiced, so the order stays."""
    shipped = db.session.execute(select(Shipment.id).where(Shipment.order_id == order.id).limit(1)).first()
    if shipped:
        raise Conflict(_("Part of this order is shipped and invoiced; it can no longer be cancelled."), code="shipped")


def refuse_amend_after_shipping(actor, order: Order) -> None:
    """A receiver of `orders.events.order_before_amend`: once anything of the order is shipped (and invoiced), its
    lines stay as they are."""
    shipped = db.session.execute(select(Shipment.id).where(Shipment.order_id == order.id).limit(1)).first()
    if shipped:
        raise Conflict(
            _("Part of order %(number)s is shipped; it can no longer be amended.", number=order.number),
            code="not_amendable",
        )


def request_hash(serials: list[str], lines: list[dict], shipped_on: dt.date | None) -> str:
    canonical = json.dumps(
        {
            "serials": sorted(serials),
            "lines": sorted([ln["sku"], ln["quantity"]] for ln in lines),
            "shipped_on": shipped_on.isoformat() if shipped_on else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def shipped_so_far(order_id: int) -> dict[int, tuple[int, object, object]]:
    """order line id → (quantity, net, tax) shipped so far."""
    stmt = (
        select(ShipmentLine.order_line_id, func.sum(ShipmentLine.quantity), sql_sum(ShipmentLine.net),
               sql_sum(ShipmentLine.tax))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order_id, Shipment.kind == "sale")  # a re-shipment sends nothing new (§13)
        .group_by(ShipmentLine.order_line_id)
    )  # fmt: skip
    return {line_id: (int(q), money(net), money(tax)) for line_id, q, net, tax in db.session.execute(stmt)}


def ready_units(order_id: int) -> list:
    """Built units of the order not shipped yet, oldest completion first: (id, serial, order_line_id, stage_at)."""
    shipped = select(ShipmentUnit.unit_id)
    return db.session.execute(
        select(Unit.id, Unit.serial, Unit.order_line_id, Unit.stage_at)
        .where(Unit.order_id == order_id, Unit.stage == st.completed(), Unit.id.not_in(shipped))
        .order_by(Unit.stage_at, Unit.id)
    ).all()


def remaining(order: Order, so_far: dict | None = None) -> dict[int, int]:
    """order line id → quantity still to ship (`so_far`: `shipped_so_far(order.id)` when already read)."""
    so_far = shipped_so_far(order.id) if so_far is None else so_far
    return {ln.id: ln.quantity - so_far.get(ln.id, (0, ZERO, ZERO))[0] for ln in order.lines}


def _lock(order: Order) -> Order:
    # FOR NO KEY UPDATE: two shipments of the order wait for each other, while a receipt allocating to the order's
    # backorders (which references the order from its moves, a KEY SHARE lock) does not wait for the shipment that
    # itself waits for the receipt's stock rows (portal.inventory.hq: one lock order)
    stmt = select(Order).where(Order.id == order.id).with_for_update(of=Order, key_share=True)
    return db.session.execute(stmt.execution_options(populate_existing=True)).unique().scalar_one()


def _same_key(order: Order, key: str, digest: str) -> Shipment | None:
    found = (
        db.session.execute(select(Shipment).where(Shipment.order_id == order.id, Shipment.idempotency_key == key))
        .unique()
        .scalar_one_or_none()
    )
    if found is not None and found.request_hash != digest:
        raise Invalid(
            _("This Idempotency-Key was used for a different shipment."),
            code="idempotency_mismatch",
            fields={"Idempotency-Key": [_("Already used with another body.")]},
        )
    return found


def _moment(on: dt.date) -> dt.datetime:
    """When a unit's stage changes for something dated `on`: now for today, noon local time for another day."""
    return utcnow() if on == today() else dt.datetime.combine(on, dt.time(12), portal_tz())


def _pick(
    order: Order, serials: list[str], lines: list[dict], left: dict[int, int]
) -> tuple[dict[int, int], dict[int, list]]:
    """Check what is asked against the order: (quantity per order line, units per order line). Every problem is
    reported at once, by field."""
    errors: dict[str, list[str]] = {}
    if not serials and not lines:
        raise Invalid(fields={"serials": [_("Choose the units or quantities to ship.")]})
    if len(set(serials)) != len(serials):
        errors["serials"] = [_("Each VIN once.")]
    skus = [ln["sku"] for ln in lines]
    if len(set(skus)) != len(skus):
        errors["lines"] = [_("Each SKU once per shipment.")]
    by_sku = {ln.sku: ln for ln in order.lines}
    ready = ready_units(order.id)
    ready_by_serial = {u.serial: u for u in ready}
    units: dict[int, list] = defaultdict(list)
    quantities: dict[int, int] = defaultdict(int)
    if serials:
        known = {
            u.serial: u
            for u in db.session.execute(
                select(Unit.serial, Unit.order_id, Unit.stage).where(Unit.serial.in_(serials))
            ).all()
        }
        for i, serial in enumerate(serials):
            unit = ready_by_serial.get(serial)
            if unit is not None:
                units[unit.order_line_id].append(unit)
                continue
            other = known.get(serial)
            if other is None or other.order_id != order.id:
                errors[f"serials.{i}"] = [_("%(vin)s is not a unit of this order.", vin=serial)]
            elif st.rank(other.stage) > st.rank(st.completed()):
                errors[f"serials.{i}"] = [_("%(vin)s is already shipped.", vin=serial)]
            else:
                errors[f"serials.{i}"] = [_("%(vin)s is not built yet (%(stage)s).", vin=serial,
                                            stage=st.label(other.stage))]  # fmt: skip
    taken = {u.id for picked in units.values() for u in picked}
    for i, ln in enumerate(lines):
        line = by_sku.get(ln["sku"])
        if line is None:
            errors[f"lines.{i}.sku"] = [_("%(sku)s is not on this order.", sku=ln["sku"])]
        elif line.product.build_to_order:  # built units of that line, the longest waiting first
            free = [u for u in ready if u.order_line_id == line.id and u.id not in taken]
            if len(free) < ln["quantity"]:
                errors[f"lines.{i}.quantity"] = [
                    _("Only %(n)s built units of %(sku)s are ready to ship.", n=len(free), sku=line.sku)
                ]
            else:
                units[line.id].extend(free[: ln["quantity"]])
                taken.update(u.id for u in free[: ln["quantity"]])
        else:
            quantities[line.id] += ln["quantity"]
    if not errors:
        for line in order.lines:
            asked = quantities.get(line.id, 0) + len(units.get(line.id, ()))
            if asked > left[line.id]:
                errors.setdefault("lines", []).append(
                    _("%(sku)s: only %(n)s left to ship.", sku=line.sku, n=left[line.id])
                )
    if errors:
        raise Invalid(fields=errors)
    for line_id, picked in units.items():
        quantities[line_id] += len(picked)
    return quantities, units


def ship(
    actor,
    order: Order,
    *,
    serials: list[str] | None = None,
    lines: list[dict] | None = None,
    shipped_on: dt.date | None = None,
    idempotency_key: str | None = None,
) -> tuple[Shipment, bool]:
    """Ship units and quantities of an order, invoice them once. Returns (shipment, created)."""
    serials = [s.strip().upper() for s in serials or [] if s.strip()]
    lines = lines or []
    digest = request_hash(serials, lines, shipped_on)
    # the dealer's credit row before the order's (the invoice posts under it): one lock order with the credit gate
    # and amendments (credit → order → HQ stock), so a shipment never deadlocks with an amendment of its order
    credit.lock_credit(order.dealer)
    order = _lock(order)
    if idempotency_key and (existing := _same_key(order, idempotency_key, digest)) is not None:
        return existing, False
    if order.status not in SHIPPABLE:
        from portal.orders.labels import ORDER_STATUS_LABELS

        raise Conflict(
            _("An order that is %(status)s cannot be shipped.", status=ORDER_STATUS_LABELS[order.status]),
            code="invalid_transition",
        )
    shipped_on = shipped_on or today()
    placed_on = order.created_at.astimezone(portal_tz()).date()
    if shipped_on > today() or shipped_on < placed_on:
        raise Invalid(fields={"shipped_on": [_("Between the order date and today.")]})
    so_far = shipped_so_far(order.id)
    left = remaining(order, so_far)
    quantities, units = _pick(order, serials, lines, left)
    shipment_id = next_id(Shipment)
    number = f"DN-{shipped_on:%Y%m}-{shipment_id:06d}"
    shipment_lines = []
    for line in order.lines:
        qty = quantities.get(line.id)
        if not qty:
            continue
        done_qty, done_net, done_tax = so_far.get(line.id, (0, ZERO, ZERO))
        if done_qty + qty == line.quantity:  # the last of the line takes what is left: the order adds up
            net, tax = money(line.net - done_net), money(line.tax - done_tax)
        else:
            net = money(line.unit_price * qty)
            tax = money(net * line.tax_rate)
        shipment_lines.append(
            ShipmentLine(
                order_line_id=line.id,
                product_id=line.product_id,
                sku=line.sku,
                quantity=qty,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                net=net,
                tax=tax,
                gross=net + tax,
                units=[ShipmentUnit(unit_id=u.id, serial=u.serial) for u in units.get(line.id, ())],
            )
        )
    net = money(sum((ln.net for ln in shipment_lines), ZERO))
    tax = money(sum((ln.tax for ln in shipment_lines), ZERO))
    invoice = credit.post_invoice(
        actor,
        order.dealer,
        number=f"SI-{shipped_on:%Y%m}-{shipment_id:06d}",
        issued_on=shipped_on,
        amount=net + tax,
        order_number=order.number,
        source="shipment",
    )
    shipment = Shipment(
        id=shipment_id,
        number=number,
        order=order,
        dealer_id=order.dealer_id,
        status="in_transit",
        shipped_on=shipped_on,
        net=net,
        tax=tax,
        gross=net + tax,
        invoice=invoice,
        idempotency_key=idempotency_key,
        request_hash=digest,
        created_by=credit.actor_name(actor),
        lines=shipment_lines,
    )
    db.session.add(shipment)
    record(
        actor,
        "shipment.create",
        "shipment",
        number,
        after={"order": order.number, "gross": str(shipment.gross), "invoice": invoice.number,
               "units": sum(len(v) for v in units.values())},
        dealer_id=order.dealer_id,
    )  # fmt: skip
    db.session.flush()
    add_shipment_to_channel(shipment)
    # HQ stock takes the stock quantities out of its warehouses, or refuses (portal.wiring)
    events.goods_shipped.send(actor, order=order, shipment=shipment, quantities_by_line=dict(quantities))
    unit_ids = [u.id for picked in units.values() for u in picked]
    production.move_units(actor, unit_ids, "shipped", _moment(shipped_on), source="shipment")
    if all(left[line_id] == quantities.get(line_id, 0) for line_id in left):
        orders.advance(actor, order, "shipped", number, allowed_from=SHIPPABLE)
    _notify(order, shipment)
    return shipment, True


def receive(actor, shipment: Shipment, received_on: dt.date | None = None,
            discrepancies: list[dict] | None = None) -> Shipment:  # fmt: skip
    """The dealer confirms a shipment arrived: stock receipts, units delivered, the order delivered when complete.
    `discrepancies` (§13): goods declared short or damaged — by SKU quantity or VIN — do not enter the stock (a VIN
    stays shipped); each opens a claim for HQ (portal.returns.discrepancies)."""
    from portal.returns import discrepancies as claims

    shipment = (
        db.session.execute(
            select(Shipment)
            .where(Shipment.id == shipment.id)
            .with_for_update(of=Shipment)
            .execution_options(populate_existing=True)
        )
        .unique()
        .scalar_one()
    )
    if shipment.status == "received":
        raise Conflict(_("Shipment %(number)s is already received.", number=shipment.number), code="already_received")
    received_on = received_on or today()
    if received_on > today() or received_on < shipment.shipped_on:
        raise Invalid(fields={"received_on": [_("Between the ship date and today.")]})
    short_by_line, short_serials, declared = claims.check(shipment, discrepancies or [])
    resent = claims.reship_serials(shipment)  # a VIN sent again for a discrepancy
    who = credit.actor_name(actor)
    receipts = []
    for line in shipment.lines:
        if line.units:
            receipts.extend(_receipt(shipment, line, 1, received_on, who, unit.serial) for unit in line.units
                            if unit.serial not in short_serials)  # fmt: skip
        elif line.id in resent:
            if resent[line.id] not in short_serials:
                receipts.append(_receipt(shipment, line, 1, received_on, who, resent[line.id]))
        elif line.quantity - short_by_line.get(line.id, 0) > 0:
            receipts.append(_receipt(shipment, line, line.quantity - short_by_line.get(line.id, 0), received_on, who,
                                     None))  # fmt: skip
    db.session.add_all(receipts)
    add_moves_to_channel(receipts)
    shipment.status = "received"
    shipment.received_on = received_on
    shipment.received_by = who
    record(
        actor,
        "shipment.receive",
        "shipment",
        shipment.number,
        before={"status": "in_transit"},
        after={"status": "received", "received_on": received_on.isoformat()},
        dealer_id=shipment.dealer_id,
    )
    db.session.flush()
    claims.declare(actor, shipment, declared, received_on)
    unit_ids = [u.unit_id for line in shipment.lines for u in line.units if u.serial not in short_serials]
    if resent:
        unit_ids += list(db.session.execute(
            select(Unit.id).where(Unit.serial.in_([s for s in resent.values() if s not in short_serials]))
        ).scalars())  # fmt: skip
    production.move_units(actor, unit_ids, "delivered", _moment(received_on), source="receipt")
    order = _lock(shipment.order)
    in_transit = db.session.execute(
        select(func.count()).where(Shipment.order_id == order.id, Shipment.status == "in_transit")
    ).scalar_one()
    if order.status == "shipped" and not in_transit:
        orders.advance(actor, order, "delivered", shipment.number, allowed_from=("shipped",))
    return shipment


def _receipt(shipment, line, quantity, on, who, serial) -> DealerStockMove:
    return DealerStockMove(
        dealer_id=shipment.dealer_id,
        product_id=line.product_id,
        sku=line.sku,
        serial=serial,
        quantity=quantity,
        kind="receipt",
        moved_on=on,
        shipment_id=shipment.id,
        created_by=who,
    )


def _notify(order: Order, shipment: Shipment) -> None:
    users = (
        db.session.execute(select(User).where(User.dealer_id == order.dealer_id, User.active.is_(True)))
        .unique()
        .scalars()
        .all()
    )
    for user in users:
        with force_locale(user.locale):
            title = _("Shipment %(number)s of order %(order)s is on its way", number=shipment.number,
                      order=order.number)  # fmt: skip
            body = _("Invoice %(invoice)s: %(amount)s CNY, due %(due)s.", invoice=shipment.invoice.number,
                     amount=format_decimal(shipment.gross, format="#,##0.00"),
                     due=shipment.invoice.due_on.isoformat())  # fmt: skip
        notify(user, kind="shipment", title=title, body=body, link=f"/shipments/{shipment.number}",
               dedupe_key=f"shipment:{shipment.number}")  # fmt: skip


def shipments_query(scope, *, status=None, dealer=None, order=None, date_from=None, date_to=None, q=None):
    from portal.dealers.models import Dealer

    stmt = scope.select(Shipment).order_by(Shipment.shipped_on.desc(), Shipment.id.desc())
    if status:
        stmt = stmt.where(Shipment.status == status)
    if dealer:
        stmt = stmt.where(Shipment.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    if order:
        stmt = stmt.where(Shipment.order_id.in_(select(Order.id).where(Order.number == order)))
    if date_from:
        stmt = stmt.where(Shipment.shipped_on >= date_from)
    if date_to:
        stmt = stmt.where(Shipment.shipped_on <= date_to)
    if q:
        stmt = stmt.where(func.lower(Shipment.number).contains(q.strip().lower(), autoescape=True))
    return stmt


def shipments_of(scope, order: Order) -> list[Shipment]:
    """The shipments of an order in the caller's scope, oldest first (the order page)."""
    stmt = scope.select(Shipment).where(Shipment.order_id == order.id)
    return db.session.execute(stmt.order_by(Shipment.shipped_on, Shipment.id)).unique().scalars().all()
