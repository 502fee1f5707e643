"""Imports as jobs: the bank file of payments."""

from __future__ import annotations

from pathlib import Path

from jobs import report_progress, tracked


@tracked
def run_payment_import(record, path: str):
    from portal.credit.imports import import_payments
    from portal.dealers.models import User
    from portal.extensions import db

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    text = Path(path).read_text(encoding="utf-8-sig")
    return import_payments(actor, text, progress=report_progress)
