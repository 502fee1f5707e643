"""Dunning (PRODUCT.md §14): the daily scan moves each dealer to its level of PORTAL_DUNNING_LEVELS and acts once
per level and invoice; at the review level every new order goes to credit review; paid up, back to level 0."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.collections.models import DunningAction
from portal.collections.services import parse_levels
from portal.config import ConfigError
from portal.credit.models import DealerCredit
from portal.dealers.models import Dealer, User
from portal.notify.models import Notification
from portal.orders.models import Order, OrderEvent
from portal.platform.timeutil import freeze

DUE = dt.date(2026, 5, 31)  # the invoice's due date: day N past due is DUE + N


def at(days_past_due: int, hour: int = 4) -> dt.datetime:
    """A moment on the day the invoice is `days_past_due` days past due (12:00 in Shanghai by default)."""
    day = DUE + dt.timedelta(days=days_past_due)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


@pytest.fixture
def late(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.dealer("SH-LATE", "SH", name="上海逾期经销商")
    world.credit_limit("SH-LATE", "100000")
    world.invoice("SH-LATE", "FP-1", "1000.00", issued_on=dt.date(2026, 5, 1), due_on=DUE)
    return {
        "admin": world.user("dealer_admin", dealer="SH-LATE", username="late.admin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "fin_user": world.user("finance", username="fin.a"),
        "fin": world.auth("fin.a"),
    }


def scan(client, fin, moment):
    with freeze(moment):
        resp = client.post("/api/v1/credit/overdue-scan", headers=fin)
        assert resp.status_code == 202, resp.get_json()
        if client.application.config["REDIS_URL"]:
            from rq import SimpleWorker

            from portal import jobs

            with client.application.app_context():
                queue = jobs.get_queue(client.application)
                SimpleWorker([queue], connection=queue.connection).work(burst=True)
        job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()
    assert job["status"] == "finished", job
    return job["result"]


def dunning_notices(world) -> dict[str, int]:
    def read():
        from portal.extensions import db

        rows = db.session.query(User.username).join(Notification, Notification.user_id == User.id)
        names = [u for (u,) in rows.filter(Notification.kind == "dunning")]
        return {n: names.count(n) for n in sorted(set(names))}

    return world.run(read)


def level(world) -> int:
    dealer = world.get(Dealer, code="SH-LATE")
    return world.get(DealerCredit, dealer_id=dealer["id"])["dunning_level"]


def test_each_level_acts_once_across_runs_and_days(client, world, late):
    fin = late["fin"]
    result = scan(client, fin, at(1))
    assert result["levels_changed"] == 1 and result["dunning_actions"] == 1 and result["dunning_notices"] == 1
    assert level(world) == 1 and dunning_notices(world) == {"late.admin": 1}
    again = scan(client, fin, at(1, hour=9))  # twice on the same day: nothing again
    assert again["dunning_actions"] == 0 and again["dunning_notices"] == 0
    scan(client, fin, at(2))  # the next day, still level 1: nothing
    assert dunning_notices(world) == {"late.admin": 1}
    scan(client, fin, at(15))  # the region manager too
    assert level(world) == 15 and dunning_notices(world) == {"late.admin": 2, "rm.east": 1}
    scan(client, fin, at(16))
    scan(client, fin, at(60))  # 30 and 60 reached since the last run: one notice, at 60, finance included
    assert level(world) == 60
    assert dunning_notices(world) == {"fin.a": 1, "late.admin": 3, "rm.east": 2}
    scan(client, fin, at(60, hour=10))
    result = scan(client, fin, at(91))  # the hold level, and the automatic hold (more than 90 days)
    assert level(world) == 90 and result["holds_set"] == 1
    assert dunning_notices(world) == {"fin.a": 2, "late.admin": 4, "rm.east": 3}
    assert world.count(DunningAction) == 5  # one per level of the one invoice
    scan(client, fin, at(92))
    assert world.count(DunningAction) == 5 and dunning_notices(world)["late.admin"] == 4


def test_the_order_gate_at_the_review_level(client, world, late):
    sku = world.product("P-1", list_price="100.00")
    scan(client, late["fin"], at(29))
    with freeze(at(29)):
        below = world.order("SH-LATE", [(sku, 1)])  # level 15: fits the credit, approved
    scan(client, late["fin"], at(30))
    assert level(world) == 30
    with freeze(at(30)):
        reviewed = world.order("SH-LATE", [(sku, 1)])  # fits the credit all the same: reviewed
    with freeze(at(30)):
        world.payment("SH-LATE", "1000.00", received_on=DUE + dt.timedelta(days=30))
        paid = world.order("SH-LATE", [(sku, 1)])  # paid since the scan: through at once (level 30 until the next scan)
    assert level(world) == 30 and world.get(Order, number=paid)["status"] == "approved"
    assert world.get(Order, number=below)["status"] == "approved"
    assert world.get(Order, number=reviewed)["status"] == "credit_review"
    order_id = world.get(Order, number=reviewed)["id"]
    events = world.run(lambda: [e.data for e in OrderEvent.query.filter_by(order_id=order_id)])
    assert {"note": "dunning_review"}.items() <= events[-1].items()
    with freeze(at(30)):
        order = client.get(f"/api/v1/orders/{reviewed}", headers=late["fin"]).get_json()
    assert order["status"] == "credit_review"


def test_paid_up_back_to_level_0_and_shown_everywhere(client, world, late):
    scan(client, late["fin"], at(20))
    with freeze(at(20)):
        credit = client.get("/api/v1/dealers/SH-LATE/credit", headers=world.auth("late.admin")).get_json()
        assert credit["dunning_level"] == 15
        world.payment("SH-LATE", "1000.00", received_on=DUE + dt.timedelta(days=20))
    scan(client, late["fin"], at(21))
    assert level(world) == 0
    with freeze(at(21)):
        credit = client.get("/api/v1/dealers/SH-LATE/credit", headers=late["fin"]).get_json()
    assert credit["dunning_level"] == 0


def test_the_level_on_the_dealer_pages(client, world, late):
    from tests.conftest import login

    scan(client, late["fin"], at(31))
    pages = (("late.admin", "/my/dealer"), ("rm.east", "/dealers/SH-LATE"), ("fin.a", "/dealers/SH-LATE/credit"))
    for who, url in pages:
        browser = client.application.test_client()
        login(browser, who)
        with freeze(at(31)):
            html = browser.get(url, follow_redirects=True).get_data(as_text=True)
        assert 'data-dunning="30"' in html, (who, url)


def test_the_policy_is_checked():
    assert parse_levels("1:remind,30:review,90:hold", 90) == [(1, "remind"), (30, "review"), (90, "hold")]
    for bad in ("1:shout", "x:remind", "0:remind", "1:remind,2:remind", "", "1:remind,60:hold"):
        with pytest.raises(ConfigError):
            parse_levels(bad, 90)
    from tests.conftest import make_app

    with pytest.raises(ConfigError, match="PORTAL_DUNNING_LEVELS"):
        make_app("sqlite://", PORTAL_DUNNING_LEVELS="1:remind,15:nag")


def test_an_amendment_at_the_review_level(client, world, late):
    sku = world.product("P-2", list_price="100.00")
    with freeze(at(20)):
        number = world.order("SH-LATE", [(sku, 2)])  # approved, below the level
    scan(client, late["fin"], at(30))
    admin = world.auth("late.admin")
    with freeze(at(30)):
        down = client.patch(f"/api/v1/orders/{number}", json={"lines": [{"sku": sku, "quantity": 1}]}, headers=admin)
        assert down.status_code == 200 and down.get_json()["status"] == "approved"  # smaller: stays approved
        up = client.patch(f"/api/v1/orders/{number}", json={"lines": [{"sku": sku, "quantity": 3}]}, headers=admin)
    assert up.status_code == 200 and up.get_json()["status"] == "credit_review"  # grows: reviewed, credit or not
    note = up.get_json()["events"][-1]
    assert "dunning review level" in (note.get("note") or note.get("comment") or str(note))
