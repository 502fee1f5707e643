"""Placing orders and moving them through their lifecycle. Services flush; the entrypoint commits once.

The credit gate (PRODUCT.md §3) runs in the same transaction as the insert, after the dealer's credit row is
locked (`lock_credit`: SELECT … FOR UPDATE on PostgreSQL; on SQLite the transaction holds the write lock from
BEGIN IMMEDIATE), so two submissions at the same moment are checked one after the other.

Who sells (§16): an order's `seller_id` is its dealer's distributor (a sub-dealer buys from it alone), None for HQ;
set at placement, never changed. A seller order goes through the same gate on the sub-dealer's own credit row —
its account with its distributor — and is decided (approved, rejected, cancelled where HQ would) by the
distributor's admin only; HQ's roles and the region managers do not act as seller for it. HQ's stock and the
factory leave it alone (no allocation, no backorder, no units: the distributor ships from its own stock). The
distributor's users place and amend orders on its sub-dealers' behalf (代客下单) as HQ does for its dealers; HQ and
the regions never do for a sub-dealer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.services import record
from portal.catalog import options as catalog_options
from portal.catalog import pricing
from portal.catalog.models import Product
from portal.collections import services as collections
from portal.credit import services as credit
from portal.dealers import channel
from portal.dealers.models import Dealer, DealerAddress, Region, User
from portal.extensions import db
from portal.notify.services import notify
from portal.orders import events, notes
from portal.orders.models import OPEN_FOR_CREDIT, Order, OrderEvent, OrderLine
from portal.platform.auth import role_can
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.ids import next_id
from portal.platform.money import ZERO, money, sql_sum
from portal.platform.timeutil import today, utcnow
from portal.platform.uow import probing

MAX_QUANTITY = 100_000
MAX_LINES = 200
DEALER_CANCELLABLE = ("submitted", "credit_review", "approved")
AMENDABLE = ("submitted", "credit_review", "approved")  # and nothing shipped yet (`order_before_amend`)
PLACE_FOR_ROLES = ("channel_manager", "region_manager")  # may place an order on a dealer's behalf (代客下单)
UNSET = object()
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


def request_hash(
    lines: list[dict], note: str | None, requested_on: dt.date | None = None, ship_to: int | None = None
) -> str:
    """The body an Idempotency-Key was used with. Options, the requested date and the ship-to enter only when given,
    so the hash of an order placed before they existed is unchanged."""
    canonical_lines = []
    for ln in lines:
        item = {"sku": ln["sku"], "quantity": ln["quantity"]}
        chosen = ln.get("options")
        if chosen:  # a malformed choice is refused by the checks; the hash only has to be stable
            if isinstance(chosen, dict):
                chosen = {str(k): str(v).strip().upper() for k, v in sorted(chosen.items())}
            item["options"] = chosen
        canonical_lines.append(item)
    body: dict = {"lines": canonical_lines, "note": note or None}
    if requested_on is not None:
        body["requested_on"] = requested_on.isoformat()
    if ship_to is not None:
        body["ship_to"] = ship_to
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_lines(lines: list[dict], kept: dict | None = None) -> tuple[dict[str, Product], dict[int, list[dict]]]:
    """The products of the lines and the options each line gets ({index: stored options}); every error at once.

    `kept` ({index: (stored options, quantity)}, amendments): lines that stay as the order has them keep their options
    as chosen then, and may keep (never raise) the quantity of a product or an option withdrawn since; everything
    else is checked against today's catalogue."""
    kept = kept or {}
    errors: dict[str, list[str]] = {}
    if not lines:
        raise Invalid(fields={"lines": [_("An order needs at least one line.")]})
    if len(lines) > MAX_LINES:
        raise Invalid(fields={"lines": [_("At most %(n)s lines.", n=MAX_LINES)]})
    skus = [ln["sku"] for ln in lines]
    products = {p.sku: p for p in db.session.execute(select(Product).where(Product.sku.in_(skus))).scalars()}
    offered = catalog_options.options_by_product(p.id for p in products.values() if p.build_to_order)
    chosen: dict[int, list[dict]] = {}
    seen: dict[tuple, int] = {}
    dupes: set[str] = set()
    for i, ln in enumerate(lines):
        product = products.get(ln["sku"])
        if product is None or (not product.active and i not in kept):
            errors[f"lines.{i}.sku"] = [_("Unknown or inactive SKU %(sku)s.", sku=ln["sku"])]
        else:
            if i in kept:
                stored, was = list(kept[i][0]), kept[i][1]
                active = {(o.group, o.code) for o in offered.get(product.id, [])}
                withdrawn = not product.active or any((o["group"], o["code"]) not in active for o in stored)
                problems = []
                if withdrawn and isinstance(ln["quantity"], int) and ln["quantity"] > was:
                    errors[f"lines.{i}.quantity"] = [
                        _("%(sku)s is no longer sold as ordered: at most %(n)s.", sku=product.sku, n=was)
                    ]
            else:
                stored, problems = catalog_options.choose(product, ln.get("options"), offered.get(product.id, []))
            if problems:
                errors[f"lines.{i}.options"] = problems
            chosen[i] = stored
            key = (product.sku, tuple((o["group"], o["code"]) for o in stored))
            if key in seen:
                dupes.add(product.sku)
            seen.setdefault(key, i)
        q = ln["quantity"]
        if not isinstance(q, int) or isinstance(q, bool) or q < 1 or q > MAX_QUANTITY:
            errors[f"lines.{i}.quantity"] = [_("A whole number from 1 to %(n)s.", n=MAX_QUANTITY)]
    if dupes:
        errors["lines"] = [_("Each SKU once per order: %(skus)s.", skus=", ".join(sorted(dupes)))]
    if errors:
        raise Invalid(fields=errors)
    return products, chosen


