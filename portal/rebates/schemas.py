"""Rebate API schemas (portal/rebates/README.md). Request bodies parse types only: every rule (tiers, periods, scope,
targets, reasons) is checked by the service, which answers all the problems of a body at once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, fields, validate

from portal.platform.api import StrictSchema
from portal.platform.money import Money
from portal.rebates.models import BASES, PROGRAMME_STATUSES, SETTLEMENT_STATUSES, TIER_KINDS


class Number(fields.Field):
    """A decimal number as a string ("2.5", "10000"); ints are accepted, floats never (PRODUCT.md §2)."""

    default_error_messages = {"invalid": "Not a valid number.", "float": "Send numbers as strings, not floats."}

    def __init__(self, *, normalize: bool = False, **kwargs):
        self.normalize = normalize
        kwargs.setdefault("metadata", {}).setdefault("type", "string")
        kwargs["metadata"].setdefault("example", "2.5")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return format(value.normalize(), "f") if self.normalize else str(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, float)):
            raise self.make_error("float" if isinstance(value, float) else "invalid")
        if not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise self.make_error("invalid") from exc
        if not number.is_finite():
            raise self.make_error("invalid")
        return number


# ---------------------------------------------------------------- requests


class RebateTierInSchema(StrictSchema):
    threshold = Number(metadata={"description": "amount (CNY) or units; reached when the basis is at least this"})
    rate = Number(metadata={"description": "percent of the whole basis (2.5 = 2.5 %) or CNY per unit"})


class RebateTargetsSchema(StrictSchema):
    skus = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list,
                       validate=validate.Length(max=500))  # fmt: skip
    categories = fields.List(fields.String(validate=validate.Length(max=60)), load_default=list,
                             validate=validate.Length(max=100))  # fmt: skip


class RebateProgrammeUpdateSchema(StrictSchema):
    """Draft: every field; active or closed: name, name_en and description only."""

    name = fields.String()
    name_en = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    period_start = fields.Date()
    period_end = fields.Date()
    scope = fields.String(metadata={"description": "all | tier:A|B|C | region:<code> | dealer:<code>"})
    basis = fields.String(metadata={"description": " | ".join(BASES)})
    tier_kind = fields.String(metadata={"description": "percent (amount bases) | per_unit (unit bases)"})
    cap = Number(allow_none=True, metadata={"description": "the most a dealer gets (CNY), optional"})
    tiers = fields.List(fields.Nested(RebateTierInSchema), metadata={"description": "1–10, thresholds ascending"})
    targets = fields.Nested(RebateTargetsSchema)


class RebateProgrammeCreateSchema(RebateProgrammeUpdateSchema):
    code = fields.String(metadata={"description": "unique, e.g. RB-2026Q1"})


class RebateProgrammeQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String(validate=validate.OneOf(PROGRAMME_STATUSES))
    on = fields.Date(metadata={"description": "programmes whose period holds this date"})


class RebateProgressQuerySchema(StrictSchema):
    as_of = fields.Date(metadata={"description": "default and latest: min(today, period end)"})
    dealer = fields.String(metadata={"description": "one dealer's row"})


class RebateSettlementQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String(validate=validate.OneOf(SETTLEMENT_STATUSES))


# Emptiness is refused by the service, after the settlement is found in scope (a 404 never turns into a 422).
class RebateAdjustSchema(StrictSchema):
    amount = Money(allow_negative=True, load_default=None, metadata={"description": "signed, replaces the last"})
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


# ---------------------------------------------------------------- answers


class RebateTierSchema(Schema):
    threshold = Number(normalize=True)
    rate = Number(normalize=True)


class RebateProgrammeSummarySchema(Schema):
    code = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    period_start = fields.Date()
    period_end = fields.Date()
    scope = fields.String()
    basis = fields.String(metadata={"description": " | ".join(BASES)})
    tier_kind = fields.String(metadata={"description": " | ".join(TIER_KINDS)})
    unit = fields.Function(lambda p: "amount" if p.is_amount else "units")
    cap = Money(allow_none=True)
    status = fields.String(metadata={"description": " | ".join(PROGRAMME_STATUSES)})


class RebateProgrammeSchema(RebateProgrammeSummarySchema):
    description = fields.String(allow_none=True)
    tiers = fields.List(fields.Nested(RebateTierSchema))
    targets = fields.Function(
        lambda p: {
            "skus": sorted(t.sku for t in p.targets if t.sku),
            "categories": sorted(t.category for t in p.targets if t.category),
        }
    )
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RebateProgressRowSchema(Schema):
    dealer_code = fields.String()
    dealer_name = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    basis = Number(metadata={"description": "amount (CNY) or units"})
    tier_index = fields.Integer(allow_none=True, metadata={"description": "0-based; null: no tier reached"})
    tier_threshold = Number(normalize=True, allow_none=True)
    rate = Number(normalize=True, allow_none=True)
    rebate = Money(metadata={"description": "accrued, capped"})
    capped = fields.Boolean()
    next_threshold = Number(normalize=True, allow_none=True)
    needed = Number(normalize=True, allow_none=True)
    next_rate = Number(normalize=True, allow_none=True)
    progress_pct = fields.Integer(metadata={"description": "0–100 towards the next tier; 100 at the top"})


class RebateTierCountSchema(Schema):
    tier_index = fields.Integer(allow_none=True)
    dealers = fields.Integer()


class RebateProgressTotalsSchema(Schema):
    dealers = fields.Integer()
    basis = Number()
    rebate = Money()
    by_tier = fields.List(fields.Nested(RebateTierCountSchema))


class RebateProgressSchema(Schema):
    programme = fields.Nested(RebateProgrammeSummarySchema)
    as_of = fields.Date()
    unit = fields.String(metadata={"description": "amount | units"})
    rows = fields.List(fields.Nested(RebateProgressRowSchema))
    totals = fields.Nested(RebateProgressTotalsSchema)


class RebateDealerProgressSchema(RebateProgressRowSchema):
    programme = fields.Nested(RebateProgrammeSummarySchema)
    as_of = fields.Date()
    unit = fields.String()


class RebateDealerProgressListSchema(Schema):
    items = fields.List(fields.Nested(RebateDealerProgressSchema))


class RebateSettlementSchema(Schema):
    id = fields.Integer()
    programme_code = fields.Function(lambda s: s.programme.code)
    dealer_code = fields.Function(lambda s: s.dealer.code)
    dealer_name = fields.Function(lambda s: s.dealer.name)
    basis = Number()
    tier_threshold = Number(normalize=True, allow_none=True)
    rate = Number(normalize=True, allow_none=True)
    computed = Money()
    adjustment = Money()
    adjustment_reason = fields.String(allow_none=True)
    carried_in = Money()
    amount = Money(metadata={"description": "computed + adjustment + carried_in, not below 0"})
    status = fields.String(metadata={"description": " | ".join(SETTLEMENT_STATUSES)})
    credit_note_number = fields.Function(lambda s: s.credit_note.number if s.credit_note_id else None)
    computed_at = fields.DateTime()
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)


class RebateApproveAllSchema(Schema):
    approved = fields.Integer()
    credit_notes = fields.Integer()
    total = Money()
