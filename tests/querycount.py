"""Counting the SQL statements a piece of work sends: one helper for every test that bounds them.

    with counting(app) as statements:
        client.get("/home")
    assert len(statements) <= 8, statements.text()

`counting(app)` listens on the app's engine (`before_cursor_execute`) and collects every statement sent while the
block runs, from any session or connection of that engine (requests made with the test client included). Transaction
bookkeeping is left out — BEGIN (SQLite's is sent as a statement, portal/platform/sqlite.py; psycopg's is not seen),
SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT (a nested transaction around a write) — and so are settings
(`SET LOCAL jit = off`, which reports send on PostgreSQL only, portal/analytics/reports.py): a page costs the same
count on SQLite and PostgreSQL. `only=` keeps the statements that contain any of the given strings (e.g. a table's
name: "FROM categories").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db

BOOKKEEPING = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET ")


class Statements(list):
    """The statements seen, in order (a list of SQL strings)."""

    def text(self) -> str:
        """Every statement on a line of its own, shortened: for an assertion's message."""
        return "\n".join(f"{n:3d} {' '.join(s.split())[:160]}" for n, s in enumerate(self, start=1))


@contextmanager
def counting(app, only: str | tuple[str, ...] | None = None) -> Iterator[Statements]:
    with app.app_context():
        engine = db.engine
    wanted = (only,) if isinstance(only, str) else only
    seen = Statements()

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(BOOKKEEPING):
            return
        if wanted is None or any(w in statement for w in wanted):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