def quote(dealer: Dealer, lines: list[dict], on: dt.date | None = None, kept: dict | None = None) -> dict:
    """Price every line the way an order would be priced (no credit check, nothing stored). A line's options add
    their price delta to the list price, which goes through the dealer's price rule (portal.catalog.pricing).
    `kept`: see `_check_lines`."""
    products, chosen = _check_lines(lines, kept)
    lists = pricing.candidates_for(dealer, on or today(), products.values())
    out_lines = []
    for n, ln in enumerate(lines, start=1):
        product = products[ln["sku"]]
        options = chosen.get(n - 1) or []
        delta = catalog_options.delta_of(options)
        resolved = pricing.resolve_with(lists, product, ln["quantity"], delta)
        amounts = pricing.price_line(resolved.unit_price, ln["quantity"], product.tax_rate)
        rule = resolved.rule
        if options and delta:
            rule = {**(rule or {}), "options_delta": str(delta)} if rule else None
        out_lines.append(
            {
                "line_no": n,
                "product": product,
                "sku": product.sku,
                "quantity": ln["quantity"],
                "options": options or None,
                "list_price": resolved.list_price,
                "unit_price": resolved.unit_price,
                "tax_rate": product.tax_rate,
                "rule": rule,
                **amounts,
            }
        )
    totals = {k: money(sum((ln[k] for ln in out_lines), ZERO)) for k in ("net", "tax", "gross")}
    return {"lines": out_lines, **totals}


def _requested_on(value) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, dt.date) or value < today():
        raise Invalid(fields={"requested_on": [_("A delivery date from today on.")]})
    return value


def _ship_to(dealer: Dealer, value) -> DealerAddress | None:
    """The ship-to address chosen (an id of one of the dealer's active addresses), else the dealer's default one."""
    if value is None:
        return db.session.execute(
            select(DealerAddress)
            .where(DealerAddress.dealer_id == dealer.id, DealerAddress.active.is_(True))
            .order_by(DealerAddress.is_default.desc(), DealerAddress.id)
            .limit(1)
        ).scalar_one_or_none()
    address = db.session.get(DealerAddress, value) if isinstance(value, int) and not isinstance(value, bool) else None
    if address is None or address.dealer_id != dealer.id or not address.active:
        raise Invalid(fields={"ship_to": [_("Not one of %(dealer)s's ship-to addresses.", dealer=dealer.code)]})
    return address


