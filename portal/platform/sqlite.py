"""SQLite as the embedded default, made safe for concurrent writers.

pysqlite's own transaction handling is switched off; SQLAlchemy's "begin" event opens the transaction
itself: `BEGIN IMMEDIATE` (the write lock, taken first) for any action that may write — a non-GET request,
a job, a CLI command — and a plain deferred `BEGIN` for reads. With WAL, readers never wait for the writer.
So two actions that check-then-write (the credit gate, payment application) are serialised on SQLite as
the row lock (`SELECT … FOR UPDATE`) serialises them on PostgreSQL.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent: ContextVar[bool] = ContextVar("portal_write_intent", default=False)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def write_intent() -> bool:
    if _write_intent.get():
        return True
    return has_request_context() and request.method not in SAFE_METHODS


@contextmanager
def writing():
    """Mark the enclosed work (a job, a CLI command) as one that writes."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent() else "BEGIN")
