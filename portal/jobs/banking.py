"""The bank statement import as a job (PRODUCT.md §14): the file kept as imports/<job id>.<kind>, the bank's layout
(or none: detected) in the job's params."""

from __future__ import annotations

from pathlib import Path

from portal.jobs import report_progress, tracked


@tracked
def run_bank_statement_import(record, path: str):
    from portal.banking.imports import import_statement
    from portal.dealers.models import User
    from portal.extensions import db

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    file = Path(path)
    bank = (record.params or {}).get("bank") or None
    return import_statement(actor, file.read_bytes(), file.name, bank=bank, job_id=record.id, progress=report_progress)
