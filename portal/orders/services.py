"""Placing orders and moving them through their lifecycle. Services flush; the entrypoint commits once.

The credit gate (PRODUCT.md §3) runs in the same transaction as the insert, after the dealer's credit row is
locked (`lock_credit`: SELECT … FOR UPDATE on PostgreSQL; on SQLite the transaction holds the write lock from
BEGIN IMMEDIATE), so two submissions at the same moment are checked one after the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.catalog import pricing
from portal.catalog.models import Product
from portal.credit import services as credit
from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.notify.services import notify
from portal.orders import events, notes
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderEvent, OrderLine
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.ids import next_id
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.timeutil import today, utcnow
from portal.platform.uow import probing

MAX_QUANTITY = 100_000
MAX_LINES = 200
DEALER_CANCELLABLE = ("submitted", "credit_review", "approved")
HQ_CANCELLABLE = ("submitted", "credit_review", "approved", "in_production", "built")


def open_orders_gross(dealer_id):
    """Gross of a dealer's approved orders not yet invoiced (part of exposure, §3), as a scalar subquery."""
    return (
        select(sql_sum(Order.gross))
        .where(Order.dealer_id == dealer_id, Order.status.in_(OPEN_FOR_CREDIT))
        .scalar_subquery()
    )


def _approved(actor, order: Order) -> None:
    if order.approved_at is None:  # the first approval places the order in the backorder queues (§12)
        order.approved_at = utcnow()
        db.session.flush()
    events.order_approved.send(actor, order=order)  # HQ stock allocates, production makes the units (portal.wiring)


