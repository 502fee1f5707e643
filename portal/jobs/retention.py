"""Uploaded files are kept PORTAL_UPLOAD_RETENTION_DAYS (default 90) and then deleted by a daily job.

An import keeps the file it was given in `<PORTAL_STORAGE>/imports/` so that a worker (another process, maybe another
machine sharing the folder) can read it. Once the import has run, the file is only evidence of what was sent: the
job's record keeps the outcome per line. Bank files hold account numbers and names, so they are not kept for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

log = logging.getLogger(__name__)

UPLOADS = "imports"


def purge_uploads(storage: str | Path, days: int, now: dt.datetime | None = None) -> list[str]:
    """Delete uploaded files last written more than `days` days before `now`; answers their names."""
    folder = Path(storage) / UPLOADS
    if days <= 0 or not folder.is_dir():
        return []
    cutoff = (now or dt.datetime.now(dt.UTC)).timestamp() - days * 86_400
    removed = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    if removed:
        log.info("deleted %d uploaded file(s) older than %d days from %s", len(removed), days, folder)
    return removed


def scheduled_purge() -> int:
    """Entry point for the cron schedule (daily): the number of files deleted."""
    from flask import current_app

    from portal.jobs import job_context

    with job_context():
        config = current_app.config
        return len(purge_uploads(config["PORTAL_STORAGE"], config["PORTAL_UPLOAD_RETENTION_DAYS"]))
