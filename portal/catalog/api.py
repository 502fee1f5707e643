"""JSON API for products and their options, price lists and a dealer's prices (PRODUCT.md §9.1, §12)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields

from portal.catalog import option_admin, services
from portal.catalog.models import OPTION_GROUPS, Category, PriceList, Product, ProductOption
from portal.catalog.schemas import (
    CategorySchema,
    CategoryUpdateSchema,
    PriceListCreateSchema,
    PriceListSchema,
    PriceListUpdateSchema,
    PriceQuerySchema,
    PricesSchema,
    ProductCreateSchema,
    ProductOptionCreateSchema,
    ProductOptionSchema,
    ProductOptionsSchema,
    ProductOptionUpdateSchema,
    ProductQuerySchema,
    ProductSchema,
    ProductUpdateSchema,
    with_availability,
)
from portal.catalog.services import dealer_prices, products_query
from portal.platform.api import PageArgs, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid, NotFound
from portal.platform.tenancy import current_scope, dealer_or_404, not_tenant_route, tenant_route
from portal.platform.timeutil import today

blp = api_blueprint("api_catalog", __name__, "Catalogue and price policies")


@blp.route("/products", methods=["GET"])
@requires("catalog.read")
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, page_of(ProductSchema))
def list_products(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    scope = current_scope()
    result = paginate(products_query(scope, **args), page, per_page)
    with_availability(result["items"], with_numbers=scope.is_hq)  # the page's bands in one query
    return result


@blp.route("/products", methods=["POST"])
@requires("catalog.write")
@blp.arguments(ProductCreateSchema)
@blp.response(201, ProductSchema)
def create_product(body):
    return services.create_product(current_user, body)


@blp.route("/products/<sku>", methods=["GET"])
@requires("catalog.read")
@not_tenant_route("products are the whole channel's catalogue; inactive ones are hidden from dealers by the scope")
@blp.response(200, ProductSchema)
def get_product(sku):
    return current_scope().get_or_404(Product, sku=sku)


@blp.route("/products/<sku>", methods=["PATCH"])
@requires("catalog.write")
@not_tenant_route("products belong to HQ, not to a dealer")
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductSchema)
def update_product(body, sku):
    return services.update_product(current_user, current_scope().get_or_404(Product, sku=sku), body)


@blp.route("/products/<sku>/options", methods=["GET"])
@requires("catalog.read")
@not_tenant_route("products are the whole channel's catalogue; dealers see active options of active products only")
@blp.response(200, ProductOptionsSchema)
def list_product_options(sku):
    """A build-to-order product's options by group (colour, interior, trim, package), then position; HQ sees the
    inactive ones too. A stock product has none."""
    product = current_scope().get_or_404(Product, sku=sku)
    options = option_admin.product_options(product, active_only=not current_scope().is_hq)
    return {"items": options}


@blp.route("/products/<sku>/options", methods=["POST"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
@blp.arguments(ProductOptionCreateSchema)
@blp.response(201, ProductOptionSchema)
def create_product_option(body, sku):
    """A new option (422 when the product is a stock product, the code is taken in its group, …); `is_default`
    takes the mark from the group's previous default."""
    product = current_scope().get_or_404(Product, sku=sku)
    return option_admin.create_option(current_user, product, **body)


@blp.route("/products/<sku>/options/<group>/<code>", methods=["PATCH"])
@requires("catalog.write")
@not_tenant_route("products and their options belong to HQ, not to a dealer")
@blp.arguments(ProductOptionUpdateSchema)
@blp.response(200, ProductOptionSchema)
def update_product_option(body, sku, group, code):
    """Change an option's labels, price delta, default mark or position; `active: false` deactivates it (409 when it
    is inactive already), `active: true` offers it again. Its group and code never change."""
    product = current_scope().get_or_404(Product, sku=sku)
    if group not in OPTION_GROUPS:
        raise NotFound(_("%(kind)s not found.", kind=ProductOption.__name__))
    option = current_scope().get_or_404(ProductOption, product_id=product.id, group=group, code=code.upper())
    deactivate = body.get("active") is False
    if deactivate:
        body.pop("active")
    if body:
        option_admin.update_option(current_user, option, **body)
    if deactivate:
        option_admin.deactivate_option(current_user, option)
    return option


