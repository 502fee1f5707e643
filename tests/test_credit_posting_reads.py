"""What a payment reads (bench/README.md, "receivables": posting at 1M invoices within 1.5× of 10k): the oldest open
invoices a page at a time until the money is used up — the same invoices, in the same FIFO order, as reading all the
open items — and the overdue re-evaluation of a held dealer asks SQL for the oldest open due date instead of loading
every open invoice."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, update

from portal.credit import services
from portal.credit.models import Application, LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from tests.test_ageing_properties import post_step

START = dt.date(2025, 1, 1)
_codes = itertools.count(1)


def _dealer() -> Dealer:
    region = db.session.query(Region).filter_by(code="READS").one_or_none()
    if region is None:
        region = Region(code="READS", name="reads", path="/READS/")
        db.session.add(region)
    dealer = Dealer(
        code=f"RD-{next(_codes)}", name="r", region=region, tier="A", channel_type="chain", payment_terms_days=30
    )
    db.session.add(dealer)
    db.session.flush()
    return dealer


def _open_book(dealer: Dealer) -> None:
    """45 open invoices: due dates out of issue order, several on one due date (FIFO then goes by issue date and id),
    some partly paid, one marked open with nothing left on it (a stale marker: passed over)."""
    for n in range(45):
        issued = START + dt.timedelta(days=(44 - n) // 2)  # later numbers issued earlier: FIFO is not id order
        due = START + dt.timedelta(days=30 + (n * 7) % 20)  # many invoices share a due date
        amount = Decimal(100 + n * 3) + Decimal("0.25")
        services.post_invoice(None, dealer, number=f"I{n:02d}", issued_on=issued, due_on=due, amount=amount)
    services.post_payment(None, dealer, amount=Decimal("250.10"), received_on=START + dt.timedelta(days=50),
                          reference="PART")  # fmt: skip
    paid = select(LedgerEntry.id).where(
        LedgerEntry.dealer_id == dealer.id, LedgerEntry.type == "invoice", LedgerEntry.settled.is_(True)
    )
    assert len(db.session.execute(paid).all()) == 1  # I40 (220.25, due first, issued first) paid in full, I20 in part
    db.session.execute(update(LedgerEntry).where(LedgerEntry.id.in_(paid)).values(settled=False))
    db.session.expire_all()


def test_the_pages_reach_the_same_invoices_as_reading_every_open_one(app):
    with app.test_request_context(method="POST"):
        dealer = _dealer()
        _open_book(dealer)
        everything = services._open_invoices([dealer.id])[dealer.id]
        assert len(everything) == 44 and "I40" not in {i.number for i, _r in everything}  # the stale marker
        total = sum((r for _i, r in everything), Decimal(0))
        firsts = [sum((r for _i, r in everything[:k]), Decimal(0)) for k in (1, 7, 8, 9, 39, 40, 41, 44)]
        covers = [Decimal("0.01"), *firsts, *(c + Decimal("0.01") for c in firsts), total * 2]
        for cover in covers:
            expected = services._open_invoices([dealer.id], {dealer.id: cover})[dealer.id]
            got = services._reached_invoices(dealer.id, cover)
            assert [(i.number, r) for i, r in got] == [(i.number, r) for i, r in expected], cover
        db.session.rollback()


def test_a_payment_reads_one_page_when_it_pays_a_few_invoices(app):
    """A payment for the two oldest of 44 open invoices sums the applications of one page (8 invoices): one page
    query; the FIFO result is the oldest two."""
    with app.test_request_context(method="POST"):
        dealer = _dealer()
        _open_book(dealer)
        oldest = services._open_invoices([dealer.id])[dealer.id][:2]
        amount = sum((r for _i, r in oldest), Decimal(0))
        pages: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if "ledger_entries.settled" in statement and "LIMIT" in statement.upper() and "applications" in statement:
                pages.append(statement)

        engine = db.engine
        event.listen(engine, "after_cursor_execute", count)
        try:
            payment = services.post_payment(None, dealer, amount=amount, received_on=START, reference="TWO")
        finally:
            event.remove(engine, "after_cursor_execute", count)
        made = db.session.execute(select(Application).where(Application.credit_id == payment.id)).scalars().all()
        assert sorted((a.invoice.number, a.amount) for a in made) == sorted((i.number, r) for i, r in oldest)
        assert len(pages) == 1
        db.session.rollback()


operation = st.tuples(
    st.sampled_from(["invoice", "invoice", "payment", "credit_note", "reverse"]),
    st.integers(min_value=0, max_value=300),  # day offset
    st.integers(min_value=1, max_value=300_000),  # cents
    st.integers(min_value=0, max_value=120),  # days until due (invoices); a choice (reversals)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=20), probes=st.lists(st.integers(-5, 500), min_size=1, max_size=5))
def test_the_oldest_overdue_invoice_is_the_one_the_open_items_show(app, ops, probes):
    """`oldest_overdue_days` (one aggregate in SQL) equals the oldest due date among the invoices open on the day,
    issued by then and due before it, as `_invoice_residuals` lists them — whatever was paid, credited or reversed."""
    with app.test_request_context(method="POST"):
        dealer = _dealer()
        for n, (kind, day, cents, extra) in enumerate(ops):
            on = START + dt.timedelta(days=day)
            amount = Decimal(cents) / 100
            post_step(dealer, n, kind, on, amount, extra, pick=extra)
        db.session.flush()
        for offset in probes:
            on = START + dt.timedelta(days=offset)
            open_items = services._invoice_residuals(dealer.id, on)
            overdue = [(on - i.due_on).days for i, _r in open_items if i.entry_date <= on and i.due_on < on]
            assert services.oldest_overdue_days(dealer.id, on) == max(overdue, default=0), on
        db.session.rollback()
