"""Rebate settlement (PRODUCT.md §11): computed after the period for the dealers who earned something, refreshed by
late sell-through until approved; approved once, as one credit note that lowers the dealer's exposure and shows on
its next statement; corrections after approval become carries, taken in by the dealer's next approved settlement;
re-running records nothing twice; adjustments need a reason and stop at approval."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer
from portal.extensions import db
from portal.notify.models import Notification
from portal.platform.errors import Conflict, Invalid
from portal.platform.tenancy import Scope
from portal.platform.timeutil import freeze
from portal.rebates import services
from portal.rebates.models import RebateCarry, RebateProgramme, RebateSettlement
from portal.statements.models import StatementLine

D = Decimal
APRIL = dt.datetime(2026, 4, 10, 2, 0, tzinfo=dt.UTC)  # 10 April in Shanghai: Q1 has ended


@pytest.fixture
def channel(world):
    world.region("EAST")
    for code in ("D1", "D2", "D3"):
        world.dealer(code, "EAST")
    world.product("OIL-1", category="parts", list_price="100.00")
    world.user("dealer_admin", dealer="D1", username="d1.admin")
    world.user("dealer_staff", dealer="D1", username="d1.staff")
    world.sold("D1", "OIL-1", dt.date(2026, 2, 1), 100, "120.00")  # 12,000.00 → 2 % = 240.00
    world.sold("D2", "OIL-1", dt.date(2026, 3, 1), 10, "100.00")  # 1,000.00 → 1 % = 10.00
    world.rebate_programme("RB-Q1")  # sell-through amount, all dealers, Q1 2026, 0 → 1 %, 10,000 → 2 %
    return world


def _programme(code: str) -> RebateProgramme:
    return db.session.query(RebateProgramme).filter_by(code=code).one()


def _settlement(code: str, dealer: str) -> RebateSettlement:
    return (
        db.session.query(RebateSettlement)
        .filter_by(programme_id=_programme(code).id, dealer_id=db.session.query(Dealer).filter_by(code=dealer).one().id)
        .one()
    )


def call(world, fn, *args):
    """A service call in a request of its own; its result, or the domain error raised (nothing kept then)."""

    def make():
        try:
            return fn(*args)
        except (Invalid, Conflict) as exc:
            db.session.rollback()
            return exc

    return world._in_request(make)


def row(world, code: str, dealer: str) -> dict:
    return world.run(lambda: {c.key: getattr(_settlement(code, dealer), c.key) for c in RebateSettlement.__table__.c})


def approve(world, code, dealer):
    return call(world, lambda: services.approve(None, _settlement(code, dealer)))


def adjust(world, code, dealer, amount, reason):
    return call(world, lambda: services.adjust(None, _settlement(code, dealer), D(amount), reason))


# ---------------------------------------------------------------- computing


def test_settling_waits_for_the_end_of_the_period(channel):
    channel.rebate_programme("RB-NOW", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31))
    channel.rebate_programme("RB-DRAFT", status="draft")
    before = channel.snapshot()
    for code in ("RB-NOW", "RB-DRAFT"):
        started = call(channel, lambda c=code: services.start_settlement(None, _programme(c)))
        computed = call(channel, lambda c=code: services.compute_settlement(None, _programme(c)))
        expected = "period_not_ended" if code == "RB-NOW" else "invalid_transition"
        assert isinstance(started, Conflict) and started.code == expected
        assert isinstance(computed, Conflict) and computed.code == expected
    with freeze(dt.datetime(2026, 3, 31, 10, 0, tzinfo=dt.UTC)):  # the last day of the period itself
        assert call(channel, lambda: services.compute_settlement(None, _programme("RB-Q1"))).code == "period_not_ended"
    assert channel.snapshot() == before


def test_a_settlement_is_computed_for_each_dealer_who_earned_and_the_programme_closes(channel):
    assert channel.settle("RB-Q1") == {"computed": 2, "refreshed": 0, "carried": 0, "unchanged": 0}
    d1, d2 = row(channel, "RB-Q1", "D1"), row(channel, "RB-Q1", "D2")
    assert (d1["basis"], d1["tier_threshold"], d1["rate"], d1["computed"], d1["amount"], d1["status"]) == (
        D("12000.00"), D("10000.00"), D("2.0000"), D("240.00"), D("240.00"), "computed",
    )  # fmt: skip
    assert (d2["computed"], d2["amount"]) == (D("10.00"), D("10.00"))
    assert channel.count(RebateSettlement) == 2  # D3 sold nothing: no row
    assert channel.get(RebateProgramme, code="RB-Q1")["status"] == "closed"
    assert channel.settle("RB-Q1") == {"computed": 0, "refreshed": 0, "carried": 0, "unchanged": 2}


def test_late_sell_through_before_approval_changes_the_figure_and_keeps_the_adjustment(channel):
    channel.settle("RB-Q1")
    adjust(channel, "RB-Q1", "D2", "5.00", "display bonus agreed")
    channel.sold("D2", "OIL-1", dt.date(2026, 3, 30), 100, "100.00")  # reported late: 11,000.00 → 2 %
    channel.sold("D3", "OIL-1", dt.date(2026, 1, 15), 1, "50.00")
    assert channel.settle("RB-Q1") == {"computed": 1, "refreshed": 1, "carried": 0, "unchanged": 1}
    d2 = row(channel, "RB-Q1", "D2")
    assert (d2["basis"], d2["computed"], d2["adjustment"], d2["amount"]) == (
        D("11000.00"), D("220.00"), D("5.00"), D("225.00"),
    )  # fmt: skip
    assert d2["adjustment_reason"] == "display bonus agreed"
    assert row(channel, "RB-Q1", "D3")["computed"] == D("0.50")


# ---------------------------------------------------------------- approving


def test_approval_posts_one_credit_note_tells_the_dealer_and_is_audited(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D1")
    d1 = row(channel, "RB-Q1", "D1")
    assert d1["status"] == "approved"
    note = channel.get(LedgerEntry, id=d1["credit_note_id"])
    assert (note["type"], note["amount"], note["source"], note["dealer_id"]) == (
        "credit_note", D("240.00"), "rebate", d1["dealer_id"],
    )  # fmt: skip
    assert note["reason"] == "RB-Q1 返利 RB-Q1"  # language-neutral; pages say "Rebate"/"返利" from the memo
    assert note["memo"] == {"code": "rebate", "programme": "RB-Q1", "name": "返利 RB-Q1", "name_en": None}
    assert (d1["approved_by"], d1["approved_at"] is not None) == ("system", True)
    assert channel.count(Notification, kind="rebate.approved") == 1  # the dealer's admin, not its staff
    assert channel.count(AuditEntry, action="rebate.settlement.approve") == 1
    assert channel.count(AuditEntry, action="credit_note.post") == 1


def test_approving_twice_is_refused_and_writes_nothing(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D1")
    before = channel.snapshot()
    again = approve(channel, "RB-Q1", "D1")
    assert isinstance(again, Conflict) and again.code == "already_approved"
    assert channel.snapshot() == before
    assert channel.count(LedgerEntry, type="credit_note") == 1


def test_approve_all_approves_every_computed_settlement_once(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D2")
    result = call(channel, lambda: services.approve_all(None, _programme("RB-Q1")))
    assert result == {"approved": 1, "credit_notes": 1, "total": D("240.00")}
    assert call(channel, lambda: services.approve_all(None, _programme("RB-Q1")))["approved"] == 0
    assert channel.count(LedgerEntry, type="credit_note") == 2


def test_the_credit_note_lowers_exposure_and_raises_available_credit(channel):
    from portal.credit import services as credit

    channel.credit_limit("D1", "10000")
    channel.invoice("D1", "INV-D1", "3000.00", issued_on=dt.date(2026, 3, 2))
    channel.settle("RB-Q1")

    def summary():
        return credit.credit_summary(db.session.query(Dealer).filter_by(code="D1").one())

    before = channel.run(summary)
    approve(channel, "RB-Q1", "D1")
    after = channel.run(summary)
    assert (before["exposure"], before["available"]) == (D("3000.00"), D("7000.00"))
    assert (after["exposure"], after["available"]) == (D("2760.00"), D("7240.00"))


def test_the_rebate_shows_on_the_next_statement(channel):
    channel.invoice("D1", "INV-D1", "3000.00", issued_on=dt.date(2026, 3, 2))
    march = channel.statement("D1", "2026-03")
    with freeze(APRIL):
        channel.settle("RB-Q1")
        approve(channel, "RB-Q1", "D1")
    april = channel.statement("D1", "2026-04")
    assert april != march
    lines = channel.run(lambda: [(ln.type, ln.credit, ln.reference) for ln in
                                 db.session.query(StatementLine).filter_by(statement_id=april)])  # fmt: skip
    assert lines == [("credit_note", D("240.00"), "RB-Q1 返利 RB-Q1")]
    from portal.statements.models import Statement

    stated = channel.get(Statement, id=april)
    assert (stated["opening"], stated["credits"], stated["closing"]) == (D("3000.00"), D("240.00"), D("2760.00"))


# ---------------------------------------------------------------- adjusting


def test_an_adjustment_needs_a_reason_and_changes_the_amount_not_below_zero(channel):
    channel.settle("RB-Q1")
    before = channel.snapshot()
    for reason in ("", "   ", None):
        refused = adjust(channel, "RB-Q1", "D1", "10.00", reason)
        assert isinstance(refused, Invalid) and "reason" in refused.fields
    assert channel.snapshot() == before
    adjust(channel, "RB-Q1", "D1", "-40.00", "returned goods")
    assert (row(channel, "RB-Q1", "D1")["adjustment"], row(channel, "RB-Q1", "D1")["amount"]) == (
        D("-40.00"), D("200.00"),
    )  # fmt: skip
    adjust(channel, "RB-Q1", "D1", "-500.00", "penalty")  # replaces the last one
    assert row(channel, "RB-Q1", "D1")["amount"] == D("0.00")
    assert channel.count(AuditEntry, action="rebate.settlement.adjust") == 2


def test_an_approved_settlement_cannot_be_adjusted(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D1")
    before = channel.snapshot()
    refused = adjust(channel, "RB-Q1", "D1", "10.00", "forgot")
    assert isinstance(refused, Conflict) and refused.code == "already_approved"
    assert channel.snapshot() == before


# ---------------------------------------------------------------- after approval: carries


def _open_carries(world, dealer):
    return world.run(lambda: [(c.amount, c.source_programme.code) for c in services.open_carries(
        Scope("hq"), db.session.query(Dealer).filter_by(code=dealer).one())])  # fmt: skip


def test_a_correction_after_approval_is_carried_once_and_taken_in_by_the_next_settlement(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D2")
    channel.sold("D2", "OIL-1", dt.date(2026, 3, 31), 10, "100.00")  # late: 2,000.00 → 20.00, 10.00 more
    assert channel.settle("RB-Q1") == {"computed": 0, "refreshed": 0, "carried": 1, "unchanged": 1}
    assert channel.settle("RB-Q1") == {"computed": 0, "refreshed": 0, "carried": 0, "unchanged": 2}
    assert _open_carries(channel, "D2") == [(D("10.00"), "RB-Q1")]
    approved = row(channel, "RB-Q1", "D2")
    assert (approved["computed"], approved["amount"], approved["status"]) == (D("10.00"), D("10.00"), "approved")

    channel.sold("D2", "OIL-1", dt.date(2026, 4, 2), 30, "100.00")  # Q2: 3,000.00 → 30.00
    channel.rebate_programme("RB-Q2", period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 6, 30))
    channel.settle("RB-Q2")
    approve(channel, "RB-Q2", "D2")
    q2 = row(channel, "RB-Q2", "D2")
    assert (q2["computed"], q2["carried_in"], q2["amount"]) == (D("30.00"), D("10.00"), D("40.00"))
    assert channel.get(LedgerEntry, id=q2["credit_note_id"])["amount"] == D("40.00")
    assert _open_carries(channel, "D2") == []
    assert channel.get(RebateCarry, dealer_id=q2["dealer_id"])["consumed_by_id"] == q2["id"]
    # a later correction of Q1 is carried again, only for what is new
    channel.sold("D2", "OIL-1", dt.date(2026, 3, 31), 5, "100.00")
    assert channel.settle("RB-Q1")["carried"] == 1
    assert _open_carries(channel, "D2") == [(D("5.00"), "RB-Q1")]


def test_a_negative_total_approves_nothing_and_carries_the_rest_without_counting_it_as_a_correction(channel):
    channel.settle("RB-Q1")
    adjust(channel, "RB-Q1", "D2", "-25.00", "unpaid display stand")  # 10.00 − 25.00
    approve(channel, "RB-Q1", "D2")
    d2 = row(channel, "RB-Q1", "D2")
    assert (d2["amount"], d2["credit_note_id"], d2["status"]) == (D("0.00"), None, "approved")
    assert channel.count(LedgerEntry, type="credit_note") == 0
    assert _open_carries(channel, "D2") == [(D("-15.00"), "RB-Q1")]
    assert channel.settle("RB-Q1")["carried"] == 0  # the remainder is not a change of the basis

    channel.sold("D2", "OIL-1", dt.date(2026, 4, 2), 40, "100.00")  # Q2: 4,000.00 → 40.00
    channel.rebate_programme("RB-Q2", period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 6, 30))
    channel.settle("RB-Q2")
    approve(channel, "RB-Q2", "D2")
    q2 = row(channel, "RB-Q2", "D2")
    assert (q2["carried_in"], q2["amount"]) == (D("-15.00"), D("25.00"))


def test_carries_are_scoped_to_the_dealer(channel):
    channel.settle("RB-Q1")
    approve(channel, "RB-Q1", "D2")
    channel.sold("D2", "OIL-1", dt.date(2026, 3, 31), 10, "100.00")
    channel.settle("RB-Q1")
    ids = channel.run(lambda: {d.code: d.id for d in db.session.query(Dealer)})

    def carries_of(scope, dealer):
        return channel.run(lambda: len(services.open_carries(scope, db.session.get(Dealer, ids[dealer]))))

    assert carries_of(Scope("dealer", dealer_id=ids["D2"]), "D2") == 1
    assert carries_of(Scope("dealer", dealer_id=ids["D1"]), "D2") == 0


def test_settlements_in_scope_a_dealer_sees_only_its_own_once_approved(channel):
    channel.settle("RB-Q1")
    ids = channel.run(lambda: {d.code: d.id for d in db.session.query(Dealer)})

    def listed(scope):
        return channel.run(lambda: [(s.dealer.code, s.status) for s in db.session.execute(
            services.settlements_query(scope, _programme("RB-Q1"))).unique().scalars()])  # fmt: skip

    assert listed(Scope("hq")) == [("D1", "computed"), ("D2", "computed")]
    assert listed(Scope("dealer", dealer_id=ids["D1"])) == []
    approve(channel, "RB-Q1", "D1")
    assert listed(Scope("dealer", dealer_id=ids["D1"])) == [("D1", "approved")]
    assert listed(Scope("dealer", dealer_id=ids["D2"])) == []
