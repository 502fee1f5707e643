"""What the portal itself says on an order's history, kept as data and said in the reader's language.

An event the portal writes for its own reasons (an order sent to credit review) stores a code and its figures in
`OrderEvent.data` (`{"note": ..., "available": ..., "gross": ...}`) and no comment; `event_note` renders it in the
current locale with money as on every page (1,234.50). A comment typed by a person, and every event written before
notes were codes, is shown as stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_babel import format_decimal
from flask_babel import gettext as _

OVER_AVAILABLE = "over_available"  # submitted above the dealer's available credit: sent to credit review
PLACED_FOR = "placed_for"  # placed on the dealer's behalf by HQ or its region (代客下单)
DUNNING_REVIEW = "dunning_review"  # §14: the dealer is at the dunning level that sends every order to review
AMENDED = "amended"  # the lines changed (§12): the gross before and after, and what the order could be


def over_available(available: Decimal, gross: Decimal) -> dict:
    """The data of the credit-review event: the code and the two figures it compares."""
    return {"note": OVER_AVAILABLE, "available": str(available), "gross": str(gross)}


def event_note(event) -> str | None:
    """The event's note in the current language: its coded note rendered, else its comment as stored."""
    data = getattr(event, "data", None) or {}
    if data.get("note") == OVER_AVAILABLE:
        try:
            excess = Decimal(data["gross"]) - Decimal(data["available"])
        except (KeyError, TypeError, InvalidOperation):
            return event.comment
        return _("Exceeds available credit by %(x)s CNY.", x=format_decimal(excess, format="#,##0.00"))
    if data.get("note") == DUNNING_REVIEW:
        return _("Overdue invoices reached the dunning review level: every new order goes to credit review.")
    if data.get("note") == PLACED_FOR:
        return _("Placed on the dealer's behalf by %(who)s.", who=event.actor)
    if data.get("note") == AMENDED:
        try:
            before, after, room = Decimal(data["before"]), Decimal(data["after"]), Decimal(data["available"])
        except (KeyError, TypeError, InvalidOperation):
            return event.comment
        grouped = lambda x: format_decimal(x, format="#,##0.00")  # noqa: E731
        text = _("Amended: gross %(before)s → %(after)s CNY.", before=grouped(before), after=grouped(after))
        if event.to_status == "credit_review" and after > room:
            text += " " + _("Exceeds available credit by %(x)s CNY.", x=grouped(after - room))
        elif event.to_status == "credit_review" and data.get("dunning"):
            text += " " + _("Overdue invoices reached the dunning review level: every new order goes to credit review.")
        return text
    return event.comment