def request_hash(lines: list[dict], note: str | None) -> str:
    canonical = json.dumps(
        {"lines": [{"sku": ln["sku"], "quantity": ln["quantity"]} for ln in lines], "note": note or None},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_lines(lines: list[dict]) -> dict[str, Product]:
    errors: dict[str, list[str]] = {}
    if not lines:
        raise Invalid(fields={"lines": [_("An order needs at least one line.")]})
    if len(lines) > MAX_LINES:
        raise Invalid(fields={"lines": [_("At most %(n)s lines.", n=MAX_LINES)]})
    skus = [ln["sku"] for ln in lines]
    dupes = sorted({s for s in skus if skus.count(s) > 1})
    if dupes:
        errors["lines"] = [_("Each SKU once per order: %(skus)s.", skus=", ".join(dupes))]
    products = {p.sku: p for p in db.session.execute(select(Product).where(Product.sku.in_(skus))).scalars()}
    for i, ln in enumerate(lines):
        product = products.get(ln["sku"])
        if product is None or not product.active:
            errors[f"lines.{i}.sku"] = [_("Unknown or inactive SKU %(sku)s.", sku=ln["sku"])]
        q = ln["quantity"]
        if not isinstance(q, int) or isinstance(q, bool) or q < 1 or q > MAX_QUANTITY:
            errors[f"lines.{i}.quantity"] = [_("A whole number from 1 to %(n)s.", n=MAX_QUANTITY)]
    if errors:
        raise Invalid(fields=errors)
    return products


def quote(dealer: Dealer, lines: list[dict], on: dt.date | None = None) -> dict:
    """Price every line the way an order would be priced (no credit check, nothing stored)."""
    products = _check_lines(lines)
    lists = pricing.candidates_for(dealer, on or today(), products.values())
    out_lines = []
    for n, ln in enumerate(lines, start=1):
        product = products[ln["sku"]]
        resolved = pricing.resolve_with(lists, product, ln["quantity"])
        amounts = pricing.price_line(resolved.unit_price, ln["quantity"], product.tax_rate)
        out_lines.append(
            {
                "line_no": n,
                "product": product,
                "sku": product.sku,
                "quantity": ln["quantity"],
                "list_price": resolved.list_price,
                "unit_price": resolved.unit_price,
                "tax_rate": product.tax_rate,
                "rule": resolved.rule,
                **amounts,
            }
        )
    totals = {k: money(sum((ln[k] for ln in out_lines), ZERO)) for k in ("net", "tax", "gross")}
    return {"lines": out_lines, **totals}


def _event(
    order: Order, actor, from_status: str | None, to_status: str, comment: str | None = None, data: dict | None = None
) -> None:
    order.events.append(
        OrderEvent(
            actor=credit.actor_name(actor), from_status=from_status, to_status=to_status, comment=comment, data=data
        )
    )


def _same_key(dealer: Dealer, idempotency_key: str, digest: str) -> Order | None:
    """The dealer's order made with this Idempotency-Key (None when there is none); another body → 422."""
    found = db.session.execute(
        select(Order.id, Order.request_hash).where(
            Order.dealer_id == dealer.id, Order.idempotency_key == idempotency_key
        )
    ).first()
    if found is None:
        return None
    if found.request_hash != digest:
        raise Invalid(
            _("This Idempotency-Key was used for a different order."),
            code="idempotency_mismatch",
            fields={"Idempotency-Key": [_("Already used with another body.")]},
        )
    return db.session.get(Order, found.id)


def place_order(
    actor, dealer: Dealer, lines: list[dict], note: str | None = None, idempotency_key: str | None = None
) -> tuple[Order, bool]:
    """Price, check credit and store an order in one transaction. Returns (order, created)."""
    digest = request_hash(lines, note)
    if idempotency_key and (existing := _same_key(dealer, idempotency_key, digest)) is not None:
        return existing, False
    if dealer.status != "active":
        raise Conflict(_("The dealer is suspended and cannot order."), code="dealer_suspended")
    priced = quote(dealer, lines)
    row = credit.lock_credit(dealer)  # the gate: serialised per dealer from here to the commit
    # a concurrent twin may have committed while we waited for the lock
    if idempotency_key and (twin := _same_key(dealer, idempotency_key, digest)) is not None:
        return twin, False
    if row.on_hold:
        raise Conflict(
            _("The dealer is on credit hold: %(reason)s", reason=credit.hold_reason(row)), code="credit_hold"
        )
    available = credit.credit_summary(dealer)["available"]
    status = "approved" if priced["gross"] <= available else "credit_review"
    order_id = next_id(Order)
    order = Order(
        id=order_id,
        dealer=dealer,
        number=f"SO-{today():%Y%m}-{order_id:06d}",
        status=status,
        net=priced["net"],
        tax=priced["tax"],
        gross=priced["gross"],
        note=(note or "").strip() or None,
        idempotency_key=idempotency_key,
        request_hash=digest,
        available_at_submit=available,
        created_by=credit.actor_name(actor),
        events=[],
        lines=[
            OrderLine(
                line_no=ln["line_no"],
                product=ln["product"],
                sku=ln["sku"],
                quantity=ln["quantity"],
                list_price=ln["list_price"],
                unit_price=ln["unit_price"],
                tax_rate=ln["tax_rate"],
                net=ln["net"],
                tax=ln["tax"],
                gross=ln["gross"],
                rule=ln["rule"],
            )
            for ln in priced["lines"]
        ],
    )
    _event(order, actor, None, "submitted")
    # the review's reason is a code with its figures, said in each reader's language (portal/orders/notes.py)
    figures = notes.over_available(available, priced["gross"])
    if status == "approved":
        figures.pop("note")
    _event(order, actor, "submitted", status, data=figures)
    db.session.add(order)
    record(
        actor,
        "order.submit",
        "order",
        order.number,
        after={"status": status, "gross": str(order.gross)},
        dealer_id=dealer.id,
    )
    db.session.flush()  # one flush: the order, its lines, its events and the audit entry
    if status == "approved":
        _approved(actor, order)
    return order, True


# ---------------------------------------------------------------- approvals and cancellation


def excess_over_available(order: Order) -> Decimal:
    """How much the order exceeds the dealer's available credit now (0 when it fits)."""
    available = credit.credit_summary(order.dealer)["available"]
    return max(ZERO, money(order.gross - available))


def may_approve(actor, order: Order) -> bool:
    role = getattr(actor, "role", None)
    if role in ("finance", "channel_manager", "hq_admin"):
        return True
    if role == "region_manager" and actor.region is not None:
        in_region = order.dealer.region.path.startswith(actor.region.path)
        return in_region and excess_over_available(order) <= actor.region.approval_limit
    return False


def _transition(actor, order: Order, to_status: str, comment: str | None, allowed_from: tuple[str, ...]):
    if order.status not in allowed_from:
        from portal.orders.labels import ORDER_STATUS_LABELS

        raise Conflict(
            _(
                "An order that is %(status)s cannot become %(to)s.",
                status=ORDER_STATUS_LABELS[order.status],
                to=ORDER_STATUS_LABELS[to_status],
            ),
            code="invalid_transition",
        )
    before = order.status
    order.status = to_status
    _event(order, actor, before, to_status, (comment or "").strip() or None)
    db.session.flush()
    record(
        actor,
        f"order.{to_status}",
        "order",
        order.number,
        before={"status": before},
        after={"status": to_status, "comment": (comment or "").strip() or None},
        dealer_id=order.dealer_id,
    )
    _notify_dealer(order, to_status, comment)


def advance(
    actor, order: Order, to_status: str, comment: str | None = None, allowed_from: tuple[str, ...] = ()
) -> None:
    """A transition made by the system or by another domain (production, shipping): stored as an event, audited."""
    _transition(actor, order, to_status, comment, allowed_from)


def approve(actor, order: Order, comment: str | None = None) -> Order:
    credit.lock_credit(order.dealer)
    if order.status != "credit_review":
        raise Conflict(_("Only orders in credit review can be approved."), code="invalid_transition")
    if not may_approve(actor, order):
        raise Forbidden(_("The excess over available credit is beyond your approval limit."))
    _transition(actor, order, "approved", comment, ("credit_review",))
    _approved(actor, order)
    return order


def reject(actor, order: Order, comment: str | None = None) -> Order:
    if not may_approve(actor, order) and order.status == "credit_review":
        raise Forbidden(_("The excess over available credit is beyond your approval limit."))
    if not (comment or "").strip():
        raise Invalid(fields={"comment": [_("Say why the order is rejected.")]})
    _transition(actor, order, "rejected", comment, ("credit_review", "submitted"))
    return order


def may_cancel(actor, order: Order) -> bool:
    """Whether `cancel` would let this actor cancel the order now (the page offers the button only then)."""
    dealer_side = getattr(actor, "role", None) in ("dealer_staff", "dealer_admin")
    if order.status not in (DEALER_CANCELLABLE if dealer_side else HQ_CANCELLABLE):
        return False
    try:
        with probing():  # a refusal here only hides the button
            events.order_before_cancel.send(actor, order=order)
    except Conflict:
        return False
    return True


def cancel(actor, order: Order, comment: str | None = None) -> Order:
    dealer_side = getattr(actor, "role", None) in ("dealer_staff", "dealer_admin")
    allowed = DEALER_CANCELLABLE if dealer_side else HQ_CANCELLABLE
    if dealer_side and order.status not in allowed:
        raise Conflict(_("Production has started; ask HQ to cancel."), code="invalid_transition")
    events.order_before_cancel.send(actor, order=order)  # shipping refuses once anything is shipped
    _transition(actor, order, "cancelled", comment, allowed)
    events.order_cancelled.send(actor, order=order)  # HQ stock gives back the allocations
    return order


def _notify_dealer(order: Order, status: str, comment: str | None) -> None:
    from flask_babel import force_locale

    if status not in ("approved", "rejected", "cancelled"):
        return
    users = (
        db.session.execute(select(User).where(User.dealer_id == order.dealer_id, User.active.is_(True)))
        .unique()
        .scalars()
        .all()
    )
    labels = {"approved": "approved", "rejected": "rejected", "cancelled": "cancelled"}
    for user in users:
        with force_locale(user.locale):
            title = {
                "approved": _("Order %(number)s approved", number=order.number),
                "rejected": _("Order %(number)s rejected", number=order.number),
                "cancelled": _("Order %(number)s cancelled", number=order.number),
            }[status]
            body = (comment or "").strip() or title
        notify(
            user,
            kind=f"order_{labels[status]}",
            title=title,
            body=body,
            link=f"/orders/{order.number}",
            dedupe_key=f"order:{order.number}:{status}",
        )


def orders_query(scope, *, status=None, dealer=None, region=None, sku=None, date_from=None, date_to=None, q=None):
    from portal.platform.timeutil import portal_tz

    stmt = scope.select(Order).order_by(Order.created_at.desc(), Order.id.desc())
    if status:
        stmt = stmt.where(Order.status == status)
    if dealer:
        stmt = stmt.where(Order.dealer_id.in_(select(Dealer.id).where(Dealer.code == dealer)))
    if region:
        root = db.session.execute(select(Region).filter_by(code=region)).unique().scalar_one_or_none()
        sub = (
            select(Dealer.id)
            .join(Region, Dealer.region_id == Region.id)
            .where(Region.path.startswith(root.path, autoescape=True))
            if root
            else None
        )
        stmt = stmt.where(Order.dealer_id.in_(sub)) if sub is not None else stmt.where(False)
    if sku:
        stmt = stmt.where(Order.id.in_(select(OrderLine.order_id).where(OrderLine.sku == sku)))
    tz = portal_tz()
    if date_from:
        stmt = stmt.where(Order.created_at >= dt.datetime.combine(date_from, dt.time(), tz))
    if date_to:
        stmt = stmt.where(Order.created_at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz))
    if q:
        stmt = stmt.where(func.lower(Order.number).like(f"%{q.strip().lower()}%"))
    return stmt
