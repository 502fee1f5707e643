"""Uploaded import files are kept PORTAL_UPLOAD_RETENTION_DAYS (default 90), then deleted by a daily job that the
worker's schedule runs; files younger than that, other storage (statement PDFs) and a retention of 0 are left."""

from __future__ import annotations

import datetime as dt
import os

from portal.jobs.retention import purge_uploads, scheduled_purge

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


def _file(folder, name: str, age_days: float):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"dealer_code,amount\n")
    stamp = (NOW - dt.timedelta(days=age_days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_uploads_older_than_the_retention_are_deleted_and_nothing_else(tmp_path):
    imports = tmp_path / "imports"
    old = _file(imports, "old.csv", 91)
    edge = _file(imports, "edge.xlsx", 89.9)
    pdf = _file(tmp_path / "statements", "ST-1.pdf", 400)
    assert purge_uploads(tmp_path, 90, now=NOW) == ["old.csv"]
    assert not old.exists() and edge.exists() and pdf.exists()
    assert purge_uploads(tmp_path, 0, now=NOW) == []  # 0 keeps everything
    assert purge_uploads(tmp_path / "nowhere", 90, now=NOW) == []


def test_the_scheduled_purge_uses_the_configured_storage_and_days(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "PORTAL_STORAGE", str(tmp_path))
    monkeypatch.setitem(app.config, "PORTAL_UPLOAD_RETENTION_DAYS", 30)
    _file(tmp_path / "imports", "month-old.csv", 45)
    _file(tmp_path / "imports", "fresh.csv", 0)
    with app.app_context():
        assert scheduled_purge() == 1
    assert sorted(p.name for p in (tmp_path / "imports").iterdir()) == ["fresh.csv"]


def test_the_worker_schedules_the_purge_daily(app, monkeypatch):
    import rq.cron
    from croniter import croniter

    import portal
    from portal.cli import run_cron

    registered = {}

    class Scheduler:
        def __init__(self, connection):
            pass

        def register(self, func, queue_name, *, cron, job_timeout, name):
            registered[name] = (func, cron)

        def start(self):
            pass

    monkeypatch.setattr(rq.cron, "CronScheduler", Scheduler)
    monkeypatch.setattr(portal, "create_app", lambda: app)
    run_cron()
    func, cron = registered["upload-purge"]
    assert func is scheduled_purge and app.config["PORTAL_UPLOAD_RETENTION_DAYS"] == 90
    start = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
    assert croniter(cron, start).get_next(dt.datetime) - start == dt.timedelta(hours=19, minutes=30)
