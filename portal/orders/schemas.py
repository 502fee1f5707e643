from __future__ import annotations

from marshmallow import Schema, fields, pre_dump, validate

from portal.orders.notes import event_note
from portal.platform.api import StrictSchema
from portal.platform.money import Money


class LineInSchema(StrictSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))


class OrderCreateSchema(StrictSchema):
    lines = fields.List(fields.Nested(LineInSchema), required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class QuoteSchema(StrictSchema):
    lines = fields.List(fields.Nested(LineInSchema), required=True, validate=validate.Length(min=1, max=200))


class LineOutSchema(Schema):
    line_no = fields.Integer()
    sku = fields.String()
    quantity = fields.Integer()
    list_price = Money()
    unit_price = Money()
    tax_rate = fields.Decimal(as_string=True)
    net = Money()
    tax = Money()
    gross = Money()
    rule = fields.Dict(allow_none=True)


class OrderLineOutSchema(LineOutSchema):
    """A line of a placed order, with where its stock stands (§12; build-to-order lines: 0, 0, null)."""

    allocated = fields.Function(
        lambda ln: getattr(ln, "held_allocated", 0),
        metadata={"type": "integer", "description": "pieces HQ holds allocated to the line now"},
    )
    backordered = fields.Integer(metadata={"description": "pieces the line waits for (not allocated yet)"})
    promised_on = fields.Date(allow_none=True, metadata={"description": "when the backordered pieces are promised"})


class EventSchema(Schema):
    at = fields.AwareDateTime()
    actor = fields.String()
    from_status = fields.String(data_key="from", allow_none=True)
    to_status = fields.String(data_key="to")
    comment = fields.Function(
        lambda e: event_note(e),
        allow_none=True,
        metadata={"type": "string", "description": "a person's comment, or what the portal says (caller's language)"},
    )


class OrderSchema(Schema):
    number = fields.String()
    dealer_code = fields.Function(lambda o: o.dealer.code)
    status = fields.String()
    lines = fields.List(fields.Nested(OrderLineOutSchema))
    net = Money()
    tax = Money()
    gross = Money()
    note = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    events = fields.List(fields.Nested(EventSchema))
    units = fields.Function(lambda o: [], metadata={"description": "build-to-order units (build-line tracking)"})
    approved_at = fields.AwareDateTime(allow_none=True)
    moved_up_at = fields.AwareDateTime(allow_none=True, metadata={"description": "moved up the backorder queue at"})

    @pre_dump
    def _held(self, order, **kwargs):
        """What HQ holds allocated to each line, read once for the whole order."""
        from portal.inventory.hq import held_by_line

        held = held_by_line(ln.id for ln in order.lines)
        for line in order.lines:
            line.held_allocated = held.get(line.id, 0)
        return order


class OrderSummarySchema(Schema):
    number = fields.String()
    dealer_code = fields.Function(lambda o: o.dealer.code)
    status = fields.String()
    net = Money()
    tax = Money()
    gross = Money()
    created_at = fields.AwareDateTime()


class QuoteOutSchema(Schema):
    lines = fields.List(fields.Nested(LineOutSchema))
    net = Money()
    tax = Money()
    gross = Money()
    available = Money(allow_negative=True)
    on_hold = fields.Boolean()


class OrderQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String()
    dealer = fields.String()
    region = fields.String()
    sku = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    q = fields.String()


class CommentSchema(StrictSchema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=1000))
