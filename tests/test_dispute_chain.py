"""A dispute settled with a credit note keeps every chain of statements closed (PRODUCT.md §6), whenever it is settled.

The credit note is dated in the disputed month, so that month's closing changes, and with it the opening of every
later month: `resolve` re-issues the disputed month and the later ones as new versions; the versions issued before
never change. Each step below happens at its own moment (the runs on the 1st, the dispute and its settlement days
later), as in production:

- settled before the next run: only the disputed month changes (the next run states the next month from the
  corrected ledger);
- settled after later months were stated: each of them is re-issued;
- a month that had nothing to state (no entry, no balance) and lies between stated months gets its first statement
  once the credit note leaves it a balance — otherwise the dealer's months would have a hole.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from portal.credit import services as credit
from portal.credit.models import LedgerEntry
from portal.credit.reports import dealer_balance
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.timeutil import freeze, portal_tz
from portal.statements import services
from portal.statements.models import Statement


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=portal_tz())


def _do(app, moment: dt.datetime, fn):
    """Run `fn(dealer)` at `moment` in a request of its own (one transaction, committed)."""
    with app.test_request_context(method="POST"), freeze(moment):
        dealer = db.session.query(Dealer).filter_by(code="CH-1").one()
        result = fn(dealer)
        db.session.commit()
        return result


def _run(app, period: str) -> None:
    """The monthly run of `period` on the 1st of the next month, 08:00."""
    year, month = int(period[:4]), int(period[5:])
    first = dt.date(year + (month == 12), month % 12 + 1, 1)
    _do(app, _at(first, 8), lambda d: services.issue("run", d, period))


def _dispute_and_settle(app, period: str, raised: dt.date, settled: dt.date, amount: str) -> dict:
    def raise_(dealer):
        statement = services.current_version(dealer.id, period)
        invoice_line = next(ln for ln in statement.lines if ln.type == "invoice")
        return services.dispute("admin", statement, [invoice_line.id], "The price is wrong.").id

    dispute_id = _do(app, _at(raised, 10), raise_)

    def settle(dealer):
        from portal.statements.models import Dispute

        item = services.resolve("finance", db.session.get(Dispute, dispute_id), action="credit_note",
                                amount=Decimal(amount), reason="price corrected")  # fmt: skip
        note = db.session.get(LedgerEntry, item.credit_note_id)
        return {"note_date": note.entry_date, "reissued": item.reissued_statement_id}

    return _do(app, _at(settled, 15), settle)


def _chain(app) -> list[tuple[str, int, Decimal, Decimal, Decimal]]:
    """(period, version, opening, closing, ledger balance at month end) of each current version, by period."""
    with app.app_context():
        dealer = db.session.query(Dealer).filter_by(code="CH-1").one()
        rows = (
            db.session.query(Statement)
            .filter(Statement.dealer_id == dealer.id, Statement.superseded_by_id.is_(None))
            .order_by(Statement.period)
            .all()
        )
        out = [(s.period, s.version, s.opening, s.closing, dealer_balance(dealer.id, s.period_end)) for s in rows]
        db.session.remove()
        return out


def _assert_closes(chain) -> None:
    for period, version, _opening, closing, balance in chain:
        assert closing == balance, f"{period} v{version} closes at {closing}, the ledger says {balance}"
    for a, b in zip(chain, chain[1:], strict=False):
        year, month = int(a[0][:4]), int(a[0][5:])
        assert b[0] == f"{year + (month == 12):04d}-{month % 12 + 1:02d}", f"no statement between {a[0]} and {b[0]}"
        assert a[3] == b[2], f"{a[0]} closes at {a[3]}, {b[0]} opens at {b[2]}"


def _versions(app) -> dict[tuple[str, int], tuple[Decimal, Decimal]]:
    with app.app_context():
        out = {(s.period, s.version): (s.opening, s.closing) for s in db.session.query(Statement).all()}
        db.session.remove()
        return out


def _ledger(app, entries) -> None:
    for kind, day, amount in entries:
        def post(dealer, kind=kind, day=day, amount=amount):
            if kind == "invoice":
                credit.post_invoice(None, dealer, number=f"INV-{day:%m%d}", issued_on=day, amount=Decimal(amount))
            else:
                credit.post_payment(None, dealer, amount=Decimal(amount), received_on=day,
                                    reference=f"BANK-{day:%m%d}")  # fmt: skip

        _do(app, _at(day, 11), post)


def test_settled_after_two_more_months_were_stated_every_later_month_is_reissued(app, world):
    world.region("EAST")
    world.dealer("CH-1", "EAST", payment_terms_days=30)
    _ledger(app, [("invoice", dt.date(2026, 1, 10), "5000.00"), ("payment", dt.date(2026, 2, 8), "5000.00"),
                  ("invoice", dt.date(2026, 2, 12), "3000.00"), ("invoice", dt.date(2026, 3, 5), "2000.00"),
                  ("payment", dt.date(2026, 3, 20), "3000.00")])  # fmt: skip
    _run(app, "2026-01")
    _run(app, "2026-02")
    _run(app, "2026-03")
    before = _versions(app)
    # January's dispute is raised in April and settled after the March run
    settled = _dispute_and_settle(app, "2026-01", dt.date(2026, 4, 3), dt.date(2026, 4, 10), "1250.00")
    assert settled["note_date"] == dt.date(2026, 1, 31)  # in the disputed month, as PRODUCT.md §6 says
    chain = _chain(app)
    assert [(p, v) for p, v, *_ in chain] == [("2026-01", 2), ("2026-02", 2), ("2026-03", 2)]
    assert [(p, o, c) for p, _v, o, c, _b in chain] == [
        ("2026-01", Decimal("0.00"), Decimal("3750.00")),
        ("2026-02", Decimal("3750.00"), Decimal("1750.00")),
        ("2026-03", Decimal("1750.00"), Decimal("750.00")),
    ]
    _assert_closes(chain)
    after = _versions(app)
    assert {k: v for k, v in after.items() if k in before} == before  # issued versions never change
    # April has not ended: nothing is stated for it yet; its run will open at March's closing
    assert not any(p == "2026-04" for p, *_ in chain)


def test_settled_before_the_next_run_only_the_month_changes(app, world):
    world.region("EAST")
    world.dealer("CH-1", "EAST", payment_terms_days=30)
    _ledger(app, [("invoice", dt.date(2026, 1, 10), "5000.00"), ("invoice", dt.date(2026, 2, 12), "3000.00")])
    _run(app, "2026-01")
    _dispute_and_settle(app, "2026-01", dt.date(2026, 2, 3), dt.date(2026, 2, 9), "1250.00")
    _run(app, "2026-02")
    chain = _chain(app)
    assert [(p, v) for p, v, *_ in chain] == [("2026-01", 2), ("2026-02", 1)]
    _assert_closes(chain)
    assert chain[1][2] == Decimal("3750.00")


def test_a_month_left_with_a_balance_by_the_credit_note_gets_its_statement(app, world):
    world.region("EAST")
    world.dealer("CH-1", "EAST", payment_terms_days=30)
    world.dealer("CH-2", "EAST", payment_terms_days=30)
    # January: invoiced and paid in full (closing 0); February: no entry at all; March: a new invoice
    _ledger(app, [("invoice", dt.date(2026, 1, 10), "4000.00"), ("payment", dt.date(2026, 1, 25), "4000.00"),
                  ("invoice", dt.date(2026, 3, 5), "2000.00")])  # fmt: skip
    world.invoice("CH-2", number="OTHER-1", amount="100.00", issued_on=dt.date(2026, 2, 3))
    _run(app, "2026-01")
    _run(app, "2026-02")  # nothing to state for CH-1 (CH-2 is stated)
    _run(app, "2026-03")
    assert [p for p, *_ in _chain(app)] == ["2026-01", "2026-03"]
    _dispute_and_settle(app, "2026-01", dt.date(2026, 4, 2), dt.date(2026, 4, 9), "400.00")
    chain = _chain(app)
    assert [(p, v, o, c) for p, v, o, c, _b in chain] == [
        ("2026-01", 2, Decimal("0.00"), Decimal("-400.00")),
        ("2026-02", 1, Decimal("-400.00"), Decimal("-400.00")),
        ("2026-03", 2, Decimal("-400.00"), Decimal("1600.00")),
    ]
    _assert_closes(chain)
