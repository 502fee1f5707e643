"""Imports as jobs: the bank file of payments (CSV or XLSX, kept as imports/<job id>.<kind>)."""

from __future__ import annotations

from pathlib import Path

from portal.jobs import report_progress, tracked


@tracked
def run_payment_import(record, path: str):
    from portal.credit.imports import import_payments
    from portal.dealers.models import User
    from portal.extensions import db

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    file = Path(path)
    return import_payments(actor, file.read_bytes(), file.name, progress=report_progress)
