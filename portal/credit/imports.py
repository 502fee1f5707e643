"""The bank file: a CSV of payments, applied whole or not at all.

Columns (header row required, any order): dealer_code, amount, received_on (YYYY-MM-DD), reference.
Every row is checked first; a file with any bad row posts nothing and reports every rejected row with its
line number and reason. A reference already recorded for the dealer (or twice in the file) is refused, so a
file imported twice is not counted twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask_babel import gettext as _
from sqlalchemy import select

from portal.credit import services
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.money import fmt, parse_money
from portal.platform.timeutil import today

COLUMNS = ("dealer_code", "amount", "received_on", "reference")
MAX_ROWS = 50_000


def parse_rows(text: str) -> tuple[list[dict], list[dict]]:
    """(good rows, errors); each error is {line, reason}. Line numbers count the header as line 1."""
    errors: list[dict] = []
    rows: list[dict] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [{"line": 1, "reason": _("Missing columns: %(cols)s.", cols=", ".join(missing))}]
    reader.fieldnames = header
    dealers = {d.code: d for d in db.session.execute(select(Dealer)).unique().scalars()}
    seen: set[tuple[int, str]] = set()
    for line, raw in enumerate(reader, start=2):
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append({"line": line, "reason": _("More than %(n)s rows; split the file.", n=MAX_ROWS)})
            break
        if raw.get(None):
            errors.append({"line": line, "reason": _("More values than columns.")})
            continue
        values = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        problems = []
        dealer = dealers.get(values["dealer_code"])
        if dealer is None:
            problems.append(_("Unknown dealer %(code)s.", code=values["dealer_code"] or "—"))
        try:
            amount = parse_money(values["amount"], allow_zero=False)
        except ValueError as exc:
            amount = None
            problems.append(_("Amount: %(why)s", why=str(exc)))
        try:
            received_on = dt.date.fromisoformat(values["received_on"])
            if received_on > today():
                problems.append(_("The date is in the future."))
        except ValueError:
            received_on = None
            problems.append(_("Date must be YYYY-MM-DD."))
        reference = values["reference"]
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
        if problems:
            errors.append({"line": line, "reason": " ".join(problems)})
        else:
            rows.append(
                {"line": line, "dealer": dealer, "amount": amount, "received_on": received_on, "reference": reference}
            )
    if not rows and not errors:
        errors.append({"line": 1, "reason": _("The file has no payment rows.")})
    return rows, errors


def import_payments(actor, text: str, progress=None) -> dict:
    """Check every row, then post all payments in this one transaction — or none."""
    rows, errors = parse_rows(text)
    if errors:
        return {"applied": False, "payments": 0, "total": "0.00", "errors": errors}
    total = 0
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
