"""JSON API of the channel analytics (PRODUCT.md §7, §9.1): channel flow and price monitoring, in the caller's scope."""

from __future__ import annotations

from portal.analytics import reports
from portal.analytics.schemas import (
    ChannelFlowQuerySchema,
    ChannelFlowSchema,
    PriceMonitoringQuerySchema,
    PriceMonitoringSchema,
)
from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today

blp = api_blueprint("api_analytics", __name__, "Channel analytics")


def period(args) -> tuple:
    """The requested period; default the last 12 months (from day 1 eleven months back to today)."""
    default_from, default_to = reports.last_12_months(args.get("date_to") or today())
    return args.get("date_from") or default_from, args.get("date_to") or default_to


@blp.route("/analytics/channel-flow", methods=["GET"])
@requires("analytics.read")
@blp.arguments(ChannelFlowQuerySchema, location="query")
@blp.response(200, ChannelFlowSchema)
def channel_flow(args):
    """Sell-in, sell-through, dealer stock, sell-through rate, days of inventory and cash received for a period,
    grouped by any ordered combination of region, dealer, category, product and month (HQ; region managers: their
    subtree). Whole months come from the exact monthly sums, partial months from the lines: exact for any dates.

    Paged like every list (`page`, `per_page`: 100 rows by default, at most 500; `total`: the report's rows); the
    `totals` are those of every row, whichever page is asked for. A page past the end answers no rows (200)."""
    date_from, date_to = period(args)
    return reports.channel_flow(
        current_scope(), date_from, date_to, args["group_by"], region=args.get("region"), dealer=args.get("dealer"),
        category=args.get("category"), sku=args.get("sku"), page=args["page"], per_page=args["per_page"],
    )  # fmt: skip


@blp.route("/analytics/price-monitoring", methods=["GET"])
@requires("analytics.read")
@blp.arguments(PriceMonitoringQuerySchema, location="query")
@blp.response(200, PriceMonitoringSchema)
def price_monitoring(args):
    """Sell-through below the product's floor (min_resale_price) per dealer and product, with the gap.

    The rows are paged like every list (`page`, `per_page`: 100 by default, at most 500; `total`: all the rows);
    `dealers` and `totals` cover every row. A page past the end answers no rows (200)."""
    date_from, date_to = period(args)
    return reports.price_monitoring(
        current_scope(), date_from, date_to, region=args.get("region"), dealer=args.get("dealer"), sku=args.get("sku"),
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
