"""JSON API for backorders (PRODUCT.md §12): the waiting stock lines in the caller's scope (every role: a dealer
reads its own, a region manager its region's), and moving an order up the queue (channel managers, HQ admins)."""

from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields, validate

from portal.inventory import backorders
from portal.orders.api import OrderOutSchema
from portal.orders.models import Order
from portal.platform.api import PageArgs, api_blueprint, page_of
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route

blp = api_blueprint("api_backorders", __name__, "Backorders")


class BackorderQuerySchema(PageArgs):
    sku = fields.String(validate=validate.Length(max=40))
    dealer = fields.String(validate=validate.Length(max=32), metadata={"description": "a dealer code in your scope"})


class BackorderSchema(Schema):
    order_number = fields.String()
    dealer_code = fields.String()
    sku = fields.String()
    quantity = fields.Integer(metadata={"description": "the line's quantity"})
    backordered = fields.Integer(metadata={"description": "what the line still waits for (not allocated)"})
    promised_on = fields.Date(allow_none=True)
    approved_at = fields.AwareDateTime(allow_none=True)
    moved_up_at = fields.AwareDateTime(allow_none=True, metadata={"description": "moved up the queue at"})


@blp.route("/backorders", methods=["GET"])
@requires("orders.read")
@blp.arguments(BackorderQuerySchema, location="query")
@blp.response(200, page_of(BackorderSchema))
@blp.alt_response(404, response="NOT_FOUND")  # a `dealer` outside the caller's scope, or none of that code
def list_backorders(args):
    """The stock lines of approved orders waiting for HQ stock, by SKU then queue order (moved up first, then oldest
    approval). Scoped: a dealer sees its own, a region manager its region's dealers'. A `dealer` outside the scope
    answers 404."""
    scope = current_scope()
    dealer = dealer_or_404(args["dealer"]).code if args.get("dealer") else None
    stmt = backorders.backorders_query(scope, sku=args.get("sku"), dealer=dealer)
    return backorders.rows_page(stmt, args["page"], args["per_page"])


@blp.route("/orders/<number>/move-up", methods=["POST"])
@requires("stock.manage")
@tenant_route("order")
@blp.response(200, OrderOutSchema)
def move_up(number):
    """Move an order up every backorder queue it waits in (before the orders never moved up); 409 `not_backordered`
    when none of its lines waits. Allocations already made stay; the promised dates follow."""
    order = current_scope().get_or_404(Order, number=number)
    return backorders.move_up(current_user, order)
