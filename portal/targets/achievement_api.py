"""Achievement API (PRODUCT.md §15): targets against actuals for a range of months, in the caller's scope."""

from __future__ import annotations

from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.tenancy import current_scope
from portal.platform.timeutil import today
from portal.targets.achievement import achievement, add_months
from portal.targets.achievement_schemas import AchievementQuerySchema, AchievementSchema

blp = api_blueprint("api_achievement", __name__, "Achievement")


def months_of(args: dict) -> tuple:
    """The requested months; default: the 12 months ending with `to`, itself this month by default."""
    date_to = args.get("date_to") or today().replace(day=1)
    return args.get("date_from") or add_months(date_to, -11), date_to


@blp.route("/targets/achievement", methods=["GET"])
@requires("targets.read")
@blp.arguments(AchievementQuerySchema, location="query")
@blp.response(200, AchievementSchema)
def get_achievement(args):
    """Target, actual, % reached, last year (YoY), the months before (MoM) and the run-rate forecast for a range of
    months (at most 60), by region, dealer or month. HQ: everything; region managers: their subtree; a dealer: its own
    figures only (a sub-dealer has no targets: no rows). Actuals are read from the channel roll-up and the ledger."""
    date_from, date_to = months_of(args)
    return achievement(
        current_scope(), date_from, date_to, group_by=args["group_by"], measure=args["measure"],
        category=args.get("category"), region=args.get("region"), dealer=args.get("dealer"),
    )  # fmt: skip
