"""Sell-through from a CSV or XLSX file, applied whole or not at all (PRODUCT.md §7, docs/IMPORTS.md).

Columns (a header row names them, any order, in English or Chinese — `COLUMNS`): sold_on, sku, quantity and
unit_price required; serial, city, customer_type optional. The file is read by `portal.platform.files` (UTF-8 or
GB18030 CSV, XLSX). Every row is parsed and checked first, in bulk (a few queries for the whole file, not one per row);
a file with any bad row writes nothing and reports every rejected row with its line number (the header is line 1;
an XLSX: the sheet's row numbers) and reason. A good file is written in one transaction through the same service as
the portal and the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from itertools import islice
from typing import Any

from flask_babel import gettext as _

from portal.inventory import sellthrough
from portal.platform import files
from portal.platform.files import Column, parse_file_date, parse_iso_date, parse_whole_number
from portal.platform.money import fmt, parse_file_money, parse_money

COLUMNS = (
    Column("sold_on", ("销售日期", "日期"), required=True),
    Column("sku", ("物料编码", "产品编码"), required=True, max_length=40),
    Column("serial", ("车架号", "序列号"), max_length=17),
    Column("quantity", ("数量",), required=True),
    Column("unit_price", ("单价", "成交单价"), required=True),
    Column("city", ("城市",), max_length=60),
    Column("customer_type", ("客户类型",), max_length=16),
)
EXAMPLE = ("2026-01-15", "P-OIL-5W30", "", "12", "298.00", "上海", "individual")
MAX_ROWS = sellthrough.MAX_LINES


def _read_line(
    values: dict, *, date: Callable[[Any], dt.date], amount: Callable[[Any], Decimal]
) -> tuple[dict, list[str]]:
    """A line from a row's values (the entry form's text, or a file's cells), and what is wrong with it."""
    problems: list[str] = []
    line: dict = {name: values[name] or None for name in ("sku", "serial", "city", "customer_type")}
    try:
        line["sold_on"] = date(values["sold_on"])
    except ValueError as exc:
        problems.append(f"sold_on: {exc}")
    try:
        line["quantity"] = parse_whole_number(values["quantity"])
    except ValueError:
        problems.append("quantity: " + _("A whole number from 1 to %(n)s.", n=sellthrough.MAX_QUANTITY))
    try:
        line["unit_price"] = amount(values["unit_price"])
    except ValueError as exc:
        problems.append(f"unit_price: {exc}")
    if not line["sku"]:
        problems.append("sku: " + _("The SKU is missing."))
    return line, problems


def _parse_row(values: dict[str, str]) -> tuple[dict, list[str]]:
    """One line of the entry form, as typed: YYYY-MM-DD, amounts by `parse_money`'s rule."""
    return _read_line(values, date=parse_iso_date, amount=parse_money)


def parse(data: bytes, filename: str, progress: Callable[[int, int], None] | None = None):
    """([(line number, line)], errors [{line, reason}], number of data rows)."""
    try:
        records = list(islice(files.read_rows(data, filename, COLUMNS), MAX_ROWS + 1))
    except files.FileError as exc:
        return [], [{"line": exc.line, "reason": exc.message}], 0
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    for count, (number, values, problems) in enumerate(records[:MAX_ROWS], start=1):
        line, found = _read_line(values, date=parse_file_date, amount=parse_file_money)
        if problems or found:
            errors.append({"line": number, "reason": " ".join(problems + found)})
        else:
            rows.append((number, line))
        if progress and count % 1000 == 0:
            progress(count, len(records))
    if len(records) > MAX_ROWS:
        errors.append(
            {"line": records[MAX_ROWS].line, "reason": _("More than %(n)s rows; split the file.", n=MAX_ROWS)}
        )
    if not records:
        errors.append({"line": 1, "reason": _("The file has no sell-through rows.")})
    return rows, errors, min(len(records), MAX_ROWS)


def import_lines(actor, dealer, data: bytes, filename: str, *, job_id: str | None = None, progress=None) -> dict:
    """Check every row, then write every line in this one transaction — or none."""
    report = progress or (lambda done, total: None)
    rows, errors, count = parse(data, filename, lambda done, total: report(done // 2, total))
    report(count // 2, count or 1)
    lines = [sellthrough.normalise(line) for _n, line in rows]
    if lines:
        sellthrough.lock_dealer(dealer)
        found = sellthrough.validate(dealer, lines)
        for index, per_field in found.by_line.items():
            reason = " ".join(f"{field}: {msg}" for field, msgs in per_field.items() for msg in msgs)
            errors.append({"line": rows[index][0], "reason": reason})
    report(count * 3 // 4, count or 1)
    if errors:
        errors.sort(key=lambda e: e["line"])
        report(count or 1, count or 1)
        return {"applied": False, "lines": 0, "quantity": 0, "amount": "0.00", "rows": count, "errors": errors}
    written = sellthrough.write(actor, dealer, lines, source="import", job_id=job_id, objects=False)
    report(count, count)
    return {
        "applied": True,
        "lines": len(written),
        "quantity": sum(r["quantity"] for r in written),
        "amount": fmt(sum(r["amount"] for r in written)),
        "rows": count,
        "errors": [],
    }
