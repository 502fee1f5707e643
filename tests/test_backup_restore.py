"""deploy/backup.sh and deploy/restore.sh on PostgreSQL: a backup restored into an empty database and storage
directory gives the same rows and the same files, and the portal runs on it (a user logs in); a damaged backup is
refused before anything is touched, and nothing happens without --yes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from portal.extensions import db
from tests.conftest import login, make_app

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture
def scratch_url(app, is_postgres):
    """An empty database beside the test database, dropped afterwards."""
    if not is_postgres:
        pytest.skip("pg_dump / pg_restore: PostgreSQL only (TEST_DATABASE_URL)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore are not installed (postgresql-client)")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    name = f"{url.database}_restore"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(script: str, *args, **env):
    return subprocess.run(
        ["bash", str(DEPLOY / script), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = db.metadata.sorted_tables
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in tables}
            counts["alembic_version"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return counts
    finally:
        engine.dispose()


def test_a_backup_restores_the_database_and_the_statement_files(app, world, scratch_url, tmp_path):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    name = world.user("finance")
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    storage = tmp_path / "storage"
    pdf = storage / "statements" / "SH-1" / "2026-10-v1.pdf"
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4 statement of SH-1\n" + bytes(range(256)))

    made = run("backup.sh", DATABASE_URL=source_url, PORTAL_STORAGE=str(storage), BACKUP_DIR=str(tmp_path / "bk"))
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip().splitlines()[-1])
    assert {p.name for p in backup.iterdir()} == {"portal.dump", "storage.tar.gz", "SHA256SUMS"}

    target = tmp_path / "restored" / "storage"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("from before the restore")
    refused = run("restore.sh", str(backup), DATABASE_URL=scratch_url, PORTAL_STORAGE=str(target))
    assert refused.returncode == 2 and "--yes" in refused.stderr and (target / "stale.txt").exists()

    done = run("restore.sh", str(backup), "--yes", DATABASE_URL=scratch_url, PORTAL_STORAGE=str(target))
    assert done.returncode == 0, done.stderr
    assert table_counts(scratch_url) == table_counts(source_url)
    assert (target / "statements" / "SH-1" / "2026-10-v1.pdf").read_bytes() == pdf.read_bytes()
    assert not (target / "stale.txt").exists()
    kept = list(target.parent.glob("storage.before-restore-*"))
    assert len(kept) == 1 and (kept[0] / "stale.txt").exists()

    restored = make_app(scratch_url)  # the portal on the restored database: the user logs in
    try:
        assert login(restored.test_client(), name).status_code == 302
    finally:
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_damaged_backup_is_refused_before_anything_is_touched(app, world, scratch_url, tmp_path):
    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    made = run("backup.sh", DATABASE_URL=source_url, PORTAL_STORAGE=str(tmp_path / "none"), BACKUP_DIR=str(tmp_path))
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip().splitlines()[-1])
    with (backup / "portal.dump").open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\xff\x00\xff")
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    refused = run("restore.sh", str(backup), "--yes", DATABASE_URL=scratch_url, PORTAL_STORAGE=str(target))
    assert refused.returncode != 0 and "FAILED" in refused.stdout + refused.stderr
    assert (target / "keep.txt").exists()
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    finally:
        engine.dispose()
