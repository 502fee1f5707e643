"""How the credit domain's figures are named on pages (presentation beside its views; also used by the order and
statement pages, which show a dealer's ageing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

BUCKET_LABELS = {
    "not_due": _l("Not due"),
    "1_30": _l("1-30 days"),
    "31_60": _l("31-60 days"),
    "61_90": _l("61-90 days"),
    "over_90": _l("Over 90 days"),
}