def is_dealer_user(actor) -> bool:
    return getattr(actor, "role", None) in ("dealer_staff", "dealer_admin")


def is_own_user(actor, dealer: Dealer) -> bool:
    """Whether the actor is one of the dealer's own users (not its distributor's, not a manager)."""
    return is_dealer_user(actor) and actor.dealer_id == dealer.id


def may_place_for(actor, dealer: Dealer) -> bool:
    """Whether the actor may place (and amend) orders for this dealer: its own users; for a dealer that buys from HQ,
    HQ's channel managers and the region managers of the dealer's region (代客下单); for a sub-dealer (§16), its
    distributor's users — never HQ nor the region. The caller has already found the dealer in its scope."""
    role = getattr(actor, "role", None)
    if role in ("dealer_staff", "dealer_admin"):
        return actor.dealer_id == dealer.id or channel.sells_to(actor, dealer)
    if dealer.parent_id is not None:  # only its seller orders for a sub-dealer
        return False
    if role == "channel_manager":
        return True
    if role == "region_manager" and actor.region is not None:
        return dealer.region.path.startswith(actor.region.path)
    return False


def check_seller_code(dealer: Dealer, value) -> None:
    """An order may name whom it buys from (`seller_code`): it must be the dealer's actual seller — its distributor's
    code for a sub-dealer, HQ (`"HQ"`) for a dealer that buys from HQ; None: whoever sells to it. 422 otherwise."""
    if value is None:
        return
    wanted = str(value).strip().upper()
    seller = channel.seller_code(dealer)
    if wanted == (seller or "HQ").upper():
        return
    if seller is None:
        message = _("%(dealer)s buys from HQ.", dealer=dealer.code)
    else:
        message = _("%(dealer)s buys from its distributor %(seller)s only.", dealer=dealer.code, seller=seller)
    raise Invalid(fields={"seller_code": [message]})


def check_seller_active(dealer: Dealer) -> None:
    """A sub-dealer whose distributor is suspended cannot order (409 `seller_suspended`)."""
    if dealer.parent_id is not None and dealer.parent.status != "active":
        raise Conflict(
            _(
                "%(dealer)s buys from %(seller)s, which is suspended: no order can be placed with it for now.",
                dealer=dealer.code,
                seller=dealer.parent.code,
            ),
            code="seller_suspended",
        )


