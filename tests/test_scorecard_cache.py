"""A month's ranking is kept per process for PORTAL_SCORECARD_CACHE_SECONDS (every dealer's home and overview shows its
rank, which needs the whole channel's scores): read again within that time it is not computed again; after it, or
with 0, it is; another month or day measured to is another entry."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.targets import scorecards
from tests.test_dealer_overview_queries import counting
from tests.test_scorecard_components import NOV, TODAY, scored_channel


@pytest.fixture
def channel(world):
    scored_channel(world)


def _statements(app, period=NOV, today=TODAY) -> tuple[int, dict]:
    with app.app_context(), counting(app) as seen:
        result = scorecards.compute(period, today)
    return len(seen), result


def test_kept_within_the_time_and_computed_again_after_it(app, channel, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_CACHE_SECONDS", 300)
    first, result = _statements(app)
    assert first > 3 and result["rows"]
    again, same = _statements(app)
    assert again == 0 and same is result
    clock = [scorecards.time.monotonic() + 301]
    monkeypatch.setattr(scorecards.time, "monotonic", lambda: clock[0])
    assert _statements(app)[0] == first


def test_another_month_or_day_is_another_entry(app, channel, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_CACHE_SECONDS", 300)
    _statements(app)
    assert _statements(app, period=dt.date(2026, 10, 1))[0] > 0
    assert _statements(app, period=dt.date(2026, 12, 1), today=dt.date(2026, 12, 7))[0] > 0
    assert _statements(app, period=dt.date(2026, 12, 1), today=dt.date(2026, 12, 8))[0] > 0


def test_zero_keeps_nothing(app, channel):
    assert app.config["PORTAL_SCORECARD_CACHE_SECONDS"] == 0  # the tests' setting (tests/conftest.py)
    first = _statements(app)[0]
    assert _statements(app)[0] == first
