"""Backorders (PRODUCT.md §12), promised dates: walking the SKU's queue against its open expected receipts (any
warehouse) by expected date, a waiting line is promised on the date of the expected receipt that brings the
cumulative quantity up to everything queued up to it, else today + the product's lead time; the dates follow every
change of the queue, the expected receipts and the stock, with a bounded number of statements."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import freeze
from tests.backorders_helpers import check_invariants, expect, lines, move_up, set_lead_time
from tests.querycount import counting

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai, Monday 2 March 2026
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def shop(world):
    world.region("EAST")
    for code in ("SH-1", "SH-2", "SH-3"):
        world.dealer(code, "EAST")
        world.credit_limit(code, "1000000")
    world.product("OIL-1", list_price="10.00")
    set_lead_time(world, "OIL-1", 30)
    world.user("channel_manager", username="cm")
    return world


def at(minutes: int):
    return freeze(T0 + dt.timedelta(minutes=minutes))


def promised(world, *orders) -> list:
    return [lines(world, o)["OIL-1"][3] for o in orders]


def test_each_line_is_promised_on_the_expected_receipt_that_covers_it_cumulatively(world, shop):
    with at(0):
        expect(world, "OIL-1", 5, DAY + dt.timedelta(days=10), "SH")
        expect(world, "OIL-1", 4, DAY + dt.timedelta(days=3), "TJ")  # any warehouse, by date
    with at(1):
        a = world.order("SH-1", [("OIL-1", 3)])  # 3 ≤ 4 (day 3)
    with at(2):
        b = world.order("SH-2", [("OIL-1", 5)])  # 8 ≤ 9 (day 10)
    with at(3):
        c = world.order("SH-3", [("OIL-1", 2)])  # 10 > 9: lead time
        assert promised(world, a, b, c) == [DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=10),
                                            DAY + dt.timedelta(days=30)]  # fmt: skip
    check_invariants(world)


def test_past_the_expected_receipts_a_line_is_never_promised_before_one_ahead_of_it(world, shop):
    set_lead_time(world, "OIL-1", 2)
    with at(0):
        expect(world, "OIL-1", 5, DAY + dt.timedelta(days=12))
        a = world.order("SH-1", [("OIL-1", 5)])
        b = world.order("SH-2", [("OIL-1", 5)])  # not covered: today + 2 days would be before a's day 12
        assert promised(world, a, b) == [DAY + dt.timedelta(days=12)] * 2


def test_a_new_expected_receipt_and_a_cancelled_one_replan_the_queue(client, world, shop):
    with at(0):
        a = world.order("SH-1", [("OIL-1", 6)])
        b = world.order("SH-2", [("OIL-1", 6)])
        assert promised(world, a, b) == [DAY + dt.timedelta(days=30)] * 2
        first = expect(world, "OIL-1", 6, DAY + dt.timedelta(days=5))
        assert promised(world, a, b) == [DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=30)]
        expect(world, "OIL-1", 10, DAY + dt.timedelta(days=8))
        assert promised(world, a, b) == [DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=8)]
        headers = world.auth("cm")
        resp = client.post(f"/api/v1/stock/expected/{first}/cancel", json={}, headers=headers)
        assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
        assert promised(world, a, b) == [DAY + dt.timedelta(days=8), DAY + dt.timedelta(days=30)]  # 12 > 10
    check_invariants(world)


def test_moving_an_order_up_moves_its_promise_forward(world, shop):
    with at(0):
        expect(world, "OIL-1", 4, DAY + dt.timedelta(days=4))
        a = world.order("SH-1", [("OIL-1", 4)])
        b = world.order("SH-2", [("OIL-1", 4)])
        assert promised(world, a, b) == [DAY + dt.timedelta(days=4), DAY + dt.timedelta(days=30)]
        move_up(world, b, "cm")
        assert promised(world, a, b) == [DAY + dt.timedelta(days=30), DAY + dt.timedelta(days=4)]


def test_a_receipt_replans_what_still_waits_and_clears_what_is_served(world, shop):
    with at(0):
        expect(world, "OIL-1", 10, DAY + dt.timedelta(days=6))
        a = world.order("SH-1", [("OIL-1", 6)])
        b = world.order("SH-2", [("OIL-1", 6)])
        assert promised(world, a, b) == [DAY + dt.timedelta(days=6), DAY + dt.timedelta(days=30)]
        world.stock("OIL-1", 7, "SH")  # fills 7 of the 10 expected: 3 still expected; a served, b waits 5
        assert lines(world, a)["OIL-1"] == (6, 6, 0, None)
        assert lines(world, b)["OIL-1"] == (6, 1, 5, DAY + dt.timedelta(days=30))  # 5 > the 3 still expected
    check_invariants(world)


def test_an_expected_receipt_late_promises_today_not_a_day_past(world, shop):
    with at(0):
        expect(world, "OIL-1", 10, DAY + dt.timedelta(days=2))
        a = world.order("SH-1", [("OIL-1", 2)])
    with at(60 * 24 * 5):  # five days later it has not come; a new order replans the queue
        world.order("SH-2", [("OIL-1", 2)])
        assert promised(world, a) == [DAY + dt.timedelta(days=5)]


def test_a_receipt_for_many_waiting_lines_runs_a_bounded_number_of_statements(app, world, shop):
    def statements_of_a_receipt(n_orders: int, sku: str) -> int:
        world.product(sku, list_price="1.00")
        with at(0):
            for i in range(n_orders):
                world.order(("SH-1", "SH-2", "SH-3")[i % 3], [(sku, 2)])
            expect(world, sku, 3, DAY + dt.timedelta(days=9))
        with counting(app) as seen, at(5):
            world.stock(sku, 2 * n_orders - 1, "SH")
        return len(seen)

    few, many = statements_of_a_receipt(3, "A-1"), statements_of_a_receipt(40, "B-1")
    assert many == few, (few, many)  # the same statements whatever the queue's length
    check_invariants(world)