def _new_line(ln: dict) -> OrderLine:
    return OrderLine(
        line_no=ln["line_no"],
        product=ln["product"],
        sku=ln["sku"],
        quantity=ln["quantity"],
        options=ln["options"],
        list_price=ln["list_price"],
        unit_price=ln["unit_price"],
        tax_rate=ln["tax_rate"],
        net=ln["net"],
        tax=ln["tax"],
        gross=ln["gross"],
        rule=ln["rule"],
    )


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
    actor,
    dealer: Dealer,
    lines: list[dict],
    note: str | None = None,
    idempotency_key: str | None = None,
    *,
    requested_on: dt.date | None = None,
    ship_to: int | None = None,
    seller_code: str | None = None,
) -> tuple[Order, bool]:
    """Price, check credit and store an order in one transaction. Returns (order, created).

    `lines`: [{sku, quantity, options?: {group: code}}]; `requested_on`: the delivery date wanted (None: as soon as
    possible); `ship_to`: the id of one of the dealer's addresses (None: its default address); `seller_code`: whom
    the order is meant for (`check_seller_code`; None: the dealer's seller). An actor who is not one of the dealer's
    users places it on the dealer's behalf: recorded as `placed_by`, and the dealer is told. The order's seller is
    the dealer's distributor (§16), None for HQ."""
    if actor is not None and not may_place_for(actor, dealer):  # None: the portal itself (imports, demo, tests)
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    check_seller_code(dealer, seller_code)
    digest = request_hash(lines, note, requested_on, ship_to)
    if idempotency_key and (existing := _same_key(dealer, idempotency_key, digest)) is not None:
        return existing, False
    if dealer.status != "active":
        raise Conflict(_("The dealer is suspended and cannot order."), code="dealer_suspended")
    check_seller_active(dealer)
    problems: dict[str, list[str]] = {}
    for check in (lambda: _requested_on(requested_on), lambda: _ship_to(dealer, ship_to)):
        try:
            check()
        except Invalid as exc:
            problems.update(exc.fields)
    try:
        priced = quote(dealer, lines)
    except Invalid as exc:
        raise Invalid(fields={**problems, **exc.fields}) from None
    if problems:
        raise Invalid(fields=problems)
    address = _ship_to(dealer, ship_to)
    row = credit.lock_credit(dealer)  # the gate: serialised per dealer from here to the commit
    # a concurrent twin may have committed while we waited for the lock
    if idempotency_key and (twin := _same_key(dealer, idempotency_key, digest)) is not None:
        return twin, False
    if row.on_hold:
        raise Conflict(
            _("The dealer is on credit hold: %(reason)s", reason=credit.hold_reason(row)), code="credit_hold"
        )
    available = credit.credit_summary(dealer)["available"]
    dunning = collections.requires_review(dealer)  # §14: at the review level every order is reviewed
    status = "approved" if priced["gross"] <= available and not dunning else "credit_review"
    on_behalf = actor is not None and not is_own_user(actor, dealer)
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
        requested_on=requested_on,
        ship_to=address,
        placed_by_id=actor.id if on_behalf else None,
        seller_id=dealer.parent_id,  # §16: a sub-dealer buys from its distributor; None: HQ
        events=[],
        lines=[_new_line(ln) for ln in priced["lines"]],
    )
    _event(order, actor, None, "submitted", data={"note": notes.PLACED_FOR} if on_behalf else None)
    # the review's reason is a code with its figures, said in each reader's language (portal/orders/notes.py)
    figures = notes.over_available(available, priced["gross"])
    if status == "approved":
        figures.pop("note")
    elif dunning and priced["gross"] <= available:
        figures["note"] = notes.DUNNING_REVIEW
    _event(order, actor, "submitted", status, data=figures)
    db.session.add(order)
    after = {"status": status, "gross": str(order.gross)}
    if on_behalf:
        after["placed_by"] = credit.actor_name(actor)
    if requested_on is not None:
        after["requested_on"] = requested_on.isoformat()
    if order.seller_id is not None:
        after["seller"] = dealer.parent.code
    record(actor, "order.submit", "order", order.number, after=after, dealer_id=dealer.id)
    db.session.flush()  # one flush: the order, its lines, its events and the audit entry
    if status == "approved":
        _approved(actor, order)
    else:
        _notify_seller_review(order)
    if on_behalf:
        _notify_placed_for(order, actor)
    return order, True


# ---------------------------------------------------------------- amendments


def may_amend(actor, order: Order) -> bool:
    """Whether `amend` would let this actor amend the order now (the page offers the button only then)."""
    if order.status not in AMENDABLE or not may_place_for(actor, order.dealer) or order.dealer.status != "active":
        return False
    if order.dealer.parent_id is not None and order.dealer.parent.status != "active":
        return False
    try:
        with probing():  # a refusal here only hides the button
            events.order_before_amend.send(actor, order=order)
    except Conflict:
        return False
    return True


def _lock_order(order: Order) -> Order:
    """The order's row, locked for the rest of the transaction and read again (after the dealer's credit row: one
    lock order, credit → order → HQ stock, everywhere)."""
    stmt = select(Order).where(Order.id == order.id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Order, key_share=True)
    return db.session.execute(stmt).unique().scalar_one()


