"""PORTAL_DB_PGBOUNCER: behind PgBouncer's transaction pooling psycopg must prepare no server-side statements (a
transaction may land on another server connection: `prepared statement "_pg3_0" already exists`)."""

from __future__ import annotations

from portal.config import Config


def test_pgbouncer_turns_off_server_side_prepared_statements(tmp_path):
    on = Config(str(tmp_path), env={"SECRET_KEY": "k", "PORTAL_DB_PGBOUNCER": "1"})
    assert on.SQLALCHEMY_ENGINE_OPTIONS["connect_args"] == {"prepare_threshold": None}
    assert on.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True


def test_without_pgbouncer_psycopg_keeps_its_defaults(tmp_path):
    off = Config(str(tmp_path), env={"SECRET_KEY": "k"})
    assert "connect_args" not in off.SQLALCHEMY_ENGINE_OPTIONS
