"""The basket as a server-side draft (PRODUCT.md §12): one per user, kept across pages and logins, priced live.

A draft holds lines as the user put them — `[{sku, quantity, options}]` — with the note, the requested delivery date
and the ship-to address, for one dealer (a dealer's users: their own, or for a distributor one of its sub-dealers,
§16; a channel or region manager: the dealer it orders for, 代客下单; starting a draft for another dealer replaces
it). Saving checks the lines the way an order
would (known SKUs, quantities, options, the date, the address) and writes nothing when any is wrong. Submitting
places the order with the same rules and Idempotency-Key as `POST /api/v1/orders` and deletes the draft in the same
transaction; a second submit with the same key answers the same order. "Order again" copies a past order's lines into
the draft at today's prices and lists the lines that can no longer be ordered instead of dropping them silently.
Services flush; the entrypoint commits once.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal.catalog import options as catalog_options
from portal.catalog.models import Product
from portal.credit import services as credit
from portal.dealers import channel
from portal.dealers.models import Dealer, DealerAddress
from portal.extensions import db
from portal.orders import services
from portal.orders.models import Order, OrderDraft
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import ZERO, money
from portal.platform.timeutil import utcnow


def draft_of(user, *, lock: bool = False) -> OrderDraft | None:
    """The user's draft (None when there is none); `lock`: FOR UPDATE, so two submits of one draft run one after
    the other."""
    stmt = select(OrderDraft).where(OrderDraft.user_id == user.id)
    if lock:
        stmt = stmt.with_for_update(of=OrderDraft).execution_options(populate_existing=True)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def _normal(lines) -> list[dict]:
    """Lines as stored: sku stripped, options upper-cased codes ({} dropped)."""
    out = []
    for ln in lines or ():
        item = {"sku": str(ln["sku"]).strip(), "quantity": ln["quantity"]}
        chosen = ln.get("options")
        if chosen:
            item["options"] = (
                {str(k): str(v).strip().upper() for k, v in chosen.items()} if isinstance(chosen, dict) else chosen
            )
        out.append(item)
    return out


def _check(dealer: Dealer, lines: list[dict], requested_on, ship_to) -> None:
    """Every problem of a draft at once (422, nothing written); an empty draft is fine."""
    problems: dict[str, list[str]] = {}
    if lines:
        try:
            services.quote(dealer, lines)
        except Invalid as exc:
            problems.update(exc.fields)
    for check in (lambda: services._requested_on(requested_on), lambda: services._ship_to(dealer, ship_to)):
        try:
            check()
        except Invalid as exc:
            problems.update(exc.fields)
    if problems:
        raise Invalid(fields=problems)


def save_draft(
    actor,
    dealer: Dealer,
    lines: list[dict],
    note: str | None = None,
    requested_on: dt.date | None = None,
    ship_to: int | None = None,
) -> OrderDraft:
    """Replace the actor's draft with these lines (for this dealer), after checking them all."""
    if not services.may_place_for(actor, dealer):
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    lines = _normal(lines)
    if len(lines) > services.MAX_LINES:
        raise Invalid(fields={"lines": [_("At most %(n)s lines.", n=services.MAX_LINES)]})
    _check(dealer, lines, requested_on, ship_to)
    draft = draft_of(actor, lock=True)
    if draft is None:
        draft = OrderDraft(user_id=actor.id, dealer=dealer, lines=[])
        db.session.add(draft)
    draft.dealer = dealer
    draft.lines = lines
    draft.note = (note or "").strip() or None
    draft.requested_on = requested_on
    draft.ship_to = db.session.get(DealerAddress, ship_to) if ship_to is not None else None
    draft.updated_at = utcnow()
    db.session.flush()
    return draft


