"""§6 invariants on generated ledgers: closing = opening + debits − credits, a month's closing is the next month's
opening, the closing is the ledger balance at month end, the running balance adds up, and the ageing at month end
sums to the closing."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from portal.credit import reports
from portal.credit import services as credit
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.statements import services
from portal.statements.models import Statement

PERIODS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]


def _generate(app, codes: list[str], seed: int) -> None:
    """A random ledger over Jan–Jun 2026: invoices, payments (some before any invoice: unapplied cash), credit
    notes, some of them on month ends and month starts."""
    rng = random.Random(seed)
    with app.test_request_context(method="POST"):
        for code in codes:
            dealer = db.session.query(Dealer).filter_by(code=code).one()
            for n in range(rng.randint(5, 40)):
                day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 180))
                if rng.random() < 0.15:
                    day = day.replace(day=1)
                kind = rng.random()
                amount = Decimal(rng.randint(100, 5_000_000)) / 100
                if kind < 0.55:
                    credit.post_invoice(None, dealer, number=f"{code}-I{n}", issued_on=day, amount=amount)
                elif kind < 0.9:
                    credit.post_payment(None, dealer, amount=amount, received_on=day, reference=f"{code}-P{n}")
                else:
                    credit.post_credit_note(None, dealer, amount=amount, issued_on=day, reason="goodwill")
        db.session.commit()


@pytest.mark.parametrize("seed", [1, 2])
def test_every_month_of_every_dealer_keeps_the_invariants(app, world, seed):
    codes = [world.dealer() for _ in range(3)]
    _generate(app, codes, seed)
    for code in codes:
        for period in PERIODS:
            world.statement(code, period)
    with app.app_context():
        for code in codes:
            dealer = db.session.query(Dealer).filter_by(code=code).one()
            previous = None
            for period in PERIODS:
                statement = services.current_version(dealer.id, period)
                if statement is None:  # nothing to state: no entry yet
                    start, end = services.period_bounds(period)
                    assert previous is None and reports.ledger(dealer.id, None, end)["items"] == []
                    continue
                assert services.verify(statement) == []
                assert statement.closing == statement.opening + statement.debits - statement.credits
                assert statement.closing == reports.dealer_balance(dealer.id, statement.period_end)
                if previous is not None:
                    assert statement.opening == previous.closing
                ageing = {k: Decimal(v) for k, v in statement.ageing.items()}
                buckets = sum(ageing[b] for b in reports.BUCKETS) + ageing["unapplied"]
                assert buckets == ageing["total"] == statement.closing
                previous = statement


def test_issuing_again_with_the_same_ledger_returns_the_same_version(app, world):
    code = world.dealer()
    world.invoice(code, amount="1200.00", issued_on=dt.date(2026, 3, 4))
    first = world.statement(code, "2026-03")
    assert world.statement(code, "2026-03") == first
    assert world.count(Statement) == 1


def test_a_changed_ledger_makes_a_new_version_and_supersedes_the_old_one(app, world):
    code = world.dealer()
    world.invoice(code, amount="1200.00", issued_on=dt.date(2026, 3, 4))
    first = world.statement(code, "2026-03")
    world.payment(code, amount="200.00", received_on=dt.date(2026, 3, 20))
    second = world.statement(code, "2026-03")
    assert second != first
    with app.app_context():
        old, new = db.session.get(Statement, first), db.session.get(Statement, second)
        assert (old.version, new.version) == (1, 2)
        assert old.superseded_by_id == new.id and new.superseded_by_id is None
        assert old.closing == Decimal("1200.00") and new.closing == Decimal("1000.00")
        assert [line.number for line in old.lines] == [line.number for line in new.lines][:1]


def test_a_month_without_any_movement_or_balance_is_not_stated(app, world):
    code = world.dealer()
    world.invoice(code, amount="50.00", issued_on=dt.date(2026, 5, 4))
    assert world.statement(code, "2026-04") is None  # nothing before May
    assert world.statement(code, "2026-06") is not None  # no movement, but a balance to state


@pytest.mark.parametrize("period", ["2026-13", "26-01", "", "2099-01"])
def test_bad_or_open_months_are_refused(app, world, period):
    from portal.platform.errors import Invalid

    code = world.dealer()
    with pytest.raises(Invalid):
        world.statement(code, period)


def test_the_stored_pdf_shows_the_same_totals_as_the_data(app, client, world):
    from pdfminer.high_level import extract_text

    from portal.platform.pdf import money_text

    code = world.dealer(name="宁波 A&B <汽车> 销售有限公司")
    _generate(app, [code], seed=7)
    statement_id = world.statement(code, "2026-03") or world.statement(code, "2026-04")
    world.user("finance", username="fin.pdf")
    resp = client.get(f"/api/v1/statements/{statement_id}/pdf", headers=world.auth("fin.pdf"))
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = extract_text(__import__("io").BytesIO(resp.data))
    with app.app_context():
        statement = db.session.get(Statement, statement_id)
        for amount in (statement.opening, statement.debits, statement.credits, statement.closing):
            assert money_text(amount) in text, amount
        for line in statement.lines[:5]:
            assert line.number in text
        assert "宁波 A&B <汽车> 销售有限公司" in text.replace("\n", "")
        assert statement.pdf_path and (services.storage_root() / statement.pdf_path).is_file()
