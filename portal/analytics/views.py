"""Browser pages of the channel analytics: channel flow (table, drill-down, charts, CSV/XLSX) and price monitoring."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.analytics import reports
from portal.analytics.labels import pct
from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today
from portal.platform.web import current_lang, export_response, page_args, parse_date_arg, thousands, url_with

bp = Blueprint("analytics", __name__)

GROUP_LABELS = {
    "region": _l("Region"),
    "level": _l("Level"),
    "dealer": _l("Dealer"),
    "category": _l("Category"),
    "product": _l("Product"),
    "month": _l("Month"),
}
MEASURE_LABELS = {
    "sell_in_qty": _l("Sell-in (qty)"),
    "sell_in_amount": _l("Sell-in (CNY)"),
    "transfer_in_qty": _l("Transfers in (qty)"),
    "transfer_in_amount": _l("Transfers in (CNY)"),
    "sell_through_qty": _l("Sell-through (qty)"),
    "sell_through_amount": _l("Sell-through (CNY)"),
    "opening_stock": _l("Opening stock"),
    "ending_stock": _l("Ending stock"),
    "sell_through_rate": _l("Sell-through rate"),
    "days_of_inventory": _l("Days of inventory"),
    "cash_received": _l("Cash received (CNY)"),
}


def _period():
    date_to = parse_date_arg("to", today())
    date_from = parse_date_arg("from", reports.last_12_months(date_to)[0])
    return date_from, date_to


def _group_by() -> list[str]:
    if "group_by" not in request.args:
        return ["region"]
    keys = []
    for value in request.args.getlist("group_by"):
        keys.extend(k.strip() for k in value.split(",") if k.strip())
    return list(dict.fromkeys(keys))  # each once, in order


def _replace(group_by: list[str], old: str, new: str) -> str:
    keys = [new if k == old else k for k in group_by]
    return ",".join(dict.fromkeys(keys))


def _filters() -> dict:
    return {k: (request.args.get(k) or "").strip() or None for k in ("region", "dealer", "category", "sku")}


LINES_PER_PAGE = 50  # the price monitoring's lines of one dealer or product


def _number_arg(name: str) -> int:
    """A page number from the query (1 when missing or not a number)."""
    try:
        return max(1, int(request.args.get(name, 1)))
    except ValueError:
        return 1


def _message(exc: Invalid) -> str:
    return "; ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message


def _cross_args(date_from, date_to, flt) -> dict:
    """The period and the dealer filters, for the link to the other analytics page."""
    args = {"from": date_from.isoformat(), "to": date_to.isoformat(), "region": flt.get("region"),
            "dealer": flt.get("dealer")}  # fmt: skip
    return {k: v for k, v in args.items() if v}


def export_columns(group_by: list[str]) -> list[str]:
    cols = []
    for key in group_by:
        cols.extend(c for c in reports.KEY_COLUMNS[key] if c != "product_name_en")
        if key == "category":
            cols.append("category_name")  # the category's name in the reader's language, beside its code
    return cols + list(reports.MEASURES)


@bp.route("/analytics/channel-flow")
@requires("analytics.read")
def channel_flow():
    """The report, a page of its rows at a time (100 by default; `per_page` up to 200) under the totals of every
    row; a page past the end goes to the last page. The exports hold every row, read in chunks."""
    if len(request.args.getlist("group_by")) > 1:  # checkboxes: one comma-separated value, so links keep all keys
        return redirect(url_with(group_by=",".join(_group_by())))
    scope = current_scope()
    date_from, date_to = _period()
    group_by = _group_by()
    flt = _filters()
    error = None
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        try:
            every_row = reports.channel_flow_rows(scope, date_from, date_to, group_by, **flt)
        except Invalid as exc:
            error = _message(exc)
        else:
            header = export_columns(group_by)
            rows = ([category_label(r.get("category")) if h == "category_name" else r.get(h) for h in header]
                    for r in every_row)  # fmt: skip
            return export_response(fmt, f"channel-flow-{date_from}-{date_to}", header, rows)
    page_no, per_page = page_args(reports.DEFAULT_PER_PAGE)
    result = {"rows": [], "totals": None, "group_by": group_by, "page": page_no, "per_page": per_page, "total": 0}
    if error is None:
        try:
            result = reports.channel_flow(scope, date_from, date_to, group_by, **flt, page=page_no, per_page=per_page)
        except Invalid as exc:
            error = _message(exc)
    result["pages"] = max(1, -(-result["total"] // per_page))
    if page_no > result["pages"]:
        return redirect(url_with(page=result["pages"]))
    complete = len(result["rows"]) == result["total"]  # every row is on this page
    trend = comparison = None
    if error is None:
        trend = (result if group_by == ["month"] and complete
                 else reports.channel_flow(scope, date_from, date_to, ["month"], **flt))  # fmt: skip
        if not flt["dealer"]:
            comparison = (result if group_by == ["region"] and complete
                          else reports.channel_flow(scope, date_from, date_to, ["region"], **flt))  # fmt: skip
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    dealers = db.session.execute(scope.select(Dealer).order_by(Dealer.code)).unique().scalars().all()
    categories = db.session.execute(select(Product.category).distinct().order_by(Product.category)).scalars().all()
    drill = {
        "region": _replace(group_by, "region", "dealer") if "region" in group_by else None,
        "dealer": _replace(group_by, "dealer", "product") if "dealer" in group_by else None,
    }
    return render_template(
        "analytics/channel_flow.html",
        result=result,
        error=error,
        date_from=date_from,
        date_to=date_to,
        group_by=group_by,
        flt=flt,
        trend=trend,
        trend_labels=[r["month"][2:] for r in trend["rows"]] if trend else [],
        comparison=comparison,
        regions=regions,
        dealers=dealers,
        categories=categories,
        drill=drill,
        GROUP_KEYS=reports.GROUP_KEYS,
        GROUP_LABELS=GROUP_LABELS,
        MEASURE_LABELS=MEASURE_LABELS,
        pct=pct,
        thousands=thousands,
        en=current_lang() == "en",
        cross_args=_cross_args(date_from, date_to, flt),
    )


@bp.route("/analytics/price-monitoring")
@requires("analytics.read")
def price_monitoring():
    """The rows (dealer × product) a page at a time (`page`, 100 by default) under the totals of every row; with a
    dealer or SKU chosen, its lines below, paged on their own (`lines_page`, 50 a page). Exports: every row."""
    scope = current_scope()
    date_from, date_to = _period()
    flt = {k: (request.args.get(k) or "").strip() or None for k in ("region", "dealer", "sku")}
    error = None
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx"):
        try:
            every_row = reports.price_monitoring_rows(scope, date_from, date_to, **flt)
        except Invalid as exc:
            error = _message(exc)
        else:
            header = ["dealer_code", "dealer_name", "region_name", "sku", "product_name", "lines", "quantity",
                      "amount", "floor_price", "worst_price", "gap"]  # fmt: skip
            rows = ([r[h] for h in header] for r in every_row)
            return export_response(fmt, f"price-monitoring-{date_from}-{date_to}", header, rows)
    page_no, per_page = page_args(reports.DEFAULT_PER_PAGE)
    result = {"rows": [], "dealers": [], "totals": None, "page": page_no, "per_page": per_page, "total": 0}
    if error is None:
        try:
            result = reports.price_monitoring(scope, date_from, date_to, **flt, page=page_no, per_page=per_page)
        except Invalid as exc:
            error = _message(exc)
    result["pages"] = max(1, -(-result["total"] // per_page))
    if page_no > result["pages"]:
        return redirect(url_with(page=result["pages"]))
    lines = None
    if error is None and (flt["dealer"] or flt["sku"]):
        stmt = reports.price_monitoring_lines(scope, date_from, date_to, **flt)
        lines_no = _number_arg("lines_page")
        total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
        offset = (lines_no - 1) * LINES_PER_PAGE  # past the end: no line (the database is not asked)
        page = stmt.limit(LINES_PER_PAGE).offset(offset)
        items = db.session.execute(page).mappings().all() if offset < total else []
        lines = {"items": items, "page": lines_no, "per_page": LINES_PER_PAGE, "total": total,
                 "pages": max(1, -(-total // LINES_PER_PAGE))}  # fmt: skip
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    dealers = db.session.execute(scope.select(Dealer).order_by(Dealer.code)).unique().scalars().all()
    return render_template(
        "analytics/price_monitoring.html",
        result=result,
        error=error,
        date_from=date_from,
        date_to=date_to,
        flt=flt,
        lines=lines,
        regions=regions,
        dealers=dealers,
        en=current_lang() == "en",
        cross_args=_cross_args(date_from, date_to, flt),
    )
