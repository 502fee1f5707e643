"""JSON API for HQ stock (PRODUCT.md §7, §9, §12): stock per SKU and warehouse, warehouses, receipts, adjustments,
the moves and the expected receipts. HQ only: dealers and region managers are refused (403) and see availability
bands on the products instead (`GET /api/v1/products`), and their backorders (`GET /api/v1/backorders`)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from portal.catalog.models import Product
from portal.extensions import db
from portal.inventory import backorders, hq
from portal.inventory.models import HQ_MOVE_KINDS, ExpectedReceipt, Warehouse
from portal.platform.api import PageArgs, StrictSchema, api_blueprint, page_of, paginate
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.tenancy import current_scope, not_tenant_route

blp = api_blueprint("api_hq_stock", __name__, "HQ stock")


# ---------------------------------------------------------------- schemas


class WarehouseSchema(Schema):
    code = fields.String()
    name = fields.String()
    city = fields.String(allow_none=True)
    active = fields.Boolean()


class WarehouseCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    city = fields.String(allow_none=True, validate=validate.Length(max=60))


class StockQuerySchema(PageArgs):
    sku = fields.String()
    warehouse = fields.String()
    category = fields.String()


class StockRowSchema(Schema):
    sku = fields.Function(lambda row: row.product.sku)
    name = fields.Function(lambda row: row.product.name)
    category = fields.Function(lambda row: row.product.category)
    warehouse = fields.Function(lambda row: row.warehouse.code)
    on_hand = fields.Integer()
    allocated = fields.Integer()
    available = fields.Integer()


class ReceiptSchema(StrictSchema):
    warehouse = fields.String(required=True, validate=validate.Length(min=1, max=32))
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=hq.MAX_QUANTITY))
    received_on = fields.Date(allow_none=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=500))


class AdjustmentSchema(StrictSchema):
    warehouse = fields.String(required=True, validate=validate.Length(min=1, max=32))
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=-hq.MAX_QUANTITY, max=hq.MAX_QUANTITY),
        metadata={"description": "signed: + found, − missing"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class MoveQuerySchema(PageArgs):
    sku = fields.String()
    warehouse = fields.String()
    kind = fields.String(validate=validate.OneOf(HQ_MOVE_KINDS))
    order = fields.String()


class MoveSchema(Schema):
    id = fields.Integer()
    warehouse = fields.String()
    sku = fields.String()
    kind = fields.String()
    on_hand_delta = fields.Integer()
    allocated_delta = fields.Integer()
    moved_on = fields.Date()
    order = fields.String(allow_none=True)
    shipment = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()


class ExpectedCreateSchema(StrictSchema):
    warehouse_code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    sku = fields.String(required=True, validate=validate.Length(min=1, max=40))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=hq.MAX_QUANTITY))
    expected_on = fields.Date(required=True, metadata={"description": "today or later"})
    note = fields.String(allow_none=True, validate=validate.Length(max=500))


class ExpectedCancelSchema(StrictSchema):
    reason = fields.String(allow_none=True, validate=validate.Length(max=500))


class ExpectedQuerySchema(PageArgs):
    sku = fields.String(validate=validate.Length(max=40))
    warehouse = fields.String(validate=validate.Length(max=32))
    status = fields.String(validate=validate.OneOf(hq.EXPECTED_STATUSES))


class ExpectedSchema(Schema):
    id = fields.Integer()
    warehouse_code = fields.String()
    sku = fields.String()
    quantity = fields.Integer()
    received = fields.Integer(metadata={"description": "what receipts of the warehouse and SKU counted against it"})
    outstanding = fields.Integer(metadata={"description": "still expected (0 once received or cancelled)"})
    expected_on = fields.Date()
    status = fields.String(metadata={"enum": list(hq.EXPECTED_STATUSES)})
    overdue = fields.Boolean(metadata={"description": "open and expected before today"})
    note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.AwareDateTime()


# ---------------------------------------------------------------- helpers


def move_dicts(moves) -> list[dict]:
    moves = list(moves)
    labels = hq.move_labels(moves)
    return [
        {
            "id": m.id,
            "warehouse": labels["warehouses"].get(m.warehouse_id),
            "sku": labels["products"].get(m.product_id),
            "kind": m.kind,
            "on_hand_delta": m.on_hand_delta,
            "allocated_delta": m.allocated_delta,
            "moved_on": m.moved_on,
            "order": labels["orders"].get(m.order_id),
            "shipment": labels["shipments"].get(m.shipment_id),
            "note": m.note,
            "created_by": m.created_by,
            "created_at": m.created_at,
        }
        for m in moves
    ]


def target(warehouse_code: str, sku: str) -> tuple[Warehouse, Product]:
    """The warehouse and product a receipt or an adjustment names; both checked at once (422 by field)."""
    errors = {}
    warehouse = hq.warehouse_by_code(warehouse_code)
    if warehouse is None:
        errors["warehouse"] = [_("Unknown warehouse %(code)s.", code=warehouse_code)]
    product = db.session.execute(select(Product).where(Product.sku == sku.strip())).scalar()
    if product is None:
        errors["sku"] = [_("Unknown SKU %(sku)s.", sku=sku)]
    if errors:
        raise Invalid(fields=errors)
    return warehouse, product


# ---------------------------------------------------------------- routes


@blp.route("/stock", methods=["GET"])
@requires("stock.read")
@blp.arguments(StockQuerySchema, location="query")
@blp.response(200, page_of(StockRowSchema))
def list_stock(args):
    """On hand, allocated (to approved orders) and available per SKU and warehouse."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return paginate(hq.stock_query(current_scope(), **args), page, per_page)


