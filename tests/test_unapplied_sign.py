"""Unapplied cash has one sign everywhere: negative (§5 "a separate negative column") — in the ageing API, the
receivables and credit pages, the CSV export, the statement (API, page and PDF) — and the buckets plus that column
equal the total. Statements stored before the sign was fixed are migrated and keep their content hash."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from pdfminer.high_level import extract_text
from sqlalchemy import select

from portal.extensions import db
from portal.statements.models import Statement
from tests.conftest import login

AS_OF = "2026-03-31"


@pytest.fixture
def prepaid(world):
    """A dealer that paid 1,500.00 against a 1,000.00 invoice: 500.00 of unapplied cash."""
    world.region("PRE")
    dealer = world.dealer("PRE-1", "PRE")
    world.invoice(dealer, "INV-P1", "1000.00", issued_on=dt.date(2026, 3, 1), due_on=dt.date(2026, 3, 31))
    world.payment(dealer, "1500.00", received_on=dt.date(2026, 3, 10), reference="BANK-P1")
    return {"dealer": dealer, "fin": world.user("finance"), "admin": world.user("dealer_admin", dealer=dealer)}


def _buckets_plus_unapplied(row: dict) -> str:
    from decimal import Decimal

    keys = ("not_due", "1_30", "31_60", "61_90", "over_90", "unapplied")
    return str(sum((Decimal(row[k]) for k in keys), Decimal("0.00")))


def test_the_ageing_api_answers_unapplied_cash_negative(client, world, prepaid):
    answer = client.get(
        f"/api/v1/receivables/ageing?as_of={AS_OF}&group_by=dealer", headers=world.auth(prepaid["fin"])
    ).get_json()
    (row,) = answer["rows"]
    assert row["unapplied"] == "-500.00" and row["total"] == "-500.00"
    assert _buckets_plus_unapplied(row) == row["total"]
    assert answer["totals"]["unapplied"] == "-500.00"


def test_pages_and_the_export_show_the_same_negative_figure(client, world, prepaid):
    login(client, prepaid["fin"])
    page = client.get(f"/receivables?as_of={AS_OF}&group_by=dealer").get_data(as_text=True)
    assert "-500.00" in page and "−500.00" not in page and "--500.00" not in page
    exported = client.get(f"/receivables?as_of={AS_OF}&group_by=dealer&format=csv").get_data(as_text=True)
    (row,) = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert row["unapplied"].lstrip("'") == "-500.00"
    credit_page = client.get(f"/dealers/{prepaid['dealer']}/credit").get_data(as_text=True)
    assert "-500.00" in credit_page


def test_the_statement_shows_unapplied_cash_negative_in_the_api_the_page_and_the_pdf(client, world, prepaid):
    statement_id = world.statement(prepaid["dealer"], "2026-03")
    headers = world.auth(prepaid["admin"])
    ageing = client.get(f"/api/v1/statements/{statement_id}", headers=headers).get_json()["ageing"]
    assert ageing["unapplied"] == "-500.00" and ageing["total"] == "-500.00"
    pdf = client.get(f"/api/v1/statements/{statement_id}/pdf", headers=headers)
    assert pdf.status_code == 200
    text = extract_text(io.BytesIO(pdf.data))
    assert "-500.00" in text and "+500.00" not in text
    login(client, prepaid["admin"])
    assert "-500.00" in client.get(f"/statements/{statement_id}").get_data(as_text=True)


def test_statements_stored_with_the_old_sign_are_migrated_and_keep_their_hash(app, world, prepaid):
    """Downgrade one step (the old, positive sign), upgrade again: the figure is negative and a re-issue finds the
    statement unchanged (no new version for a change of sign alone)."""
    from flask_migrate import downgrade, upgrade

    statement_id = world.statement(prepaid["dealer"], "2026-03")
    with app.app_context():
        downgrade(revision="0011")
        # the table's column, not the model: the model's joined dealer has columns of later revisions
        ageing = select(Statement.__table__.c.ageing).where(Statement.__table__.c.id == statement_id)
        old = db.session.execute(ageing).scalar_one()["unapplied"]
        db.session.rollback()
        upgrade()
        new = db.session.execute(ageing).scalar_one()["unapplied"]
        db.session.remove()
    assert (old, new) == ("500.00", "-500.00")
    assert world.statement(prepaid["dealer"], "2026-03") == statement_id  # unchanged: the same version answered
