"""Property-based: over random ledgers, ageing (SQL) agrees with a plain Python model of PRODUCT.md §5, its
totals equal the ledger balance on every date tried, and no application over-applies anything."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal.credit import reports, services
from portal.credit.models import Application, LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.tenancy import Scope

START = dt.date(2025, 1, 1)
_codes = itertools.count(1)

operation = st.tuples(
    st.sampled_from(["invoice", "invoice", "payment", "credit_note", "reverse"]),
    st.integers(min_value=0, max_value=400),  # day offset
    st.integers(min_value=1, max_value=500_000),  # cents
    st.integers(min_value=0, max_value=90),  # extra days until due (invoices)
)


def _python_ageing(dealer_id: int, as_of: dt.date) -> dict:
    """The rule of §5 computed row by row from the stored entries and applications."""
    entries = db.session.query(LedgerEntry).filter_by(dealer_id=dealer_id).all()
    apps = db.session.query(Application).filter_by(dealer_id=dealer_id).all()
    out = {b: Decimal("0.00") for b in (*reports.BUCKETS, "unapplied")}
    for e in entries:
        if e.entry_date > as_of:
            continue
        if e.type == "invoice":
            residual = e.amount - sum(
                (a.amount for a in apps if a.invoice_id == e.id and a.applied_on <= as_of), Decimal(0)
            )
            days = (as_of - e.due_on).days
            bucket = (
                "not_due"
                if days <= 0
                else "1_30"
                if days <= 30
                else "31_60"
                if days <= 60
                else "61_90"
                if days <= 90
                else "over_90"
            )
            out[bucket] += residual
        else:
            out["unapplied"] -= e.amount - sum(
                (a.amount for a in apps if a.credit_id == e.id and a.applied_on <= as_of), Decimal(0)
            )
    out["total"] = sum((out[b] for b in reports.BUCKETS), Decimal(0)) + out["unapplied"]  # unapplied is negative
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25), probes=st.lists(st.integers(-10, 520), min_size=3, max_size=6))
# pinned: invoices due on days 0, 10 and 20 probed at every bucket edge of each (0/1/30/31/60/61/90/91 days past due),
# with a partial payment, so an off-by-one bound fails on every run, not only when the draw happens to hit it
@example(
    ops=[("invoice", 0, 100, 0), ("invoice", 0, 200, 10), ("invoice", 0, 400, 20), ("payment", 5, 50, 0)],
    probes=sorted({due + d for due in (0, 10, 20) for d in (0, 1, 30, 31, 60, 61, 90, 91)}),
)
def test_ageing_matches_the_rule_and_the_ledger_balance(app, ops, probes):
    with app.test_request_context(method="POST"):
        region = db.session.query(Region).filter_by(code="PROP").one_or_none()
        if region is None:
            region = Region(code="PROP", name="prop", path="/PROP/")
            db.session.add(region)
        dealer = Dealer(
            code=f"P-{next(_codes)}", name="p", region=region, tier="A", channel_type="chain", payment_terms_days=30
        )
        db.session.add(dealer)
        db.session.flush()
        for n, (kind, day, cents, extra) in enumerate(ops):
            on = START + dt.timedelta(days=day)
            amount = Decimal(cents) / 100
            post_step(dealer, n, kind, on, amount, extra, pick=cents)
        db.session.flush()
        for offset in probes:
            as_of = START + dt.timedelta(days=offset)
            sql = reports.ageing(Scope("hq"), as_of, "dealer")["rows"]
            sql_row = next((r for r in sql if r["key"] == dealer.code), None)
            model = _python_ageing(dealer.id, as_of)
            balance = reports.dealer_balance(dealer.id, as_of)
            assert model["total"] == balance  # the rule itself: buckets + unapplied (negative) = balance
            assert model["unapplied"] <= 0
            if sql_row is None:
                assert all(v == 0 for v in model.values())
                continue
            for key in (*reports.BUCKETS, "unapplied", "total"):
                assert sql_row[key] == model[key], (key, as_of)
            # nothing is over-applied on any date: residuals within [0, amount], unapplied >= 0
            for e in db.session.query(LedgerEntry).filter_by(dealer_id=dealer.id):
                applied = sum(
                    (
                        a.amount
                        for a in db.session.query(Application).filter(
                            (Application.invoice_id if e.type == "invoice" else Application.credit_id) == e.id,
                            Application.applied_on <= as_of,
                        )
                    ),
                    Decimal(0),
                )
                assert Decimal(0) <= applied <= e.amount, (e.number, as_of)
        db.session.rollback()


def post_step(dealer, n: int, kind: str, on: dt.date, amount: Decimal, extra: int, pick: int) -> None:
    """One drawn ledger operation, posted as the services post it: an invoice due `extra` days later, a payment, a
    credit note, or the reversal of one of the dealer's live applications (the `pick`-th, modulo their number).
    Shared by the property tests over the ledger (tests/test_credit_posting_reads.py)."""
    if kind == "invoice":
        services.post_invoice(None, dealer, number=f"I{n}", issued_on=on, amount=amount,
                              due_on=on + dt.timedelta(days=extra))  # fmt: skip
    elif kind == "payment":
        services.post_payment(None, dealer, amount=amount, received_on=on, reference=f"R{n}")
    elif kind == "credit_note":
        services.post_credit_note(None, dealer, amount=amount, issued_on=on, reason="prop")
    else:
        live = [
            a
            for a in db.session.query(Application).filter_by(dealer_id=dealer.id).all()
            if a.amount > 0 and not db.session.query(Application).filter_by(reverses_id=a.id).count()
        ]
        if live:
            services.reverse_application(None, live[pick % len(live)], on)
