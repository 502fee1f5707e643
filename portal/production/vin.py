"""Vehicle identification numbers (ISO 3779, with the North American check digit in position 9).

A VIN made here is

    position  1-3   WMI, the World Manufacturer Identifier (PORTAL_VIN_WMI, default LDP)
              4-8   VDS: the product (its id in base 33, so each product has its own)
              9     check digit (0-9 or X)
              10    model year (the year the unit is scheduled; A=2010 … Y=2030, then 1-9, on a 30-year cycle)
              11-17 the unit's number: its id, as one base-33 character followed by six decimal digits
                    (id // 1,000,000 and id % 1,000,000), so up to 33 million units.

The unit's number is its primary key, reserved from the database before the insert (a PostgreSQL sequence,
non-transactional, so concurrent approvals never wait for each other nor collide; on SQLite the write lock
serialises approvals). The VIN is therefore unique by construction; the unique constraint on `units.serial` is
the last guard. The letters I, O and Q are never used.
"""

from __future__ import annotations

import datetime as dt

ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # the 33 characters a VIN may hold (no I, O, Q)
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980 (and 2010, 2040) … on a 30-year cycle
MAX_UNIT_NUMBER = 33 * 1_000_000 - 1


def check_digit(vin: str) -> str:
    """The check digit of a 17-character VIN (position 9 is ignored: its weight is 0)."""
    if len(vin) != 17:
        raise ValueError("a VIN has 17 characters")
    total = 0
    for ch, weight in zip(vin.upper(), WEIGHTS, strict=True):
        if ch not in VALUES:
            raise ValueError(f"{ch!r} cannot appear in a VIN")
        total += VALUES[ch] * weight
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def is_valid_vin(vin: object) -> bool:
    """17 characters from the VIN alphabet (no I, O, Q) with a correct check digit in position 9."""
    if not isinstance(vin, str) or len(vin) != 17 or any(ch not in ALPHABET for ch in vin):
        return False
    return vin[8] == check_digit(vin)


def year_code(year: int) -> str:
    return YEAR_CODES[(year - 1980) % 30]


def base33(n: int, width: int) -> str:
    if n < 0 or n >= 33**width:
        raise ValueError(f"{n} does not fit in {width} base-33 characters")
    out = []
    for _ in range(width):
        n, digit = divmod(n, 33)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def check_wmi(wmi: str) -> str:
    wmi = (wmi or "").strip().upper()
    if len(wmi) != 3 or any(ch not in ALPHABET for ch in wmi):
        raise ValueError("PORTAL_VIN_WMI must be 3 characters from 0-9 and A-Z without I, O, Q")
    return wmi


def make_vin(wmi: str, product_id: int, unit_number: int, on: dt.date) -> str:
    """The VIN of unit `unit_number` (its id) of product `product_id`, scheduled on `on`."""
    if not 1 <= unit_number <= MAX_UNIT_NUMBER:
        raise ValueError("unit number out of range for a VIN")
    high, low = divmod(unit_number, 1_000_000)
    body = f"{check_wmi(wmi)}{base33(product_id % 33**5, 5)}0{year_code(on.year)}{ALPHABET[high]}{low:06d}"
    return body[:8] + check_digit(body) + body[9:]
