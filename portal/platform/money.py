"""Money: Decimal, CNY, 2 places, ROUND_HALF_UP. Floats never touch money."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask import has_app_context
from flask_babel import gettext
from marshmallow import ValidationError, fields
from sqlalchemy import Numeric

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The column type for every amount.
MoneyColumn = Numeric(14, 2, asdecimal=True)


def money(value) -> Decimal:
    """Round a Decimal (or int / numeric string) to cents, half up. Refuses floats."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _(message: str) -> str:  # gettext when an app is there (extracted as `_`)
    return gettext(message) if has_app_context() else message


def parse_money(text: str, *, allow_negative: bool = False, allow_zero: bool = True) -> Decimal:
    """Parse user input strictly: a number with at most two decimals."""
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Not a number.")) from exc
    if not value.is_finite():
        raise ValueError(_("Not a number."))
    if value.as_tuple().exponent < -2:
        raise ValueError(_("At most two decimal places."))
    if value < 0 and not allow_negative:
        raise ValueError(_("Must not be negative."))
    if value == 0 and not allow_zero:
        raise ValueError(_("Must be greater than zero."))
    if abs(value) >= Decimal("1e12"):
        raise ValueError(_("Too large."))
    return money(value)


def fmt(value: Decimal | None) -> str:
    """Plain string form used in JSON and CSV: '1234.50'."""
    return "" if value is None else str(money(value))


class Money(fields.Field):
    """marshmallow field: accepts strings or ints (never floats), answers '1234.50'."""

    default_error_messages = {"invalid": "Not a valid amount.", "float": "Send amounts as strings, not numbers."}

    def __init__(self, *, allow_negative: bool = False, allow_zero: bool = True, **kwargs):
        self.allow_negative = allow_negative
        self.allow_zero = allow_zero
        kwargs.setdefault("metadata", {}).setdefault("type", "string")
        kwargs["metadata"].setdefault("pattern", r"^-?\d+(\.\d{1,2})?$")
        kwargs["metadata"].setdefault("example", "1234.50")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else fmt(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, float)):
            raise self.make_error("float" if isinstance(value, float) else "invalid")
        if not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        try:
            return parse_money(value, allow_negative=self.allow_negative, allow_zero=self.allow_zero)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


# --- money in SQL ---
# PostgreSQL sums NUMERIC exactly. SQLite (the embedded default) has no decimal type and sums in binary
# floating point, so every money expression that is compared or returned goes through ROUND(…, 2) typed as
# the money column: comparisons never see 1e-17 leftovers, and results come back as Decimal cents.


def sql_round(expr):
    from sqlalchemy import func

    return func.round(expr, 2, type_=MoneyColumn)


def sql_sum(expr):
    """SUM of money, 0 when there are no rows, exact to the cent on both databases."""
    from sqlalchemy import func

    return func.round(func.coalesce(func.sum(expr), 0), 2, type_=MoneyColumn)
