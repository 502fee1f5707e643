"""How much may leave a dealer's stock on a day without making that day or a later one negative (`lowest_from`):
the balance of the day itself counts even when nothing moved that day (a back-dated transfer or adjustment into a
stock-out between two deliveries must be refused)."""

from __future__ import annotations

import datetime as dt

from portal.inventory.dealer_stock import lowest_from

D = dt.date


def test_a_day_without_movements_inside_a_stock_out_counts_its_zero_balance():
    deltas = {D(2026, 9, 10): 10, D(2026, 9, 19): -10, D(2026, 9, 25): 25}
    assert lowest_from(deltas, D(2026, 9, 21)) == 0  # out of stock from the 19th to the 24th
    assert lowest_from(deltas, D(2026, 9, 25)) == 25
    assert lowest_from(deltas, D(2026, 9, 12)) == 0  # the stock-out on the 19th is later


def test_the_lowest_later_balance_and_the_days_before_and_after_every_movement():
    deltas = {D(2026, 1, 1): 5, D(2026, 1, 3): 4, D(2026, 1, 5): -7, D(2026, 1, 8): 3}
    assert lowest_from(deltas, D(2025, 12, 31)) == 0  # before anything arrived
    assert lowest_from(deltas, D(2026, 1, 1)) == 2  # 5, 9, 2, 5
    assert lowest_from(deltas, D(2026, 1, 6)) == 2
    assert lowest_from(deltas, D(2026, 1, 9)) == 5  # after the last movement: the final balance
    assert lowest_from({}, D(2026, 1, 1)) == 0