def _line_key(sku: str, options: list[dict] | None) -> tuple:
    return (sku, tuple((o["group"], o["code"]) for o in options or ()))


def _lines_brief(lines) -> dict[str, int]:
    out = {}
    for ln in lines:
        sku, options = (ln.sku, ln.options) if isinstance(ln, OrderLine) else (ln["sku"], ln["options"])
        codes = "/".join(o["code"] for o in options or ())
        out[f"{sku}[{codes}]" if codes else sku] = ln.quantity if isinstance(ln, OrderLine) else ln["quantity"]
    return out


def _kept_lines(order: Order, lines: list[dict]) -> dict[int, tuple[list[dict], int]]:
    """Which lines of an amendment are lines the order has ({index: (stored options, quantity)}): the same SKU with the
    same option codes (`{group: code}` as the order shows them), or — with no options sent — the order's only line of
    that SKU when it has none."""
    kept: dict[int, tuple[list[dict], int]] = {}
    for i, ln in enumerate(lines):
        if not isinstance(ln, dict):
            continue
        same = [o for o in order.lines if o.sku == ln.get("sku")]
        chosen = ln.get("options")
        for line in same:
            stored = {o["group"]: o["code"] for o in line.options or ()}
            if isinstance(chosen, dict) and chosen:
                match = {str(k): str(v).strip().upper() for k, v in chosen.items()} == stored
            else:
                match = not chosen and not stored and len(same) == 1
            if match:
                kept[i] = (line.options or [], line.quantity)
                break
    return kept


