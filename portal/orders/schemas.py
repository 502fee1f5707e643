from __future__ import annotations

from flask import has_request_context
from marshmallow import Schema, fields, pre_dump, validate

from portal.orders.notes import event_note
from portal.platform.api import StrictSchema
from portal.platform.money import Money


class LineInSchema(StrictSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))


_OPTIONS_IN = {
    "description": "build-to-order options chosen, one code per option group the product declares, e.g. "
    '`{"colour": "RED", "trim": "LUX"}`; a group left out takes its default option (§12)',
    "example": {"colour": "RED"},
}


def _options_in(**kwargs):
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=16)),
        values=fields.String(validate=validate.Length(min=1, max=20)),
        metadata=_OPTIONS_IN,
        **kwargs,
    )


class OrderLineInSchema(LineInSchema):
    """A line of an order, a quote, a draft or an amendment: a SKU, a quantity and the options chosen."""

    options = _options_in(allow_none=True)


def _lines_in(**kwargs):
    return fields.List(fields.Nested(OrderLineInSchema), **kwargs)


_REQUESTED_ON = {"description": "the delivery date the dealer wants, from today on (null: as soon as possible)"}
_SHIP_TO = {"description": "the id of one of the dealer's ship-to addresses (null: its default address)"}
_DEALER_CODE = {
    "description": "the dealer the order is for: channel and region managers (`orders.place_for`, 代客下单) must send "
    "it; a dealer user may send its own code (another dealer's code answers 404, like an unknown one)"
}


_SELLER_CODE_IN = {
    "description": "whom the order is placed with (§16): the dealer's distributor's code for a sub-dealer, `HQ` for a "
    "dealer that buys from HQ; null or absent: whoever sells to the dealer. Any other code: 422 on `seller_code`"
}


def _seller_code_out(order):
    return order.seller.code if order.seller_id is not None else None


_SELLER_CODE_OUT = {"type": "string",
                    "description": "who sells the order (§16): the sub-dealer's distributor; null: HQ"}  # fmt: skip


class OrderCreateSchema(StrictSchema):
    lines = _lines_in(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))
    requested_on = fields.Date(allow_none=True, metadata=_REQUESTED_ON)
    ship_to = fields.Integer(strict=True, allow_none=True, metadata=_SHIP_TO)
    dealer_code = fields.String(validate=validate.Length(min=1, max=40), metadata=_DEALER_CODE)
    seller_code = fields.String(allow_none=True, validate=validate.Length(min=1, max=40), metadata=_SELLER_CODE_IN)


class QuoteSchema(StrictSchema):
    lines = _lines_in(required=True, validate=validate.Length(min=1, max=200))
    dealer_code = fields.String(validate=validate.Length(min=1, max=40), metadata=_DEALER_CODE)


class DraftInSchema(StrictSchema):
    """The whole draft (PUT replaces it): an empty `lines` keeps an empty basket."""

    lines = _lines_in(required=True, validate=validate.Length(max=200))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))
    requested_on = fields.Date(allow_none=True, metadata=_REQUESTED_ON)
    ship_to = fields.Integer(strict=True, allow_none=True, metadata=_SHIP_TO)
    dealer_code = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={
            "description": "the dealer the draft is for: managers send it (or keep their draft's dealer by leaving it "
            "out); a dealer user's draft is for its own dealer, or for a distributor one of its sub-dealers (§16); "
            "another dealer's code answers 404"
        },
    )


class DraftQuerySchema(StrictSchema):
    dealer = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "managers: the dealer whose draft to show (an empty one when the draft is another's)"},
    )


class AmendSchema(StrictSchema):
    """An amendment: the order's lines as they should be (omitted fields stay as they are)."""

    lines = _lines_in(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "required: every line the order should have (at least one)"},
    )
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))
    requested_on = fields.Date(allow_none=True, metadata=_REQUESTED_ON)
    ship_to = fields.Integer(strict=True, allow_none=True, metadata=_SHIP_TO)


class OptionOutSchema(Schema):
    """An option a line got (chosen, or its group's default), as stored on the line when it was priced."""

    group = fields.String()
    code = fields.String()
    label = fields.String(metadata={"description": "Chinese label"})
    label_en = fields.String()
    price_delta = Money(allow_negative=True, metadata={"description": "added to the list price (net)"})


class ShipToSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    recipient = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String()


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
    options = fields.List(
        fields.Nested(OptionOutSchema), allow_none=True, metadata={"description": "null: the product has none"}
    )


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


def _amendable(order) -> bool:
    from flask_login import current_user

    from portal.orders.services import may_amend

    return has_request_context() and current_user.is_authenticated and may_amend(current_user, order)


