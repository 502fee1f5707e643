"""JSON API for the dealer's stock and sell-through (PRODUCT.md §7, §9.1)."""

from __future__ import annotations

from flask_login import current_user

from portal.background.services import start_import
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.inventory import dealer_stock, sellthrough
from portal.inventory.schemas import (
    DealerStockAdjustmentCreateSchema,
    DealerStockAdjustmentSchema,
    DealerStockQuerySchema,
    DealerStockSchema,
    SellThroughCreatedSchema,
    SellThroughCreateSchema,
    SellThroughFileSchema,
    SellThroughLineSchema,
    SellThroughQuerySchema,
    SellThroughQueuedSchema,
)
from portal.platform.api import api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Forbidden
from portal.platform.security import accepts_workbooks
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route

blp = api_blueprint("api_inventory", __name__, "Dealer stock and sell-through")


def own_dealer() -> Dealer:
    """The caller's own dealer: sell-through is reported by the dealer that sold."""
    dealer_id = getattr(current_user, "dealer_id", None)
    if dealer_id is None:
        raise Forbidden()
    return db.session.get(Dealer, dealer_id)


@blp.route("/sell-through", methods=["POST"])
@requires("sellthrough.write")
@blp.arguments(SellThroughCreateSchema)
@blp.response(201, SellThroughCreatedSchema)
def create_sell_through(body):
    """Report sales to end customers; the batch is written whole or refused whole (every bad line in `fields`,
    keyed `lines.<index>.<field>`). Selling more than the dealer holds on that day or any later day is refused."""
    return {"lines": sellthrough.record(current_user, own_dealer(), body["lines"], source="api")}


@blp.route("/sell-through", methods=["GET"])
@requires("sellthrough.read")
@blp.arguments(SellThroughQuerySchema, location="query")
@blp.response(200, page_of(SellThroughLineSchema))
def list_sell_through(args):
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(sellthrough.lines_query(current_scope(), **args), page, per_page)


@blp.route("/sell-through/import", methods=["POST"])
@accepts_workbooks
@requires("sellthrough.write")
@blp.arguments(SellThroughFileSchema, location="files")
@blp.response(202, SellThroughQueuedSchema)
def import_sell_through(files):
    """Upload a CSV (UTF-8 or GB18030) or XLSX file: sold_on, sku, serial, quantity, unit_price, city, customer_type,
    headers in English or Chinese (docs/IMPORTS.md); a job applies it whole or not at all and lists every rejected row
    with its line number and reason."""
    dealer = own_dealer()
    return {"job_id": start_import("sell_through_import", files["file"], started_by=current_user,
                                   dealer_id=dealer.id).id}  # fmt: skip


@blp.route("/dealers/<code>/stock", methods=["GET"])
@requires("dealer_stock.read")
@tenant_route("dealer")
@blp.arguments(DealerStockQuerySchema, location="query")
@blp.response(200, DealerStockSchema)
def get_dealer_stock(args, code):
    """The dealer's stock per SKU (on hand, incoming, age since receipt by FIFO) and its VINs, now or `as_of`."""
    dealer = dealer_or_404(code)
    return dealer_stock.stock_report(dealer, args.get("as_of"))


@blp.route("/dealers/<code>/stock/adjustments", methods=["POST"])
@requires("dealer_stock.adjust")
@tenant_route("dealer")
@blp.arguments(DealerStockAdjustmentCreateSchema)
@blp.response(201, DealerStockAdjustmentSchema)
def create_adjustment(body, code):
    """Correct the dealer's stock (count, damage, found goods); it never goes below zero. A distributor's admin reads
    its sub-dealers' stock (§16) but corrects its own only (403)."""
    dealer = dealer_or_404(code)
    return sellthrough.adjust(current_user, dealer, body["sku"], body["delta"], body["reason"],
                              serial=body.get("serial"), on=body.get("moved_on"))  # fmt: skip
