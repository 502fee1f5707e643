"""Writing many rows of one table inside the current transaction, fast on both databases.

PostgreSQL: COPY … FROM STDIN through the session's own psycopg connection (same transaction), about 3× faster than
executemany and 15× faster than one multi-row INSERT, whose compilation dominates for large row sets (measured on
2,000 statement lines: 100 ms, 220 ms, 1.7 s). SQLite: executemany.
"""

from __future__ import annotations

from sqlalchemy import Table, insert

from portal.extensions import db


def insert_rows(table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys, column names of `table`) in the session's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:  # noqa: S608
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))