def amend(actor, order: Order, lines: list[dict], note=UNSET, requested_on=UNSET, ship_to=UNSET) -> Order:
    """Change an order's lines (quantities, lines added or removed) before production starts (build-to-order) or
    anything ships (stock), in one transaction: re-priced at today's prices, the credit gate again on the new gross
    (an approved order whose gross grows beyond what is available goes to credit review; one whose gross does not
    grow stays approved: it cannot raise the exposure), HQ's allocations and backorders and the build-to-order units
    follow, and the change is an order event. 409 `not_amendable` once production or shipping started."""
    dealer = order.dealer
    if actor is not None and not may_place_for(actor, dealer):
        raise Forbidden(_("You may not amend orders of %(dealer)s.", dealer=dealer.code))
    row = credit.lock_credit(dealer)
    order = _lock_order(order)
    if order.status not in AMENDABLE:
        raise Conflict(
            _("Order %(number)s can no longer be amended: production or shipping has started.", number=order.number),
            code="not_amendable",
        )
    events.order_before_amend.send(actor, order=order)  # shipping refuses once anything is shipped
    if dealer.status != "active":
        raise Conflict(_("The dealer is suspended and cannot order."), code="dealer_suspended")
    check_seller_active(dealer)
    problems: dict[str, list[str]] = {}
    if requested_on is not UNSET and requested_on != order.requested_on:
        try:
            _requested_on(requested_on)
        except Invalid as exc:
            problems.update(exc.fields)
    if ship_to is not UNSET:
        try:
            _ship_to(dealer, ship_to) if ship_to is not None else None
        except Invalid as exc:
            problems.update(exc.fields)
    try:
        priced = quote(dealer, lines, kept=_kept_lines(order, lines))
    except Invalid as exc:
        raise Invalid(fields={**problems, **exc.fields}) from None
    if problems:
        raise Invalid(fields=problems)
    before_status, old_gross = order.status, order.gross
    dunning_note = False
    counted = before_status in OPEN_FOR_CREDIT  # its gross is part of the exposure now
    summary = credit.credit_summary(dealer)
    room = money(summary["available"] + (old_gross if counted else ZERO))  # what the order may be, all told
    new_gross = priced["gross"]
    if counted and new_gross <= old_gross:
        status = "approved"
    elif row.on_hold:
        if new_gross > old_gross:
            raise Conflict(
                _("The dealer is on credit hold: %(reason)s", reason=credit.hold_reason(row)), code="credit_hold"
            )
        status = before_status
    else:
        status = "approved" if new_gross <= room else "credit_review"
        if status == "approved" and (not counted or new_gross > old_gross) and collections.requires_review(dealer):
            status = "credit_review"  # §14: at the dunning review level an order that grows is reviewed
            dunning_note = True
    before_lines = _lines_brief(order.lines)
    # the lines: one kept per SKU and choice of options (its allocations and units stay with it), the others added;
    # lines no longer wanted are removed once HQ stock and production have let go of them
    current = {_line_key(ln.sku, ln.options): ln for ln in order.lines}
    kept_ids, new_lines = set(), []
    for ln in priced["lines"]:
        line = current.get(_line_key(ln["sku"], ln["options"]))
        if line is None:
            line = _new_line(ln)
            order.lines.append(line)
        else:
            kept_ids.add(line.id)
            for attr in ("line_no", "quantity", "list_price", "unit_price", "tax_rate", "net", "tax", "gross", "rule"):
                setattr(line, attr, ln[attr])
        new_lines.append(line)
    removed = [ln for ln in order.lines if ln.id not in kept_ids and ln not in new_lines]
    order.net, order.tax, order.gross = priced["net"], priced["tax"], priced["gross"]
    order.status = status
    if note is not UNSET:
        order.note = (note or "").strip() or None
    if requested_on is not UNSET:
        order.requested_on = requested_on
    if ship_to is not UNSET:
        order.ship_to = _ship_to(dealer, ship_to)
    db.session.flush()  # the added lines get their ids
    # HQ stock and production follow: allocations trimmed or backordered, units added or removed (portal.wiring);
    # a seller order (§16) holds nothing of HQ's and has no units: they return at once for it
    events.order_amended.send(actor, order=order, removed=removed, was_approved=counted)
    for line in removed:
        order.lines.remove(line)
    order.lines.sort(key=lambda ln: ln.line_no)
    data = {
        "note": notes.AMENDED,
        "before": str(old_gross),
        "after": str(new_gross),
        "available": str(room),
    }
    if dunning_note:
        data["dunning"] = True
    _event(order, actor, before_status, status, data=data)
    record(
        actor,
        "order.amend",
        "order",
        order.number,
        before={"status": before_status, "gross": str(old_gross), "lines": before_lines},
        after={"status": status, "gross": str(new_gross), "lines": _lines_brief(order.lines)},
        dealer_id=dealer.id,
    )
    db.session.flush()
    if status == "approved" and not counted:
        _approved(actor, order)
    if status == "credit_review" and before_status != "credit_review":
        _notify_seller_review(order)
    if actor is not None and not is_own_user(actor, dealer):
        _notify_amended(order, actor)
    return order


# ---------------------------------------------------------------- approvals and cancellation


def excess_over_available(order: Order) -> Decimal:
    """How much the order exceeds the dealer's available credit now (0 when it fits)."""
    available = credit.credit_summary(order.dealer)["available"]
    return max(ZERO, money(order.gross - available))


def is_order_seller_admin(actor, order: Order) -> bool:
    """Whether the actor is an admin of the distributor that sells this order (§16; False for HQ's orders)."""
    return (
        order.seller_id is not None
        and getattr(actor, "role", None) == "dealer_admin"
        and getattr(actor, "dealer_id", None) == order.seller_id
    )


def decides_for_seller(actor, order: Order) -> bool:
    """Whether the actor is on the order's seller side: HQ's approvers (region managers within their limit, see
    `may_approve`) for an HQ order, the distributor's admin for a seller order (§16)."""
    if order.seller_id is not None:
        return is_order_seller_admin(actor, order)
    return role_can(getattr(actor, "role", None), "orders.approve")


