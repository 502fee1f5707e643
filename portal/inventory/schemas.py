"""API schemas for the dealer's stock and sell-through (PRODUCT.md §9.1: the field names are a contract)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.inventory.dealer_stock import AGE_BUCKETS
from portal.inventory.models import CUSTOMER_TYPES
from portal.platform.api import StrictSchema
from portal.platform.money import Money


class SellThroughLineInSchema(StrictSchema):
    sold_on = fields.Date(required=True)
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    serial = fields.String(allow_none=True, validate=validate.Length(max=17))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    unit_price = Money(required=True)
    city = fields.String(allow_none=True, validate=validate.Length(max=60))
    customer_type = fields.String(allow_none=True, validate=validate.OneOf(CUSTOMER_TYPES))


class SellThroughCreateSchema(StrictSchema):
    lines = fields.List(
        fields.Nested(SellThroughLineInSchema), required=True, validate=validate.Length(min=1, max=1000)
    )


def _dealer_code(line) -> str:
    from portal.dealers.models import Dealer
    from portal.extensions import db

    return db.session.get(Dealer, line.dealer_id).code  # the identity map answers repeats


class SellThroughLineSchema(Schema):
    id = fields.Integer()
    dealer_code = fields.Function(_dealer_code, metadata={"type": "string"})
    sold_on = fields.Date()
    sku = fields.String()
    serial = fields.String(allow_none=True)
    quantity = fields.Integer()
    unit_price = Money()
    amount = Money()
    floor_price = Money(allow_none=True)
    below_floor = fields.Boolean()
    city = fields.String(allow_none=True)
    customer_type = fields.String(allow_none=True)
    source = fields.String(metadata={"enum": ["portal", "api", "import"]})
    created_at = fields.AwareDateTime()


class SellThroughCreatedSchema(Schema):
    lines = fields.List(fields.Nested(SellThroughLineSchema))


class SellThroughQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    dealer = fields.String(validate=validate.Length(max=32))
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    sku = fields.String(validate=validate.Length(max=40))
    below_floor = fields.Boolean()


class SellThroughFileSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class SellThroughQueuedSchema(Schema):
    job_id = fields.String()


class DealerStockQuerySchema(StrictSchema):
    as_of = fields.Date()


AgeSchema = Schema.from_dict({key: fields.Integer() for key, _low, _high in AGE_BUCKETS}, name="DealerStockAgeSchema")


class DealerStockItemSchema(Schema):
    sku = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    category = fields.String()
    on_hand = fields.Integer()
    incoming = fields.Integer(metadata={"description": "in shipments on their way (shipped, not yet received)"})
    age = fields.Nested(AgeSchema, metadata={"description": "on hand by days since receipt (FIFO)"})


class DealerStockTotalsSchema(Schema):
    on_hand = fields.Integer()
    incoming = fields.Integer()
    age = fields.Nested(AgeSchema)


class DealerVinSchema(Schema):
    serial = fields.String()
    sku = fields.String()
    received_on = fields.Date(allow_none=True)
    age_days = fields.Integer(allow_none=True)


class DealerStockSchema(Schema):
    dealer_code = fields.String()
    as_of = fields.Date()
    items = fields.List(fields.Nested(DealerStockItemSchema))
    totals = fields.Nested(DealerStockTotalsSchema)
    vins = fields.List(fields.Nested(DealerVinSchema))


class DealerStockAdjustmentCreateSchema(StrictSchema):
    """sku, delta and reason are required (checked by the service, after the dealer is found in scope)."""

    sku = fields.String(load_default=None, validate=validate.Length(max=40), metadata={"description": "required"})
    delta = fields.Integer(load_default=None, strict=True, metadata={"description": "required; + in, − out"})
    reason = fields.String(load_default="", validate=validate.Length(max=500), metadata={"description": "required"})
    serial = fields.String(allow_none=True, validate=validate.Length(max=17))
    moved_on = fields.Date()


class DealerStockAdjustmentSchema(Schema):
    id = fields.Integer()
    sku = fields.String()
    serial = fields.String(allow_none=True)
    quantity = fields.Integer()
    kind = fields.String()
    moved_on = fields.Date()
    note = fields.String(allow_none=True)
    created_by = fields.String()
