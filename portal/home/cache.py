"""The home pages' report cards, kept per process for a short while.

Some cards of the home pages are reports over months of the channel, the same for everyone who opens the same home on
the same day, and the dearest part of it (a targets card is some twenty statements, HQ's channel-flow cards two
reports):

- the targets cards (PRODUCT.md §15): a dealer's own achievement per measure and its score; HQ's and a region's
  months, year to date and ranking;
- HQ's and a region's channel over the last 12 months (the trend chart) and HQ's by region and level;
- HQ's and a region's rebate accrued in the active programmes.

They are kept per process for `PORTAL_SCORECARD_CACHE_SECONDS` (default 300; 0 computes them every time), the time the
ranking they show is kept already (portal/targets/scorecards.py). Their figures may thus be up to that long behind a
shipment, a sell-through line or a payment just recorded — acceptable for progress and trend cards; the pages they
link to (achievement, scorecards, channel flow, rebates) and the API always compute them anew. Each gunicorn worker
keeps its own copy. Nothing else on the home pages is kept: credit, receivables, work queues, orders, stock,
notifications and a dealer's own rebate progress are read on every request.

The key names the card exactly: its kind, the scope (HQ's or a region's, whoever the user) or the dealer (with the
dealer's creation time, so that a dealer row made again with the same id never finds another's card), the measure and
the business day. What is kept holds plain values only (dicts, numbers, dates, strings), never ORM objects, which
belong to one request's session, and nothing reads it but to render it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")

MAX_ENTRIES = 5000  # a dealer's card is small (a few kB): the whole channel's dealers fit many times over

_kept: dict[Hashable, tuple[float, object]] = {}
_lock = threading.Lock()


def seconds() -> int:
    return int(current_app.config.get("PORTAL_SCORECARD_CACHE_SECONDS", 300) or 0)


def kept(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`'s answer, kept under `key` for `seconds()` (computed every time when 0)."""
    ttl = seconds()
    if ttl <= 0:
        return compute()
    now = time.monotonic()
    hit = _kept.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        if len(_kept) >= MAX_ENTRIES:
            for k in [k for k, (until, _v) in _kept.items() if until <= now] or list(_kept)[: MAX_ENTRIES // 2]:
                _kept.pop(k, None)
        _kept[key] = (now + ttl, value)
    return value


def clear() -> None:
    """Forget every card (tests)."""
    with _lock:
        _kept.clear()
