"""JSON API for shipments (PRODUCT.md §5, §9.1)."""

from __future__ import annotations

from flask import Response, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.orders.models import Order
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.tenancy import current_scope, tenant_route
from portal.shipping import services
from portal.shipping.models import Shipment
from portal.shipping.pdf import delivery_note
from portal.shipping.schemas import (
    ReceiveSchema,
    ShipmentCreatedSchema,
    ShipmentCreateSchema,
    ShipmentQuerySchema,
    ShipmentSchema,
)

blp = api_blueprint("api_shipping", __name__, "Shipments")


@blp.route("/orders/<number>/shipments", methods=["POST"])
@requires("shipments.create", "sales.ship")
@tenant_route("order")
@blp.arguments(ShipmentCreateSchema)
@blp.response(201, ShipmentCreatedSchema)
@blp.doc(
    parameters=[
        {"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 100}}
    ],
)
def create_shipment(body, number):
    """Ship built units (by VIN) and stock quantities of an order; posts one invoice for them.

    An order HQ sells is shipped by HQ from its warehouses. An order a distributor sells to its sub-dealer (§16) is
    shipped by the distributor's users only, out of the distributor's own stock: VINs it holds (`serials`, or
    `lines` of a vehicle SKU: its longest-held VINs) and stock quantities; the invoice goes on the sub-dealer's
    account with the distributor. Too little on hand → 409 `stock_short`, nothing written.
    With an `Idempotency-Key`, a retried request answers the first shipment and posts nothing."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key.strip()) <= 100):
        raise Invalid(fields={"Idempotency-Key": [_("1 to 100 characters.")]})
    order = current_scope().get_or_404(Order, number=number)
    shipment, _created = services.ship(
        current_user,
        order,
        serials=body.get("serials"),
        lines=body.get("lines"),
        shipped_on=body.get("shipped_on"),
        idempotency_key=key.strip() if key else None,
    )
    return {"shipment": shipment, "invoice": shipment.invoice}


@blp.route("/shipments", methods=["GET"])
@requires("shipments.read")
@blp.arguments(ShipmentQuerySchema, location="query")
@blp.response(200, page_of(ShipmentSchema))
def list_shipments(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.shipments_query(current_scope(), **args), page, per_page)


@blp.route("/shipments/<number>", methods=["GET"])
@requires("shipments.read")
@tenant_route("shipment")
@blp.response(200, ShipmentSchema)
def get_shipment(number):
    return current_scope().get_or_404(Shipment, number=number)


@blp.route("/shipments/<number>/receive", methods=["POST"])
@requires("shipments.receive")
@tenant_route("shipment")
@blp.arguments(ReceiveSchema)
@blp.response(200, ShipmentSchema)
def receive_shipment(body, number):
    """The dealer confirms the goods arrived (stock receipts; the order is delivered when all is received). Only the
    receiving dealer's users; `discrepancies` are for HQ's shipments (a transfer's are settled with the distributor)."""
    shipment = current_scope().get_or_404(Shipment, number=number)
    return services.receive(current_user, shipment, body.get("received_on"), body.get("discrepancies"))


@blp.route("/shipments/<number>/pdf", methods=["GET"])
@requires("shipments.read")
@tenant_route("shipment")
@blp.response(200, content_type="application/pdf")
def shipment_pdf(number):
    """The delivery note (发货单) as PDF."""
    shipment = current_scope().get_or_404(Shipment, number=number)
    return Response(
        delivery_note(shipment),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{shipment.number}.pdf"'},
    )
