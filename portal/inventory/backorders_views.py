"""Browser pages for backorders (PRODUCT.md §12): the waiting stock lines by SKU and by dealer with filters and
exports, for every role in its own scope (a dealer its own lines, a region manager its region's, HQ all of them and
the summary by SKU with what is expected), and the "Move up" action of channel managers."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf, Optional

from portal.extensions import db
from portal.inventory import backorders
from portal.orders.models import Order
from portal.platform.auth import requires
from portal.platform.errors import DomainError
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import local_naive, today
from portal.platform.web import export_response, page_args

bp = Blueprint("backorders", __name__)

EXPORT_COLUMNS = ["sku", "name", "order_number", "dealer_code", "dealer_name", "quantity", "backordered",
                  "promised_on", "approved_at", "moved_up_at"]  # fmt: skip


class MoveUpForm(FlaskForm):
    back = HiddenField(validators=[Optional(), AnyOf(["order", "list"])])



@bp.route("/backorders")
@requires("orders.read")
def index():
    scope = current_scope()
    filters = {k: (request.args.get(k) or "").strip() or None for k in ("sku", "dealer")}
    if filters["dealer"]:
        filters["dealer"] = dealer_or_404(filters["dealer"]).code  # another dealer's (or region's): 404
    stmt = backorders.backorders_query(scope, **filters)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        rows = [
            [r.sku, r.name, r.order_number, r.dealer_code, r.dealer_name, r.quantity, r.backordered, r.promised_on,
             local_naive(r.approved_at), local_naive(r.moved_up_at)]
            for r in db.session.execute(stmt).all()
        ]  # fmt: skip
        return export_response(fmt, f"backorders-{today():%Y%m%d}", EXPORT_COLUMNS, rows)
    page, per_page = page_args(50)
    result = backorders.rows_page(stmt, page, per_page)
    result["pages"] = max(1, -(-result["total"] // per_page))
    summary = backorders.summary_by_sku(scope, **filters)
    return render_template(
        "inventory/backorders.html",
        page=result,
        filters=filters,
        summary=summary,
        totals={"lines": result["total"], "backordered": sum(s["backordered"] for s in summary)},
    )


@bp.route("/orders/<number>/move-up", methods=["POST"])
@requires("stock.manage")
@tenant_route("order")
def move_up(number):
    order = current_scope().get_or_404(Order, number=number)
    form = MoveUpForm()
    back = (
        url_for("orders.detail", number=order.number)
        if form.back.data == "order"
        else url_for("backorders.index", sku=request.args.get("sku") or None)
    )
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(back)
    try:
        backorders.move_up(current_user, order)
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(back)
    flash(_("Order %(number)s moved up the backorder queue.", number=order.number), "success")
    return redirect(back)
