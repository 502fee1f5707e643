"""API schemas for regions, dealers, users and tokens (PRODUCT.md §9.1 field names)."""

from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from portal.dealers import channel
from portal.dealers.models import CHANNEL_TYPES, CONTACT_ROLES, DEALER_STATUSES, LOCALES, ROLES, TIERS
from portal.platform.api import StrictSchema
from portal.platform.money import Money

_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=256), load_only=True)


class TokenSchema(Schema):
    token = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


class RegionCreateSchema(StrictSchema):
    code = _code
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    parent_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    approval_limit = Money()


class RegionUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    parent_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    approval_limit = Money()


class RegionSchema(Schema):
    code = fields.String()
    name = fields.String()
    parent_code = fields.Function(lambda r: r.parent.code if r.parent else None)
    path = fields.String()
    approval_limit = Money()


class RegionQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    under = fields.String(metadata={"description": "only this region's subtree"})


_contact = {
    "contact_name": fields.String(allow_none=True, validate=validate.Length(max=120)),
    "contact_phone": fields.String(allow_none=True, validate=validate.Length(max=40)),
    "contact_email": fields.Email(allow_none=True, validate=validate.Length(max=200)),
    "address": fields.String(allow_none=True, validate=validate.Length(max=300)),
}
_account_manager = fields.String(
    allow_none=True,
    validate=validate.Length(max=64),
    metadata={"description": "username of a channel manager, or a region manager of the dealer's region; null clears"},
)


_parent_code = fields.String(
    allow_none=True,
    validate=validate.Length(max=32),
    metadata={
        "description": "§16: the distributor (a dealer that buys from HQ, active, in the caller's scope) this new "
        "dealer buys from, as its sub-dealer; null or absent: the dealer buys from HQ. Set at creation, never changed."
    },
)


class DealerCreateSchema(StrictSchema):
    code = _code
    name = _name
    region_code = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "required, except for a sub-dealer: it is in its distributor's region (if given, "
                  "that region)"},
    )
    parent_code = _parent_code
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    channel_type = fields.String(required=True, validate=validate.OneOf(CHANNEL_TYPES))
    payment_terms_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=365), strict=True)
    status = fields.String(load_default="active", validate=validate.OneOf(DEALER_STATUSES))
    contact_name = _contact["contact_name"]
    contact_phone = _contact["contact_phone"]
    contact_email = _contact["contact_email"]
    address = _contact["address"]
    account_manager = _account_manager

    @validates_schema(skip_on_field_errors=False)
    def _region_unless_sub_dealer(self, data, **kwargs):
        """A dealer that buys from HQ names its region (reported with the other missing fields at once); a
        sub-dealer may leave it out."""
        if not data.get("region_code") and not data.get("parent_code"):
            raise ValidationError(
                _("Required (a sub-dealer takes its distributor's region)."), field_name="region_code"
            )


class DealerUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    region_code = fields.String(
        validate=validate.Length(min=1, max=32),
        metadata={"description": "a sub-dealer stays in its distributor's region; a distributor moves with its "
                  "sub-dealers"},
    )
    parent_code = fields.String(
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "fixed at creation: anything but the current value answers 422"},
    )
    tier = fields.String(validate=validate.OneOf(TIERS))
    channel_type = fields.String(validate=validate.OneOf(CHANNEL_TYPES))
    payment_terms_days = fields.Integer(validate=validate.Range(min=0, max=365), strict=True)
    status = fields.String(validate=validate.OneOf(DEALER_STATUSES))
    contact_name = _contact["contact_name"]
    contact_phone = _contact["contact_phone"]
    contact_email = _contact["contact_email"]
    address = _contact["address"]
    account_manager = _account_manager


class DealerSchema(Schema):
    code = fields.String()
    name = fields.String()
    region_code = fields.Function(lambda d: d.region.code)
    region_name = fields.Function(lambda d: d.region.name)
    tier = fields.String()
    channel_type = fields.String()
    payment_terms_days = fields.Integer()
    status = fields.String()
    contact_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    account_manager = fields.Function(
        lambda d: d.account_manager.username if d.account_manager else None,
        allow_none=True,
        metadata={"type": "string", "description": "username of the HQ or region person looking after the dealer"},
    )
    account_manager_name = fields.Function(
        lambda d: d.account_manager.label if d.account_manager else None, allow_none=True, metadata={"type": "string"}
    )
    parent_code = fields.Function(
        channel.seller_code,
        allow_none=True,
        metadata={"type": "string", "description": "§16: the distributor a sub-dealer buys from; null: buys from HQ"},
    )
    level = fields.Function(
        channel.level,
        metadata={"type": "integer", "description": "1: buys from HQ (a distributor when it has sub-dealers); 2: a "
                  "sub-dealer"},
    )


