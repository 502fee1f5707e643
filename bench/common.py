"""What every benchmark needs: the database, the app, a fresh schema, bulk loading, timing and printing."""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench"


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL


def ensure_database(url: str) -> None:
    """Create the benchmark database when it is missing (never touches the test suite's database)."""
    name = conninfo_to_dict(url).get("dbname")
    if not name:
        raise SystemExit(f"BENCH_DATABASE_URL names no database: {url}")
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to benchmark in the database {name!r}: its public schema is dropped")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            say(f"created database {name}")


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)


def make_app(url: str, session_options: str | None = None):
    """The portal on the benchmark database; `session_options` (e.g. "-c jit=off") go to every connection."""
    from portal import create_app
    from portal.config import normalise_database_url

    overrides = {
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "REDIS_URL": None,
    }
    if session_options:
        overrides["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "connect_args": {"options": session_options}}
    return create_app(overrides)


def load() -> str:
    """The machine's load average (other work on a 2-core machine skews the figures)."""
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def reset_schema(app, url: str) -> None:
    """Empty the database and build the schema with the app's own Alembic migrations."""
    import flask_migrate

    from portal.extensions import db

    with app.app_context():
        db.engine.dispose()
    with connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


def server_settings(url: str) -> dict[str, str]:
    names = ("server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit")
    with connect(url) as conn:
        return {n: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(n))).fetchone()[0] for n in names}


# ---------------------------------------------------------------- bulk loading


@contextmanager
def without_keys(conn: psycopg.Connection, tables: Iterable[str]):
    """Drop the primary keys, unique constraints, foreign keys and indexes of `tables` (and the foreign keys
    pointing at them) for a bulk load, then put back exactly what was there (same names, same definitions)."""
    tables = list(tables)
    oids = [conn.execute("SELECT %s::regclass::oid", (t,)).fetchone()[0] for t in tables]
    constraints = conn.execute(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
        FROM pg_constraint
        WHERE contype IN ('p', 'u', 'f') AND (conrelid = ANY(%(oids)s) OR confrelid = ANY(%(oids)s))
        ORDER BY contype = 'f' DESC, conname
        """,
        {"oids": oids},
    ).fetchall()
    indexes = conn.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%(oids)s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
        ORDER BY 1
        """,
        {"oids": oids},
    ).fetchall()
    for table, name, _definition, _type in constraints:  # foreign keys come first
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    for name, _definition in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    conn.commit()
    yield
    for table, name, definition, _type in sorted(constraints, key=lambda c: c[3] == "f"):  # keys before FKs
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )
        if _type != "f":
            conn.commit()
    for _name, definition in indexes:
        conn.execute(sql.SQL(definition))
        conn.commit()
    conn.commit()


def reset_sequences(conn: psycopg.Connection, tables: Iterable[str]) -> None:
    """After loading explicit ids: the next id of each table's serial follows its largest id."""
    for table in tables:
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({t}, 'id'), COALESCE((SELECT max(id) FROM {i}), 0) + 1, false)"
            ).format(t=sql.Literal(table), i=sql.Identifier(table))
        )
    conn.commit()


def copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], lines: Iterable[str]) -> None:
    """COPY text-format lines (already tab-separated, newline-terminated) into a table."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= 20000:
                copy.write("".join(batch))
                batch.clear()
        if batch:
            copy.write("".join(batch))


def cents(value: int) -> str:
    """Integer cents as a money literal ('1234.05'); amounts are never floats."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}.{value % 100:02d}"


# ---------------------------------------------------------------- timing and output


def say(message: str = "") -> None:
    print(message, flush=True)


@contextmanager
def stopwatch(label: str, results: dict | None = None):
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    if results is not None:
        results[label] = elapsed
    say(f"  {label}: {elapsed:.1f} s")


def median_of(fn: Callable[[], object], runs: int = 5, warmup: int = 1) -> tuple[float, list[float], object]:
    """Median wall time of `runs` calls after `warmup` unmeasured ones; also every time and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def python_version() -> str:
    return sys.version.split()[0]