class OrderSchema(Schema):
    number = fields.String()
    dealer_code = fields.Function(lambda o: o.dealer.code)
    seller_code = fields.Function(_seller_code_out, allow_none=True, metadata=_SELLER_CODE_OUT)
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
    requested_on = fields.Date(allow_none=True, metadata={"description": "the delivery date wanted (null: asap)"})
    ship_to = fields.Nested(ShipToSchema, allow_none=True)
    placed_by = fields.Function(
        lambda o: o.placed_by.username if o.placed_by is not None else None,
        allow_none=True,
        metadata={"type": "string", "description": "who placed it on the dealer's behalf (代客下单); null: the dealer"},
    )
    amendable = fields.Function(
        _amendable,
        metadata={"type": "boolean", "description": "whether the caller may amend it now (PATCH)"},
    )

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
    seller_code = fields.Function(_seller_code_out, allow_none=True, metadata=_SELLER_CODE_OUT)
    status = fields.String()
    net = Money()
    tax = Money()
    gross = Money()
    created_at = fields.AwareDateTime()


class QuoteOutSchema(Schema):
    dealer_code = fields.String()
    seller_code = fields.String(allow_none=True, metadata={"description": "who would sell it (§16); null: HQ"})
    lines = fields.List(fields.Nested(LineOutSchema))
    net = Money()
    tax = Money()
    gross = Money()
    available = Money(allow_negative=True)
    on_hold = fields.Boolean()


_PRICED = ("line_no", "list_price", "unit_price", "tax_rate", "net", "tax", "gross", "rule", "options")


class DraftLineOutSchema(Schema):
    """A line of the draft priced today, or with what stops it from being ordered (`errors`; prices null)."""

    line_no = fields.Integer(allow_none=True)
    sku = fields.String()
    quantity = fields.Integer()
    options = fields.Dict(
        attribute="chosen",
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "the options as chosen, `{group: code}` (what PUT takes)"},
    )
    option_details = fields.List(
        fields.Nested(OptionOutSchema),
        attribute="options",
        allow_none=True,
        metadata={"description": "the options the line gets (defaults filled in) with their labels and deltas"},
    )
    list_price = Money(allow_none=True)
    unit_price = Money(allow_none=True)
    tax_rate = fields.Decimal(as_string=True, allow_none=True)
    net = Money(allow_none=True)
    tax = Money(allow_none=True)
    gross = Money(allow_none=True)
    rule = fields.Dict(allow_none=True)
    errors = fields.List(fields.String(), metadata={"description": "why the line cannot be ordered (empty: it can)"})

    @pre_dump
    def _unpriced(self, line, **kwargs):
        return {**dict.fromkeys(_PRICED), **line}


class DraftOutSchema(Schema):
    """The caller's draft priced live (§12). `dealer_code` null: a manager with no draft and no dealer named."""

    dealer_code = fields.String(allow_none=True)
    seller_code = fields.String(allow_none=True, metadata={"description": "who would sell it (§16); null: HQ"})
    lines = fields.List(fields.Nested(DraftLineOutSchema))
    orderable = fields.Boolean(metadata={"description": "every line can be ordered (submit would not answer 422)"})
    net = Money()
    tax = Money()
    gross = Money(metadata={"description": "of the lines that can be ordered"})
    available = Money(allow_negative=True, allow_none=True, metadata={"description": "the dealer's available credit"})
    on_hold = fields.Boolean(allow_none=True)
    hold_reason = fields.String(allow_none=True)
    excess = Money(allow_none=True, metadata={"description": "how much the gross exceeds the available credit"})
    note = fields.String(allow_none=True)
    requested_on = fields.Date(allow_none=True)
    ship_to = fields.Nested(ShipToSchema, allow_none=True)
    updated_at = fields.AwareDateTime(allow_none=True, metadata={"description": "null: there is no draft"})


class SkippedSchema(Schema):
    sku = fields.String()
    quantity = fields.Integer()
    reason = fields.String()


class ReorderOutSchema(DraftOutSchema):
    skipped = fields.List(
        fields.Nested(SkippedSchema),
        metadata={"description": "the past order's lines not copied (no longer sold, options withdrawn), with why"},
    )


class OrderQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String()
    dealer = fields.String(
        metadata={"description": "one dealer's orders (a dealer's users: their own by default, or a sub-dealer's)"}
    )
    seller = fields.String(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "a distributor's sales (§16): the orders it sells its sub-dealers (a distributor in "
                  "the caller's scope, else 422); `HQ`: HQ's own sales (not for dealers' users)"},
    )  # fmt: skip
    region = fields.String()
    sku = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    q = fields.String()


class CommentSchema(StrictSchema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=1000))
