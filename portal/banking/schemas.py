"""marshmallow schemas of the bank statement API (PRODUCT.md §14)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.platform.api import PageArgs, StrictSchema
from portal.platform.money import Money


class PayerAccountCreateSchema(StrictSchema):
    account_number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=80),
        metadata={"description": "blanks and dashes are dropped: stored as digits"},
    )
    account_name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class PayerAccountDeactivateSchema(StrictSchema):
    account_number = fields.String(required=True, validate=validate.Length(min=1, max=80))


class PayerAccountSchema(Schema):
    account_number = fields.String()
    account_name = fields.String()
    active = fields.Boolean()
    dealer_code = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()


class PayerAccountListSchema(Schema):
    items = fields.List(fields.Nested(PayerAccountSchema), required=True)


class StatementImportSchema(Schema):
    """The multipart body: `file` and, optionally, `bank` (a form field, read by the view: one schema documents the
    whole body)."""

    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)
    bank = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={
            "description": "a layout code (icbc, ccb, generic, or configured); detected from the headers when absent"
        },
    )


class UnmatchedReceiptQuerySchema(PageArgs):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "assigned", "dismissed", "all")))


class UnmatchedReceiptSchema(Schema):
    id = fields.Integer()
    bank = fields.String()
    serial = fields.String()
    received_on = fields.Date()
    amount = Money()
    payer_account = fields.String(allow_none=True)
    payer_name = fields.String(allow_none=True)
    memo = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["open", "assigned", "dismissed"]})
    dealer_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    job_id = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class UnmatchedReceiptAssignSchema(StrictSchema):
    dealer_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    register_account = fields.Boolean(load_default=False,
                                      metadata={"description": "also register the receipt's payer account for the "
                                                               "dealer, so the next statement matches it"})  # fmt: skip


class UnmatchedReceiptDismissSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class UnmatchedReceiptAssignedSchema(Schema):
    receipt = fields.Nested(UnmatchedReceiptSchema)
    payment_reference = fields.String()
