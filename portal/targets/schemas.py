"""Targets API schemas (PRODUCT.md §15). Request bodies parse shapes only: every rule (period, scope and reach,
measure, category, amount) is checked by `services.check_items`, which answers every problem of a body at once as
`items.<index>.<field>` — the same checks as the grid and the file import."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from portal.platform.api import StrictSchema
from portal.platform.money import API_PATTERN, Money
from portal.targets.models import MEASURES
from portal.targets.services import MAX_ITEMS

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class RawAmount(fields.Field):
    """An amount as sent (a string of the documented pattern, or a JSON integer), checked by the service."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            {"type": "string", "pattern": API_PATTERN, "example": "125000.00",
             "description": "not negative; whole for sell_through_units (a string, or a JSON integer)"}
        )  # fmt: skip
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (dict, list)):
            raise ValidationError("Not a valid amount.")
        return value


class Text(fields.Field):
    """A short text value as sent (the service says what is wrong with it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is not None and not isinstance(value, (str, int)):
            raise ValidationError("Not a valid string.")
        return value


class TargetItemInSchema(StrictSchema):
    period = Text(required=True, metadata={"type": "string", "example": "2026-03", "description": "YYYY-MM"})
    scope = Text(required=True, metadata={"type": "string", "example": "region:EAST",
                                          "description": "region:<code> | dealer:<code>"})  # fmt: skip
    measure = Text(required=True, metadata={"type": "string", "enum": list(MEASURES)})
    category = Text(load_default=None, allow_none=True, metadata={
        "type": "string", "nullable": True,
        "description": "a product category; absent, null or empty: every category (collections: none)"})  # fmt: skip
    amount = RawAmount(required=True)


class TargetsPutSchema(StrictSchema):
    items = fields.List(fields.Nested(TargetItemInSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_ITEMS))  # fmt: skip


class TargetsCountsSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class TargetsQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    date_from = fields.String(
        data_key="from",
        metadata={"description": "YYYY-MM, first month"},
        validate=validate.Regexp(PERIOD_PATTERN, error="A month as YYYY-MM (01 to 12)."),
    )
    date_to = fields.String(
        data_key="to",
        metadata={"description": "YYYY-MM, last month"},
        validate=validate.Regexp(PERIOD_PATTERN, error="A month as YYYY-MM (01 to 12)."),
    )
    scope = fields.String(
        validate=validate.Length(max=40), metadata={"description": "region:<code> (its subtree too) | dealer:<code>"}
    )
    measure = fields.String(validate=validate.OneOf(MEASURES))
    category = fields.String(
        validate=validate.Length(max=60), metadata={"description": "a category; empty: the overall targets only"}
    )


class TargetSchema(Schema):
    period = fields.String(metadata={"example": "2026-03"})
    scope = fields.String(metadata={"example": "region:EAST"})
    name = fields.String()
    measure = fields.String(metadata={"enum": list(MEASURES)})
    category = fields.String(allow_none=True)
    amount = Money()
    updated_at = fields.DateTime()
    updated_by = fields.String()


class SplitQuerySchema(StrictSchema):
    region = fields.String(
        validate=validate.Length(max=32), metadata={"description": "default: the caller's region (HQ: the top region)"}
    )
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    category = fields.String(load_default="", validate=validate.Length(max=60))


class SplitChildSchema(Schema):
    scope = fields.String()
    name = fields.String()
    editable = fields.Boolean(metadata={"description": "the caller may set this child's targets"})


class SplitMonthSchema(Schema):
    period = fields.String()
    own = Money(allow_none=True, metadata={"description": "the region's own target; null: none set"})
    children = fields.List(Money(allow_none=True), metadata={"description": "in the order of `children`"})
    sum = Money()
    difference = Money(allow_none=True, metadata={"description": "sum − own; null while own is null"})
    warning = fields.Boolean(metadata={"description": "the sum differs from the region's target"})


class SplitSchema(Schema):
    region = fields.Function(lambda s: s["region"].code if s["region"] is not None else None)
    own_editable = fields.Boolean()
    year = fields.Integer()
    measure = fields.String()
    category = fields.String(allow_none=True)
    children = fields.List(fields.Nested(SplitChildSchema))
    months = fields.List(fields.Nested(SplitMonthSchema))


class TargetImportFileSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class TargetImportQueuedSchema(Schema):
    job_id = fields.String()
