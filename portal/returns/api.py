"""JSON API for returns (RMA) and delivery discrepancies (PRODUCT.md §13)."""

from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowValidationError

from portal.dealers.models import Dealer
from portal.platform.api import PageArgs, StrictSchema, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.money import Money
from portal.platform.tenancy import current_scope, tenant_route
from portal.returns import discrepancies, services
from portal.returns.models import (
    DISCREPANCY_STATUSES,
    RETURN_REASONS,
    RETURN_STATUSES,
    DeliveryDiscrepancy,
    Return,
)

blp = api_blueprint("api_returns", __name__, "Returns")


# ---------------------------------------------------------------- schemas


class ReturnLineInSchema(StrictSchema):
    sku = fields.String(validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1, max=services.MAX_QUANTITY))
    serial = fields.String(validate=validate.Length(min=1, max=17), metadata={"description": "a VIN, instead of sku"})

    @validates_schema
    def _one_of(self, data, **kwargs):
        if bool(data.get("serial")) == bool(data.get("sku")):
            raise MarshmallowValidationError("Either {sku, quantity} or {serial}.", "_schema")
        if data.get("sku") and "quantity" not in data:
            raise MarshmallowValidationError(["Required with sku."], "quantity")


class ReturnCreateSchema(StrictSchema):
    shipment_number = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lines = fields.List(fields.Nested(ReturnLineInSchema), required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = fields.String(validate=validate.Length(max=2000))


class ReturnApproveSchema(StrictSchema):
    restocking_fee_pct = Money(metadata={"description": "0–100, overstock returns only; default 0"})
    comment = fields.String(validate=validate.Length(max=1000))


class ReturnRejectSchema(StrictSchema):
    comment = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ReturnShipBackSchema(StrictSchema):
    shipped_on = fields.Date()


class ReturnReceiveLineSchema(StrictSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    accepted = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    scrapped = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class ReturnReceiveSerialSchema(StrictSchema):
    serial = fields.String(required=True, validate=validate.Length(min=1, max=17))
    outcome = fields.String(load_default="accepted", validate=validate.OneOf(("accepted", "scrapped")))


class ReturnReceiveSchema(StrictSchema):
    warehouse_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lines = fields.List(fields.Nested(ReturnReceiveLineSchema), validate=validate.Length(max=200))
    serials = fields.List(fields.Nested(ReturnReceiveSerialSchema), validate=validate.Length(max=200))
    received_on = fields.Date()


class ReturnMessageInSchema(StrictSchema):
    # not `required`: an empty body is refused by the service (422) once the return is found in the caller's scope,
    # so a return out of scope answers 404 whatever the body, exactly like a missing one
    body = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"description": "required"})


class ReturnLineSchema(Schema):
    sku = fields.String()
    serial = fields.String(allow_none=True)
    quantity = fields.Integer()
    value = Money(metadata={"description": "the goods' invoiced gross"})
    fee = Money(metadata={"description": "restocking fee"})
    accepted = fields.Integer(allow_none=True)
    scrapped = fields.Integer(allow_none=True)


class ReturnMessageSchema(Schema):
    author = fields.String()
    side = fields.String(metadata={"description": "dealer | hq"})
    body = fields.String()
    created_at = fields.DateTime()


class ReturnSchema(Schema):
    number = fields.String()
    status = fields.String(metadata={"description": " → ".join(RETURN_STATUSES)})
    dealer_code = fields.Function(lambda r: r.dealer.code)
    shipment_number = fields.Function(lambda r: r.shipment.number)
    reason = fields.String()
    note = fields.String(allow_none=True)
    restocking_fee_pct = Money()
    value = fields.Function(lambda r: str(services.total_value(r)))
    fee = fields.Function(lambda r: str(services.total_fee(r)))
    credit_amount = fields.Function(lambda r: str(services.credit_amount(r)))
    lines = fields.List(fields.Nested(ReturnLineSchema))
    requested_by = fields.String()
    created_at = fields.DateTime()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    comment = fields.String(allow_none=True)
    shipped_back_on = fields.Date(allow_none=True)
    received_on = fields.Date(allow_none=True)
    warehouse_code = fields.Function(lambda r: r.warehouse.code if r.warehouse else None)
    credit_note_number = fields.Function(lambda r: r.credit_note.number if r.credit_note else None)
    messages = fields.List(fields.Nested(ReturnMessageSchema))


class ReturnCreditNoteSchema(Schema):
    number = fields.String()
    amount = Money()
    entry_date = fields.Date()


class ReturnReceivedSchema(Schema):
    # the return and its credit note, as §13 names them (`return` is a Python keyword: the attribute is `ret`)
    ret = fields.Nested(ReturnSchema, data_key="return")
    credit_note = fields.Nested(ReturnCreditNoteSchema, allow_none=True)


class ReturnQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(RETURN_STATUSES))
    dealer = fields.String(validate=validate.Length(max=32))


