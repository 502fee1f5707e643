"""§16: HQ's monthly statement to a distributor is unchanged by the distributor's business with its sub-dealers —
its transfers, the invoices it raises on them and the payments they make it live on the sub-dealers' ledgers, never
on the distributor's account with HQ."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from portal.credit import services as credit
from portal.extensions import db
from portal.statements.models import Statement, StatementLine
from tests.transfer_helpers import TODAY, make_chain, receive, transfer

PERIOD = f"{TODAY:%Y-%m}"  # the month of the transfers (November 2026, closed by now)


def _statement(world, dealer: str) -> tuple:
    """The dealer's current statement of PERIOD as it reads: version, figures, ageing, content hash, its lines."""

    def read():
        s = (db.session.query(Statement).filter_by(dealer_id=world._dealer_obj(dealer).id, period=PERIOD)
             .order_by(Statement.version.desc()).first())  # fmt: skip
        lines = sorted((ln.type, ln.number, ln.debit, ln.credit) for ln in db.session.query(StatementLine).filter_by(
            statement_id=s.id))  # fmt: skip
        return s.version, s.opening, s.debits, s.credits, s.closing, s.ageing, s.content_hash, lines

    return world.run(read)


def test_hqs_statement_to_the_distributor_is_unchanged_by_its_sales_to_sub_dealers(world):
    chain = make_chain(world)  # HQ shipped DIST-1 cars and oil in November (invoices on DIST-1's account with HQ)
    world.statement("DIST-1", PERIOD)
    before = _statement(world, "DIST-1")
    assert before[-1], "the distributor's statement holds HQ's invoices of the month"

    number = transfer(world, chain["order"], "dist1.staff", serials=chain["cars"][:1], lines=[("OIL-1", 4)])
    receive(world, number, "sub1a.staff")
    world._in_request(lambda: credit.post_payment(  # SUB-1A pays DIST-1 in the same month
        None, world._dealer_obj("SUB-1A"), amount=Decimal("1000.00"), received_on=TODAY + dt.timedelta(days=1),
        reference="SUB-PAY-1"))  # fmt: skip

    world.statement("DIST-1", PERIOD)  # issued again: the same version, the same figures and lines
    assert _statement(world, "DIST-1") == before
    assert world.statement("SUB-1A", PERIOD) is None  # and HQ states nothing to the sub-dealer