class ImportSchema(Schema):
    file = fields.Raw(metadata={"type": "string", "format": "binary"}, required=True)


class ImportResultSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


@blp.route("/products/import", methods=["POST"])
@requires("catalog.write")
@blp.arguments(ImportSchema, location="files")
@blp.response(200, ImportResultSchema)
def import_products(files):
    """CSV with sku, name, name_en, category, unit, list_price, tax_rate, min_resale_price, build_to_order,
    lead_time_days, active: creates or updates, whole file or nothing."""
    data = files["file"].read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(fields={"file": [_("The file must be UTF-8 CSV.")]}) from exc
    return services.import_products(current_user, text)


@blp.route("/categories", methods=["GET"])
@requires("catalog.read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(CategorySchema))
def list_categories(args):
    """Every category code with its Chinese and English names, by code."""
    stmt = current_scope().select(Category).order_by(Category.code)
    return paginate(stmt, args["page"], args["per_page"])


@blp.route("/categories/<code>", methods=["PATCH"])
@requires("catalog.write")
@not_tenant_route("categories are the whole channel's catalogue, not a dealer's")
@blp.arguments(CategoryUpdateSchema)
@blp.response(200, CategorySchema)
def update_category(body, code):
    """Rename a category; its code (what products carry) never changes."""
    return services.update_category(current_user, current_scope().get_or_404(Category, code=code), body)


# §16: HQ's roles keep HQ's lists (`prices.manage`), a distributor's admin its lists for its sub-dealers
# (`sales.manage`); the scope shows a distributor its own lists only, HQ both levels (portal/catalog/models.py)
KEEPERS = ("prices.manage", "sales.manage")


@blp.route("/price-lists", methods=["GET"])
@requires(*KEEPERS)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(PriceListSchema))
def list_price_lists(args):
    services.seller_of(current_user)  # a sub-dealer keeps none (403)
    stmt = current_scope().select(PriceList).order_by(PriceList.id.desc())
    page = paginate(stmt, args["page"], args["per_page"])
    services.mark_floors(page["items"])
    return page


@blp.route("/price-lists", methods=["POST"])
@requires(*KEEPERS)
@blp.arguments(PriceListCreateSchema)
@blp.response(201, PriceListSchema)
def create_price_list(body):
    """HQ's list (HQ's roles), or a distributor's for its sub-dealers (its admin: scope `all` = all of them, or
    `dealer:<one of them>`; anything else is refused on `scope`)."""
    return services.save_price_list(current_user, body, seller=services.seller_of(current_user))


@blp.route("/price-lists/<int:price_list_id>", methods=["GET"])
@requires(*KEEPERS)
@tenant_route("price_list")
@blp.response(200, PriceListSchema)
def get_price_list(price_list_id):
    return current_scope().get_or_404(PriceList, id=price_list_id)


@blp.route("/price-lists/<int:price_list_id>", methods=["PATCH"])
@requires(*KEEPERS)
@tenant_route("price_list")
@blp.arguments(PriceListUpdateSchema)
@blp.response(200, PriceListSchema)
def update_price_list(body, price_list_id):
    """Change a list: HQ's by HQ's roles, a distributor's by its admin (HQ sees a distributor's lists, never changes
    them: 403)."""
    price_list = current_scope().get_or_404(PriceList, id=price_list_id)
    services.check_list_keeper(current_user, price_list)
    return services.save_price_list(current_user, body, price_list)


@blp.route("/dealers/<code>/prices", methods=["GET"])
@requires("prices.read")
@tenant_route("dealer")
@blp.arguments(PriceQuerySchema, location="query")
@blp.response(200, PricesSchema)
def get_dealer_prices(args, code):
    """ "My price" for every SKU (or one), with the rule that decides it (null: the list price)."""
    dealer = dealer_or_404(code)
    return {"items": dealer_prices(dealer, args.get("sku"), args["qty"], args.get("date") or today())}
