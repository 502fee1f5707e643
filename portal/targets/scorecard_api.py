"""Scorecards API (PRODUCT.md §15): the month's dealer ranking in the caller's scope, and one dealer's card."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.platform.api import api_blueprint
from portal.platform.auth import requires
from portal.platform.errors import NotFound
from portal.platform.tenancy import current_scope, dealer_or_404, tenant_route
from portal.platform.timeutil import today
from portal.targets import scorecards
from portal.targets.scorecard_schemas import (
    DealerScorecardQuerySchema,
    DealerScorecardSchema,
    ScorecardQuerySchema,
    ScorecardsSchema,
)

blp = api_blueprint("api_scorecards", __name__, "Scorecards")


def _period(args):
    return args.get("period") or scorecards.last_complete_month(today())


@blp.route("/scorecards", methods=["GET"])
@requires("scorecards.read")
@blp.arguments(ScorecardQuerySchema, location="query")
@blp.response(200, ScorecardsSchema)
def list_scorecards(args):
    """The month's scorecards of the dealers HQ sells to, best first: the score, each component (value, points,
    weight) and the ranks in the channel and in the dealer's own region — always computed over the whole channel —
    for the rows in the caller's scope (`region`: a subtree). A dealer gets its own row only (its ranks and the group
    sizes, no other dealer); a sub-dealer none. Ties rank by dealer code."""
    return scorecards.scorecards(current_scope(), _period(args), region=args.get("region"))


@blp.route("/dealers/<code>/scorecard", methods=["GET"])
@requires("scorecards.read")
@tenant_route("dealer")
@blp.arguments(DealerScorecardQuerySchema, location="query")
@blp.response(200, DealerScorecardSchema)
def dealer_scorecard(args, code):
    """One dealer's scorecard for the month, ranked against the whole channel. 404 for a dealer outside the caller's
    scope, and for one that is not ranked (a sub-dealer, who buys from its distributor; a suspended dealer)."""
    dealer = dealer_or_404(code)
    period = _period(args)
    row = scorecards.scorecard_for(dealer, period)
    if row is None:
        raise NotFound(_("%(code)s is not ranked: only the active dealers HQ sells to are.", code=dealer.code))
    return {**row, **scorecards.meta(period)}
