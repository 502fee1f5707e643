"""marshmallow schemas of the achievement API (PRODUCT.md §15): the query and the answer."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from portal.platform.api import StrictSchema
from portal.platform.errors import Invalid
from portal.targets.achievement import GROUPS, parse_period
from portal.targets.models import MEASURES

FIGURE_PATTERN = r"^-?\d+(\.\d{1,2})?$"


class Period(fields.Field):
    """A month as YYYY-MM (2026-13, 2026-3 and 2026-03-01 are refused); loads as the month's first day."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-03"})
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else (value if isinstance(value, str) else value.strftime("%Y-%m"))

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("A month as YYYY-MM.")
        try:
            return parse_period(value, self.data_key or attr)
        except Invalid as exc:
            raise ValidationError([str(m) for msgs in exc.fields.values() for m in msgs]) from exc


class Figure(fields.Field):
    """An amount ("1234.50") or a number of pieces ("12") as a string; null where there is none."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update({"type": "string", "pattern": FIGURE_PATTERN, "nullable": True})
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(value) if isinstance(value, int | Decimal) else str(Decimal(value))


def _ratio(description: str):
    return fields.Decimal(as_string=True, allow_none=True, metadata={"description": description})


class AchievementQuerySchema(StrictSchema):
    date_from = Period(data_key="from", metadata={"description": "first month (default: 11 months before `to`)"})
    date_to = Period(data_key="to", metadata={"description": "last month, inclusive (default: this month)"})
    group_by = fields.String(load_default="region", validate=validate.OneOf(GROUPS),
                             metadata={"description": "region: the child regions of the region looked at (and one "
                                                      "row for its own dealers); dealer; month"})  # fmt: skip
    measure = fields.String(load_default="sell_in_amount", validate=validate.OneOf(MEASURES))
    category = fields.String(
        validate=validate.Length(max=60),
        metadata={"description": "a product category code (not with collections_amount)"},
    )
    region = fields.String(validate=validate.Length(max=32), metadata={"description": "region code: its subtree"})
    dealer = fields.String(
        validate=validate.Length(max=32),
        metadata={"description": "a dealer buying from HQ (with its sub-dealers' sell-through)"},
    )


class AchievementFiguresSchema(Schema):
    target = Figure(metadata={"description": "Σ of the months' targets; null when no month has one"})
    actual = Figure()
    pct = _ratio("actual ÷ target (0.8500 = 85 %); null when the target is null or 0")
    last_year = Figure(metadata={"description": "actual of the same months a year earlier"})
    yoy_pct = _ratio("(actual − last_year) ÷ last_year; null when last_year is 0")
    previous = Figure(metadata={"description": "actual of as many months just before `from` (a month row: the month "
                                               "before)"})  # fmt: skip
    mom_pct = _ratio("(actual − previous) ÷ previous; null when previous is 0")
    forecast = Figure(metadata={"description": "run rate to the range's end (today counted as elapsed); the actual "
                                               "once the range is over; null before it starts"})  # fmt: skip


class AchievementRowSchema(AchievementFiguresSchema):
    key = fields.String(metadata={"description": "region or dealer code, or the month (YYYY-MM)"})
    name = fields.String()
    kind = fields.String(metadata={"description": "region (with its subtree), direct (the level-1 dealers placed "
                                                  "directly in the region looked at), dealer, month"})  # fmt: skip


class AchievementSchema(Schema):
    date_from = fields.String(data_key="from", attribute="from", metadata={"example": "2026-01"})
    date_to = fields.String(data_key="to", attribute="to", metadata={"example": "2026-12"})
    measure = fields.String()
    category = fields.String(allow_none=True)
    group_by = fields.String()
    region = fields.String(allow_none=True)
    dealer = fields.String(allow_none=True)
    unit = fields.String(metadata={"description": "CNY or pieces"})
    rows = fields.List(fields.Nested(AchievementRowSchema))
    totals = fields.Nested(AchievementFiguresSchema)
