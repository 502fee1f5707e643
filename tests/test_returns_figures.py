"""Every figure follows a return (PRODUCT.md §13): the ageing and the next statement show the credit note, and a
rebate programme on sell-in counts the return — before its settlement is approved the figure drops; after approval
the difference carries to the next settlement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from portal.platform.tenancy import Scope
from portal.platform.timeutil import freeze
from portal.rebates.models import RebateCarry, RebateSettlement
from portal.statements.models import Statement
from tests.test_returns import ask, call, shop  # noqa: F401 (the fixture: SH-1 received 2 cars and 7 × OIL-1)

SHIPPED = Decimal("226263.64")  # 2 × 113,000.00 + 263.64
RETURNED = Decimal("112.99")  # 3 of the 7 pieces of OIL-1
DECEMBER = dict(period_start=dt.date(2026, 12, 1), period_end=dt.date(2026, 12, 31), basis="sell_in_amount")


def _dealer_id(world) -> int:
    from portal.dealers.models import Dealer

    return world.get(Dealer, code="SH-1")["id"]


def _at(day: dt.date):
    return freeze(dt.datetime.combine(day, dt.time(2), dt.UTC))


def _return_three(client, world, shop, *, until: str, received_on: dt.date | None = None) -> str:  # noqa: F811
    number = ask(client, world, shop, [{"sku": "OIL-1", "quantity": 3}], reason="quality")["number"]
    call(client, world, "cm", f"/returns/{number}/approve")
    call(client, world, "sh.admin", f"/returns/{number}/ship-back")
    if until == "received":
        body = {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 3, "scrapped": 0}]}
        if received_on:
            body["received_on"] = received_on.isoformat()
        call(client, world, "cm", f"/returns/{number}/receive", body)
    return number


def test_ageing_and_the_next_statement_show_the_credit(client, world, shop):  # noqa: F811
    from portal.credit import reports
    from portal.extensions import db

    _return_three(client, world, shop, until="received")

    def total():
        rows = reports.ageing(Scope("hq"), dt.date(2026, 12, 31), "dealer")["rows"]
        return next(r["total"] for r in rows if r["key"] == "SH-1")

    with client.application.test_request_context():
        assert total() == SHIPPED - RETURNED
        db.session.remove()
    with _at(dt.date(2027, 1, 3)):
        statement_id = world.statement("SH-1", "2026-12")
    got = world.get(Statement, id=statement_id)
    assert (got["debits"], got["credits"], got["closing"]) == (SHIPPED, RETURNED, SHIPPED - RETURNED)


def test_a_sell_in_rebate_drops_before_approval_and_carries_after(client, world, shop):  # noqa: F811
    # before approval: the return received in the period lowers the basis the settlement is computed on
    code = world.rebate_programme(**DECEMBER)
    _return_three(client, world, shop, until="received")
    with _at(dt.date(2027, 1, 5)):
        world.settle(code)
    settlement = world.get(RebateSettlement, dealer_id=_dealer_id(world))
    assert settlement["basis"] == SHIPPED - RETURNED


def test_after_approval_a_late_return_carries_to_the_next_settlement(client, world, shop):  # noqa: F811
    code = world.rebate_programme(**DECEMBER)
    number = _return_three(client, world, shop, until="shipped_back")  # shipped back in December
    with _at(dt.date(2027, 1, 5)):
        world.settle(code)
        approved = world.approve_rebate(code, "SH-1")
        assert approved["basis"] == SHIPPED and approved["computed"] == Decimal("4525.27")  # 2 % of the basis
        body = {"warehouse_code": "WH-1", "lines": [{"sku": "OIL-1", "accepted": 3, "scrapped": 0}],
                "received_on": "2026-12-30"}  # fmt: skip
        call(client, world, "cm", f"/returns/{number}/receive", body)  # received in the period, after approval
        world.settle(code)
    carry = world.get(RebateCarry, dealer_id=_dealer_id(world))
    assert carry["amount"] == Decimal("-2.26") and carry["consumed_by_id"] is None  # 2 % of 226,150.65 = 4,523.01
