"""The migrations build the whole schema, and they agree with the models (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal.extensions import db


def _diff(app):
    with app.app_context(), db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, db.metadata)


def test_the_migrated_schema_matches_the_models(app):
    # the session fixture built the schema with `upgrade()` only
    assert _diff(app) == []


def test_every_model_table_exists_after_upgrade(app):
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_a_model_change_without_a_migration_is_detected(app):
    from sqlalchemy import Column, String

    from portal.dealers.models import Dealer

    column = Column("website", String(200))
    Dealer.__table__.append_column(column)
    try:
        diffs = _diff(app)
    finally:
        Dealer.__table__._columns.remove(column)
    assert any(d[0] == "add_column" and d[3].name == "website" for d in diffs)


def test_downgrade_to_base_and_upgrade_again(app):
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
    assert _diff(app) == []
