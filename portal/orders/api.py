"""JSON API for orders (PRODUCT.md §9.1, §12).

Who orders for whom: dealer users (`orders.place`) for their own dealer; channel managers and region managers
(`orders.place_for`) on a dealer's behalf (代客下单), naming it with `dealer_code` (a draft: `dealer_code`, or
the draft's dealer). The dealer is looked up through the caller's scope, so a region manager naming a dealer outside
its region, and a dealer user naming another dealer, get 404 exactly as for an unknown code, and nothing is written;
a dealer user may name its own dealer. The services decide the rest (`services.may_place_for`: 403 for any other
role).

The multi-level channel (§16): a sub-dealer buys from its distributor, whose users place orders on its behalf as HQ
does for its dealers (HQ and the regions do not for a sub-dealer: 403); every order says who sells it
(`seller_code`, null = HQ), an order may name its seller (`seller_code`: the dealer's actual seller or 422), and
`GET /orders?seller=` lists a distributor's sales. A dealer's users list their own dealer's orders unless they name a
sub-dealer (`dealer=`) or their sales (`seller=`). A seller order is approved, rejected and cancelled (where HQ
would) by its distributor's admin alone (`sales.manage`; `services.may_approve`).
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import fields

from portal.credit import services as credit
from portal.dealers import channel
from portal.dealers.models import Dealer
from portal.orders import drafts, services
from portal.orders.models import Order, OrderDraft
from portal.orders.schemas import (
    AmendSchema,
    CommentSchema,
    DraftInSchema,
    DraftOutSchema,
    DraftQuerySchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    OrderSummarySchema,
    QuoteOutSchema,
    QuoteSchema,
    ReorderOutSchema,
)
from portal.platform import tenancy
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import can, requires
from portal.platform.errors import Forbidden, Invalid
from portal.platform.money import ZERO
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.production.services import units_brief

blp = api_blueprint("api_orders", __name__, "Orders")

IDEMPOTENCY_KEY = {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string",
                   "maxLength": 100}}  # fmt: skip


class OrderOutSchema(OrderSchema):
    """An order with its build-to-order units (build-line tracking)."""

    units = fields.Function(
        units_brief,
        metadata={"description": "build-to-order units: [{serial, sku, stage, stage_at, line}]"},
    )


def own_dealer() -> Dealer:
    return tenancy.own_dealer()  # the user's own, loaded with it: no statement


def _ordering() -> None:
    """403 unless the caller places orders: for its own dealer (dealer users) or for dealers (managers)."""
    if not (can("orders.place") or can("orders.place_for")):
        raise Forbidden()


def _dealer_for(code: str | None) -> Dealer:
    """The dealer an order, a quote or a draft is for: the one named (in the caller's scope, else 404), else a dealer
    user's own dealer; a manager must name one (422)."""
    _ordering()
    if code is not None:
        return dealer_or_404(code)
    if services.is_dealer_user(current_user):
        return own_dealer()
    raise Invalid(fields={"dealer_code": [_("Name the dealer the order is for.")]})


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= 100):
        raise Invalid(fields={"Idempotency-Key": [_("1 to 100 characters.")]})
    return key.strip() if key else None


@blp.route("/orders", methods=["POST"])
@requires("orders.read")
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderOutSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.doc(parameters=[IDEMPOTENCY_KEY])
def create_order(body):
    """Place an order: priced by the server, credit-checked atomically.

    Dealer users order for their own dealer; channel and region managers (`orders.place_for`) on a dealer's behalf,
    naming it with `dealer_code` (recorded as `placed_by`, audited, the dealer's users notified). A `dealer_code`
    outside the caller's scope — another dealer for a dealer user, a dealer of another region for a region manager —
    answers 404 like an unknown code. `approved` when it fits the available credit, `credit_review` otherwise;
    409 `credit_hold` when on hold. A repeat with the same `Idempotency-Key` and body answers the first order;
    the same key with another body: 422 `idempotency_mismatch`.

    A sub-dealer (§16) orders from its distributor: the order's `seller_code` is the distributor's, its credit gate is
    the sub-dealer's account with it, and the distributor's users may place it on its behalf (HQ and region managers
    may not: 403). `seller_code` in the body must name the dealer's actual seller (`HQ` for a dealer that buys from
    HQ), else 422 on `seller_code`; 409 `seller_suspended` while the distributor is suspended."""
    dealer = _dealer_for(body.get("dealer_code"))
    order, _created = services.place_order(
        current_user,
        dealer,
        body["lines"],
        body.get("note"),
        _idempotency_key(),
        requested_on=body.get("requested_on"),
        ship_to=body.get("ship_to"),
        seller_code=body.get("seller_code"),
    )
    return order


