"""Rebates under concurrency (PostgreSQL row locks): however many finance clerks press "approve" at once, a settlement
is approved once with one credit note; a dealer's open carry is taken in by one settlement only when two are
approved at the same time; two settlement runs of a programme at once write each row once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.rebates import services
from portal.rebates.models import RebateCarry, RebateProgramme, RebateSettlement
from tests.concurrency import together

pytestmark = pytest.mark.postgres
D = Decimal


@pytest.fixture
def books(world, is_postgres):
    if not is_postgres:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("EAST")
    world.dealer("CC-1", "EAST")
    world.dealer("CC-2", "EAST")
    world.product("OIL-1", category="parts", list_price="100.00")
    world.sold("CC-1", "OIL-1", dt.date(2026, 2, 1), 120, "100.00")  # 12,000.00 → 2 % = 240.00
    world.sold("CC-2", "OIL-1", dt.date(2026, 2, 1), 10, "100.00")
    world.rebate_programme("RB-Q1")
    world.user("finance", username="fin")
    return {"finance": world.auth("fin")}


def _settlement(code: str, dealer: str) -> RebateSettlement:
    programme = db.session.query(RebateProgramme).filter_by(code=code).one()
    dealer_id = db.session.query(Dealer.id).filter_by(code=dealer).scalar()
    return db.session.query(RebateSettlement).filter_by(programme_id=programme.id, dealer_id=dealer_id).one()


def test_one_settlement_approved_by_three_clerks_at_once_is_approved_once(app, world, books):
    world.settle("RB-Q1")
    barrier = threading.Barrier(3)
    codes: list = [None] * 3

    def send(i):
        client = app.test_client()
        barrier.wait(timeout=20)
        resp = client.post("/api/v1/rebates/RB-Q1/settlements/CC-1/approve", headers=books["finance"])
        codes[i] = (resp.status_code, (resp.get_json().get("error") or {}).get("code"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes, key=str) == [(200, None), (409, "already_approved"), (409, "already_approved")]
    assert world.count(LedgerEntry, type="credit_note") == 1
    assert world.get(LedgerEntry, type="credit_note")["amount"] == D("240.00")


def test_approve_all_and_single_approvals_at_once_approve_each_settlement_once(app, world, books):
    world.settle("RB-Q1")

    def approve_all():
        return services.approve_all(None, db.session.query(RebateProgramme).filter_by(code="RB-Q1").one())

    outcomes = together(app, [approve_all, lambda: services.approve(None, _settlement("RB-Q1", "CC-1")).status,
                               approve_all])  # fmt: skip
    assert not [o for o in outcomes if isinstance(o, Exception) and getattr(o, "code", None) != "already_approved"]
    assert world.count(RebateSettlement, status="approved") == 2
    assert world.count(LedgerEntry, type="credit_note") == 2


def test_an_open_carry_is_taken_in_by_one_of_two_settlements_approved_at_once(app, world, books):
    world.settle("RB-Q1")
    world.approve_rebate("RB-Q1", "CC-1")
    world.sold("CC-1", "OIL-1", dt.date(2026, 3, 31), 10, "100.00")  # late: 13,000.00 → 260.00, 20.00 more
    assert world.settle("RB-Q1")["carried"] == 1
    world.sold("CC-1", "OIL-1", dt.date(2026, 4, 2), 10, "100.00")
    for code in ("RB-A", "RB-B"):
        world.rebate_programme(code, period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 6, 30))
        world.settle(code)
    outcomes = together(app, [lambda c=c: services.approve(None, _settlement(c, "CC-1")).carried_in
                               for c in ("RB-A", "RB-B")])  # fmt: skip
    assert sorted(outcomes) == [D("0.00"), D("20.00")]
    assert world.count(RebateCarry) == 1 and world.get(RebateCarry)["consumed_by_id"] is not None


def test_two_settlement_runs_at_once_write_each_row_once(app, world, books):
    def run():
        return services.compute_settlement(None, db.session.query(RebateProgramme).filter_by(code="RB-Q1").one())

    outcomes = together(app, [run, run])
    assert sorted(o["computed"] for o in outcomes) == [0, 2], outcomes
    assert world.count(RebateSettlement) == 2
