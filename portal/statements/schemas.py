from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.platform.api import StrictSchema
from portal.platform.money import Money

PERIOD = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="A month as YYYY-MM.")


class RunCreateSchema(StrictSchema):
    period = fields.String(required=True, validate=PERIOD)
    dealer_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=5000)
    )


class DealerStatementCreateSchema(StrictSchema):
    period = fields.String(required=True, validate=PERIOD)


class JobStartedSchema(Schema):
    job_id = fields.String()


class RetrySchema(Schema):
    job_id = fields.String()
    queued = fields.Integer()


class StatementLineSchema(Schema):
    id = fields.Integer()
    date = fields.Date(attribute="entry_date")
    type = fields.String(metadata={"description": "invoice | payment | credit_note"})
    number = fields.String()
    reference = fields.String(allow_none=True)
    debit = Money(allow_none=True)
    credit = Money(allow_none=True)
    balance = Money()


class StatementAgeingSchema(Schema):
    not_due = fields.String()
    d1_30 = fields.String(data_key="1_30", attribute="1_30")
    d31_60 = fields.String(data_key="31_60", attribute="31_60")
    d61_90 = fields.String(data_key="61_90", attribute="61_90")
    over_90 = fields.String()
    unapplied = fields.String()
    total = fields.String()


class StatementSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String()
    dealer_code = fields.Function(lambda s: s.dealer.code)
    dealer_name = fields.Function(lambda s: s.dealer.name)
    period = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "issued | confirmed | disputed | resolved"})
    current = fields.Boolean(attribute="is_current")
    opening = Money()
    debits = Money()
    credits = Money()
    closing = Money()
    line_count = fields.Integer()
    issued_on = fields.Date()
    confirmed_at = fields.DateTime(allow_none=True)
    confirmed_by = fields.String(allow_none=True)
    pdf_url = fields.Function(lambda s: f"/api/v1/statements/{s.id}/pdf")


class DisputeSchema(Schema):
    id = fields.Integer()
    statement_id = fields.Integer()
    statement_number = fields.Function(lambda d: d.statement.number)
    statement_version = fields.Function(lambda d: d.statement.version)
    dealer_code = fields.Function(lambda d: d.statement.dealer.code)
    period = fields.Function(lambda d: d.statement.period)
    status = fields.String(metadata={"description": "open | resolved | rejected"})
    comment = fields.String()
    raised_by = fields.String()
    raised_at = fields.DateTime()
    line_ids = fields.Function(lambda d: [line.id for line in d.lines])
    lines = fields.List(fields.Nested(StatementLineSchema))
    resolution = fields.String(allow_none=True, metadata={"description": "credit_note | adjustment | reject"})
    amount = Money(allow_none=True)
    reason = fields.String(allow_none=True)
    credit_note_number = fields.Function(lambda d: d.credit_note.number if d.credit_note_id else None)
    reissued_statement_id = fields.Integer(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class MessageSchema(Schema):
    id = fields.Integer()
    statement_id = fields.Integer()
    dispute_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"description": "issued | confirmed | disputed | resolved | rejected | comment"})
    side = fields.String(metadata={"description": "dealer | hq"})
    author = fields.String()
    body = fields.String(allow_none=True)
    created_at = fields.DateTime()


class StatementSchema(StatementSummarySchema):
    superseded_by_id = fields.Integer(allow_none=True)
    ageing = fields.Nested(StatementAgeingSchema)
    lines = fields.List(fields.Nested(StatementLineSchema))
    disputes = fields.List(fields.Nested(DisputeSchema))
    conversation = fields.List(fields.Nested(MessageSchema))


class StatementQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    dealer = fields.String()
    period = fields.String(validate=PERIOD)
    status = fields.String(validate=validate.OneOf(("issued", "confirmed", "disputed", "resolved")))
    all_versions = fields.Boolean(load_default=False)


class DisputeQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    status = fields.String(validate=validate.OneOf(("open", "resolved", "rejected")))
    dealer = fields.String()


class ConfirmSchema(StrictSchema):
    comment = fields.String(validate=validate.Length(max=2000))


# Emptiness is refused by the service, after the statement is found in scope: another dealer's statement answers
# 404 whatever the body (PRODUCT.md §1), never a 422 that would tell it exists.
class DisputeCreateSchema(StrictSchema):
    line_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=5000))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class StatementCommentSchema(StrictSchema):
    body = fields.String(load_default="", validate=validate.Length(max=2000))


class ResolveSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(("credit_note", "adjustment", "reject")))
    amount = Money(allow_zero=False)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    issued_on = fields.Date()
