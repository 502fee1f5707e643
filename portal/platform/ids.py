"""Ids taken before the insert, so that a number made from the id goes in with the row (no UPDATE after)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db


def next_id(model) -> int:
    """PostgreSQL: the column's sequence (never handed out twice, never waits). SQLite: every writing transaction
    holds the database's write lock from its first statement (BEGIN IMMEDIATE), so max + 1 is the id the insert
    would take, and nobody else can take it first."""
    bind = db.session.connection()
    table = model.__table__
    if bind.dialect.name == "postgresql":
        return bind.execute(select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))).scalar_one()
    return bind.execute(select(func.coalesce(func.max(table.c.id), 0) + 1)).scalar_one()