def add_to_draft(actor, dealer: Dealer, sku: str, quantity: int, options: dict | None = None) -> OrderDraft:
    """Add a product to the actor's draft (to the line of the same SKU and options when there is one). A draft for
    another dealer is replaced. Only the new line is checked: a line of the draft that can no longer be ordered is
    shown with its error and refused at submit, never a reason to refuse this one."""
    if not services.may_place_for(actor, dealer):
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    (new,) = _normal([{"sku": sku, "quantity": quantity, "options": options}])
    priced = services.quote(dealer, [new])["lines"][0]  # 422 for an unknown SKU, a bad quantity or bad options
    key = services._line_key(priced["sku"], priced["options"])
    draft = draft_of(actor, lock=True)
    if draft is None or draft.dealer_id != dealer.id:
        if draft is not None:
            db.session.delete(draft)
            db.session.flush()
        draft = OrderDraft(user_id=actor.id, dealer=dealer, lines=[])
        db.session.add(draft)
    lines = [dict(ln) for ln in draft.lines or ()]
    merged = False
    if any(ln["sku"] == priced["sku"] for ln in lines):
        resolved = _resolved_keys(dealer, lines)
        for i, ln in enumerate(lines):
            if resolved.get(i) == key:
                ln["quantity"] = min(services.MAX_QUANTITY, int(ln["quantity"]) + quantity)
                merged = True
                break
    if not merged:
        if len(lines) >= services.MAX_LINES:
            raise Invalid(fields={"lines": [_("At most %(n)s lines.", n=services.MAX_LINES)]})
        lines.append(new)
    draft.lines = lines
    draft.updated_at = utcnow()
    db.session.flush()
    return draft


def _resolved_keys(dealer: Dealer, lines: list[dict]) -> dict[int, tuple]:
    """index → (sku, chosen option codes with defaults applied) for the lines that are valid."""
    products = {
        p.sku: p
        for p in db.session.execute(select(Product).where(Product.sku.in_([ln["sku"] for ln in lines]))).scalars()
    }
    offered = catalog_options.options_by_product(p.id for p in products.values())
    out = {}
    for i, ln in enumerate(lines):
        product = products.get(ln["sku"])
        if product is None:
            continue
        stored, problems = catalog_options.choose(product, ln.get("options"), offered.get(product.id, []))
        if not problems:
            out[i] = services._line_key(product.sku, stored)
    return out


def discard(actor) -> bool:
    """Delete the actor's draft; answers whether there was one."""
    draft = draft_of(actor, lock=True)
    if draft is None:
        return False
    db.session.delete(draft)
    db.session.flush()
    return True


def priced(draft: OrderDraft | None, dealer: Dealer | None = None) -> dict:
    """The draft as the builder shows it: each line priced today (or with its errors), the totals of the lines that
    can be ordered, the dealer's available credit and what the order would do to it."""
    dealer = draft.dealer if draft is not None else dealer
    lines = [dict(ln) for ln in (draft.lines if draft is not None else [])]
    out_lines = [
        {"sku": ln["sku"], "quantity": ln["quantity"], "chosen": ln.get("options") or {}, "errors": []} for ln in lines
    ]
    good = list(range(len(lines)))
    if lines:
        try:
            services._check_lines(lines)
        except Invalid as exc:
            for key, messages in exc.fields.items():
                parts = key.split(".")
                if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
                    out_lines[int(parts[1])]["errors"].extend(messages)
                    if int(parts[1]) in good:
                        good.remove(int(parts[1]))
                else:  # duplicates: every line of those SKUs
                    for line in out_lines:
                        line["errors"].extend(messages)
                    good = []
    quote = (
        services.quote(dealer, [lines[i] for i in good])
        if good
        else {"lines": [], **dict.fromkeys(("net", "tax", "gross"), ZERO)}
    )
    for i, q in zip(good, quote["lines"], strict=True):
        out_lines[i].update(q)
        out_lines[i]["line_no"] = i + 1
    products = {
        p.sku: p
        for p in db.session.execute(select(Product).where(Product.sku.in_([ln["sku"] for ln in lines]))).scalars()
    } if lines else {}  # fmt: skip
    for line in out_lines:
        line.setdefault("product", products.get(line["sku"]))
    summary = credit.credit_summary(dealer)
    gross = quote["gross"]
    return {
        "dealer": dealer,
        "dealer_code": dealer.code,
        "seller_code": channel.seller_code(dealer),  # §16: a sub-dealer's distributor; None: HQ
        "lines": out_lines,
        "orderable": bool(lines) and len(good) == len(lines),
        "net": quote["net"],
        "tax": quote["tax"],
        "gross": gross,
        "available": summary["available"],
        "on_hold": summary["on_hold"],
        "hold_reason": summary["hold_reason"],
        "excess": max(ZERO, money(gross - summary["available"])),
        "note": draft.note if draft is not None else None,
        "requested_on": draft.requested_on if draft is not None else None,
        "ship_to": draft.ship_to if draft is not None else None,
        "updated_at": draft.updated_at if draft is not None else None,
    }


