"""The `settled` marker on ledger entries (migration 0017): exact after every writer of applications, rebuilt by
`refresh_settled` and by the migration's backfill, and what lets the open items be read without the history."""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from portal.credit import services
from portal.credit.models import Application, LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db

START = dt.date(2025, 1, 1)
_codes = itertools.count(1)

operation = st.tuples(
    st.sampled_from(["invoice", "invoice", "payment", "credit_note", "credit_note_for", "apply", "reverse"]),
    st.integers(min_value=0, max_value=200),  # day offset
    st.integers(min_value=1, max_value=300_000),  # cents
    st.integers(min_value=0, max_value=1_000),  # a choice among the candidates
)


def _dealer() -> Dealer:
    region = db.session.query(Region).filter_by(code="SETL").one_or_none()
    if region is None:
        region = Region(code="SETL", name="settled", path="/SETL/")
        db.session.add(region)
    dealer = Dealer(
        code=f"S-{next(_codes)}", name="s", region=region, tier="A", channel_type="chain", payment_terms_days=30
    )
    db.session.add(dealer)
    db.session.flush()
    return dealer


def _left(entry_id: int, type_: str) -> Decimal:
    """What is open on an invoice or unapplied on a credit, summed from the applications (all of them)."""
    column = Application.invoice_id if type_ == "invoice" else Application.credit_id
    applied = db.session.execute(select(Application.amount).where(column == entry_id)).scalars().all()
    return sum(applied, Decimal(0))


def _wrong_markers(dealer_id: int) -> list[tuple[str, bool, Decimal]]:
    """Entries whose marker disagrees with their applications: (number, marker, amount left)."""
    db.session.flush()
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.type, LedgerEntry.number, LedgerEntry.amount, LedgerEntry.settled).where(
            LedgerEntry.dealer_id == dealer_id
        )
    ).all()
    wrong = []
    for id_, type_, number, amount, settled in rows:
        left = amount - _left(id_, type_)
        if settled != (left == 0):
            wrong.append((number, settled, left))
    return wrong


def _do(dealer: Dealer, n: int, kind: str, day: int, cents: int, pick: int) -> None:
    on = START + dt.timedelta(days=day)
    amount = Decimal(cents) / 100
    invoices = (
        db.session.execute(select(LedgerEntry).where(LedgerEntry.dealer_id == dealer.id, LedgerEntry.type == "invoice"))
        .scalars()
        .all()
    )
    if kind == "invoice":
        services.post_invoice(None, dealer, number=f"I{n}", issued_on=on, amount=amount, due_on=on)
    elif kind == "payment":
        services.post_payment(None, dealer, amount=amount, received_on=on, reference=f"R{n}")
    elif kind == "credit_note" or (kind == "credit_note_for" and not invoices):
        services.post_credit_note(None, dealer, amount=amount, issued_on=on, reason="prop")
    elif kind == "credit_note_for":
        invoice = invoices[pick % len(invoices)]
        services.post_credit_note(
            None, dealer, amount=amount, issued_on=on, reason="prop", invoice_number=invoice.number
        )
    elif kind == "apply":
        # a manual application of part (or all) of an unapplied credit to an open invoice, as finance makes it
        credits = services._credit_unapplied(dealer.id)
        open_invoices = services._invoice_residuals(dealer.id)
        if credits and open_invoices:
            credit, unapplied = credits[pick % len(credits)]
            invoice, residual = open_invoices[pick % len(open_invoices)]
            whole = min(unapplied, residual)
            services.apply_credit(None, credit, invoice, whole if pick % 2 else max(Decimal("0.01"), whole / 2), on)
    else:
        live = [
            a
            for a in db.session.query(Application).filter_by(dealer_id=dealer.id).all()
            if a.amount > 0 and not db.session.query(Application).filter_by(reverses_id=a.id).count()
        ]
        if live:
            services.reverse_application(None, live[pick % len(live)], on)


def _residuals_as_of(dealer_id: int, on: dt.date) -> list[tuple[str, Decimal]]:
    """The open invoices on `on` computed row by row: the amount less the applications dated on or before it."""
    out = []
    invoices = db.session.execute(
        select(LedgerEntry).where(LedgerEntry.dealer_id == dealer_id, LedgerEntry.type == "invoice")
    ).scalars()
    for inv in sorted(invoices, key=lambda e: (e.due_on, e.entry_date, e.id)):
        applied = db.session.execute(
            select(Application.amount).where(Application.invoice_id == inv.id, Application.applied_on <= on)
        ).scalars()
        left = inv.amount - sum(applied, Decimal(0))
        if left > 0:
            out.append((inv.number, left))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=20), probes=st.lists(st.integers(-5, 260), min_size=1, max_size=4))
