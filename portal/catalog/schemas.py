from __future__ import annotations

from marshmallow import Schema, fields, validate

from portal.catalog.models import OPTION_GROUPS
from portal.platform.api import StrictSchema
from portal.platform.money import Money

_rate = fields.Decimal(places=4, as_string=True, validate=validate.Range(min=0, max=0.9999))


class ProductCreateSchema(StrictSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=200))
    category = fields.String(required=True, validate=validate.Length(min=1, max=60))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=16))
    list_price = Money(required=True)
    tax_rate = fields.Decimal(places=4, as_string=True, load_default=None)
    min_resale_price = Money(allow_none=True)
    build_to_order = fields.Boolean(required=True, truthy={True}, falsy={False})
    lead_time_days = fields.Integer(load_default=0, strict=True)
    active = fields.Boolean(load_default=True, truthy={True}, falsy={False})


class ProductUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=200))
    category = fields.String(validate=validate.Length(min=1, max=60))
    unit = fields.String(validate=validate.Length(min=1, max=16))
    list_price = Money()
    tax_rate = fields.Decimal(places=4, as_string=True)
    min_resale_price = Money(allow_none=True)
    build_to_order = fields.Boolean(truthy={True}, falsy={False})
    lead_time_days = fields.Integer(strict=True)
    active = fields.Boolean(truthy={True}, falsy={False})


class ProductSchema(Schema):
    sku = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    category = fields.String()
    unit = fields.String()
    list_price = Money()
    tax_rate = fields.Decimal(as_string=True)
    min_resale_price = Money(allow_none=True)
    build_to_order = fields.Boolean()
    lead_time_days = fields.Integer()
    active = fields.Boolean()
    availability = fields.Method(
        "get_availability",
        metadata={"description": "{band: in_stock|limited|build_to_order|on_request, lead_time_days}; "
                  "HQ callers also get `available` (HQ's number)"},
    )  # fmt: skip

    def get_availability(self, product):
        """The band set on a page of products by `with_availability` (one query), else looked up for this one."""
        found = getattr(product, "_availability", None)
        if found is None:
            from portal.inventory import hq
            from portal.platform.tenancy import current_scope

            found = hq.availability(product, with_numbers=current_scope().is_hq)
        return found


def with_availability(products, with_numbers: bool = False):
    """Attach the availability band to each product of a page, computed in one query."""
    from portal.inventory import hq

    products = list(products)
    bands = hq.availability_for(products, with_numbers=with_numbers)
    for p in products:
        p._availability = bands[p.id]
    return products


class ProductQuerySchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    q = fields.String()
    category = fields.String()
    active = fields.Boolean()


class RuleSchema(StrictSchema):
    sku = fields.String(allow_none=True, validate=validate.Length(max=40))
    category = fields.String(allow_none=True, validate=validate.Length(max=60))
    min_qty = fields.Integer(load_default=1, strict=True)
    unit_price = Money(allow_none=True)
    discount_pct = fields.Decimal(places=3, as_string=True, allow_none=True)


class PriceListCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    scope = fields.String(required=True, metadata={"example": "tier:A"})
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    priority = fields.Integer(load_default=0, strict=True)
    active = fields.Boolean(load_default=True, truthy={True}, falsy={False})
    rules = fields.List(fields.Nested(RuleSchema), required=True)


class PriceListUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    scope = fields.String()
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    priority = fields.Integer(strict=True)
    active = fields.Boolean(truthy={True}, falsy={False})
    rules = fields.List(fields.Nested(RuleSchema))


def _below_floor_skus(rule) -> list[str]:
    """What `services.mark_floors` set on the rule (a page of lists at once), else worked out for its list now."""
    if not hasattr(rule, "below_floor_skus"):
        from portal.catalog.services import mark_floors

        mark_floors([rule.price_list])
    return rule.below_floor_skus


class RuleOutSchema(Schema):
    id = fields.Integer()
    sku = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    min_qty = fields.Integer()
    unit_price = Money(allow_none=True)
    discount_pct = fields.Decimal(as_string=True, allow_none=True)
    below_floor = fields.Function(
        lambda r: bool(_below_floor_skus(r)),
        metadata={"description": "§16: a distributor's rule pricing a product below HQ's minimum resale price"},
    )
    below_floor_skus = fields.Function(
        _below_floor_skus, metadata={"description": "the SKUs the rule prices below their minimum resale price"}
    )


class PriceListSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    seller_code = fields.Function(
        lambda pl: pl.seller.code if pl.seller_id is not None else None,
        allow_none=True,
        metadata={"description": "§16: the distributor whose list this is, for its sub-dealers (null: HQ's)"},
    )
    scope = fields.String()
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    priority = fields.Integer()
    active = fields.Boolean()
    rules = fields.List(fields.Nested(RuleOutSchema))


class PriceQuerySchema(StrictSchema):
    sku = fields.String()
    qty = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    date = fields.Date()


class PriceItemSchema(Schema):
    sku = fields.String()
    name = fields.String()
    quantity = fields.Integer()
    unit_price = Money()
    list_price = Money()
    rule = fields.Dict(allow_none=True)


class PricesSchema(Schema):
    items = fields.List(fields.Nested(PriceItemSchema))


class CategorySchema(Schema):
    code = fields.String(metadata={"description": "what products and price rules carry as `category`"})
    name = fields.String(metadata={"description": "Chinese name"})
    name_en = fields.String(metadata={"description": "English name"})


class CategoryUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    name_en = fields.String(validate=validate.Length(min=1, max=120))


_OPTION_CODE = {"pattern": "^[A-Za-z0-9-]{1,20}$", "description": "stored in capitals; unique per product and group"}


class ProductOptionSchema(Schema):
    group = fields.String(metadata={"enum": list(OPTION_GROUPS)})
    code = fields.String()
    label = fields.String(metadata={"description": "Chinese label"})
    label_en = fields.String(metadata={"description": "English label"})
    price_delta = Money(metadata={"description": "added to the list price (net, CNY), then priced by the dealer's "
                                                 "price policy"})  # fmt: skip
    is_default = fields.Boolean(metadata={"description": "taken when an order line does not choose in this group"})
    active = fields.Boolean()
    position = fields.Integer()


class ProductOptionsSchema(Schema):
    items = fields.List(fields.Nested(ProductOptionSchema), required=True)


class ProductOptionCreateSchema(StrictSchema):
    group = fields.String(required=True, validate=validate.OneOf(OPTION_GROUPS))
    code = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata=_OPTION_CODE)
    label = fields.String(required=True, validate=validate.Length(min=1, max=60))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=60))
    price_delta = Money(load_default=None)
    is_default = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    position = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=9999))


class ProductOptionUpdateSchema(StrictSchema):
    label = fields.String(validate=validate.Length(min=1, max=60))
    label_en = fields.String(validate=validate.Length(min=1, max=60))
    price_delta = Money()
    is_default = fields.Boolean(truthy={True}, falsy={False})
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=9999))
    active = fields.Boolean(
        truthy={True}, falsy={False}, metadata={"description": "false deactivates the option, true offers it again"}
    )
