"""The approvals page shows how long each order has waited, counted from when it (last) entered credit review, and
lists the longest waiting first."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.extensions import db
from portal.platform.timeutil import freeze
from tests.conftest import login

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def queue(world):
    world.region("EA")
    world.dealer("SH-1", "EA")
    world.product("P-1", list_price="1000.00")
    orders = {}
    for name, days in (("old", 9), ("mid", 3), ("new", 0.25)):
        with freeze(NOW - dt.timedelta(days=days)):
            orders[name] = world.order("SH-1", [("P-1", 1)])
    return orders


def _rows(html: str) -> list[tuple[str, str]]:
    """(order number, waiting time) per row, in page order."""
    return re.findall(r'href="/orders/([^"]+)">[^<]+</a></td>\s*<td class="text-nowrap" data-waited="\d+"[^>]*>'
                      r'<span class="badge[^"]*">([^<]+)</span>', html)  # fmt: skip


def test_each_order_shows_how_long_it_waited_longest_first(client, world, queue):
    login(client, world.user("finance"))
    html = client.get("/approvals").get_data(as_text=True)
    assert _rows(html) == [(queue["old"], "9 d"), (queue["mid"], "3 d"), (queue["new"], "6 h")]
    assert "Waited" in html


def test_the_wait_counts_from_when_the_order_entered_credit_review(client, world, queue):
    """An order placed long ago that came back to credit review yesterday (an amendment, §12) waited one day."""
    from portal.orders.models import Order, OrderEvent

    def back_to_review():
        order = db.session.query(Order).filter_by(number=queue["old"]).one()
        order.events.append(OrderEvent(actor="test", from_status="approved", to_status="credit_review",
                                       at=NOW - dt.timedelta(days=1)))  # fmt: skip

    world.run(back_to_review)
    login(client, world.user("channel_manager"))
    html = client.get("/approvals").get_data(as_text=True)
    assert _rows(html) == [(queue["mid"], "3 d"), (queue["old"], "1 d"), (queue["new"], "6 h")]
    home = client.get("/home").get_data(as_text=True)
    assert re.findall(r'data-order="([^"]+)" data-queue-item', home) == [queue["mid"], queue["old"], queue["new"]]