def test_the_marker_is_exact_after_every_writer(app, ops, probes):
    """Invoices, payments, credit notes (free and against an invoice), manual applications, reversals, in any
    order: after each, an entry is marked settled exactly when nothing is left on it. And the open invoices as of
    any day, read through the marker plus what was applied after that day, are those of the raw rows."""
    with app.test_request_context(method="POST"):
        dealer = _dealer()
        for n, op in enumerate(ops):
            _do(dealer, n, *op)
            assert _wrong_markers(dealer.id) == [], (n, op)
        for offset in probes:
            on = START + dt.timedelta(days=offset)
            got = [(inv.number, left) for inv, left in services._invoice_residuals(dealer.id, on)]
            assert got == _residuals_as_of(dealer.id, on), on
        db.session.rollback()


def _history(dealer: Dealer, settled: int, open_: int) -> None:
    """`settled` invoices paid in full, then `open_` invoices left open."""
    for n in range(settled):
        on = START + dt.timedelta(days=n)
        services.post_invoice(None, dealer, number=f"H{n}", issued_on=on, amount=Decimal("100.00"), due_on=on)
        services.post_payment(None, dealer, amount=Decimal("100.00"), received_on=on, reference=f"P{n}")
    for n in range(open_):
        on = START + dt.timedelta(days=settled + n)
        services.post_invoice(None, dealer, number=f"O{n}", issued_on=on, amount=Decimal("50.00"), due_on=on)


def test_auto_apply_reads_only_the_open_items(app):
    """A payment for a dealer with a long settled history is matched against what the marker leaves open and nothing
    else: with the history's applications taken away behind the marker's back (marked settled, nothing applied),
    the payment still goes to the open invoices — the settled entries are not even read (read them, and the
    payment goes to H0, the oldest)."""
    with app.test_request_context(method="POST"):
        dealer = _dealer()
        _history(dealer, settled=40, open_=3)
        history = select(LedgerEntry.id).where(LedgerEntry.dealer_id == dealer.id, LedgerEntry.settled.is_(True))
        assert len(db.session.execute(history).all()) == 80
        db.session.execute(delete(Application).where(Application.dealer_id == dealer.id))
        services.post_payment(None, dealer, amount=Decimal("120.00"), received_on=START, reference="NEW")
        made = db.session.execute(select(Application).where(Application.dealer_id == dealer.id)).scalars().all()
        assert sorted((a.invoice.number, a.amount) for a in made) == [
            ("O0", Decimal("50.00")),
            ("O1", Decimal("50.00")),
            ("O2", Decimal("20.00")),
        ]
        db.session.rollback()


def test_refresh_settled_and_the_migration_backfill_rebuild_the_marker(app):
    """Markers wiped (all False, then all True) come back exact from `refresh_settled` (for one dealer: the other's
    untouched) and from migration 0017's backfill statement."""
    with app.test_request_context(method="POST"):
        one, other = _dealer(), _dealer()
        for dealer in (one, other):
            _history(dealer, settled=3, open_=2)
            services.post_payment(None, dealer, amount=Decimal("70.00"), received_on=START, reference="PART")
        ids = [one.id, other.id]
        expected = dict(db.session.execute(select(LedgerEntry.id, LedgerEntry.settled)).all())
        assert sorted(expected.values()) == [False] * 2 + [True] * 16  # per dealer: O1 open; O0 and PART settled

        db.session.execute(update(LedgerEntry).values(settled=False))
        services.refresh_settled([one.id])
        after = dict(db.session.execute(select(LedgerEntry.id, LedgerEntry.settled)).all())
        assert _wrong_markers(one.id) == []
        assert not any(settled for id_, settled in after.items() if id_ in _entry_ids(other.id))

        db.session.execute(update(LedgerEntry).values(settled=True))
        migration = importlib.import_module("migrations.versions.0017_ledger_entries_settled_marker")
        db.session.execute(text(migration.BACKFILL))
        assert dict(db.session.execute(select(LedgerEntry.id, LedgerEntry.settled)).all()) == expected
        assert all(_wrong_markers(d) == [] for d in ids)
        db.session.rollback()


def _entry_ids(dealer_id: int) -> set[int]:
    return set(db.session.execute(select(LedgerEntry.id).where(LedgerEntry.dealer_id == dealer_id)).scalars())