def _not_the_seller(order: Order) -> Forbidden:
    """The refusal of an actor who is not on the order's seller side, saying who is (the messages of
    `channel.check_seller_side`)."""
    if order.seller_id is None:
        return Forbidden(_("%(dealer)s buys from HQ: only HQ does this for it.", dealer=order.dealer.code))
    return Forbidden(
        _(
            "%(dealer)s buys from %(seller)s: only %(seller)s's admin does this for it.",
            dealer=order.dealer.code,
            seller=order.seller.code,
        )
    )


def _check_decider(actor, order: Order) -> None:
    """403, saying who decides, unless the actor is on the order's seller side."""
    if not decides_for_seller(actor, order):
        raise _not_the_seller(order)


def may_approve(actor, order: Order) -> bool:
    """Whether the actor may decide (approve or reject) the order in credit review: for an HQ order finance, channel
    managers and HQ administrators, and region managers for their region within its approval limit; for a seller
    order (§16) its distributor's admin alone."""
    if order.seller_id is not None:
        return is_order_seller_admin(actor, order)
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
    _check_decider(actor, order)
    credit.lock_credit(order.dealer)
    if order.status != "credit_review":
        raise Conflict(_("Only orders in credit review can be approved."), code="invalid_transition")
    if not may_approve(actor, order):
        raise Forbidden(_("The excess over available credit is beyond your approval limit."))
    _transition(actor, order, "approved", comment, ("credit_review",))
    _approved(actor, order)
    return order


def reject(actor, order: Order, comment: str | None = None) -> Order:
    _check_decider(actor, order)
    if not may_approve(actor, order) and order.status == "credit_review":
        raise Forbidden(_("The excess over available credit is beyond your approval limit."))
    if not (comment or "").strip():
        raise Invalid(fields={"comment": [_("Say why the order is rejected.")]})
    _transition(actor, order, "rejected", comment, ("credit_review", "submitted"))
    return order


def _cancel_side(actor, order: Order) -> str | None:
    """Which side the actor cancels the order for: "dealer" (its own users, before production starts), "seller"
    (HQ's roles for an HQ order, the distributor's admin for a seller order — until something ships), else None."""
    if is_own_user(actor, order.dealer):
        return "dealer"
    if order.seller_id is not None:
        return "seller" if is_order_seller_admin(actor, order) else None
    if is_dealer_user(actor):  # a distributor's users never cancel an HQ order of another dealer
        return None
    return "seller" if role_can(getattr(actor, "role", None), "orders.cancel") else None


def may_cancel(actor, order: Order) -> bool:
    """Whether `cancel` would let this actor cancel the order now (the page offers the button only then)."""
    side = _cancel_side(actor, order)
    if side is None or order.status not in (DEALER_CANCELLABLE if side == "dealer" else HQ_CANCELLABLE):
        return False
    try:
        with probing():  # a refusal here only hides the button
            events.order_before_cancel.send(actor, order=order)
    except Conflict:
        return False
    return True


def cancel(actor, order: Order, comment: str | None = None) -> Order:
    side = _cancel_side(actor, order) if actor is not None else "seller"  # None: the portal itself
    if side is None:
        raise _not_the_seller(order)
    dealer_side = side == "dealer"
    allowed = DEALER_CANCELLABLE if dealer_side else HQ_CANCELLABLE
    if dealer_side and order.status not in allowed:
        if order.seller_id is not None:
            raise Conflict(
                _("Production has started; ask %(seller)s to cancel.", seller=order.seller.code),
                code="invalid_transition",
            )
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


def _dealer_users(dealer_id: int) -> list[User]:
    return (
        db.session.execute(select(User).where(User.dealer_id == dealer_id, User.active.is_(True)))
        .unique()
        .scalars()
        .all()
    )


