"""The bank file: payments from a CSV or XLSX file, applied whole or not at all (docs/IMPORTS.md).

Columns (a header row names them, any order, in English or Chinese — `COLUMNS`): dealer_code, amount,
received_on, reference. The file is read by `portal.platform.files` (UTF-8 or GB18030 CSV, XLSX); amounts by
`parse_file_money`, dates by `parse_file_date`. Every row is checked first; a file with any bad row posts nothing and
reports every rejected row with its line number and reason. A reference already recorded for the dealer (or twice in
the file) is refused, so a file imported twice is not counted twice. The file is HQ's bank's: a sub-dealer (§16) pays
its distributor, whose admin records the payment, so a row naming one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from portal.credit import services
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform import files
from portal.platform.files import Column
from portal.platform.money import ZERO, fmt, parse_file_money
from portal.platform.timeutil import today

COLUMNS = (
    Column("dealer_code", ("经销商代码", "经销商编码"), required=True, max_length=32),
    Column("amount", ("金额", "收款金额", "回款金额"), required=True),
    Column("received_on", ("收款日期", "回款日期", "日期"), required=True),
    Column("reference", ("银行流水号", "流水号", "参考号"), required=True, max_length=64),
)
EXAMPLE = ("SH-001", "12,800.00", "2026-03-01", "BK20260301001")
MAX_ROWS = 50_000


def parse_rows(data: bytes, filename: str) -> tuple[list[dict], list[dict]]:
    """(good rows, errors); each error is {line, reason}. Line numbers count the header as line 1 (an XLSX: the
    sheet's row numbers)."""
    errors: list[dict] = []
    rows: list[dict] = []
    dealers = {d.code: d for d in db.session.execute(select(Dealer)).unique().scalars()}
    seen: set[tuple[int, str]] = set()
    try:
        for line, values, problems in files.read_rows(data, filename, COLUMNS):
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append({"line": line, "reason": _("More than %(n)s rows; split the file.", n=MAX_ROWS)})
                break
            row = _check_row(values, problems, dealers, seen)
            if problems:
                errors.append({"line": line, "reason": " ".join(problems)})
            else:
                rows.append({"line": line, **row})
    except files.FileError as exc:
        return [], [{"line": exc.line, "reason": exc.message}]
    if not rows and not errors:
        errors.append({"line": 1, "reason": _("The file has no payment rows.")})
    return rows, errors


def _check_row(values: dict, problems: list[str], dealers: dict[str, Dealer], seen: set[tuple[int, str]]) -> dict:
    """The row's payment; what is wrong with it is added to `problems`."""
    code, reference = values["dealer_code"], values["reference"]
    dealer = dealers.get(code)
    if dealer is None:
        problems.append(_("Unknown dealer %(code)s.", code=code or "—"))
    elif dealer.parent_id is not None:
        seller = dealer.parent.code
        problems.append(_("%(dealer)s pays %(seller)s, not HQ: its admin records the payment.", dealer=code,
                          seller=seller))  # fmt: skip
    try:
        amount = parse_file_money(values["amount"], allow_zero=False)
    except ValueError as exc:
        amount = None
        problems.append(_("Amount: %(why)s", why=str(exc)))
    try:
        received_on = files.parse_file_date(values["received_on"])
        if received_on > today():
            problems.append(_("The date is in the future."))
    except ValueError as exc:
        received_on = None
        problems.append(str(exc))
    if not reference:
        problems.append(_("The bank reference is missing."))
    elif dealer is not None:
        key = (dealer.id, reference)
        if key in seen:
            problems.append(_("Reference %(ref)s appears twice in this file.", ref=reference))
        elif db.session.execute(
            select(LedgerEntry.id).where(
                LedgerEntry.dealer_id == dealer.id, LedgerEntry.type == "payment", LedgerEntry.number == reference
            )
        ).first():
            problems.append(_("Reference %(ref)s was already recorded for this dealer.", ref=reference))
        seen.add(key)
    return {"dealer": dealer, "amount": amount, "received_on": received_on, "reference": reference}


def import_payments(actor, data: bytes, filename: str, progress: Callable[[int, int], None] | None = None) -> dict:
    """Check every row, then post all payments in this one transaction — or none."""
    rows, errors = parse_rows(data, filename)
    if errors:
        return {"applied": False, "payments": 0, "total": "0.00", "errors": errors}
    total: Decimal = ZERO
    for i, row in enumerate(rows, start=1):
        services.post_payment(
            actor,
            row["dealer"],
            amount=row["amount"],
            received_on=row["received_on"],
            reference=row["reference"],
            source="import",
        )
        total += row["amount"]
        if progress and (i % 50 == 0 or i == len(rows)):
            progress(i, len(rows))
    return {"applied": True, "payments": len(rows), "total": fmt(total), "errors": []}
