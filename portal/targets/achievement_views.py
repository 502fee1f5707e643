"""The achievement page (PRODUCT.md §15): filters, the table with drill-down, target against actual by month, and the
rows as CSV/XLSX. Dealers see their own figures only, by month."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, render_template, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.analytics.labels import pct
from portal.catalog.labels import category_label
from portal.catalog.models import Product
from portal.dealers.models import Region
from portal.extensions import db
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.money import money
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today
from portal.platform.web import export_response, thousands
from portal.targets.achievement import GROUPS, achievement, add_months, parse_period
from portal.targets.labels import MEASURE_LABELS
from portal.targets.models import MEASURES, NO_CATEGORY

bp = Blueprint("achievement", __name__)

GROUP_LABELS = {"region": _l("Region"), "dealer": _l("Dealer"), "month": _l("Month")}
EXPORT_COLUMNS = ["key", "name", "kind", "target", "actual", "pct", "last_year", "yoy_pct", "previous", "mom_pct",
                  "forecast"]  # fmt: skip


def _month_labels(rows: list[dict]) -> list[str]:
    """The chart's month labels: "03" within one year (they fit a phone's narrow bars), else "26-03"."""
    keys = [r["key"] for r in rows]
    one_year = len({k[:4] for k in keys}) == 1
    return [k[5:] if one_year else k[2:] for k in keys]


def figure(value) -> str:
    """An amount (1,234.50), a number of pieces (1,234) or — for none."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return format_decimal(money(value), format="#,##0.00")
    return format_decimal(value, format="#,##0")


def bar_width(value: Decimal | None) -> int:
    """The % reached as the width of a small bar (0–100; 100 = the target met or passed)."""
    if value is None or value <= 0:
        return 0
    return int(min(value, Decimal(1)) * 100)


def bar_class(value: Decimal | None) -> str:
    if value is None:
        return "none"
    return "met" if value >= 1 else ("near" if value >= Decimal("0.8") else "behind")


def chart_value(value, units: bool) -> int:
    if value is None:
        return 0
    return int(value) if units else thousands(value)


def _args(scope) -> tuple[dict, dict]:
    """The query's values (as typed, for the form) and the arguments for `achievement` (Invalid on a bad month)."""
    this_month = today().replace(day=1)
    raw = {k: (request.args.get(k) or "").strip() for k in ("from", "to", "measure", "category", "group_by", "region",
                                                            "dealer")}  # fmt: skip
    errors: dict = {}
    date_to = date_from = None
    try:
        date_to = parse_period(raw["to"], "to") if raw["to"] else this_month
    except Invalid as exc:
        errors.update(exc.fields)
    try:
        date_from = parse_period(raw["from"], "from") if raw["from"] else add_months(date_to or this_month, -11)
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(fields=errors)
    default_group = "month" if scope.is_dealer else "region"
    kwargs = {
        "group_by": raw["group_by"] or default_group,
        "measure": raw["measure"] or "sell_in_amount",
        "category": raw["category"] or None,
        "region": raw["region"] or None,
        "dealer": raw["dealer"] or None,
    }
    return raw, {"date_from": date_from, "date_to": date_to, **kwargs}


def _drill(row: dict, result: dict, parents: set[str]) -> str | None:
    """Where a row leads: a region to its own children (or its dealers, for a region without sub-regions), the
    dealers placed directly in a region to them, a dealer to its months."""
    from portal.platform.web import url_with

    if row["kind"] == "region":
        group = "region" if row["key"] in parents else "dealer"
        return url_with(region=row["key"], group_by=group, dealer=None, format=None)
    if row["kind"] == "direct":
        return url_with(region=row["key"], group_by="dealer", dealer=None, format=None)
    if row["kind"] == "dealer":
        return url_with(dealer=row["key"], group_by="month", format=None)
    return None


@bp.route("/targets/achievement")
@requires("targets.read")
def achievement_page():
    scope = current_scope()
    error, result, trend, raw = None, None, None, {}
    try:
        raw, kwargs = _args(scope)
        result = achievement(scope, **kwargs)
    except Invalid as exc:
        error = "; ".join(str(m) for msgs in exc.fields.values() for m in msgs) or str(exc.message)
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx") and result is not None:
        rows = ([r.get(c) for c in EXPORT_COLUMNS] for r in result["rows"])
        return export_response(fmt, f"achievement-{result['measure']}-{result['from']}-{result['to']}",
                               EXPORT_COLUMNS, rows)  # fmt: skip
    if result is not None:
        trend = result if result["group_by"] == "month" else achievement(scope, **{**kwargs, "group_by": "month"})
    regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    parents = {r.parent.code for r in regions if r.parent is not None}
    categories = db.session.execute(select(Product.category).distinct().order_by(Product.category)).scalars().all()
    units = result is not None and result["unit"] == "pieces"
    shown = raw.get("group_by") or ("month" if scope.is_dealer else "region")
    return render_template(
        "targets/achievement.html",
        result=result,
        error=error,
        raw=raw,
        this_month=today().strftime("%Y-%m"),
        trend=trend,
        trend_labels=_month_labels(trend["rows"]) if trend else [],
        chart_targets=[chart_value(r["target"], units) for r in trend["rows"]] if trend else [],
        chart_actuals=[chart_value(r["actual"], units) for r in trend["rows"]] if trend else [],
        units=units,
        regions=regions if not scope.is_dealer else [],
        categories=categories,
        group_by=result["group_by"] if result else shown,
        drill={r["key"]: _drill(r, result, parents) for r in result["rows"]} if result else {},
        MEASURES=MEASURES,
        NO_CATEGORY=NO_CATEGORY,
        GROUPS=GROUPS if not scope.is_dealer else ("month", "dealer"),
        MEASURE_LABELS=MEASURE_LABELS,
        GROUP_LABELS=GROUP_LABELS,
        category_label=category_label,
        pct=pct,
        figure=figure,
        bar_width=bar_width,
        bar_class=bar_class,
        is_dealer=scope.is_dealer,
    )
