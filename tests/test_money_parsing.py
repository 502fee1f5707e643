"""Amounts, dates and whole numbers as the real world sends them (issue 16, docs/IMPORTS.md): the API takes exactly
what it documents, forms what a person types, files what Chinese spreadsheets hold — and each refuses the rest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.platform.files import parse_file_date, parse_iso_date, parse_whole_number
from portal.platform.money import parse_file_money, parse_money
from portal.platform.timeutil import freeze
from tests.conftest import login, page_csrf

NOW = dt.datetime(2026, 12, 10, 4, 0, tzinfo=dt.UTC)

# text -> (API, form, file): the amount, or None when refused
AMOUNTS = {
    "12.5": ("12.50", "12.50", "12.50"),
    "12": ("12.00", "12.00", "12.00"),
    "0012.05": ("12.05", "12.05", "12.05"),
    "1,5": (None, None, None),
    "12,34": (None, None, None),
    "1,234.50": (None, "1234.50", "1234.50"),
    "1,234,567": (None, "1234567.00", "1234567.00"),
    "0,123": (None, None, None),
    "1e2": (None, None, None),
    "1E2": (None, None, None),
    "1_0": (None, None, None),
    "١٢": (None, None, None),  # Arabic-Indic digits
    "१२": (None, None, None),  # Devanagari digits
    "1.234": (None, None, None),
    " 12": (None, "12.00", "12.00"),
    "12\n": (None, "12.00", "12.00"),
    "12.": (None, None, None),
    ".5": (None, None, None),
    "+12": (None, None, None),
    "Infinity": (None, None, None),
    "NaN": (None, None, None),
    "": (None, None, None),
    "１２３４．５０": (None, None, "1234.50"),
    "１，２３４．５": (None, None, "1234.50"),
    "¥1,234.50": (None, None, "1234.50"),
    "￥ 12": (None, None, "12.00"),
    "RMB 12.30": (None, None, "12.30"),
    "CNY1,000": (None, None, "1000.00"),
    "¥  12": (None, None, None),  # one space at most
    "12 ¥": (None, None, None),
    "rmb12": (None, None, None),
    "12元": (None, None, None),
    "12 34": (None, None, None),
    "USD 12": (None, None, None),
}


def _parsed(parse, value):
    try:
        return parse(value)
    except ValueError:
        return None


def _try(parse, value) -> str | None:
    parsed = _parsed(parse, value)
    return None if parsed is None else str(parsed)


@pytest.mark.parametrize("text", list(AMOUNTS))
def test_forms_take_a_typed_amount_and_files_a_spreadsheet_one(text):
    _api, form, file = AMOUNTS[text]
    assert _try(parse_money, text) == form
    assert _try(parse_file_money, text) == file


@pytest.mark.parametrize(
    "text,why",
    [("1.234", "two decimal"), ("-1", "negative"), ("1,5", "Not a number"), ("1e12", "Not a number"),
     ("1000000000000", "Too large")],
)  # fmt: skip
def test_the_reasons_name_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=why):
        parse_money(text)


@pytest.mark.parametrize(
    "cell,expected",
    [(12, "12.00"), (1234.5, "1234.50"), (0.1, "0.10"), (100.0, "100.00"), (35.555, None), (0.1 + 0.2, None),
     (1e-05, None), (1e16, None), (float("nan"), None), (float("inf"), None), (True, None), (None, None),
     (dt.date(2026, 1, 1), None), (-5, None), (0, "0.00")],
)  # fmt: skip
def test_number_cells_of_a_workbook_are_read_through_their_shortest_repr(cell, expected):
    assert _try(parse_file_money, cell) == expected


def test_a_file_amount_of_zero_is_refused_where_zero_is_not_an_amount():
    with pytest.raises(ValueError, match="greater than zero"):
        parse_file_money("¥0.00", allow_zero=False)
    assert str(parse_money("-0", allow_negative=True)) == "0.00"  # never "-0.00"


@pytest.mark.parametrize(
    "cell,expected",
    [("2026-12-01", dt.date(2026, 12, 1)), ("2026/12/01", dt.date(2026, 12, 1)), ("2026/12/1", dt.date(2026, 12, 1)),
     ("2026年12月1日", dt.date(2026, 12, 1)), (" 2026年1月31日 ", dt.date(2026, 1, 31)),
     ("２０２６/１２/１", dt.date(2026, 12, 1)), (dt.datetime(2026, 12, 1, 15, 30), dt.date(2026, 12, 1)),
     (dt.date(2026, 12, 1), dt.date(2026, 12, 1)),
     ("20261201", None), ("2026-W49-1", None), ("2026-12-1", None), ("12/01/2026", None), ("2026.12.01", None),
     ("2026/02/30", None), ("2026年12月1", None), ("2026-12-01T00:00", None), ("2026/12/1 0:00", None),
     ("٢٠٢٦-١٢-٠١", None), (46357, None), (46357.0, None), (dt.time(12, 0), None), (None, None)],
)  # fmt: skip
def test_file_dates_are_iso_or_the_chinese_bank_forms(cell, expected):
    assert _parsed(parse_file_date, cell) == expected


@pytest.mark.parametrize("text", ["20261201", "2026-W49-1", "2026-12-1", " 2026-12-01", "2026-12-01\n", "2026/12/01"])
def test_the_strict_date_takes_yyyy_mm_dd_only(text):
    with pytest.raises(ValueError):
        parse_iso_date(text)


def test_the_strict_date_refuses_a_day_that_does_not_exist():
    assert parse_iso_date("2028-02-29") == dt.date(2028, 2, 29)
    with pytest.raises(ValueError, match="valid date"):
        parse_iso_date("2026-02-29")


@pytest.mark.parametrize(
    "cell,expected",
    [("12", 12), ("1,000", 1000), ("１２", 12), (12, 12), (12.0, 12), ("12.0", None), (12.5, None), ("1,00", None),
     ("1_0", None), ("١٢", None), ("+1", None), ("-1", None), (True, None), ("", None)],
)  # fmt: skip
def test_whole_numbers(cell, expected):
    assert _parsed(parse_whole_number, cell) == expected


# ---------------------------------------------------------------- through the API and the forms


@pytest.fixture
def fin(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    with freeze(NOW):
        yield world.auth(world.user("finance"))


def _payment(client, fin, **changes):
    body = {"dealer_code": "SH-1", "amount": "12.50", "received_on": "2026-12-01", "reference": "B-1", **changes}
    return client.post("/api/v1/payments", json=body, headers=fin)


@pytest.mark.parametrize("text", list(AMOUNTS))
def test_the_api_takes_exactly_the_documented_pattern(client, fin, world, text):
    api, _form, _file = AMOUNTS[text]
    resp = _payment(client, fin, amount=text)
    if api is None:
        assert resp.status_code == 422, resp.get_json()
        assert list(resp.get_json()["error"]["fields"]) == ["amount"]
        assert world.count(LedgerEntry) == 0
    else:
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["amount"] == api and world.get(LedgerEntry, number="B-1")["amount"] == Decimal(api)


def test_the_api_takes_json_integers_and_refuses_floats(client, fin, world):
    assert _payment(client, fin, amount=12).get_json()["amount"] == "12.00"
    resp = _payment(client, fin, amount=12.5, reference="B-2")
    assert resp.status_code == 422 and "strings" in resp.get_json()["error"]["fields"]["amount"][0]
    assert _payment(client, fin, amount=True, reference="B-3").status_code == 422
    assert world.count(LedgerEntry) == 1


@pytest.mark.parametrize("text", ["1,5", "1e2", "1_0", "١٢", "1.234", " 12", "1,234.50"])
def test_another_money_endpoint_follows_the_same_rule(client, world, text):
    admin = world.auth(world.user("hq_admin"))
    resp = client.post("/api/v1/regions", json={"code": "R9", "name": "x", "approval_limit": text}, headers=admin)
    assert resp.status_code == 422 and "approval_limit" in resp.get_json()["error"]["fields"]
    ok = client.post("/api/v1/regions", json={"code": "R9", "name": "x", "approval_limit": "12.5"}, headers=admin)
    assert ok.status_code == 201 and ok.get_json()["approval_limit"] == "12.50"


@pytest.mark.parametrize("text", ["20261201", "2026-W49-1", "2026-12-1", "2026/12/01"])
def test_api_dates_are_yyyy_mm_dd_in_bodies_and_queries(client, fin, world, text):
    resp = _payment(client, fin, received_on=text)
    assert resp.status_code == 422 and list(resp.get_json()["error"]["fields"]) == ["received_on"]
    resp = client.get(f"/api/v1/dealers/SH-1/ledger?from={text}", headers=fin)
    assert resp.status_code == 422 and list(resp.get_json()["error"]["fields"]) == ["from"]
    assert client.get("/api/v1/dealers/SH-1/ledger?from=2026-12-01", headers=fin).status_code == 200
    assert world.count(LedgerEntry) == 0


@pytest.mark.parametrize("text,posted", [("1,234.50", "1234.50"), (" 88 ", "88.00"), ("1,5", None), ("1e2", None),
                                         ("１２", None), ("¥12", None)])  # fmt: skip
def test_the_payment_form_takes_what_a_person_types(client, world, fin, text, posted):
    login(client, world.user("finance", username="fin.form"))
    form = {"csrf_token": page_csrf(client, "/payments/new"), "dealer_code": "SH-1", "amount": text,
            "received_on": "2026-12-01", "reference": "F-1"}  # fmt: skip
    resp = client.post("/payments/new", data=form)
    if posted is None:
        assert resp.status_code == 422 and "Not a number." in resp.get_data(as_text=True)
        assert world.count(LedgerEntry) == 0
    else:
        assert resp.status_code == 302
        assert world.get(LedgerEntry, number="F-1")["amount"] == Decimal(posted)