class DealerListItemSchema(DealerSchema):
    """A dealer of the list, with the figures the list sorts by (as its overview shows them)."""

    balance = Money(allow_negative=True, metadata={"description": "ledger balance: what the dealer owes"})
    overdue = Money(allow_negative=True, metadata={"description": "open invoice amounts past their due date"})
    credit = Money(metadata={"description": "credit limit plus temporary increases in force"})
    exposure = Money(allow_negative=True)
    available = Money(allow_negative=True)
    utilisation = fields.Decimal(
        as_string=True, allow_none=True, metadata={"description": "exposure / credit in percent (null without credit)"}
    )


class SubDealerQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    sort = fields.String(
        load_default="code",
        validate=validate.OneOf(("code", "balance", "overdue", "utilisation")),
        metadata={"description": "order of the list (dealers without credit come last when sorting by utilisation)"},
    )
    dir = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")))


class DealerQuerySchema(SubDealerQuerySchema):
    q = fields.String(metadata={"description": "code or name contains"})
    region = fields.String(metadata={"description": "region code: the region's whole subtree"})
    tier = fields.String(validate=validate.OneOf(TIERS))
    channel_type = fields.String(validate=validate.OneOf(CHANNEL_TYPES))
    status = fields.String(validate=validate.OneOf(DEALER_STATUSES))
    level = fields.Integer(
        validate=validate.OneOf((1, 2)), metadata={"description": "1: dealers that buy from HQ; 2: sub-dealers (§16)"}
    )
    parent = fields.String(
        validate=validate.Length(max=32), metadata={"description": "a distributor's code: its sub-dealers"}
    )


class SubDealerSchema(DealerListItemSchema):
    """A distributor's sub-dealer with its account with the distributor (the figures of its overview)."""

    credit_limit = Money(metadata={"description": "the limit its distributor gives it"})
    temporary = Money(metadata={"description": "temporary increases in force"})
    open_order_count = fields.Integer(metadata={"description": "orders submitted and not yet delivered or closed"})


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=2, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    dealer_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    region_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    locale = fields.String(load_default="zh_CN", validate=validate.OneOf(LOCALES))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean(load_default=True, truthy={True}, falsy={False})


class UserUpdateSchema(StrictSchema):
    password = fields.String(load_only=True, validate=validate.Length(max=256))
    role = fields.String(validate=validate.OneOf(ROLES))
    dealer_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    region_code = fields.String(allow_none=True, validate=validate.Length(max=32))
    locale = fields.String(validate=validate.OneOf(LOCALES))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean(truthy={True}, falsy={False})


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    role = fields.String()
    dealer_code = fields.Function(lambda u: u.dealer.code if u.dealer else None)
    region_code = fields.Function(lambda u: u.region.code if u.region else None)
    locale = fields.String()
    active = fields.Boolean()
    created_at = fields.AwareDateTime()


class UserQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    q = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    dealer = fields.String()


class MeUpdateSchema(StrictSchema):
    locale = fields.String(validate=validate.OneOf(LOCALES))
    current_password = fields.String(load_only=True, validate=validate.Length(max=256))
    password = fields.String(load_only=True, validate=validate.Length(max=256))


# ---------------------------------------------------------------- contacts, ship-to addresses, notes

_phone = fields.String(allow_none=True, validate=validate.Length(max=40), metadata={"example": "021-6234 5678"})


class ContactSchema(Schema):
    id = fields.Integer()
    role = fields.String(metadata={"enum": list(CONTACT_ROLES)})
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime()


# Required fields are checked by the service, after the dealer is found in the caller's scope: another dealer's answers
# 404 whatever the body (PRODUCT.md §1), never a 422 that would tell it exists.


class ContactCreateSchema(StrictSchema):
    role = fields.String(
        load_default=None, validate=validate.OneOf(CONTACT_ROLES), metadata={"description": "required"}
    )
    name = fields.String(load_default=None, validate=validate.Length(max=120), metadata={"description": "required"})
    phone = _phone
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))


class ContactUpdateSchema(StrictSchema):
    role = fields.String(validate=validate.OneOf(CONTACT_ROLES))
    name = fields.String(validate=validate.Length(max=120))
    phone = _phone
    email = fields.Email(allow_none=True, validate=validate.Length(max=200))


class AddressSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    recipient = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String()
    is_default = fields.Boolean()
    created_by = fields.String()
    created_at = fields.AwareDateTime()


class AddressCreateSchema(StrictSchema):
    label = fields.String(load_default=None, validate=validate.Length(max=60), metadata={"description": "required"})
    recipient = fields.String(allow_none=True, validate=validate.Length(max=120))
    phone = _phone
    address = fields.String(load_default=None, validate=validate.Length(max=300), metadata={"description": "required"})
    is_default = fields.Boolean(
        truthy={True}, falsy={False}, metadata={"description": "make it the default (the first address always is)"}
    )


