"""What the targets' measures are called on every page (targets, achievement, the home cards) — one wording."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

MEASURE_LABELS = {
    "sell_in_amount": _l("Sell-in (CNY)"),
    "sell_through_units": _l("Sell-through (units)"),
    "collections_amount": _l("Collections (CNY)"),
}
MEASURE_SHORT = {  # beside a chart that says its unit
    "sell_in_amount": _l("Sell-in"),
    "sell_through_units": _l("Sell-through"),
    "collections_amount": _l("Cash received"),
}
