"""API schemas for regions, dealers, users and tokens (PRODUCT.md §9.1 field names)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.dealers.models import CHANNEL_TYPES, DEALER_STATUSES, LOCALES, ROLES, TIERS
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


class DealerCreateSchema(StrictSchema):
    code = _code
    name = _name
    region_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    channel_type = fields.String(required=True, validate=validate.OneOf(CHANNEL_TYPES))
    payment_terms_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=365), strict=True)
    status = fields.String(load_default="active", validate=validate.OneOf(DEALER_STATUSES))
    contact_name = _contact["contact_name"]
    contact_phone = _contact["contact_phone"]
    contact_email = _contact["contact_email"]
    address = _contact["address"]


class DealerUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    region_code = fields.String(validate=validate.Length(min=1, max=32))
    tier = fields.String(validate=validate.OneOf(TIERS))
    channel_type = fields.String(validate=validate.OneOf(CHANNEL_TYPES))
    payment_terms_days = fields.Integer(validate=validate.Range(min=0, max=365), strict=True)
    status = fields.String(validate=validate.OneOf(DEALER_STATUSES))
    contact_name = _contact["contact_name"]
    contact_phone = _contact["contact_phone"]
    contact_email = _contact["contact_email"]
    address = _contact["address"]


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


class DealerQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    q = fields.String(metadata={"description": "code or name contains"})
    region = fields.String(metadata={"description": "region code: the region's whole subtree"})
    tier = fields.String(validate=validate.OneOf(TIERS))
    channel_type = fields.String(validate=validate.OneOf(CHANNEL_TYPES))
    status = fields.String(validate=validate.OneOf(DEALER_STATUSES))


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