def _by_key(actor, key: str) -> Order | None:
    """The order this actor placed with this Idempotency-Key (its own dealer's, or one it placed for a dealer: a
    manager's for any dealer, a distributor's user's for a sub-dealer, §16)."""
    stmt = select(Order).where(Order.idempotency_key == key)
    if services.is_dealer_user(actor):
        stmt = stmt.where(or_(Order.dealer_id == actor.dealer_id, Order.placed_by_id == actor.id))
    else:
        stmt = stmt.where(Order.placed_by_id == actor.id)
    return db.session.execute(stmt.order_by(Order.id.desc()).limit(1)).unique().scalar_one_or_none()


def submit(actor, idempotency_key: str | None = None) -> tuple[Order, bool]:
    """Place the order the actor's draft holds and delete the draft, in one transaction. Returns (order, created);
    with a key already used, the order made with it (its draft is gone, or holds the same body), else 422."""
    draft = draft_of(actor, lock=True)
    if idempotency_key and (draft is None or not draft.lines):
        existing = _by_key(actor, idempotency_key)
        if existing is not None:
            return existing, False
    if draft is None or not draft.lines:
        raise Invalid(_("The order draft is empty."), code="draft_empty", fields={"lines": [_("Add a product first.")]})
    order, created = services.place_order(
        actor,
        draft.dealer,
        [dict(ln) for ln in draft.lines],
        draft.note,
        idempotency_key,
        requested_on=draft.requested_on,
        ship_to=draft.ship_to_id,
    )
    db.session.delete(draft)
    db.session.flush()
    return order, created


def reorder(actor, order: Order) -> tuple[OrderDraft, list[dict]]:
    """Copy a past order's lines into the actor's draft (added to what is there, for the order's dealer), priced
    today when shown. Answers the draft and the lines left out, each with why: `{sku, quantity, reason}`."""
    dealer = order.dealer
    if not services.may_place_for(actor, dealer):
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    skipped, wanted = [], []
    products = {ln.sku: ln.product for ln in order.lines}
    offered = catalog_options.options_by_product(p.id for p in products.values() if p.build_to_order)
    for line in order.lines:
        product = products[line.sku]
        chosen = {o["group"]: o["code"] for o in line.options or ()}
        if not product.active:
            skipped.append({"sku": line.sku, "quantity": line.quantity, "reason": _("No longer sold.")})
            continue
        _stored, problems = catalog_options.choose(product, chosen, offered.get(product.id, []))
        if problems:
            skipped.append({"sku": line.sku, "quantity": line.quantity, "reason": " ".join(problems)})
            continue
        wanted.append((line.sku, line.quantity, chosen or None))
    draft = draft_of(actor, lock=True)
    if draft is not None and draft.dealer_id != dealer.id:
        db.session.delete(draft)
        db.session.flush()
        draft = None
    for sku, quantity, chosen in wanted:
        draft = add_to_draft(actor, dealer, sku, quantity, chosen)
    if draft is None:
        draft = OrderDraft(user_id=actor.id, dealer=dealer, lines=[], updated_at=utcnow())
        db.session.add(draft)
        db.session.flush()
    return draft, skipped
