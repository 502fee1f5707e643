"""Sell-through from a CSV file, applied whole or not at all (PRODUCT.md §7).

Header row required (any order): sold_on, sku, serial, quantity, unit_price, city, customer_type; UTF-8 with or
without BOM. Every row is parsed and checked first, in bulk (a few queries for the whole file, not one per row);
a file with any bad row writes nothing and reports every rejected row with its line number (the header is line 1)
and reason. A good file is written in one transaction through the same service as the portal and the API.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask_babel import gettext as _

from portal.inventory import sellthrough
from portal.platform.money import fmt, parse_money

COLUMNS = ("sold_on", "sku", "serial", "quantity", "unit_price", "city", "customer_type")
REQUIRED = ("sold_on", "sku", "quantity", "unit_price")
MAX_ROWS = sellthrough.MAX_LINES
TEMPLATE = (
    "sold_on,sku,serial,quantity,unit_price,city,customer_type\n2026-01-15,P-OIL-5W30,,12,298.00,上海,individual\n"
)


def _parse_row(values: dict) -> tuple[dict, list[str]]:
    problems: list[str] = []
    line: dict = {"sku": values["sku"] or None, "serial": values["serial"] or None, "city": values["city"] or None,
                  "customer_type": values["customer_type"] or None}  # fmt: skip
    try:
        line["sold_on"] = dt.date.fromisoformat(values["sold_on"])
    except ValueError:
        problems.append("sold_on: " + _("Date must be YYYY-MM-DD."))
    try:
        line["quantity"] = int(values["quantity"])
    except ValueError:
        problems.append("quantity: " + _("A whole number from 1 to %(n)s.", n=sellthrough.MAX_QUANTITY))
    try:
        line["unit_price"] = parse_money(values["unit_price"])
    except ValueError as exc:
        problems.append("unit_price: " + str(exc))
    if not line["sku"]:
        problems.append("sku: " + _("The SKU is missing."))
    return line, problems


def parse(text: str, progress=None) -> tuple[list[tuple[int, dict]], list[dict], int]:
    """([(line number, line)], errors [{line, reason}], number of data rows)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [{"line": 1, "reason": _("Missing columns: %(cols)s.", cols=", ".join(missing))}], 0
    reader.fieldnames = header
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    count = 0
    for number, raw in enumerate(reader, start=2):
        if not any((v or "").strip() for k, v in raw.items() if k is not None):
            continue  # blank line
        count += 1
        if count > MAX_ROWS:
            errors.append({"line": number, "reason": _("More than %(n)s rows; split the file.", n=MAX_ROWS)})
            break
        if raw.get(None):
            errors.append({"line": number, "reason": _("More values than columns.")})
            continue
        values = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        line, problems = _parse_row(values)
        if problems:
            errors.append({"line": number, "reason": " ".join(problems)})
        else:
            rows.append((number, line))
        if progress and count % 1000 == 0:
            progress(count)
    if not count:
        errors.append({"line": 1, "reason": _("The file has no sell-through rows.")})
    return rows, errors, count


def import_lines(actor, dealer, text: str, *, job_id: str | None = None, progress=None) -> dict:
    """Check every row, then write every line in this one transaction — or none."""
    report = progress or (lambda done, total: None)
    estimate = max(1, text.count("\n"))  # rows, roughly, while the file is parsed
    rows, errors, count = parse(text, lambda done: report(min(done, estimate) // 2, estimate))
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
