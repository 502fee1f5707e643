"""Pages (PRODUCT.md §15): the scorecards — HQ's and a region manager's ranking, a dealer's own card; CSV/XLSX."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from flask import Blueprint, render_template, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from portal.dealers.models import Region
from portal.extensions import db
from portal.platform.auth import requires
from portal.platform.errors import Invalid
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today
from portal.platform.web import export_response
from portal.targets import scorecards
from portal.targets.scorecard_schemas import MONTH_RE

bp = Blueprint("scorecards", __name__)
# the weights and bounds are checked when the app is made, with its overrides: a bad one stops the start
bp.record_once(lambda state: scorecards.check_config(state.app.config))

COMPONENT_LABELS = {
    "achievement": _l("Achievement"),
    "dso": _l("DSO"),
    "overdue_share": _l("Overdue share"),
    "sell_through_rate": _l("Sell-through rate"),
    "days_of_inventory": _l("Days of inventory"),
    "below_floor": _l("Below-floor sales"),
}
RATIOS = ("achievement", "overdue_share", "sell_through_rate", "below_floor")
ONE = Decimal("0.1")


def value_text(name: str, component: dict | None) -> str:
    """A component's value as shown: ratios in %, days with one decimal; — where there is none."""
    if component is None or component["value"] is None:
        return "—"
    value = component["value"] * 100 if name in RATIOS else component["value"]
    text = format_decimal(value.quantize(ONE, rounding=ROUND_HALF_UP), format="0.0")  # half-up, as the reasons
    return text + "%" if name in RATIOS else text


def points_text(component: dict | None) -> str:
    return "—" if component is None else format_decimal(component["points"], format="0.0")


def score_text(value: Decimal | None) -> str:
    return "—" if value is None else format_decimal(value, format="0.0")


def _period() -> tuple[dt.date, str | None]:
    """The month asked (default: the last complete month) and an error for a malformed one."""
    text = (request.args.get("period") or "").strip()
    default = scorecards.last_complete_month(today())
    if not text:
        return default, None
    m = MONTH_RE.fullmatch(text)
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        return default, str(_l("A month as YYYY-MM (01 to 12)."))
    return dt.date(int(m.group(1)), int(m.group(2)), 1), None


def export_columns(weights: dict[str, int]) -> list[str]:
    cols = ["period", "rank_channel", "channel_size", "rank_region", "region_size", "dealer_code", "dealer_name",
            "region_code", "region_name", "score"]  # fmt: skip
    for name in weights:
        cols.extend([f"{name}_value", f"{name}_points", f"{name}_weight"])
    return cols


def export_rows(result: dict, header: list[str]):
    period = result["period"].strftime("%Y-%m")
    for r in result["rows"]:
        out = []
        for h in header:
            if h == "period":
                out.append(period)
            elif h in r:
                out.append(r[h])
            else:
                name, _sep, part = h.rpartition("_")
                comp = r["components"].get(name)
                out.append(None if comp is None else comp[part])
        yield out


@bp.route("/scorecards")
@requires("scorecards.read")
def index():
    scope = current_scope()
    period, error = _period()
    region = (request.args.get("region") or "").strip() or None
    result = None
    if error is None:
        try:
            result = scorecards.scorecards(scope, period, region=region)
        except Invalid as exc:
            error = "; ".join(m for msgs in exc.fields.values() for m in msgs) or exc.message
    fmt = request.args.get("format")
    if fmt in ("csv", "xlsx") and result is not None:
        header = export_columns(result["weights"])
        return export_response(fmt, f"scorecards-{period:%Y-%m}", header, export_rows(result, header))
    regions = []
    if not scope.is_dealer:
        regions = db.session.execute(scope.select(Region).order_by(Region.path)).unique().scalars().all()
    context = {
        "result": result,
        "error": error,
        "period": period,
        "period_arg": period.strftime("%Y-%m"),
        "max_month": today().strftime("%Y-%m"),
        "region": region,
        "regions": regions,
        "LABELS": COMPONENT_LABELS,
        "value_text": value_text,
        "points_text": points_text,
        "score_text": score_text,
    }
    if scope.is_dealer:
        row = result["rows"][0] if result and result["rows"] else None
        reasons = {}
        if row is not None:
            reasons = {n: scorecards.reason(n, row["components"].get(n), result["bounds"]) for n in result["weights"]}
        return render_template("targets/scorecard_card.html", row=row, reasons=reasons, **context)
    return render_template("targets/scorecards.html", **context)