class AddressUpdateSchema(StrictSchema):
    label = fields.String(validate=validate.Length(max=60))
    recipient = fields.String(allow_none=True, validate=validate.Length(max=120))
    phone = _phone
    address = fields.String(validate=validate.Length(max=300))
    is_default = fields.Boolean(
        truthy={True}, falsy={False}, metadata={"description": "true makes it the default; false on the default: 422"}
    )


class NoteSchema(Schema):
    id = fields.Integer()
    body = fields.String()
    author = fields.String()
    created_at = fields.AwareDateTime()


class NoteCreateSchema(StrictSchema):
    body = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"description": "required"})


# ---------------------------------------------------------------- the overview (一户一档)


def _buckets(*names: str) -> dict:
    return {n: Money(allow_negative=True) for n in names}


class _Manager(Schema):
    username = fields.String()
    name = fields.String(attribute="label")
    role = fields.String()


class OverviewDealerSchema(Schema):
    code = fields.String()
    name = fields.String()
    region_code = fields.Function(lambda d: d.region.code)
    region_name = fields.Function(lambda d: d.region.name)
    tier = fields.String()
    channel_type = fields.String()
    payment_terms_days = fields.Integer()
    status = fields.String()
    parent_code = fields.Function(channel.seller_code, allow_none=True, metadata={"type": "string"})
    level = fields.Function(channel.level, metadata={"type": "integer"})


class OverviewSellerSchema(Schema):
    code = fields.String()
    name = fields.String()
    visible = fields.Boolean(metadata={"description": "whether the caller may open the distributor's overview"})


class OverviewSubDealerSchema(Schema):
    code = fields.String()
    name = fields.String()
    status = fields.String()
    balance = Money(allow_negative=True, metadata={"description": "what it owes the distributor"})
    overdue = Money(allow_negative=True)
    credit_limit = Money()
    temporary = Money()
    credit = Money(metadata={"description": "limit + temporary increases in force"})
    exposure = Money(allow_negative=True)
    available = Money(allow_negative=True)
    utilisation = fields.Decimal(as_string=True, allow_none=True)
    open_order_count = fields.Integer()


class OverviewSubDealersSchema(Schema):
    count = fields.Integer(metadata={"description": "all its sub-dealers the caller sees"})
    items = fields.List(fields.Nested(OverviewSubDealerSchema), metadata={"description": "the first 20 by code"})


class OverviewIncreaseSchema(Schema):
    amount = Money()
    valid_from = fields.Date()
    valid_until = fields.Date()
    in_force = fields.Boolean()
    reason = fields.String()
    approved_by = fields.String(allow_none=True, metadata={"description": "HQ and region only (null for dealers)"})


class OverviewCreditSchema(Schema):
    credit_limit = Money()
    temporary = Money()
    credit_total = Money(metadata={"description": "limit + temporary increases in force"})
    exposure = Money(allow_negative=True)
    open_receivables = Money(allow_negative=True)
    open_orders = Money()
    available = Money(allow_negative=True)
    utilisation = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "exposure / credit, %"})
    on_hold = fields.Boolean()
    hold_reason = fields.String(allow_none=True)
    hold_source = fields.String(allow_none=True)
    held_at = fields.AwareDateTime(allow_none=True, metadata={"description": "HQ and region only"})
    held_by = fields.String(allow_none=True, metadata={"description": "HQ and region only"})
    increases = fields.List(fields.Nested(OverviewIncreaseSchema))


OverviewAgeingSchema = Schema.from_dict(
    _buckets("not_due", "1_30", "31_60", "61_90", "over_90", "unapplied", "total", "overdue"),
    name="OverviewAgeingSchema",
)


class OverviewInvoiceSchema(Schema):
    id = fields.Integer(metadata={"description": "the ledger entry: GET /api/v1/entries/{id}"})
    number = fields.String()
    issued_on = fields.Date()
    due_on = fields.Date()
    amount = Money()
    paid = Money(allow_negative=True)
    open = Money(allow_negative=True)
    days_overdue = fields.Integer()
    order_number = fields.String(allow_none=True)


class OverviewInvoicesSchema(Schema):
    count = fields.Integer()
    total = Money(allow_negative=True)
    overdue_count = fields.Integer()
    items = fields.List(fields.Nested(OverviewInvoiceSchema), metadata={"description": "the oldest due first"})


class OverviewStatusCountSchema(Schema):
    status = fields.String()
    count = fields.Integer()
    gross = Money()


class OverviewOrderSchema(Schema):
    number = fields.String()
    status = fields.String()
    gross = Money()
    created_at = fields.AwareDateTime()