@blp.route("/orders/quote", methods=["POST"])
@requires("orders.read")
@blp.arguments(QuoteSchema)
@blp.response(200, QuoteOutSchema)
@blp.alt_response(404, response="NOT_FOUND")
def quote_order(body):
    """Price lines as an order would be priced; nothing is stored.

    Lines take their options; the answer carries the dealer's available credit. Managers name the dealer with
    `dealer_code`."""
    dealer = _dealer_for(body.get("dealer_code"))
    if not services.may_place_for(current_user, dealer):
        raise Forbidden(_("You may not place orders for %(dealer)s.", dealer=dealer.code))
    quote = services.quote(dealer, body["lines"])
    summary = credit.credit_summary(dealer)
    return {**quote, "dealer_code": dealer.code, "seller_code": channel.seller_code(dealer),
            "available": summary["available"], "on_hold": summary["on_hold"]}  # fmt: skip


# ---------------------------------------------------------------- the draft (the basket kept on the server)


def _empty_draft() -> dict:
    """A manager's answer when it has no draft and names no dealer."""
    return {
        "dealer_code": None, "seller_code": None, "lines": [], "orderable": False, "net": ZERO, "tax": ZERO,
        "gross": ZERO, "available": None, "on_hold": None, "hold_reason": None, "excess": None, "note": None,
        "requested_on": None, "ship_to": None, "updated_at": None,
    }  # fmt: skip


def _my_draft() -> OrderDraft | None:
    """The caller's draft, when its dealer is (still) in the caller's scope."""
    return current_scope().first(OrderDraft, user_id=current_user.id)


