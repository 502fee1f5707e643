"""Migration 0021 (issue 24): the open items' index in the posting's FIFO order, the unique index of reversals partial.

On SQLite and PostgreSQL: the indexes as the migration writes them, a second reversal of an application refused by
the partial unique index, and a downgrade to 0020 and back that keeps the rows (SQLite copies `applications` to drop
or add its unique constraint)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from portal.credit.models import Application, LedgerEntry
from portal.extensions import db


def _definition(app, name: str) -> str:
    """An index's definition as the database keeps it, lower case, spaces and quotes and `public.` left out."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
        found = db.session.execute(text(sql), {"name": name}).scalar()
        db.session.remove()
    return re.sub(r"\s+|\"|public\.|using btree", "", (found or "").lower())


def _unique_constraints(app) -> list[str]:
    with app.app_context():
        from sqlalchemy import inspect

        names = [u["name"] for u in inspect(db.engine).get_unique_constraints("applications")]
        db.session.remove()
    return names


def _applications(app) -> list[tuple]:
    with app.app_context():
        stmt = select(Application.id, Application.amount, Application.reverses_id).order_by(Application.id)
        rows = [tuple(r) for r in db.session.execute(stmt)]
        db.session.remove()
    return rows


@pytest.fixture
def reversed_payment(world):
    """A dealer with two invoices and a payment applied to both (two applications), the first one reversed."""
    from portal.credit import services

    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.invoice("SH-1", amount="300.00", issued_on=dt.date(2026, 1, 5), due_on=dt.date(2026, 2, 4))
    world.invoice("SH-1", amount="300.00", issued_on=dt.date(2026, 1, 6), due_on=dt.date(2026, 2, 5))
    world.payment("SH-1", amount="500.00", received_on=dt.date(2026, 1, 20))

    def reverse():
        first = db.session.execute(select(Application).order_by(Application.id)).unique().scalars().first()
        return services.reverse_application(None, first, dt.date(2026, 1, 25)).reverses_id

    return world._in_request(reverse)


def test_the_open_items_are_indexed_in_fifo_order_and_reversals_alone_are_unique(app):
    pg = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert _definition(app, "ix_ledger_entries_open") == (
        "createindexix_ledger_entries_openonledger_entries(dealer_id,type,due_on,entry_date,id)"
        + ("where(notsettled)" if pg else "wheresettled=0")
    )
    assert _definition(app, "uq_applications_reverses_id") == (
        "createuniqueindexuq_applications_reverses_idonapplications(reverses_id)"
        + ("where(reverses_idisnotnull)" if pg else "wherereverses_idisnotnull")
    )
    assert "uq_applications_reverses_id" not in _unique_constraints(app)  # an index now, no longer a constraint


def test_an_application_is_still_reversed_at_most_once(app, reversed_payment):
    rows = _applications(app)
    assert [r[2] for r in rows].count(None) == 2 and rows[-1][2] == reversed_payment  # two applications, a reversal
    with app.app_context():
        again = {c: getattr(db.session.get(Application, rows[-1][0]), c) for c in ("dealer_id", "credit_id",
                 "invoice_id", "applied_on", "created_by", "created_at")}  # fmt: skip
        with pytest.raises(IntegrityError):
            db.session.execute(
                insert(Application).values(**again, amount=Decimal("-1.00"), reverses_id=reversed_payment)
            )
            db.session.flush()
        db.session.rollback()
        db.session.remove()


def test_down_to_0020_and_up_again_keeps_the_rows_and_the_rules(app, reversed_payment):
    before = _applications(app)
    with app.app_context():
        open_items = db.session.execute(select(LedgerEntry.id).where(~LedgerEntry.settled).order_by(LedgerEntry.id))
        open_before = open_items.scalars().all()
        db.session.remove()
    try:
        with app.app_context():
            downgrade(revision="0020")
        assert _definition(app, "ix_ledger_entries_open").split("(dealer_id")[1].startswith(",type)where")
        assert "uq_applications_reverses_id" in _unique_constraints(app)  # the constraint again
        assert _applications(app) == before
    finally:
        with app.app_context():
            upgrade()
    assert _applications(app) == before
    assert "entry_date,id)" in _definition(app, "ix_ledger_entries_open")
    with app.app_context():
        open_after = db.session.execute(select(LedgerEntry.id).where(~LedgerEntry.settled).order_by(LedgerEntry.id))
        assert open_after.scalars().all() == open_before
        db.session.remove()