class OverviewOrdersSchema(Schema):
    open_count = fields.Integer()
    open_gross = Money()
    by_status = fields.List(fields.Nested(OverviewStatusCountSchema), metadata={"description": "open statuses"})
    closed = fields.List(fields.Nested(OverviewStatusCountSchema), metadata={"description": "delivered, rejected…"})
    recent = fields.List(fields.Nested(OverviewOrderSchema))


class OverviewBackorderSchema(Schema):
    order_number = fields.String()
    sku = fields.String()
    quantity = fields.Integer()
    backordered = fields.Integer()
    promised_on = fields.Date(allow_none=True)


class OverviewBackordersSchema(Schema):
    lines = fields.Integer()
    quantity = fields.Integer()
    orders = fields.Integer()
    items = fields.List(fields.Nested(OverviewBackorderSchema))


class OverviewShipmentSchema(Schema):
    number = fields.String()
    order_number = fields.String()
    shipped_on = fields.Date()
    gross = Money()


class OverviewShipmentsSchema(Schema):
    count = fields.Integer()
    gross = Money()
    items = fields.List(fields.Nested(OverviewShipmentSchema))


class OverviewStatementSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    period = fields.String()
    version = fields.Integer()
    status = fields.String()
    closing = Money(allow_negative=True)
    issued_on = fields.Date()


class OverviewStatementCountSchema(Schema):
    status = fields.String()
    count = fields.Integer()


class OverviewStatementsSchema(Schema):
    count = fields.Integer()
    to_confirm = fields.Integer()
    by_status = fields.List(fields.Nested(OverviewStatementCountSchema))
    items = fields.List(fields.Nested(OverviewStatementSchema))


OverviewStockAgeSchema = Schema.from_dict(
    {k: fields.Integer() for k in ("0_30", "31_60", "61_90", "91_180", "over_180")}, name="OverviewStockAgeSchema"
)


class OverviewStockSchema(Schema):
    on_hand = fields.Integer()
    incoming = fields.Integer()
    skus = fields.Integer()
    vins = fields.Integer()
    age = fields.Nested(OverviewStockAgeSchema)


class OverviewSellThroughSchema(Schema):
    since = fields.Date()
    until = fields.Date()
    lines = fields.Integer()
    quantity = fields.Integer()
    amount = Money()


class OverviewRebateSchema(Schema):
    programme = fields.Function(lambda r: r["programme"].code)
    name = fields.Function(lambda r: r["programme"].name)
    status = fields.Function(lambda r: r["programme"].status)
    period_start = fields.Function(lambda r: r["programme"].period_start.isoformat())
    period_end = fields.Function(lambda r: r["programme"].period_end.isoformat())
    unit = fields.String(metadata={"description": "amount (CNY) or units"})
    basis = fields.Decimal(as_string=True)
    tier_index = fields.Integer(allow_none=True)
    rate = fields.Decimal(as_string=True, allow_none=True)
    rebate = Money()
    next_threshold = fields.Decimal(as_string=True, allow_none=True)
    needed = fields.Decimal(as_string=True, allow_none=True)
    progress_pct = fields.Integer()


class OverviewSchema(Schema):
    dealer = fields.Nested(OverviewDealerSchema)
    as_of = fields.Date()
    seller = fields.Nested(
        OverviewSellerSchema, allow_none=True, metadata={"description": "a sub-dealer's distributor; null: HQ"}
    )
    sub_dealers = fields.Nested(
        OverviewSubDealersSchema,
        allow_none=True,
        metadata={"description": "a dealer's sub-dealers with their account with it; null for a sub-dealer"},
    )
    account_manager = fields.Nested(_Manager, allow_none=True, metadata={"description": "null for a sub-dealer"})
    credit = fields.Nested(OverviewCreditSchema)
    ageing = fields.Nested(OverviewAgeingSchema)
    open_invoices = fields.Nested(OverviewInvoicesSchema)
    orders = fields.Nested(OverviewOrdersSchema)
    backorders = fields.Nested(
        OverviewBackordersSchema, allow_none=True, metadata={"description": "waiting for HQ stock; null: a sub-dealer"}
    )
    shipments = fields.Nested(OverviewShipmentsSchema, metadata={"description": "shipments in transit"})
    statements = fields.Nested(
        OverviewStatementsSchema,
        allow_none=True,
        metadata={"description": "null for callers without statements, and for a sub-dealer (HQ issues them)"},
    )
    stock = fields.Nested(OverviewStockSchema)
    sell_through = fields.Nested(OverviewSellThroughSchema, metadata={"description": "the last 30 days"})
    rebates = fields.List(
        fields.Nested(OverviewRebateSchema), allow_none=True, metadata={"description": "HQ's: null for a sub-dealer"}
    )
    contacts = fields.List(fields.Nested(ContactSchema))
    addresses = fields.List(fields.Nested(AddressSchema))
    notes = fields.List(
        fields.Nested(NoteSchema), allow_none=True, metadata={"description": "HQ and region only: null for dealers"}
    )
