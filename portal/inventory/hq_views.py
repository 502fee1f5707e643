"""Browser pages for HQ stock (PRODUCT.md §7, §12): stock per SKU and warehouse with its exports, receiving goods,
correcting a count (with its reason), the moves, the warehouses, the expected receipts. HQ only (the `stock.*`
permissions); dealers see availability bands on the catalogue and the new-order page (the `stock_availability`
template helper below), and their backorders (portal/inventory/backorders_views.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.extensions import db
from portal.inventory import backorders, hq
from portal.inventory.hq_api import move_dicts
from portal.inventory.models import HQ_MOVE_KINDS, ExpectedReceipt, Warehouse
from portal.platform.auth import can, requires
from portal.platform.errors import Conflict, Forbidden, Invalid
from portal.platform.tenancy import current_scope, not_tenant_route
from portal.platform.timeutil import today
from portal.platform.web import apply_errors, export_response, list_page, page_args, parse_date_arg, render_form

bp = Blueprint("hq_stock", __name__)

MOVE_KIND_LABELS = {
    "receipt": _l("Receipt"),
    "adjustment": _l("Adjustment"),
    "allocation": _l("Allocated to an order"),
    "release": _l("Released (order cancelled)"),
    "shipment": _l("Shipped"),
}
BAND_LABELS = {
    "in_stock": _l("In stock"),
    "limited": _l("Limited stock"),
    "build_to_order": _l("Built to order"),
    "on_request": _l("On request"),
}
bp.add_app_template_global(MOVE_KIND_LABELS, "HQ_MOVE_KIND_LABELS")
bp.add_app_template_global(BAND_LABELS, "STOCK_BAND_LABELS")


@bp.app_context_processor
def _availability_helper():
    def stock_availability(products) -> dict:
        """product id → band (and, for HQ, the number available), for a page of products in one query."""
        if not getattr(current_user, "is_authenticated", False):
            return {}
        return hq.availability_for(products, with_numbers=current_scope().is_hq)

    return {"stock_availability": stock_availability}


# ------------------------------------------------------------------ forms


def _warehouse_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Warehouse).where(Warehouse.active.is_(True)).order_by(Warehouse.code)).scalars()
    return [(w.code, f"{w.code} · {w.name}") for w in rows]


class ReceiptForm(FlaskForm):
    warehouse = SelectField(_l("Warehouse"), validators=[DataRequired(message=_l("Choose the warehouse."))])
    sku = StringField(_l("SKU"), validators=[DataRequired(message=_l("Enter the SKU.")), Length(max=40)])
    quantity = IntegerField(
        _l("Quantity received"),
        validators=[InputRequired(message=_l("A whole number.")), NumberRange(min=1, max=hq.MAX_QUANTITY)],
    )
    # the day the goods came into the warehouse (入库日期), not a payment's day: a msgid of its own, by context
    received_on = DateField(lazy_pgettext("stock", "Received on"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class AdjustmentForm(FlaskForm):
    warehouse = SelectField(_l("Warehouse"), validators=[DataRequired(message=_l("Choose the warehouse."))])
    sku = StringField(_l("SKU"), validators=[DataRequired(message=_l("Enter the SKU.")), Length(max=40)])
    quantity = IntegerField(
        _l("Correction (+ found, − missing)"),
        validators=[InputRequired(message=_l("A whole number.")),
                    NumberRange(min=-hq.MAX_QUANTITY, max=hq.MAX_QUANTITY)],
    )  # fmt: skip
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("Say why the count is corrected.")), Length(max=500)]
    )


class ExpectedForm(FlaskForm):
    warehouse_code = SelectField(_l("Warehouse"), validators=[DataRequired(message=_l("Choose the warehouse."))])
    sku = StringField(_l("SKU"), validators=[DataRequired(message=_l("Enter the SKU.")), Length(max=40)])
    quantity = IntegerField(
        _l("Quantity expected"),
        validators=[InputRequired(message=_l("A whole number.")), NumberRange(min=1, max=hq.MAX_QUANTITY)],
    )
    expected_on = DateField(_l("Expected on"), validators=[InputRequired(message=_l("Enter the expected date."))])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class CancelExpectedForm(FlaskForm):
    pass


bp.add_app_template_global(hq.EXPECTED_STATUS_LABELS, "EXPECTED_STATUS_LABELS")


class WarehouseForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=60)])


# ------------------------------------------------------------------ stock


def _filters() -> dict:
    return {
        "q": (request.args.get("q") or "").strip() or None,
        "warehouse": request.args.get("warehouse") or None,
        "category": request.args.get("category") or None,
    }


STOCK_COLUMNS = ["sku", "name", "category", "category_name", "warehouse", "on_hand", "allocated", "available"]


@bp.route("/hq-stock")
@requires("stock.read")
def index():
    scope = current_scope()
    filters = _filters()
    stmt = hq.stock_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        rows = [
            [
                r.product.sku,
                r.product.name,
                r.product.category,
                category_label(r.product.category),
                r.warehouse.code,
                r.on_hand,
                r.allocated,
                r.available,
            ]
            for r in db.session.execute(stmt).unique().scalars()
        ]
        return export_response(fmt, f"hq-stock-{today():%Y%m%d}", STOCK_COLUMNS, rows)
    page = list_page(stmt)
    warehouses = db.session.execute(scope.select(Warehouse).order_by(Warehouse.code)).scalars().all()
    categories = (
        db.session.execute(
            select(Product.category).where(Product.build_to_order.is_(False)).distinct().order_by(Product.category)
        )
        .scalars()
        .all()
    )
    return render_template(
        "inventory/hq_stock.html",
        page=page,
        filters=filters,
        warehouses=warehouses,
        categories=categories,
        totals=hq.totals(),
        limited_below=hq.limited_below(),
    )


def _form_page(form, template: str, action):
    form.warehouse.choices = _warehouse_choices()
    if request.method == "GET":
        form.warehouse.data = form.warehouse.data or request.args.get("warehouse")
        form.sku.data = form.sku.data or request.args.get("sku")
    if form.validate_on_submit():
        try:
            warehouse = hq.warehouse_by_code(form.warehouse.data)
            product = db.session.execute(select(Product).where(Product.sku == form.sku.data.strip())).scalar()
            if warehouse is None or product is None:
                raise Invalid(fields={**({"warehouse": [_("Unknown warehouse.")]} if warehouse is None else {}),
                                      **({"sku": [_("Unknown SKU %(sku)s.", sku=form.sku.data)]}
                                         if product is None else {})})  # fmt: skip
            message = action(warehouse, product)
        except Invalid as exc:
            apply_errors(form, exc)
        else:
            flash(message, "success")
            return redirect(url_for("hq_stock.index", q=product.sku))
    return render_form(template, form, form=form)


@bp.route("/hq-stock/receive", methods=["GET", "POST"])
@requires("stock.manage")
def receive():
    form = ReceiptForm()

    def act(warehouse, product):
        hq.receive(current_user, warehouse, product, form.quantity.data, form.received_on.data, form.note.data)
        return _("%(n)s of %(sku)s received into %(code)s.", n=form.quantity.data, sku=product.sku,
                 code=warehouse.code)  # fmt: skip

    return _form_page(form, "inventory/hq_receive.html", act)


@bp.route("/hq-stock/adjust", methods=["GET", "POST"])
@requires("stock.manage")
def adjust():
    form = AdjustmentForm()

    def act(warehouse, product):
        hq.adjust(current_user, warehouse, product, form.quantity.data, form.reason.data)
        return _("The count of %(sku)s in %(code)s is corrected by %(n)s.", sku=product.sku, code=warehouse.code,
                 n=f"{form.quantity.data:+d}")  # fmt: skip

    return _form_page(form, "inventory/hq_adjust.html", act)


# ------------------------------------------------------------------ moves

MOVE_COLUMNS = ["moved_on", "warehouse", "sku", "kind", "on_hand_delta", "allocated_delta", "order", "shipment",
                "note", "created_by"]  # fmt: skip


@bp.route("/hq-stock/moves")
@requires("stock.read")
def moves():
    filters = {
        "sku": (request.args.get("sku") or "").strip() or None,
        "warehouse": request.args.get("warehouse") or None,
        "kind": request.args.get("kind") if request.args.get("kind") in HQ_MOVE_KINDS else None,
        "order": (request.args.get("order") or "").strip() or None,
        "date_from": parse_date_arg("from"),
        "date_to": parse_date_arg("to"),
    }
    stmt = hq.moves_query(current_scope(), **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        rows = [[m[c] for c in MOVE_COLUMNS] for m in move_dicts(db.session.execute(stmt).scalars())]
        return export_response(fmt, f"hq-stock-moves-{today():%Y%m%d}", MOVE_COLUMNS, rows)
    page = list_page(stmt, default_per_page=50)
    page["items"] = move_dicts(page["items"])
    warehouses = db.session.execute(current_scope().select(Warehouse).order_by(Warehouse.code)).scalars().all()
    return render_template("inventory/hq_moves.html", page=page, filters=filters, warehouses=warehouses)


# ------------------------------------------------------------------ warehouses


@bp.route("/hq-stock/warehouses", methods=["GET", "POST"])
@requires("stock.read")
def warehouses():
    form = WarehouseForm()
    if request.method == "POST":
        if not can("stock.manage"):
            raise Forbidden()
        if form.validate_on_submit():
            try:
                wh = hq.create_warehouse(current_user, form.code.data, form.name.data, form.city.data)
            except Invalid as exc:
                apply_errors(form, exc)
            else:
                flash(_("Warehouse %(code)s created.", code=wh.code), "success")
                return redirect(url_for("hq_stock.warehouses"))
    rows = db.session.execute(current_scope().select(Warehouse).order_by(Warehouse.code)).scalars().all()
    stock = hq.warehouse_totals()
    return render_form("inventory/hq_warehouses.html", form, form=form, warehouses=rows, stock=stock)


# ------------------------------------------------------------------ expected receipts (§12)

EXPECTED_COLUMNS = ["id", "expected_on", "warehouse_code", "sku", "name", "quantity", "received", "outstanding",
                    "status", "note", "created_by"]  # fmt: skip


@bp.route("/hq-stock/expected", methods=["GET", "POST"])
@requires("stock.read")
def expected():
    scope = current_scope()
    form = ExpectedForm()
    form.warehouse_code.choices = _warehouse_choices()
    if request.method == "GET":
        form.sku.data = form.sku.data or request.args.get("sku")
    if request.method == "POST":
        if not can("stock.manage"):
            raise Forbidden()
        if form.validate_on_submit():
            try:
                made = hq.expect(current_user, form.warehouse_code.data, (form.sku.data or "").strip(),
                                 form.quantity.data, form.expected_on.data, form.note.data)  # fmt: skip
            except Invalid as exc:
                apply_errors(form, exc)
            else:
                flash(_("%(n)s of %(sku)s expected in %(code)s on %(day)s.", n=made.quantity,
                        sku=form.sku.data.strip(), code=form.warehouse_code.data, day=made.expected_on.isoformat()),
                      "success")  # fmt: skip
                return redirect(url_for("hq_stock.expected"))
    status = request.args.get("status")
    filters = {
        "sku": (request.args.get("sku") or "").strip() or None,
        "warehouse": request.args.get("warehouse") or None,
        "status": status if status in hq.EXPECTED_STATUSES else None,
    }
    stmt = backorders.expected_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        rows = [backorders.expected_dict(r) for r in db.session.execute(stmt).all()]
        return export_response(fmt, f"expected-receipts-{today():%Y%m%d}", EXPECTED_COLUMNS,
                               [[r[c] for c in EXPECTED_COLUMNS] for r in rows])  # fmt: skip
    page, per_page = page_args(50)
    result = backorders.rows_page(stmt, page, per_page)
    result["pages"] = max(1, -(-result["total"] // per_page))
    result["items"] = [backorders.expected_dict(r) for r in result["items"]]
    warehouses = db.session.execute(scope.select(Warehouse).order_by(Warehouse.code)).scalars().all()
    return render_form(
        "inventory/hq_expected.html",
        form,
        form=form,
        page=result,
        filters=filters,
        warehouses=warehouses,
    )


@bp.route("/hq-stock/expected/<int:expected_id>/cancel", methods=["POST"])
@requires("stock.manage")
@not_tenant_route("expected receipts are HQ's, no dealer's (the scope shows them to HQ roles only)")
def cancel_expected(expected_id):
    row = current_scope().get_or_404(ExpectedReceipt, id=expected_id)
    form = CancelExpectedForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("hq_stock.expected"))
    try:
        hq.cancel_expected(current_user, row)
    except Conflict as exc:
        flash(exc.message, "danger")
    else:
        flash(_("Expected receipt %(id)s cancelled.", id=expected_id), "info")
    return redirect(url_for("hq_stock.expected"))
