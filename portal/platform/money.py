"""Money: Decimal, CNY, 2 places, ROUND_HALF_UP. Floats never touch money.

Amounts are read by one rule — ASCII digits, an optional minus, at most two decimals — in three places:

- the JSON API (`Money` field): exactly the documented pattern `^-?\\d+(\\.\\d{1,2})?$` as a string, or a JSON
  integer; nothing trimmed, no grouping (`"1,5"`, `"1e2"`, `"1_0"`, `" 12"`, non-ASCII digits and floats refused);
- forms (`parse_money`): what a person types — blanks around it ignored, and the integer part may be grouped in
  thousands by commas (`1,234.50`; groups of exactly three: `1,5` and `12,34` are refused);
- files (`parse_file_money`): what spreadsheets in Chinese offices hold — the form rule, plus full-width digits,
  comma and full stop (`１２３４．５０`), a leading `¥`, `￥`, `RMB` or `CNY` (optionally followed by one space),
  and XLSX number cells (int, or float read through its shortest repr, so `0.1` is 0.10 and `35.555` is refused).
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

from flask import has_app_context
from flask_babel import gettext
from marshmallow import ValidationError, fields
from sqlalchemy import Numeric

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
LIMIT = Decimal("1e12")  # Numeric(14, 2): twelve digits before the point

# The column type for every amount.
MoneyColumn = Numeric(14, 2, asdecimal=True)

# The pattern the API documents for amounts (OpenAPI `pattern`, ECMAScript \d: ASCII digits).
API_PATTERN = r"^-?\d+(\.\d{1,2})?$"

# Full-width digits, comma and full stop as spreadsheets in Chinese hold them, to their ASCII forms.
FULL_WIDTH = str.maketrans("０１２３４５６７８９，．", "0123456789,.")

# sign, integer part (plain, or grouped in thousands), decimals (any number of them: more than two is its own error)
_AMOUNT = re.compile(r"(?P<sign>-?)(?P<int>[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+)(?:\.(?P<dec>[0-9]+))?")
_CURRENCY = re.compile(r"(?:¥|￥|RMB|CNY) ?")


def money(value) -> Decimal:
    """Round a Decimal (or int / numeric string) to cents, half up. Refuses floats."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _(message: str) -> str:  # gettext when an app is there (extracted as `_`)
    return gettext(message) if has_app_context() else message


def _amount(text: str, *, grouping: bool) -> Decimal:
    """The number `text` spells by the shared rule (no blanks, ASCII digits); ValueError with the reason."""
    found = _AMOUNT.fullmatch(text)
    if found is None or (not grouping and "," in found["int"]):
        raise ValueError(_("Not a number."))
    decimals = found["dec"] or ""
    if len(decimals) > 2:
        raise ValueError(_("At most two decimal places."))
    return Decimal(found["sign"] + found["int"].replace(",", "") + ("." + decimals if decimals else ""))


def _bounded(value: Decimal, *, allow_negative: bool, allow_zero: bool) -> Decimal:
    if value < 0 and not allow_negative:
        raise ValueError(_("Must not be negative."))
    if value == 0:
        if not allow_zero:
            raise ValueError(_("Must be greater than zero."))
        value = ZERO  # never "-0.00"
    if abs(value) >= LIMIT:
        raise ValueError(_("Too large."))
    return money(value)


def parse_money(text: str | None, *, allow_negative: bool = False, allow_zero: bool = True) -> Decimal:
    """An amount a person typed in a form: blanks around it ignored, ASCII digits, an optional minus, at most two
    decimals, the integer part plain or grouped in thousands by commas (`1,234.50`). ValueError with the reason."""
    value = _amount(("" if text is None else text).strip(), grouping=True)
    return _bounded(value, allow_negative=allow_negative, allow_zero=allow_zero)


def parse_file_money(cell: object, *, allow_zero: bool = True) -> Decimal:
    """An amount from a file's cell (never negative): text by the form rule, with full-width digits, comma and full
    stop and a leading ¥ / ￥ / RMB / CNY (one space may follow) also accepted; an XLSX number cell as it is
    (a float through its shortest repr, refused beyond two decimals). ValueError with the reason."""
    if isinstance(cell, str):
        text = cell.strip().translate(FULL_WIDTH)
        currency = _CURRENCY.match(text)
        value = _amount(text[currency.end() :] if currency else text, grouping=True)
    elif isinstance(cell, int) and not isinstance(cell, bool):
        value = Decimal(cell)
    elif isinstance(cell, float) and math.isfinite(cell):
        value = Decimal(repr(cell))
        if value.as_tuple().exponent < -2:
            raise ValueError(_("At most two decimal places."))
    else:
        raise ValueError(_("Not a number."))
    return _bounded(value, allow_negative=False, allow_zero=allow_zero)


def fmt(value: Decimal | None) -> str:
    """Plain string form used in JSON and CSV: '1234.50'."""
    return "" if value is None else str(money(value))


class Money(fields.Field):
    """marshmallow field: accepts strings of the documented pattern or ints (never floats), answers '1234.50'."""

    default_error_messages = {"invalid": "Not a valid amount.", "float": "Send amounts as strings, not numbers."}

    def __init__(self, *, allow_negative: bool = False, allow_zero: bool = True, **kwargs):
        self.allow_negative = allow_negative
        self.allow_zero = allow_zero
        kwargs.setdefault("metadata", {}).setdefault("type", "string")
        kwargs["metadata"].setdefault("pattern", API_PATTERN)
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
            amount = Decimal(value) if isinstance(value, int) else _amount(value, grouping=False)
            return _bounded(amount, allow_negative=self.allow_negative, allow_zero=self.allow_zero)
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
