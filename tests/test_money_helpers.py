"""The money helpers themselves, to the letter (mutation testing found these unpinned): the SQL rounding to cents on
both databases, the reasons each parser gives, negatives where they are allowed, a float refused by name, and the
marshmallow field's schema and messages as the OpenAPI document and clients see them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError
from sqlalchemy import literal, select, union_all

from portal.extensions import db
from portal.platform.money import Money, fmt, money, parse_file_money, parse_money, sql_round, sql_sum


def _scalar(app, expr):
    with app.app_context():
        return db.session.execute(select(expr)).scalar_one()


def test_sql_round_keeps_two_places_half_up_on_the_database(app):
    assert _scalar(app, sql_round(literal(Decimal("1.234")))) == Decimal("1.23")
    assert _scalar(app, sql_round(literal(Decimal("2.675")))) in (Decimal("2.68"), Decimal("2.67"))  # binary on SQLite
    assert _scalar(app, sql_round(literal(Decimal("1.239")))) == Decimal("1.24")


def test_sql_sum_is_cents_and_zero_for_no_rows(app):
    rows = union_all(select(literal(Decimal("0.004")).label("x")), select(literal(Decimal("0.004")).label("x")))
    sub = rows.subquery()
    with app.app_context():
        assert db.session.execute(select(sql_sum(sub.c.x))).scalar_one() == Decimal("0.01")
        empty = select(literal(Decimal("1.00")).label("x")).where(literal(1) == 0).subquery()
        assert db.session.execute(select(sql_sum(empty.c.x))).scalar_one() == Decimal("0.00")


@pytest.mark.parametrize(
    "text, kwargs, reason",
    [
        ("abc", {}, "Not a number."),
        ("1.234", {}, "At most two decimal places."),
        ("-1.00", {}, "Must not be negative."),
        ("0", {"allow_zero": False}, "Must be greater than zero."),
        ("1000000000000", {}, "Too large."),
    ],
)
def test_each_refusal_names_its_reason(text, kwargs, reason):
    with pytest.raises(ValueError) as refused:
        parse_money(text, **kwargs)
    assert str(refused.value) == reason


def test_negatives_where_allowed_and_none_is_empty():
    assert parse_money("-12.50", allow_negative=True) == Decimal("-12.50")
    assert parse_money(" 1,234.5 ") == Decimal("1234.50")
    with pytest.raises(ValueError, match="^Not a number.$"):
        parse_money(None)
    assert fmt(None) == "" and fmt(Decimal("3")) == "3.00"


def test_file_amounts_with_exactly_two_decimals_and_the_reasons():
    assert parse_file_money("¥1,234.56") == Decimal("1234.56")
    assert parse_file_money(12.25) == Decimal("12.25")  # an XLSX number cell with two decimals
    with pytest.raises(ValueError, match="^At most two decimal places.$"):
        parse_file_money(12.255)
    with pytest.raises(ValueError, match="^Not a number.$"):
        parse_file_money(object())
    with pytest.raises(ValueError, match="^Must not be negative.$"):
        parse_file_money("-5")


def test_a_float_is_refused_by_name():
    with pytest.raises(TypeError, match="^money must not be a float$"):
        money(1.5)


def _body_schema() -> type[Schema]:
    """Made inside the test (not at import), so that mutation testing sees the field built by a test."""

    class Body(Schema):
        amount = Money()
        signed = Money(allow_negative=True, allow_zero=False)

    return Body


def test_the_field_documents_its_pattern_and_explains_refusals():
    _Body = _body_schema()  # noqa: N806
    field = _Body().fields["amount"]
    assert field.metadata == {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$", "example": "1234.50"}
    assert _Body().load({"amount": "12.5", "signed": "-3"}) == {"amount": Decimal("12.50"), "signed": Decimal("-3.00")}
    assert _Body().dump({"amount": Decimal("7"), "signed": None}) == {"amount": "7.00", "signed": None}
    for value, message in ((1.5, "Send amounts as strings, not numbers."), (True, "Not a valid amount."),
                           ([1], "Not a valid amount."), ("1,000", "Not a number.")):  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            _Body().load({"amount": value})
        assert refused.value.messages == {"amount": [message]}
    with pytest.raises(ValidationError) as refused:
        _Body().load({"signed": "0"})
    assert refused.value.messages == {"signed": ["Must be greater than zero."]}
