"""API schemas for the ledger, payments, credit and ageing (PRODUCT.md §9.1 field names)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.platform.api import PageArgs, StrictSchema
from portal.platform.money import Money

_code = fields.String(required=True, validate=validate.Length(min=1, max=32))


def _seller(what: str):
    """`?seller=<distributor code>` (§16): a distributor in the caller's scope (422 otherwise)."""
    return fields.String(validate=validate.Length(min=1, max=32), metadata={"description": what})


class InvoiceCreateSchema(StrictSchema):
    dealer_code = _code
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    issued_on = fields.Date(required=True)
    due_on = fields.Date(allow_none=True)
    amount = Money(required=True, allow_zero=False)
    order_number = fields.String(allow_none=True, validate=validate.Length(max=32))


class PaymentCreateSchema(StrictSchema):
    dealer_code = _code
    amount = Money(required=True, allow_zero=False)
    received_on = fields.Date(required=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CreditNoteCreateSchema(StrictSchema):
    dealer_code = _code
    amount = Money(required=True, allow_zero=False)
    issued_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    invoice_number = fields.String(allow_none=True, validate=validate.Length(max=64))


class ApplicationSchema(Schema):
    id = fields.Integer()
    invoice_number = fields.Function(lambda a: a.invoice.number)
    credit_number = fields.Function(lambda a: a.credit.number)
    amount = Money(allow_negative=True)
    applied_on = fields.Date()
    reverses_id = fields.Integer(allow_none=True)
    created_by = fields.String()


class EntrySchema(Schema):
    id = fields.Integer()
    dealer_code = fields.Function(lambda e: e["dealer"].code)
    type = fields.String()
    number = fields.String()
    date = fields.Date(attribute="entry_date")
    due_on = fields.Date(allow_none=True)
    amount = Money()
    order_number = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    residual = Money(allow_negative=True, metadata={"description": "invoices: what is still open"})
    unapplied = Money(metadata={"description": "payments and credit notes: what is not applied yet"})
    applications = fields.List(fields.Nested(ApplicationSchema))


class ApplyCreditSchema(StrictSchema):
    invoice_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount = Money(required=True, allow_zero=False)
    applied_on = fields.Date(allow_none=True)


class ReverseSchema(StrictSchema):
    applied_on = fields.Date(allow_none=True, metadata={"description": "from when the reversal counts (today)"})


class LedgerQuerySchema(PageArgs):
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    type = fields.String(validate=validate.OneOf(("invoice", "payment", "credit_note")))
    seller = _seller("§16: the ledger with this distributor (404 unless the dealer is one of its sub-dealers)")


class LedgerItemSchema(Schema):
    date = fields.Date()
    type = fields.String()
    number = fields.String()
    debit = Money(allow_none=True)
    credit = Money(allow_none=True)
    balance = Money(allow_negative=True)
    due_on = fields.Date(allow_none=True)


class LedgerSchema(Schema):
    opening = Money(allow_negative=True, metadata={"description": "the balance before the period"})
    items = fields.List(
        fields.Nested(LedgerItemSchema),
        metadata={"description": "the page's entries, in date order, each with the account's running balance"},
    )
    closing = Money(allow_negative=True, metadata={"description": "the balance at the end of the period"})
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "entries in the period"})


class CreditSchema(Schema):
    credit_limit = Money()
    temporary = Money()
    exposure = Money(allow_negative=True)
    open_receivables = Money(allow_negative=True)
    open_orders = Money()
    available = Money(allow_negative=True)
    on_hold = fields.Boolean()
    hold_reason = fields.String(allow_none=True)
    hold_source = fields.String(allow_none=True)
    dunning_level = fields.Integer(
        metadata={"description": "§14: the dunning level reached (days past due of the level; 0 none)"}
    )


class CreditQuerySchema(StrictSchema):
    date = fields.Date(metadata={"description": "which temporary increases count (default today)"})
    seller = _seller("§16: the credit with this distributor (404 unless the dealer is one of its sub-dealers)")


class CreditLimitSchema(StrictSchema):
    amount = Money(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class CreditIncreaseCreateSchema(StrictSchema):
    amount = Money(required=True, allow_zero=False)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class CreditIncreaseSchema(Schema):
    id = fields.Integer()
    amount = Money()
    valid_from = fields.Date()
    valid_until = fields.Date()
    reason = fields.String()
    approved_by = fields.String()


class HoldSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class AgeingQuerySchema(StrictSchema):
    as_of = fields.Date()
    group_by = fields.String(
        load_default="dealer", validate=validate.OneOf(("dealer", "region", "account_manager", "total"))
    )
    region = fields.String(metadata={"description": "region code: only its subtree; region rows are its children"})
    seller = _seller("§16: a distributor's receivables (its sub-dealers' ledgers with it) instead of HQ's")


class AgeingRowSchema(Schema):
    key = fields.String()
    name = fields.String()
    not_due = Money(allow_negative=True)
    b1_30 = Money(allow_negative=True, data_key="1_30", attribute="1_30")
    b31_60 = Money(allow_negative=True, data_key="31_60", attribute="31_60")
    b61_90 = Money(allow_negative=True, data_key="61_90", attribute="61_90")
    over_90 = Money(allow_negative=True)
    unapplied = Money(allow_negative=True)
    total = Money(allow_negative=True)


class AgeingTotalsSchema(AgeingRowSchema):
    class Meta:
        exclude = ("key", "name")


class AgeingSchema(Schema):
    as_of = fields.Date()
    group_by = fields.String()
    rows = fields.List(fields.Nested(AgeingRowSchema))
    totals = fields.Nested(AgeingTotalsSchema)
    dso = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "days sales outstanding"})


class ImportQueuedSchema(Schema):
    job_id = fields.String()


class ScanQuerySchema(StrictSchema):
    date = fields.Date(
        metadata={"description": "today (the default), or a past day for a dry run; a future day is refused (422)"}
    )
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "report what the scan would do; change and send nothing"}
    )


class ReceivablesCreditQuerySchema(StrictSchema):
    date = fields.Date(metadata={"description": "which temporary increases count (default today)"})
    region = fields.String(metadata={"description": "region code: only its subtree"})
    seller = _seller("§16: a distributor's sub-dealers instead of the dealers HQ sells to")


class CreditRowSchema(Schema):
    dealer_code = fields.String(attribute="code")
    name = fields.String()
    credit_limit = Money()
    temporary = Money()
    credit = Money(metadata={"description": "limit + temporary increases in force"})
    exposure = Money(allow_negative=True)
    available = Money(allow_negative=True)
    ratio = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "exposure ÷ credit, percent"})
    on_hold = fields.Boolean()


class CreditRowsSchema(Schema):
    seller_code = fields.String(allow_none=True, metadata={"description": "whose receivables (null: HQ's)"})
    items = fields.List(fields.Nested(CreditRowSchema))


class OpenInvoicesQuerySchema(PageArgs):
    seller = _seller("§16: a distributor's sub-dealers instead of the dealers HQ sells to")
    dealer = fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "one dealer's only"})


class OpenInvoiceRowSchema(Schema):
    dealer_code = fields.String()
    number = fields.String()
    issued_on = fields.Date()
    due_on = fields.Date()
    amount = Money()
    paid = Money(metadata={"description": "payments and credit notes applied"})
    open = Money()
    days_overdue = fields.Integer()


class OpenInvoicesPageSchema(Schema):
    seller_code = fields.String(allow_none=True, metadata={"description": "whose receivables (null: HQ's)"})
    items = fields.List(fields.Nested(OpenInvoiceRowSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
