"""marshmallow schemas of the scorecards API (PRODUCT.md §15): the query and the answer."""

from __future__ import annotations

import datetime as dt
import re

from marshmallow import Schema, ValidationError, fields, validate

from portal.config import SCORECARD_COMPONENTS
from portal.platform.api import StrictSchema

MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


class Month(fields.Field):
    """A month as `YYYY-MM` (2026-03), loaded as its first day; answered the same way."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m")

    def _deserialize(self, value, attr, data, **kwargs):
        m = MONTH_RE.fullmatch(value) if isinstance(value, str) else None
        if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
            raise ValidationError("A month as YYYY-MM (01 to 12).")
        return dt.date(int(m.group(1)), int(m.group(2)), 1)


class ScorecardQuerySchema(StrictSchema):
    period = Month(metadata={"description": "the month ranked (default: the last complete month)"})
    region = fields.String(validate=validate.Length(max=32), metadata={"description": "region code: its subtree"})


class DealerScorecardQuerySchema(StrictSchema):
    period = Month(metadata={"description": "the month ranked (default: the last complete month)"})


class ComponentSchema(Schema):
    value = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "the measured value (ratios as fractions, 0.2500 = 25 %; DSO and days of inventory "
                                 "in days); null with points where there is nothing to measure but points are still "
                                 "given (nothing open: 100; stock but nothing sold: 0)"},
    )  # fmt: skip
    points = fields.Decimal(as_string=True, metadata={"description": "0 to 100, 1 decimal"})
    weight = fields.Integer()


_DESCRIPTIONS = {
    "achievement": "mean % reached over the measures with a target that month (null: no target)",
    "dso": "days sales outstanding at the month's end (null: no sales in 90 days)",
    "overdue_share": "overdue ÷ open invoices at the month's end",
    "sell_through_rate": "channel flow's sell-through rate of the month (null: no stock, nothing coming in)",
    "days_of_inventory": "channel flow's days of inventory at the month's end (null: no stock, nothing sold)",
    "below_floor": "share of the month's pieces sold below the floor (null: nothing sold)",
}

ComponentsSchema = type(
    "ScorecardComponentsSchema",
    (Schema,),
    {
        name: fields.Nested(ComponentSchema, allow_none=True, metadata={"description": _DESCRIPTIONS[name]})
        for name in SCORECARD_COMPONENTS
    },
)


class ScorecardRowSchema(Schema):
    dealer_code = fields.String()
    dealer_name = fields.String()
    region_code = fields.String(metadata={"description": "the region the dealer is placed in"})
    region_name = fields.String()
    score = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "0 to 100, 1 decimal"})
    rank_region = fields.Integer(metadata={"description": "rank among the dealers placed in its region"})
    region_size = fields.Integer()
    rank_channel = fields.Integer(metadata={"description": "rank among all the dealers HQ sells to"})
    channel_size = fields.Integer()
    components = fields.Nested(ComponentsSchema, metadata={"description": "the components in use (weight > 0)"})


WeightsSchema = type("ScorecardWeightsSchema", (Schema,), {name: fields.Integer() for name in SCORECARD_COMPONENTS})


class ScorecardsSchema(Schema):
    period = Month()
    as_of = fields.Date(metadata={"description": "the day the month is measured to (today inside the month)"})
    weights = fields.Nested(WeightsSchema, metadata={"description": "the components in use and their weights"})
    rows = fields.List(fields.Nested(ScorecardRowSchema))


class DealerScorecardSchema(ScorecardRowSchema):
    period = Month()
    as_of = fields.Date()
    weights = fields.Nested(WeightsSchema)
