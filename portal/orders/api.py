"""JSON API for orders (PRODUCT.md §9.1)."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import fields

from portal.credit import services as credit
from portal.dealers.models import Dealer
from portal.orders import services
from portal.orders.models import Order
from portal.orders.schemas import (
    CommentSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    OrderSummarySchema,
    QuoteOutSchema,
    QuoteSchema,
)
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.tenancy import current_scope, tenant_route
from portal.production.services import units_brief

blp = api_blueprint("api_orders", __name__, "Orders")


class OrderOutSchema(OrderSchema):
    """An order with its build-to-order units (build-line tracking)."""

    units = fields.Function(
        units_brief,
        metadata={"description": "build-to-order units: [{serial, sku, stage, stage_at, line}]"},
    )


def own_dealer() -> Dealer:
    return current_scope().get_or_404(Dealer, id=current_user.dealer_id)


@blp.route("/orders", methods=["POST"])
@requires("orders.place")
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderOutSchema)
@blp.doc(
    parameters=[
        {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 100}}
    ],
)
def create_order(body):
    """Place an order for the caller's own dealer: priced by the server, credit-checked atomically.
    `approved` when it fits the available credit, `credit_review` otherwise; 409 `credit_hold` when on hold."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= 100):
        raise Invalid(fields={"Idempotency-Key": [_("1 to 100 characters.")]})
    order, _created = services.place_order(
        current_user, own_dealer(), body["lines"], body.get("note"), key.strip() if key else None
    )
    return order


@blp.route("/orders/quote", methods=["POST"])
@requires("orders.place")
@blp.arguments(QuoteSchema)
@blp.response(200, QuoteOutSchema)
def quote_order(body):
    """Price lines as an order would be priced, with the available credit; nothing is stored."""
    dealer = own_dealer()
    quote = services.quote(dealer, body["lines"])
    summary = credit.credit_summary(dealer)
    return {**quote, "available": summary["available"], "on_hold": summary["on_hold"]}


@blp.route("/orders", methods=["GET"])
@requires("orders.read")
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, page_of(OrderSummarySchema))
def list_orders(args):
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
@requires("orders.approve")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def approve_order(body, number):
    return _transition("approve", number, body)


@blp.route("/orders/<number>/reject", methods=["POST"])
@requires("orders.approve")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def reject_order(body, number):
    return _transition("reject", number, body)


@blp.route("/orders/<number>/cancel", methods=["POST"])
@requires("orders.cancel")
@tenant_route("order")
@blp.arguments(CommentSchema)
@blp.response(200, OrderOutSchema)
def cancel_order(body, number):
    return _transition("cancel", number, body)