@blp.route("/warehouses", methods=["GET"])
@requires("stock.read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WarehouseSchema))
def list_warehouses(args):
    stmt = current_scope().select(Warehouse).order_by(Warehouse.code)
    return paginate(stmt, args["page"], args["per_page"])


@blp.route("/warehouses", methods=["POST"])
@requires("stock.manage")
@blp.arguments(WarehouseCreateSchema)
@blp.response(201, WarehouseSchema)
def create_warehouse(body):
    return hq.create_warehouse(current_user, body["code"], body["name"], body.get("city"))


@blp.route("/stock/receipts", methods=["POST"])
@requires("stock.manage")
@blp.arguments(ReceiptSchema)
@blp.response(201, MoveSchema)
def create_receipt(body):
    """Goods received into an HQ warehouse (stock products only)."""
    warehouse, product = target(body["warehouse"], body["sku"])
    move = hq.receive(current_user, warehouse, product, body["quantity"], body.get("received_on"), body.get("note"))
    return move_dicts([move])[0]


@blp.route("/stock/adjustments", methods=["POST"])
@requires("stock.manage")
@blp.arguments(AdjustmentSchema)
@blp.response(201, MoveSchema)
def create_adjustment(body):
    """A count correction with its reason; on hand never falls below what is allocated (422 `below_allocated`)."""
    warehouse, product = target(body["warehouse"], body["sku"])
    move = hq.adjust(current_user, warehouse, product, body["quantity"], body["reason"])
    return move_dicts([move])[0]


@blp.route("/stock/moves", methods=["GET"])
@requires("stock.read")
@blp.arguments(MoveQuerySchema, location="query")
@blp.response(200, page_of(MoveSchema))
def list_moves(args):
    """Every change of HQ stock, newest first."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = paginate(hq.moves_query(current_scope(), **args), page, per_page)
    result["items"] = move_dicts(result["items"])
    return result


# ---------------------------------------------------------------- expected receipts (§12)


def _expected_out(expected_id: int) -> dict:
    row = db.session.execute(backorders.expected_query(current_scope()).where(ExpectedReceipt.id == expected_id)).one()
    return backorders.expected_dict(row)


@blp.route("/stock/expected", methods=["GET"])
@requires("stock.read")
@blp.arguments(ExpectedQuerySchema, location="query")
@blp.response(200, page_of(ExpectedSchema))
def list_expected(args):
    """Expected receipts, the open ones first by expected date (they give the backorders their promised dates)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    result = backorders.rows_page(backorders.expected_query(current_scope(), **args), page, per_page)
    result["items"] = [backorders.expected_dict(row) for row in result["items"]]
    return result


@blp.route("/stock/expected", methods=["POST"])
@requires("stock.manage")
@blp.arguments(ExpectedCreateSchema)
@blp.response(201, ExpectedSchema)
def create_expected(body):
    """HQ expects goods of a stock SKU in a warehouse on a date (today or later): the SKU's backorders are promised
    on the date of the expected receipt that covers them. 422 by field: unknown or closed warehouse, unknown or
    built-to-order SKU, a date in the past."""
    expected = hq.expect(current_user, body["warehouse_code"], body["sku"], body["quantity"], body["expected_on"],
                         body.get("note"))  # fmt: skip
    return _expected_out(expected.id)


@blp.route("/stock/expected/<int:expected_id>/cancel", methods=["POST"])
@requires("stock.manage")
@not_tenant_route("expected receipts are HQ's, no dealer's (the scope shows them to HQ roles only)")
@blp.arguments(ExpectedCancelSchema)
@blp.response(200, ExpectedSchema)
def cancel_expected(body, expected_id):
    """HQ no longer expects what is outstanding of it; 409 `not_open` once received or cancelled."""
    expected = current_scope().get_or_404(ExpectedReceipt, id=expected_id)
    hq.cancel_expected(current_user, expected, body.get("reason"))
    return _expected_out(expected.id)