class DiscrepancySchema(Schema):
    number = fields.String()
    status = fields.String(metadata={"description": "open | reshipped | credited"})
    dealer_code = fields.Function(lambda d: d.dealer.code)
    shipment_number = fields.Function(lambda d: d.shipment.number)
    sku = fields.String()
    serial = fields.String(allow_none=True)
    quantity = fields.Integer()
    kind = fields.String(metadata={"description": "short | damaged"})
    note = fields.String(allow_none=True)
    value = Money()
    declared_on = fields.Date()
    declared_by = fields.String()
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    reship_number = fields.Function(lambda d: d.reship.number if d.reship else None)
    credit_note_number = fields.Function(lambda d: d.credit_note.number if d.credit_note else None)


class DiscrepancyQuerySchema(PageArgs):
    status = fields.String(validate=validate.OneOf(DISCREPANCY_STATUSES))


class DiscrepancyResolveSchema(StrictSchema):
    how = fields.String(required=True, validate=validate.OneOf(("reship", "credit")))
    shipped_on = fields.Date(metadata={"description": "reship only"})


# ---------------------------------------------------------------- returns


def _return(number: str) -> Return:
    return current_scope().get_or_404(Return, number=number)


@blp.route("/returns", methods=["POST"])
@requires("returns.create")
@blp.arguments(ReturnCreateSchema)
@blp.response(201, ReturnSchema)
def create_return(body):
    """A dealer administrator asks to return goods of a received shipment (by SKU quantity or VIN)."""
    dealer = current_scope().get_or_404(Dealer, id=current_user.dealer_id)
    return services.request_return(current_user, dealer, **body)


@blp.route("/returns", methods=["GET"])
@requires("returns.read")
@blp.arguments(ReturnQuerySchema, location="query")
@blp.response(200, page_of(ReturnSchema))
def list_returns(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(services.returns_query(current_scope(), **args), page, per_page)


@blp.route("/returns/<number>", methods=["GET"])
@requires("returns.read")
@tenant_route("return")
@blp.response(200, ReturnSchema)
def get_return(number):
    return _return(number)


@blp.route("/returns/<number>/approve", methods=["POST"])
@requires("returns.decide")
@tenant_route("return")
@blp.arguments(ReturnApproveSchema)
@blp.response(200, ReturnSchema)
def approve_return(body, number):
    """Approve (a restocking fee percentage for overstock returns); a decided return answers 409."""
    return services.approve(current_user, _return(number), body.get("restocking_fee_pct"), body.get("comment"))


@blp.route("/returns/<number>/reject", methods=["POST"])
@requires("returns.decide")
@tenant_route("return")
@blp.arguments(ReturnRejectSchema)
@blp.response(200, ReturnSchema)
def reject_return(body, number):
    return services.reject(current_user, _return(number), body["comment"])


@blp.route("/returns/<number>/ship-back", methods=["POST"])
@requires("returns.create")
@tenant_route("return")
@blp.arguments(ReturnShipBackSchema)
@blp.response(200, ReturnSchema)
def ship_back_return(body, number):
    """The dealer sends the approved goods back: they leave its stock."""
    return services.ship_back(current_user, _return(number), body.get("shipped_on"))


@blp.route("/returns/<number>/receive", methods=["POST"])
@requires("returns.receive")
@tenant_route("return")
@blp.arguments(ReturnReceiveSchema)
@blp.response(200, ReturnReceivedSchema)
def receive_return(body, number):
    """HQ receives the goods into a warehouse: accepted and scrapped per line; one credit note."""
    ret, note = services.receive(current_user, _return(number), **body)
    return {"ret": ret, "credit_note": note}


@blp.route("/returns/<number>/messages", methods=["POST"])
@requires("returns.read")
@tenant_route("return")
@blp.arguments(ReturnMessageInSchema)
@blp.response(201, ReturnMessageSchema)
def post_message(body, number):
    return services.add_message(current_user, _return(number), body["body"])


# ---------------------------------------------------------------- discrepancies


@blp.route("/discrepancies", methods=["GET"])
@requires("returns.read")
@blp.arguments(DiscrepancyQuerySchema, location="query")
@blp.response(200, page_of(DiscrepancySchema))
def list_discrepancies(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(discrepancies.discrepancies_query(current_scope(), **args), page, per_page)


@blp.route("/discrepancies/<number>", methods=["GET"])
@requires("returns.read")
@tenant_route("discrepancy")
@blp.response(200, DiscrepancySchema)
def get_discrepancy(number):
    return current_scope().get_or_404(DeliveryDiscrepancy, number=number)


@blp.route("/discrepancies/<number>/resolve", methods=["POST"])
@requires("returns.decide")
@tenant_route("discrepancy")
@blp.arguments(DiscrepancyResolveSchema)
@blp.response(200, DiscrepancySchema)
def resolve_discrepancy(body, number):
    """Resolve once: re-ship the goods (a shipment with no invoice) or credit their invoiced gross."""
    disc = current_scope().get_or_404(DeliveryDiscrepancy, number=number)
    if body["how"] == "reship":
        return discrepancies.resolve_by_reship(current_user, disc, body.get("shipped_on"))
    return discrepancies.resolve_by_credit(current_user, disc)
