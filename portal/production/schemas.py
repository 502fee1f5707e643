from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.platform.api import StrictSchema
from portal.production.services import MAX_BATCH


class EventInSchema(StrictSchema):
    event_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    serial = fields.String(required=True, validate=validate.Length(min=1, max=40))
    stage = fields.String(required=True, validate=validate.Length(min=1, max=32))
    occurred_at = fields.AwareDateTime(required=True)
    line = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=32))
    station = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))


class EventBatchSchema(StrictSchema):
    events = fields.List(
        fields.Nested(EventInSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": f"1 to {MAX_BATCH} events; a longer batch is refused whole (422)"},
    )


class EventResultSchema(Schema):
    event_id = fields.String()
    status = fields.String(metadata={"enum": ["accepted", "duplicate", "rejected"]})
    reason = fields.String(
        metadata={"description": "unknown_serial | unknown_stage | not_a_production_stage | future_timestamp"}
    )
    message = fields.String()


class EventResultsSchema(Schema):
    results = fields.List(fields.Nested(EventResultSchema), metadata={"description": "one per event, in input order"})


class StageTimeSchema(Schema):
    stage = fields.String()
    label = fields.String()
    at = fields.AwareDateTime(allow_none=True)
    done = fields.Boolean()
    current = fields.Boolean()


class StageSchema(Schema):
    stage = fields.String()
    label = fields.String()


class TrackedUnitSchema(Schema):
    serial = fields.String()
    sku = fields.String()
    product_name = fields.String()
    product_name_en = fields.String(allow_none=True)
    line = fields.String(allow_none=True)
    stage = fields.String()
    stage_label = fields.String()
    stage_at = fields.AwareDateTime()
    stages = fields.List(fields.Nested(StageTimeSchema))
    eta = fields.AwareDateTime(allow_none=True, metadata={"description": "estimated completion; null once completed"})
    late = fields.Boolean()


class TrackSchema(Schema):
    query = fields.String()
    order = fields.String(metadata={"description": "the order number"})
    order_status = fields.String()
    order_status_label = fields.String()
    dealer_code = fields.String()
    ordered_at = fields.AwareDateTime()
    serial = fields.String(allow_none=True, metadata={"description": "the serial asked for (null: by order)"})
    stages = fields.List(fields.Nested(StageSchema))
    units = fields.List(fields.Nested(TrackedUnitSchema))
    units_total = fields.Integer()
    eta = fields.AwareDateTime(allow_none=True, metadata={"description": "the latest ETA of the units"})
    at = fields.AwareDateTime()


class UnitSchema(Schema):
    serial = fields.String()
    order = fields.String()
    dealer_code = fields.String()
    sku = fields.String()
    stage = fields.String()
    stage_at = fields.AwareDateTime()
    line = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class UnitQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    stage = fields.String()
    open = fields.Boolean(metadata={"description": "only units still being built (before the completed stage)"})
    line = fields.String()
    order = fields.String()


class SummaryQuerySchema(StrictSchema):
    line = fields.String()
    sku = fields.String()
    dealer = fields.String()
    region = fields.String()
    late_page = fields.Integer(load_default=1, validate=validate.Range(min=1))


class StageCountSchema(Schema):
    stage = fields.String()
    label = fields.String()
    count = fields.Integer()


class LineCountSchema(Schema):
    line = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    total = fields.Integer()


class LateUnitSchema(Schema):
    serial = fields.String()
    order = fields.String()
    dealer_code = fields.String()
    sku = fields.String()
    stage = fields.String()
    stage_label = fields.String()
    stage_at = fields.AwareDateTime()
    line = fields.String(allow_none=True)
    eta = fields.AwareDateTime()


class LateSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(LateUnitSchema))


class ThroughputSchema(Schema):
    date = fields.Date()
    completed = fields.Integer()


class SummarySchema(Schema):
    by_stage = fields.List(fields.Nested(StageCountSchema))
    by_line = fields.List(fields.Nested(LineCountSchema))
    late = fields.Nested(LateSchema)
    throughput = fields.List(fields.Nested(ThroughputSchema))
    at = fields.AwareDateTime()
