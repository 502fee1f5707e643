"""marshmallow schemas of the analytics API (query validation and the answers)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal.analytics.reports import DEFAULT_PER_PAGE, GROUP_KEYS, MAX_MONTHS, MAX_PER_PAGE, month_starts
from portal.platform.api import StrictSchema
from portal.platform.money import Money


class GroupBy(fields.Field):
    """A comma-separated, ordered list of group keys (each once); empty: one row for everything."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            {"type": "string", "example": "region,category,month",
             "description": f"comma-separated, ordered, each once: {', '.join(GROUP_KEYS)}"}  # fmt: skip
        )
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        """The list as it is sent ("region,month"): the document's default is a string like the parameter."""
        return None if value is None else ",".join(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("A comma-separated list.")
        keys = [k.strip() for k in value.split(",") if k.strip()]
        unknown = [k for k in keys if k not in GROUP_KEYS]
        if unknown:
            raise ValidationError(f"Unknown group key(s): {', '.join(unknown)}; use {', '.join(GROUP_KEYS)}.")
        if len(set(keys)) != len(keys):
            raise ValidationError("Each group key at most once.")
        return keys


class PeriodQuerySchema(StrictSchema):
    date_from = fields.Date(data_key="from", metadata={"description": "first day (default: 11 months back, day 1)"})
    date_to = fields.Date(data_key="to", metadata={"description": "last day, inclusive (default: today)"})
    region = fields.String(validate=validate.Length(max=32), metadata={"description": "region code: its subtree"})
    dealer = fields.String(validate=validate.Length(max=32), metadata={"description": "dealer code"})

    @validates_schema
    def _period(self, data, **kwargs):
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise ValidationError("The period must not end before it starts.", "from")
            if len(month_starts(start, end)) > MAX_MONTHS:
                raise ValidationError(f"A period spans at most {MAX_MONTHS} months.", "from")


class ReportPageArgs(StrictSchema):
    """The page of a report's rows: like every list (`PageArgs`), 100 rows by default."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ChannelFlowQuerySchema(PeriodQuerySchema, ReportPageArgs):
    group_by = GroupBy(load_default=["region"])
    category = fields.String(validate=validate.Length(max=60))
    sku = fields.String(validate=validate.Length(max=40))


class ChannelFlowMeasures(Schema):
    sell_in_qty = fields.Integer()
    sell_in_amount = Money(allow_negative=True, metadata={"description": "gross shipped by HQ"})
    transfer_in_qty = fields.Integer(metadata={"description": "§16: shipped to sub-dealers by their distributors"})
    transfer_in_amount = Money(allow_negative=True, metadata={"description": "gross of the transfers in"})
    sell_through_qty = fields.Integer()
    sell_through_amount = Money(allow_negative=True, metadata={"description": "what the end customers paid"})
    opening_stock = fields.Integer(metadata={"description": "dealer stock at the end of the day before the period"})
    ending_stock = fields.Integer(metadata={"description": "dealer stock at the end of the period (of the month)"})
    sell_through_rate = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "sell_through_qty ÷ (opening_stock + sell_in_qty, + transfer_in_qty where the "
                                 "row's sub-dealers stand apart from their distributors: by level or dealer, or one "
                                 "sub-dealer's report); null when that is 0"},
    )  # fmt: skip
    days_of_inventory = fields.Decimal(
        as_string=True, allow_none=True,
        metadata={"description": "ending_stock ÷ (sell_through_qty per day of the period); null without sales"},
    )  # fmt: skip
    cash_received = Money(
        allow_negative=True, allow_none=True,
        metadata={"description": "payments received in the period; null when grouped by or filtered on category "
                                 "or product"},
    )  # fmt: skip


class ChannelFlowRowSchema(ChannelFlowMeasures):
    region_code = fields.String()
    region_name = fields.String()
    level = fields.Integer(metadata={"description": "1: dealers buying from HQ; 2: sub-dealers (§16)"})
    dealer_code = fields.String()
    dealer_name = fields.String()
    category = fields.String()
    sku = fields.String()
    product_name = fields.String()
    product_name_en = fields.String(allow_none=True)
    month = fields.String(metadata={"example": "2026-03"})


class ReportPageSchema(Schema):
    """A page of a report's rows: the list's paging fields (`page_of`), the rows under their report's name."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "rows in the whole report"})


class ChannelFlowSchema(ReportPageSchema):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    group_by = fields.List(fields.String())
    rows = fields.List(
        fields.Nested(ChannelFlowRowSchema),
        metadata={"description": "the page's rows, in the report's order (a page past the end: none)"},
    )
    totals = fields.Nested(ChannelFlowMeasures, metadata={"description": "over every row of the report, not the page"})


class PriceMonitoringQuerySchema(PeriodQuerySchema, ReportPageArgs):
    sku = fields.String(validate=validate.Length(max=40))


class PriceRowSchema(Schema):
    dealer_code = fields.String()
    dealer_name = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    sku = fields.String()
    product_name = fields.String()
    product_name_en = fields.String(allow_none=True)
    lines = fields.Integer()
    quantity = fields.Integer()
    amount = Money()
    gap = Money(metadata={"description": "Σ (floor − price) × quantity"})
    worst_price = Money()
    floor_price = Money()


class PriceDealerSchema(Schema):
    dealer_code = fields.String()
    dealer_name = fields.String()
    region_name = fields.String()
    lines = fields.Integer()
    quantity = fields.Integer()
    amount = Money()
    gap = Money()


class PriceTotalsSchema(Schema):
    lines = fields.Integer()
    quantity = fields.Integer()
    amount = Money()
    gap = Money()


class PriceMonitoringSchema(ReportPageSchema):
    date_from = fields.Date(data_key="from", attribute="from")
    date_to = fields.Date(data_key="to", attribute="to")
    rows = fields.List(
        fields.Nested(PriceRowSchema),
        metadata={"description": "the page's rows (dealer and product), largest gap first (a page past the end: none)"},
    )
    dealers = fields.List(
        fields.Nested(PriceDealerSchema),
        metadata={"description": "every dealer selling below the floor (at most one per dealer in scope), largest gap "
                  "first"},
    )  # fmt: skip
    totals = fields.Nested(PriceTotalsSchema, metadata={"description": "over every row, not the page"})
