from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.orders.schemas import LineInSchema
from portal.platform.api import StrictSchema
from portal.platform.money import Money


class ShipmentCreateSchema(StrictSchema):
    serials = fields.List(fields.String(validate=validate.Length(min=1, max=17)), validate=validate.Length(max=1000))
    lines = fields.List(fields.Nested(LineInSchema), validate=validate.Length(max=200))
    shipped_on = fields.Date()


class DiscrepancyInSchema(StrictSchema):
    sku = fields.String(validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1))
    serial = fields.String(validate=validate.Length(min=1, max=17), metadata={"description": "a VIN, instead of sku"})
    kind = fields.String(required=True, validate=validate.OneOf(("short", "damaged")))
    note = fields.String(validate=validate.Length(max=1000))


class ReceiveSchema(StrictSchema):
    received_on = fields.Date()
    discrepancies = fields.List(
        fields.Nested(DiscrepancyInSchema),
        validate=validate.Length(max=200),
        metadata={
            "description": "goods short or damaged (§13): they do not enter the stock; a claim opens for HQ. "
            "Not for a distributor's transfer (§16): settled with the distributor"
        },
    )


def _serials(line) -> list[str]:
    if line.shipment.seller_id is None:
        return [u.serial for u in line.units]
    from portal.shipping.services import serials_by_line  # a transfer's VINs are its stock movements (§16)

    return serials_by_line(line.shipment).get(line.id, [])


def _seller_code(shipment) -> str | None:
    return shipment.seller.code if shipment.seller_id is not None else None


class ShipmentLineOutSchema(Schema):
    sku = fields.String()
    quantity = fields.Integer()
    unit_price = Money()
    tax_rate = fields.Decimal(as_string=True)
    net = Money()
    tax = Money()
    gross = Money()
    serials = fields.Function(
        lambda ln: _serials(ln),
        metadata={"type": "array", "items": {"type": "string"}, "description": "the VINs shipped on this line"},
    )


class InvoiceOutSchema(Schema):
    number = fields.String()
    issued_on = fields.Date(attribute="entry_date")
    due_on = fields.Date()
    amount = Money()


class ShipmentSchema(Schema):
    number = fields.String()
    order_number = fields.Function(lambda s: s.order.number)
    dealer_code = fields.Function(lambda s: s.order.dealer.code)
    seller_code = fields.Function(
        _seller_code,
        allow_none=True,
        metadata={"type": "string", "description": "who shipped it (§16): the distributor, out of its own stock, for "
                  "a transfer to its sub-dealer; null: HQ"},
    )  # fmt: skip
    status = fields.String(metadata={"description": "in_transit | received"})
    shipped_on = fields.Date()
    received_on = fields.Date(allow_none=True)
    net = Money()
    tax = Money()
    gross = Money()
    kind = fields.String(metadata={"description": "sale | reship (goods sent again for a delivery discrepancy, §13)"})
    invoice = fields.Nested(InvoiceOutSchema, allow_none=True, metadata={"description": "null for a reship"})
    lines = fields.List(fields.Nested(ShipmentLineOutSchema))


class ShipmentCreatedSchema(Schema):
    shipment = fields.Nested(ShipmentSchema)
    invoice = fields.Nested(InvoiceOutSchema)


class ShipmentQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String(validate=validate.OneOf(("in_transit", "received")))
    dealer = fields.String()
    order = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    q = fields.String()
    seller = fields.String(
        validate=validate.Length(max=32),
        metadata={"description": "a distributor's code: its transfers to its sub-dealers (§16)"},
    )
