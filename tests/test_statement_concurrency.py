"""Statements under concurrency (PostgreSQL row locks): issuing a month twice at once makes one version, a dispute
is settled once however many finance clerks press the button, and a payment posted while a statement is being
issued lands either in that version or in the next one, with the §6 invariants intact either way."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from portal.credit import reports
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.statements import services
from portal.statements.models import Statement
from tests.concurrency import together

pytestmark = pytest.mark.postgres


@pytest.fixture
def books(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    world.dealer("CC-1", "EAST")
    for n in range(12):
        world.invoice("CC-1", number=f"CC-{n}", amount="100.00", issued_on=dt.date(2026, 3, 1 + n))
    world.user("finance", username="fin")
    world.user("dealer_admin", dealer="CC-1", username="cc.admin")
    return {"finance": world.auth("fin"), "dealer": world.auth("cc.admin")}


def _dealer():
    return db.session.query(Dealer).filter_by(code="CC-1").one()


def test_issuing_one_month_four_times_at_once_makes_one_version(app, world, books):
    outcomes = together(app, [lambda: services.issue("t", _dealer(), "2026-03")[1]] * 4)
    assert sorted(outcomes) == ["issued", "unchanged", "unchanged", "unchanged"]
    assert world.count(Statement) == 1


def test_a_payment_posted_while_issuing_lands_in_this_version_or_the_next(app, world, books):
    from decimal import Decimal

    from portal.credit import services as credit

    def pay():
        return credit.post_payment(None, _dealer(), amount=Decimal("250.00"), received_on=dt.date(2026, 3, 20),
                                   reference="RACE").id  # fmt: skip

    together(app, [lambda: services.issue("t", _dealer(), "2026-03")[1], pay])
    world.statement("CC-1", "2026-03")  # the next run
    with app.app_context():
        dealer = _dealer()
        current = services.current_version(dealer.id, "2026-03")
        assert services.verify(current) == []
        assert current.closing == reports.dealer_balance(dealer.id, dt.date(2026, 3, 31)) == Decimal("950.00")
        for version in services.versions_of(current):
            assert services.verify(version) == []


def test_one_dispute_resolved_by_two_clerks_at_once_is_settled_once(app, world, client, books):
    statement = world.statement("CC-1", "2026-03")
    line = world.statement_lines(statement)[0]
    dispute = client.post(f"/api/v1/statements/{statement}/disputes", json={"line_ids": [line], "comment": "x"},
                          headers=books["dealer"]).get_json()  # fmt: skip
    barrier = threading.Barrier(3)
    codes: list = [None] * 3

    def send(i):
        c = app.test_client()
        barrier.wait(timeout=20)
        codes[i] = c.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                          json={"action": "credit_note", "amount": "10.00", "reason": "ok"},
                          headers=books["finance"]).status_code  # fmt: skip

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409, 409]
    assert world.count(LedgerEntry, type="credit_note") == 1
    assert world.count(Statement) == 2  # v1 and the one re-issue
