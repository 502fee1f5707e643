"""Marshmallow schemas of the collections API (PRODUCT.md §14)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.collections.models import CONTACT_CHANNELS
from portal.platform.api import PageArgs, StrictSchema
from portal.platform.money import Money


class WorklistQuerySchema(PageArgs):
    mine = fields.Boolean(load_default=False, metadata={"description": "only the dealers the caller looks after"})


class WorklistRowSchema(Schema):
    dealer_code = fields.String()
    dealer_name = fields.String()
    region_code = fields.String()
    overdue = Money(metadata={"description": "open invoices past due"})
    oldest_days = fields.Integer(metadata={"description": "days past due of the oldest overdue invoice"})
    weight = Money(metadata={"description": "overdue × oldest days: the order of the list"})
    dunning_level = fields.Integer(metadata={"description": "the dealer's dunning level (its days; 0 none)"})
    account_manager = fields.String(allow_none=True)
    account_manager_name = fields.String(allow_none=True)
    last_contact_at = fields.DateTime(allow_none=True)
    promise_amount = Money(allow_none=True)
    promise_date = fields.Date(allow_none=True)
    promise_broken = fields.Boolean(metadata={"description": "the latest promise was not kept (listed first)"})


# Required fields are checked after the dealer is found in scope (an out-of-scope dealer answers 404 whatever the body)


class PromiseCreateSchema(StrictSchema):
    amount = Money(allow_zero=False, metadata={"description": "required, greater than zero"})
    promised_on = fields.Date(metadata={"description": "required, today or later"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class PromiseSchema(Schema):
    id = fields.Integer()
    dealer_code = fields.Function(lambda p: p.dealer.code)
    amount = Money()
    promised_on = fields.Date()
    note = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open | kept | broken | cancelled"})
    settled_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()


class CollectionContactCreateSchema(StrictSchema):
    channel = fields.String(validate=validate.OneOf(CONTACT_CHANNELS), metadata={"description": "required"})
    note = fields.String(validate=validate.Length(max=4000), metadata={"description": "required"})


class CollectionContactSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    note = fields.String()
    contacted_at = fields.DateTime()
    created_by = fields.String()


class AccountManagerSchema(StrictSchema):
    username = fields.String(allow_none=True, metadata={"description": "required; null clears"})
