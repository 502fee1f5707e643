"""VINs: ISO 3779 with the North American check digit in position 9; the portal's numbering is valid and unique."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.production.vin import MAX_UNIT_NUMBER, check_digit, check_wmi, is_valid_vin, make_vin, year_code


@pytest.mark.parametrize("vin", ["1M8GDM9AXKP042788", "11111111111111111", "1HGCM82633A004352", "JHMCM56557C404453"])
def test_known_valid_vins(vin):
    assert is_valid_vin(vin)


def test_the_check_digit_is_computed_as_published():
    assert check_digit("1M8GDM9A_KP042788".replace("_", "0")) == "X"  # remainder 10 is written X
    assert check_digit("11111111111111111") == "1"
    assert check_digit("1HGCM82633A004352") == "3"


@pytest.mark.parametrize(
    "vin,why",
    [
        ("1M8GDM9A1KP042788", "wrong check digit"),
        ("1M8GDM9AXKP04278", "16 characters"),
        ("1M8GDM9AXKP0427888", "18 characters"),
        ("1M8GDM9AXKP04278O", "the letter O"),
        ("IM8GDM9AXKP042788", "the letter I"),
        ("1M8GDM9AXKQ042788", "the letter Q"),
        ("1m8gdm9axkp042788", "lower case"),
        (None, "not a string"),
    ],
)
def test_invalid_vins(vin, why):
    assert not is_valid_vin(vin), why


def test_every_portal_vin_is_valid_and_unique():
    on = dt.date(2026, 11, 23)
    numbers = [*range(1, 3000), 999_999, 1_000_000, 1_000_001, 12_345_678, MAX_UNIT_NUMBER]
    vins = [make_vin("LDP", product_id, n, on) for n in numbers for product_id in (1, 7)]
    assert all(is_valid_vin(v) for v in vins)
    assert len(set(vins)) == len(vins)
    vin = make_vin("LDP", 7, 123, on)
    assert vin.startswith("LDP") and vin[9] == year_code(2026) == "T" and vin.endswith("0000123")
    assert not set("IOQ") & set("".join(vins))


def test_the_wmi_and_the_unit_number_are_checked():
    assert check_wmi(" ldp ") == "LDP"
    for bad in ("LD", "LDPX", "LOP", ""):
        with pytest.raises(ValueError):
            check_wmi(bad)
    with pytest.raises(ValueError):
        make_vin("LDP", 1, MAX_UNIT_NUMBER + 1, dt.date(2026, 1, 1))
    with pytest.raises(ValueError):
        make_vin("LDP", 1, 0, dt.date(2026, 1, 1))
