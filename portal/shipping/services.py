"""Shipping an order and receiving it (PRODUCT.md §5). Services flush; the entrypoint commits once.

`ship` takes built units (by VIN) and stock quantities of an order, posts **one invoice** for them through the
receivables service (dated the ship date, due after the dealer's payment terms), moves the units to `shipped`, and
the order to `shipped` once every line is shipped in full. The order row is locked first, so two shipments of the
same order are made one after the other and never ship a piece twice; an `Idempotency-Key` makes a retried request
answer the first shipment and post nothing. The value shipped leaves the order's part of the exposure and enters
the receivables in the same transaction.

`receive` is the dealer's confirmation: a `receipt` stock movement per line (one per VIN), the units `delivered`,
and the order `delivered` once all of it is shipped and received. Only the receiving dealer's own users confirm it (a
distributor sees its sub-dealers' shipments, §16, but does not receive them).

**Transfers (§16).** An order a distributor sells to its sub-dealer (`order.seller_id`) is shipped by the
distributor's own users (`sales.ship`; never HQ, never another distributor: `check_shipper`) out of the distributor's
own stock, never HQ's: stock lines by quantity and vehicles by VIN, each VIN received by the distributor, still on
hand (not sold, transferred or returned) and of a product the order asks for. In the one transaction: the shipment
with `seller_id`, a `transfer` movement (negative) per line and per VIN in the distributor's stock, the invoice on
the sub-dealer's ledger (its account with the distributor, through the same posting service, due after the
sub-dealer's payment terms), the order's status as for HQ. HQ stock and the units' stages are not touched (the
VINs were delivered to the distributor; `shipment_units` keeps a unit's one shipment from HQ, so a transfer's VINs
are its `transfer` movements: `serials_by_line`). The distributor's stock never goes below zero: its per-dealer
stock lock (`sellthrough.lock_dealer`, the one its sales, adjustments and returns take) is held while what it holds
is checked — by SKU on the ship date and every later day, and each VIN's state — so a sale to an end customer or
another transfer at the same moment waits; too little → 409 `stock_short` naming the SKU and what is on hand,
nothing written. The sub-dealer receives a transfer like any shipment; a delivery discrepancy on it is settled with
the distributor, not through HQ's claims (refused with that message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from portal.audit.services import record
from portal.credit import services as credit
from portal.dealers import channel
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.inventory import dealer_stock
from portal.inventory.models import DealerStockMove
from portal.inventory.sums import add_moves_to_channel, add_shipment_to_channel, add_transfer_to_channel
from portal.notify.services import notify
from portal.orders import services as orders
from portal.orders.models import OPEN_FOR_CREDIT, Order
from portal.platform.auth import role_can
from portal.platform.errors import Conflict, Forbidden, Invalid
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


def check_shipper(actor, order: Order) -> None:
    """Refuse (403, saying who ships it) unless the actor may ship the order: HQ (`shipments.create`) an order HQ
    sells; the seller's own users (`sales.ship`) an order a distributor sells to its sub-dealer (§16). `None` is the
    portal itself (demo data, factories)."""
    if actor is None:
        return
    role = getattr(actor, "role", None)
    if order.seller_id is None:
        if role_can(role, "shipments.create"):
            return
        raise Forbidden(_("Order %(number)s is sold by HQ: only HQ ships it.", number=order.number))
    dealer = order.dealer
    if channel.sells_to(actor, dealer) and dealer.parent_id == order.seller_id and role_can(role, "sales.ship"):
        return
    seller = db.session.get(Dealer, order.seller_id)
    raise Forbidden(
        _("Order %(number)s is sold by %(seller)s: only %(seller)s ships it, from its own stock.",
          number=order.number, seller=seller.code)
    )  # fmt: skip


def may_ship(actor, order: Order) -> bool:
    """Whether to offer the actor the ship page of the order (the order page's button, the work queues)."""
    if order.status not in SHIPPABLE:
        return False
    try:
        check_shipper(actor, order)
    except Forbidden:
        return False
    return actor is not None


def serials_by_line(shipment: Shipment) -> dict[int, list[str]]:
    """{shipment line id: [VIN]} of a shipment's vehicle lines: HQ's shipments name their units
    (`shipment_units`); a transfer's VINs are its `transfer` movements out of the distributor's stock (a unit ships
    once from HQ, then moves on VIN by VIN), matched to the line of their product (one line per SKU). Read once
    per shipment object."""
    if shipment.seller_id is None:
        return {ln.id: [u.serial for u in ln.units] for ln in shipment.lines if ln.units}
    cached = getattr(shipment, "_transfer_serials", None)
    if cached is not None:
        return cached
    line_of = {ln.product_id: ln.id for ln in shipment.lines}
    rows = db.session.execute(
        select(DealerStockMove.product_id, DealerStockMove.serial)
        .where(DealerStockMove.shipment_id == shipment.id, DealerStockMove.kind == "transfer",
               DealerStockMove.serial.is_not(None))
        .order_by(DealerStockMove.id)
    ).all()  # fmt: skip
    out: dict[int, list[str]] = defaultdict(list)
    for product_id, serial in rows:
        out[line_of[product_id]].append(serial)
    shipment._transfer_serials = dict(out)
    return shipment._transfer_serials


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
    _within_left(order, quantities, units, left, errors)
    return quantities, units


def _within_left(order: Order, quantities: dict, units: dict, left: dict[int, int], errors: dict) -> None:
    """Refuse a pick (with the errors found so far) that ships more of a line than is left; else count its units
    (VINs or unit rows) into `quantities`."""
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


def _pick_from_seller(
    order: Order, seller: Dealer, serials: list[str], lines: list[dict], left: dict[int, int], shipped_on: dt.date
) -> tuple[dict[int, int], dict[int, list[str]]]:
    """What a distributor ships to its sub-dealer, checked against the order and the distributor's own stock (its
    stock lock held): (quantity per order line, VINs per order line). Bad input (a VIN the distributor never
    received, of a product the order does not ask for, more than is left to ship) → 422 with every problem by field;
    then too little on hand (a SKU short on the ship date or a later day, a VIN sold, transferred or returned since)
    → 409 `stock_short` naming the SKU and what is on hand. Nothing is written either way."""
    from portal.inventory.sellthrough import serial_state

    errors: dict[str, list[str]] = {}
    short: dict[str, list[str]] = {}
    short_skus: dict[str, int] = {}
    if not serials and not lines:
        raise Invalid(fields={"serials": [_("Choose the units or quantities to ship.")]})
    if len(set(serials)) != len(serials):
        errors["serials"] = [_("Each VIN once.")]
    skus = [ln["sku"] for ln in lines]
    if len(set(skus)) != len(skus):
        errors["lines"] = [_("Each SKU once per shipment.")]
    by_sku = {ln.sku: ln for ln in order.lines}
    by_product = {ln.product_id: ln for ln in order.lines}
    state = serial_state(seller.id, serials)
    units: dict[int, list[str]] = defaultdict(list)
    quantities: dict[int, int] = defaultdict(int)
    for i, serial in enumerate(serials):
        known = state.get(serial)
        line = by_product.get(known["product_id"]) if known else None
        if known is None or known["received_on"] is None:
            errors[f"serials.{i}"] = [_("%(vin)s was never received by %(seller)s.", vin=serial, seller=seller.code)]
        elif line is None or not line.product.build_to_order:
            errors[f"serials.{i}"] = [_("%(vin)s is not a product this order asks for by VIN.", vin=serial)]
        elif known["received_on"] > shipped_on:
            errors[f"serials.{i}"] = [_("%(vin)s was received on %(day)s, after the ship date.", vin=serial,
                                        day=known["received_on"].isoformat())]  # fmt: skip
        elif known["held"] <= 0:
            short[f"serials.{i}"] = [_("%(vin)s is no longer in %(seller)s's stock (sold, transferred or returned).",
                                       vin=serial, seller=seller.code)]  # fmt: skip
            short_skus.setdefault(line.sku, 0)
        else:
            units[line.id].append(serial)
    taken = {s for picked in units.values() for s in picked}
    for i, ln in enumerate(lines):
        line = by_sku.get(ln["sku"])
        if line is None:
            errors[f"lines.{i}.sku"] = [_("%(sku)s is not on this order.", sku=ln["sku"])]
        elif line.product.build_to_order:  # the distributor's VINs of that product, the longest held first
            free = [
                v["serial"]
                for v in dealer_stock.vins_on_hand(seller.id, product_id=line.product_id)
                if v["serial"] not in taken and v["received_on"] is not None and v["received_on"] <= shipped_on
            ]
            if len(free) < ln["quantity"]:
                short[f"lines.{i}.quantity"] = [_("Only %(n)s vehicles of %(sku)s in %(seller)s's stock.", n=len(free),
                                                  sku=line.sku, seller=seller.code)]  # fmt: skip
                short_skus[line.sku] = len(free)
            else:
                units[line.id].extend(free[: ln["quantity"]])
                taken.update(free[: ln["quantity"]])
        else:
            quantities[line.id] += ln["quantity"]
    _within_left(order, quantities, units, left, errors)
    # by SKU: what leaves on the ship date may not make that day or any later day negative (a back-dated transfer)
    line_of = {ln.id: ln for ln in order.lines}
    need = {line_of[line_id].product_id: qty for line_id, qty in quantities.items() if qty}
    asked_for = set(need) | {by_sku[sku].product_id for sku in short_skus}
    available = dealer_stock.available_from(seller.id, asked_for, shipped_on)
    index_of = {ln["sku"]: i for i, ln in enumerate(lines)}
    for line_id, qty in quantities.items():
        line = line_of[line_id]
        if qty > available.get(line.product_id, 0) and line.sku not in short_skus:
            key = f"lines.{index_of[line.sku]}.quantity" if line.sku in index_of else "serials"
            short.setdefault(key, []).append(
                _("Only %(n)s of %(sku)s in %(seller)s's stock on %(day)s and after.",
                  n=available.get(line.product_id, 0), sku=line.sku, seller=seller.code, day=shipped_on.isoformat())
            )  # fmt: skip
            short_skus[line.sku] = available.get(line.product_id, 0)
    if short:
        on_hand = ", ".join(
            _("%(sku)s (%(n)s on hand)", sku=sku, n=available.get(by_sku[sku].product_id, 0) if sku in by_sku else 0)
            for sku in sorted(short_skus)
        )
        raise Conflict(
            _("%(seller)s's stock is short: %(skus)s. Nothing was shipped.", seller=seller.code, skus=on_hand),
            code="stock_short",
            fields=short,
        )
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
    check_shipper(actor, order)
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
    seller = db.session.get(Dealer, order.seller_id) if order.seller_id is not None else None
    if seller is None:
        quantities, units = _pick(order, serials, lines, left)
        vins: dict[int, list[str]] = {}
    else:
        # the distributor's stock lock, after the sub-dealer's credit and order rows (one lock order), then its stock
        from portal.inventory.sellthrough import lock_dealer

        lock_dealer(seller)
        quantities, vins = _pick_from_seller(order, seller, serials, lines, left, shipped_on)
        units = {}
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
        seller_id=seller.id if seller is not None else None,
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
               "units": sum(len(v) for v in units.values()) + sum(len(v) for v in vins.values()),
               **({"seller": seller.code} if seller is not None else {})},
        dealer_id=order.dealer_id,
    )  # fmt: skip
    db.session.flush()
    if seller is not None:
        moves = _transfer_moves(shipment, seller, vins, credit.actor_name(actor))
        db.session.add_all(moves)
        db.session.flush()
        add_transfer_to_channel(shipment, moves)
    else:
        add_shipment_to_channel(shipment)
        # HQ stock takes the stock quantities out of its warehouses, or refuses (portal.wiring)
        events.goods_shipped.send(actor, order=order, shipment=shipment, quantities_by_line=dict(quantities))
        unit_ids = [u.id for picked in units.values() for u in picked]
        production.move_units(actor, unit_ids, "shipped", _moment(shipped_on), source="shipment")
    if all(left[line_id] == quantities.get(line_id, 0) for line_id in left):
        orders.advance(actor, order, "shipped", number, allowed_from=SHIPPABLE)
    _notify(order, shipment)
    return shipment, True