def _notify_seller_review(order: Order) -> None:
    """A sub-dealer's order that enters credit review waits for its distributor's admins (§16): they are told, in
    their own language (HQ's orders wait in HQ's queues, nobody is told). Once per entry into credit review."""
    from flask_babel import force_locale, format_decimal

    if order.seller_id is None or order.status != "credit_review":
        return
    admins = [u for u in _dealer_users(order.seller_id) if u.role == "dealer_admin"]
    if not admins:
        return
    entered = sum(1 for e in order.events if e.to_status == "credit_review")
    excess = excess_over_available(order)
    for user in admins:
        with force_locale(user.locale):
            title = _("Order %(number)s of %(dealer)s waits for your decision", number=order.number,
                      dealer=order.dealer.code)  # fmt: skip
            body = _(
                "%(dealer)s %(name)s ordered %(gross)s CNY, %(excess)s CNY over its available credit with you.",
                dealer=order.dealer.code,
                name=order.dealer.name,
                gross=format_decimal(order.gross, format="#,##0.00"),
                excess=format_decimal(excess, format="#,##0.00"),
            )
        notify(user, kind="order_to_decide", title=title, body=body, link=f"/orders/{order.number}",
               dedupe_key=f"order:{order.number}:review:{entered}")  # fmt: skip


def _notify_placed_for(order: Order, actor) -> None:
    from flask_babel import force_locale

    for user in _dealer_users(order.dealer_id):
        with force_locale(user.locale):
            title = _("Order %(number)s placed for you", number=order.number)
            who = credit.actor_name(actor)
            body = _("%(who)s placed order %(number)s on your behalf.", who=who, number=order.number)
        notify(user, kind="order_placed_for", title=title, body=body, link=f"/orders/{order.number}",
               dedupe_key=f"order:{order.number}:placed_for")  # fmt: skip


def _notify_amended(order: Order, actor) -> None:
    from flask_babel import force_locale

    revision = len([e for e in order.events if (e.data or {}).get("note") == notes.AMENDED])
    for user in _dealer_users(order.dealer_id):
        with force_locale(user.locale):
            title = _("Order %(number)s amended", number=order.number)
            body = _("%(who)s amended order %(number)s.", who=credit.actor_name(actor), number=order.number)
        notify(user, kind="order_amended", title=title, body=body, link=f"/orders/{order.number}",
               dedupe_key=f"order:{order.number}:amended:{revision}")  # fmt: skip


HQ_SELLER = "HQ"  # `?seller=HQ`: the orders HQ sells (seller_id null)


def seller_clause(scope, code: str):
    """The orders a `?seller=` names (§16): a distributor in the caller's scope (its sub-dealers' orders with it;
    422 on `seller` otherwise), or `HQ` for HQ's own sales (not for a dealer's users: 422)."""
    if code.strip().upper() == HQ_SELLER and not scope.is_dealer:
        return Order.seller_id.is_(None)
    seller = channel.seller_in_scope(scope, code)
    return Order.seller_id == seller.id


def orders_query(
    scope,
    *,
    status=None,
    dealer=None,
    region=None,
    sku=None,
    date_from=None,
    date_to=None,
    q=None,
    seller=None,
    sold_by=UNSET,
):
    """The orders of the caller's scope, newest first, filtered. A dealer's users see their own dealer's orders
    unless they name one (`dealer`: a distributor's sub-dealer) or a seller (`seller`: a code, a distributor's sales,
    §16), so a distributor's purchases and its sales never mix. `sold_by` (pages): the seller's id, None for HQ."""
    from portal.platform.timeutil import portal_tz

    stmt = scope.select(Order).order_by(Order.created_at.desc(), Order.id.desc())
    if sold_by is not UNSET:
        stmt = stmt.where(Order.seller_id.is_(None) if sold_by is None else Order.seller_id == sold_by)
    elif seller:
        stmt = stmt.where(seller_clause(scope, seller))
    elif scope.is_dealer and not dealer:
        stmt = stmt.where(Order.dealer_id == scope.dealer_id)
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
