"""Sell-through import as a job: the dealer's CSV or XLSX file (kept as imports/<job id>.<kind>), applied whole or
not at all."""

from __future__ import annotations

from pathlib import Path

from portal.jobs import report_progress, tracked


@tracked
def run_sell_through_import(record, path: str):
    from portal.dealers.models import Dealer, User
    from portal.extensions import db
    from portal.inventory.imports import import_lines

    actor = db.session.get(User, record.started_by_id) if record.started_by_id else None
    dealer = db.session.get(Dealer, record.dealer_id)
    file = Path(path)
    return import_lines(actor, dealer, file.read_bytes(), file.name, job_id=record.id, progress=report_progress)
