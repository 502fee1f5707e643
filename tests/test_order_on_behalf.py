"""Orders placed on a dealer's behalf (代客下单, PRODUCT.md §12), at the service: channel managers for any dealer,
region managers for the dealers of their region; recorded as placed_by, audited, the dealer's users notified; the
credit gate as for the dealer itself."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEntry
from portal.notify.models import Notification
from portal.orders.models import Order
from portal.platform.errors import Forbidden
from tests.ordering_helpers import order_of, place


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("WEST")
    world.dealer("SH-1", "SH")
    world.dealer("CD-1", "WEST")
    for code in ("SH-1", "CD-1"):
        world.credit_limit(code, "1000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1", locale="zh_CN")
    world.user("dealer_staff", dealer="SH-1", username="sh1.staff", locale="en")
    world.user("channel_manager", username="cm")
    world.user("region_manager", region="EAST", username="rm.east")
    world.user("finance", username="fin")
    world.product("OIL-1", list_price="10.00")
    return world


def test_a_channel_manager_places_for_a_dealer_recorded_audited_and_notified(world, channel):
    number = place(world, "cm", "SH-1", [{"sku": "OIL-1", "quantity": 3}])
    got = order_of(world, number)
    assert got["placed_by"] == "cm" and got["status"] == "approved"
    assert got["events"][0] == (None, "submitted", "placed_for")
    entry = world.get(AuditEntry, action="order.submit", object_key=number)
    assert entry["actor"] == "cm" and entry["after"]["placed_by"] == "cm"
    titles = {n["title"] for n in (world.get(Notification, id=i) for i in _ids(world, number))}
    assert titles == {f"已代您下单 {number}", f"Order {number} placed for you"}  # each user in its language


def _ids(world, number):
    from portal.extensions import db

    return world.run(lambda: [n.id for n in db.session.query(Notification).filter_by(link=f"/orders/{number}")])


def test_a_region_manager_places_for_its_regions_dealers_only(world, channel):
    assert order_of(world, place(world, "rm.east", "SH-1", [{"sku": "OIL-1", "quantity": 1}]))["placed_by"] == "rm.east"
    with pytest.raises(Forbidden):
        place(world, "rm.east", "CD-1", [{"sku": "OIL-1", "quantity": 1}])
    assert world.count(Order) == 1  # only SH-1's


@pytest.mark.parametrize("username", ["fin", "sh1"])
def test_nobody_else_places_for_another_dealer(world, channel, username):
    with pytest.raises(Forbidden):
        place(world, username, "CD-1", [{"sku": "OIL-1", "quantity": 1}])
    assert world.count(Order) == 0


def test_the_dealers_own_order_has_no_placed_by_and_nobody_is_told(world, channel):
    number = place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 1}])
    assert order_of(world, number)["placed_by"] is None
    assert _ids(world, number) == []


def test_the_credit_gate_is_the_dealers(world, channel):
    number = place(world, "cm", "SH-1", [{"sku": "OIL-1", "quantity": 100}])  # 1,130.00 > 1,000.00
    assert order_of(world, number)["status"] == "credit_review"