@blp.route("/orders/draft", methods=["GET"])
@requires("orders.read")
@blp.arguments(DraftQuerySchema, location="query")
@blp.response(200, DraftOutSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_draft(args):
    """The caller's draft, priced today.

    Each line with its prices or its errors, the totals of the lines that can be ordered, the dealer's available credit
    and the excess over it. One draft per user, kept across pages and logins. With no draft the answer is an empty
    draft: for a dealer user its own dealer's; for a manager the dealer named with `?dealer=` (also when its draft is
    for another dealer), else no dealer at all (`dealer_code` null)."""
    _ordering()
    draft = _my_draft()
    dealer = dealer_or_404(args["dealer"]) if "dealer" in args else None
    if dealer is None and draft is None and services.is_dealer_user(current_user):
        dealer = own_dealer()
    if draft is not None and (dealer is None or draft.dealer_id == dealer.id):
        return drafts.priced(draft)
    return drafts.priced(None, dealer) if dealer is not None else _empty_draft()


@blp.route("/orders/draft", methods=["PUT"])
@requires("orders.read")
@blp.arguments(DraftInSchema)
@blp.response(200, DraftOutSchema)
@blp.alt_response(404, response="NOT_FOUND")
def put_draft(body):
    """Replace the caller's draft; answers it priced.

    The lines, the note, the requested delivery date and the ship-to address, all at once. Every line is checked as an
    order's would be (known active SKUs, quantities, options), with the date and the address: any problem answers 422
    naming the fields, and nothing is written. A manager — or a distributor's user ordering for a sub-dealer (§16) —
    names the dealer with `dealer_code` (leaving it out keeps the draft's dealer)."""
    code = body.get("dealer_code")
    if code is None and (draft := _my_draft()) is not None:  # (a dealer user's: its own dealer, or a sub-dealer's)
        code = draft.dealer.code
    dealer = _dealer_for(code)
    draft = drafts.save_draft(
        current_user, dealer, body["lines"], body.get("note"), body.get("requested_on"), body.get("ship_to")
    )
    return drafts.priced(draft)


@blp.route("/orders/draft", methods=["DELETE"])
@requires("orders.read")
@blp.response(204)
def delete_draft():
    """Discard the caller's draft.

    204 also when there was none."""
    _ordering()
    drafts.discard(current_user)


@blp.route("/orders/draft/submit", methods=["POST"])
@requires("orders.read")
@blp.response(201, OrderOutSchema)
@blp.alt_response(200, schema=OrderOutSchema, description="a repeat with the same `Idempotency-Key`: its order")
@blp.doc(parameters=[IDEMPOTENCY_KEY])
def submit_draft():
    """Place the order the caller's draft holds.

    The draft is deleted in the same transaction. The same rules as `POST /orders`: priced today, the credit gate, 409
    `credit_hold`, 422 for lines that can no longer be ordered (the draft is kept), 422 `draft_empty` for an empty
    draft. With an `Idempotency-Key`, a repeat answers the order made with it (200; its draft is gone), and the key used
    for another body: 422 `idempotency_mismatch`."""
    _ordering()
    order, created = drafts.submit(current_user, _idempotency_key())
    return order, 201 if created else 200


@blp.route("/orders/<number>/reorder", methods=["POST"])
@requires("orders.read")
@tenant_route("order")
@blp.response(200, ReorderOutSchema)
def reorder(number):
    """Order again: copy the order's lines into the caller's draft.

    The lines keep their options and are priced at today's prices when the draft is shown. The answer is the draft
    with `skipped`: the lines that can no longer be ordered (no longer sold, an option withdrawn), each with why.
    Added to the draft when it is for the same dealer, else the draft is replaced."""
    order = current_scope().get_or_404(Order, number=number)
    _ordering()
    draft, skipped = drafts.reorder(current_user, order)
    return {**drafts.priced(draft), "skipped": skipped}


@blp.route("/orders/<number>", methods=["PATCH"])
@requires("orders.read")
@tenant_route("order")
@blp.arguments(AmendSchema)
@blp.response(200, OrderOutSchema)
def amend_order(body, number):
    """Amend an order before production or shipping starts.

    `lines` are the order's lines as they should be (quantities changed, lines added or removed); the note, the delivery
    date and the ship-to address change when sent, and stay as they are when left out. Re-priced at today's prices, the
    credit gate runs again on the new gross (an increase that no longer fits sends the order to `credit_review`),
    allocations and units follow, and the change is an order event. 409 `not_amendable` once production started
    (build-to-order) or anything shipped; 409 `credit_hold` for an increase while on hold; 422 for missing or empty
    `lines` and for bad lines, nothing written. Dealer users amend their own dealer's orders; channel and region
    managers those of the dealers they may order for; a distributor's users its sub-dealers' (§16: HQ's stock and
    production take no part in them)."""
    order = current_scope().get_or_404(Order, number=number)
    _ordering()
    if body["lines"] is None:
        raise Invalid(fields={"lines": [_("An order needs at least one line.")]})
    extra = {k: body[k] for k in ("note", "requested_on", "ship_to") if k in body}
    return services.amend(current_user, order, body["lines"], **extra)


@blp.route("/orders", methods=["GET"])
@requires("orders.read")
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, page_of(OrderSummarySchema))
def list_orders(args):
    """Orders in the caller's scope, newest first.

    A dealer's users get their own dealer's orders (its purchases); a distributor's users name a sub-dealer with
    `dealer=` or list their sales to all their sub-dealers with `seller=<own code>` (§16). `seller=` must name a
    distributor in the caller's scope (422 otherwise); HQ's roles and region managers may list HQ's own sales with
    `seller=HQ`. A `dealer=` outside the scope lists nothing."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.orders_query(current_scope(), **args), page, per_page)


@blp.route("/orders/<number>", methods=["GET"])
@requires("orders.read")
@tenant_route("order")
@blp.response(200, OrderOutSchema)
def get_order(number):
    return current_scope().get_or_404(Order, number=number)


def _transition(name: str, number: str, body: dict):
    order = current_scope().get_or_404(Order, number=number)
    return getattr(services, name)(current_user, order, body.get("comment"))


@blp.route("/orders/<number>/approve", methods=["POST"])
@requires("orders.approve", "sales.manage")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def approve_order(body, number):
    """Approve an order in credit review.

    HQ orders: finance, channel managers, HQ administrators, and region managers within their approval limit. A
    sub-dealer's order (§16): its distributor's admin alone (HQ and region managers: 403 saying who decides)."""
    return _transition("approve", number, body)


@blp.route("/orders/<number>/reject", methods=["POST"])
@requires("orders.approve", "sales.manage")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def reject_order(body, number):
    """Reject an order in credit review (a comment is required): decided by whoever may approve it."""
    return _transition("reject", number, body)


@blp.route("/orders/<number>/cancel", methods=["POST"])
@requires("orders.cancel")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def cancel_order(body, number):
    """Cancel an order: its dealer's users before production starts; its seller until something ships (HQ's roles
    for an HQ order, the distributor's admin for a sub-dealer's, §16)."""
    return _transition("cancel", number, body)
