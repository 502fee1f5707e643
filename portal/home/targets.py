"""Targets and scorecards on the home pages and the dealer overview (PRODUCT.md §15).

Every figure is the achievement module's or the scorecards module's own answer, never computed again here:

- HQ and region home: `achievement(group_by="month")` from January to this month for the caller's scope (the chart:
  target against actual per month; its totals: the year to date), one measure at a time (`?target_measure=`), and
  the ranking of the last complete month (`scorecards()` in the caller's scope: a region manager its subtree's
  dealers), the top and the bottom TOP dealers by score;
- a dealer's home and its overview (HQ and its region see it for any dealer in scope): per measure, this month and
  the year to date (`achievement(group_by="month", dealer=)`: the month's row and the totals), and its own scorecard
  row (`scorecard_for`: its score, its ranks with the group sizes and its components — never another dealer's name).
  A sub-dealer (§16) has neither: it buys from its distributor.

Cost: one achievement call per measure shown (a few statements each, whatever the data) and one scorecard
computation (a fixed number of statements). The home pages keep a card a few minutes per process (portal/home/cache.py);
the dealer overview computes it on every view.
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import get_locale

from portal.platform.errors import Invalid
from portal.platform.i18n import number_text
from portal.platform.timeutil import today as business_today
from portal.targets.labels import MEASURE_LABELS, MEASURE_SHORT
from portal.targets.models import MEASURES, UNIT_MEASURES

TOP = 5  # dealers at the top and at the bottom of the home's ranking


def measure_arg(value: str | None) -> str:
    """The measure asked in the query string; anything else: sell-in amount (a link, not a form: no error)."""
    return value if value in MEASURES else "sell_in_amount"


ACHIEVEMENT_PAGE = "achievement.achievement_page"
SCORECARDS_PAGE = "scorecards.index"


def ordinal(n: int) -> str:
    """3 → "3rd" in English; the number itself in Chinese (the sentence says 第 … 名)."""
    if not str(get_locale() or "").startswith("en"):
        return str(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def last_complete_month(on: dt.date) -> dt.date:
    return (on.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


# ---------------------------------------------------------------- HQ and region home


def targets_card(scope, measure: str = "sell_in_amount", on: dt.date | None = None) -> dict:
    """The home's targets card: this year's months (target and actual), the year to date and the ranking."""
    from portal.targets.achievement import achievement
    from portal.targets.scorecards import scorecards

    on = on or business_today()
    first = on.replace(month=1, day=1)
    year = achievement(scope, first, on.replace(day=1), group_by="month", measure=measure, today=on)
    units = measure in UNIT_MEASURES
    period = last_complete_month(on)
    try:
        ranked = scorecards(scope, period, today=on)["rows"]
    except Invalid:  # a configuration the scorecards refuse: the card shows no ranking rather than failing the home
        ranked = []
    scored = [r for r in ranked if r["score"] is not None]  # already in rank order (channel rank)
    half = min(TOP, (len(scored) + 1) // 2)  # few dealers (a city region): the upper half and the lower half
    top, bottom = scored[:half], scored[max(half, len(scored) - TOP) :]
    return {
        "measure": measure,
        "measures": MEASURES,
        "units": units,
        "labels": [r["key"][5:] for r in year["rows"]],  # "01" … "12"
        "rows": year["rows"],
        "ytd": year["totals"],
        "from": year["from"],
        "to": year["to"],
        "period": period,
        "ranked": len(ranked),
        "top": [(n, r) for n, r in enumerate(top, start=1)],
        "bottom": [(len(scored) - len(bottom) + n, r) for n, r in enumerate(bottom, start=1)],
        "any_target": any(r["target"] is not None for r in year["rows"]),
        "achievement_url": url_for(ACHIEVEMENT_PAGE, measure=measure, **{"from": year["from"], "to": year["to"]}),
        "scorecards_url": url_for(SCORECARDS_PAGE, period=period.strftime("%Y-%m")),
    }  # fmt: skip


def chart_values(rows: list[dict], field: str, units: bool) -> list:
    """A series for the chart: units as they are, money in thousands of CNY; a missing target drawn as 0."""
    out = []
    for r in rows:
        v = r[field] or 0
        out.append(int(v) if units else int(round(v / 1000)))
    return out


# ---------------------------------------------------------------- one dealer (its home, its overview)


def dealer_targets(scope, dealer, on: dt.date | None = None) -> dict | None:
    """The dealer's own targets and achievement this month and this year to date, per measure, and its scorecard of
    the last complete month; None for a sub-dealer (no targets, never ranked)."""
    if dealer is None or dealer.parent_id is not None:
        return None
    from portal.targets.achievement import achievement
    from portal.targets.scorecards import scorecard_for

    on = on or business_today()
    first, month = on.replace(month=1, day=1), on.replace(day=1)
    measures = []
    for measure in MEASURES:
        year = achievement(scope, first, month, group_by="month", measure=measure, dealer=dealer.code, today=on)
        this_month = year["rows"][-1] if year["rows"] else None
        measures.append({"measure": measure, "units": measure in UNIT_MEASURES, "month": this_month,
                         "ytd": year["totals"]})  # fmt: skip
    period = last_complete_month(on)
    try:
        card = scorecard_for(dealer, period, today=on)
    except Invalid:
        card = None
    if card is not None:  # its own row: nothing in it names another dealer
        card = {k: v for k, v in card.items() if k not in ("dealer_code", "dealer_name")}
    return {
        "month": month,
        "from": first,
        "measures": measures,
        "any_target": any(m["ytd"]["target"] is not None for m in measures),
        "period": period,
        "score": card,
        "achievement_url": url_for(ACHIEVEMENT_PAGE, dealer=dealer.code, group_by="month",
                                   **{"from": first.strftime("%Y-%m"), "to": month.strftime("%Y-%m")}),
        "scorecards_url": url_for(SCORECARDS_PAGE, period=period.strftime("%Y-%m")),
    }  # fmt: skip


# ---------------------------------------------------------------- presentation


def pct_text(value) -> str:
    """A fraction (0.8731) as a percentage with one decimal ("87.3%"); — for none."""
    from decimal import ROUND_HALF_UP, Decimal

    if value is None:
        return "—"
    return number_text((Decimal(value) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP), 1) + "%"


def figure_text(value, units: bool) -> str:
    """A target, actual or forecast: pieces as a whole number, money with cents; — for none."""
    if value is None:
        return "—"
    return number_text(value, 0 if units else 2)


def score_value(name: str, component: dict | None) -> str:
    """A scorecard component's value as the scorecards page shows it."""
    from portal.targets.scorecard_views import value_text

    return value_text(name, component)


def score_label(name: str) -> str:
    from portal.targets.scorecard_views import COMPONENT_LABELS

    return str(COMPONENT_LABELS.get(name, name))


def register(bp) -> None:
    bp.add_app_template_filter(pct_text, "target_pct")
    bp.add_app_template_filter(figure_text, "target_figure")
    bp.add_app_template_global(ordinal, "rank_ordinal")
    bp.add_app_template_global(chart_values, "target_chart")
    bp.add_app_template_global(MEASURE_LABELS, "TARGET_MEASURE_LABELS")
    bp.add_app_template_global(MEASURE_SHORT, "TARGET_MEASURE_SHORT")
    bp.add_app_template_global(score_value, "score_value")
    bp.add_app_template_global(score_label, "score_label")