def _transfer_moves(shipment: Shipment, seller: Dealer, vins: dict[int, list[str]], who: str) -> list:
    """The goods leaving the distributor's stock: one `transfer` movement per VIN, one per stock line."""
    moves = []
    for line in shipment.lines:
        picked = vins.get(line.order_line_id)
        for serial, quantity in [(s, 1) for s in picked] if picked else [(None, line.quantity)]:
            moves.append(
                DealerStockMove(
                    dealer_id=seller.id,
                    product_id=line.product_id,
                    sku=line.sku,
                    serial=serial,
                    quantity=-quantity,
                    kind="transfer",
                    moved_on=shipment.shipped_on,
                    shipment_id=shipment.id,
                    created_by=who,
                )
            )
    return moves


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
    check_receiver(actor, shipment)
    if shipment.status == "received":
        raise Conflict(_("Shipment %(number)s is already received.", number=shipment.number), code="already_received")
    received_on = received_on or today()
    if received_on > today() or received_on < shipment.shipped_on:
        raise Invalid(fields={"received_on": [_("Between the ship date and today.")]})
    if shipment.seller_id is not None and discrepancies:
        # HQ's claims (re-shipment or credit note by HQ) do not apply to goods a distributor sent
        seller = db.session.get(Dealer, shipment.seller_id)
        raise Invalid(
            _("Goods short or damaged in a shipment from %(seller)s are settled with %(seller)s directly: confirm "
              "what arrived, and record damaged goods with a stock adjustment.", seller=seller.code),
            fields={"discrepancies": [_("Not for a shipment from %(seller)s.", seller=seller.code)]},
        )  # fmt: skip
    short_by_line, short_serials, declared = claims.check(shipment, discrepancies or [])
    resent = claims.reship_serials(shipment)  # a VIN sent again for a discrepancy
    transferred = serials_by_line(shipment) if shipment.seller_id is not None else {}
    who = credit.actor_name(actor)
    receipts = []
    for line in shipment.lines:
        if line.units:
            receipts.extend(_receipt(shipment, line, 1, received_on, who, unit.serial) for unit in line.units
                            if unit.serial not in short_serials)  # fmt: skip
        elif line.id in transferred:  # a distributor's VINs (§16)
            receipts.extend(_receipt(shipment, line, 1, received_on, who, serial) for serial in transferred[line.id])
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


def check_receiver(actor, shipment: Shipment) -> None:
    """Only the receiving dealer's users confirm a receipt: a distributor sees its sub-dealers' shipments (§16) but
    does not receive them. `None` is the portal itself."""
    own = getattr(actor, "dealer_id", None)
    if own is not None and own != shipment.dealer_id:
        raise Forbidden(_("Only the receiving dealer confirms the receipt of shipment %(number)s.",
                          number=shipment.number))  # fmt: skip


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


def shipments_query(scope, *, status=None, dealer=None, order=None, date_from=None, date_to=None, q=None,
                    seller=None):  # fmt: skip
    """The shipments in the scope, newest first, filtered. `seller`: a distributor's code (its transfers to its
    sub-dealers, §16; refused as bad input when it is no distributor in the scope)."""
    stmt = scope.select(Shipment).order_by(Shipment.shipped_on.desc(), Shipment.id.desc())
    if seller:
        stmt = stmt.where(Shipment.seller_id == channel.seller_in_scope(scope, seller).id)
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
    stmt = stmt.options(lazyload(Shipment.order))  # the page's own order, in the session: not read again
    return db.session.execute(stmt.order_by(Shipment.shipped_on, Shipment.id)).unique().scalars().all()
