"""Work queues through the tenancy scope: a region manager never sees another region's items, a dealer only its own,
on the home page, on a queue's own page and in the API; a queue of another role is not there (404); and a queue costs
the same few statements whether one item waits or many."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.platform.timeutil import freeze, today
from tests.conftest import login

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def two_regions(world):
    """Everything that can wait, once in each region: orders in review, backorders, shipments, statements,
    disputes, holds, unapplied cash."""
    world.region("CN")
    world.region("EA", parent="CN", approval_limit="1000000")
    world.region("NO", parent="CN", approval_limit="1000000")
    world.dealer("SH-1", "EA", name="上海甲")
    world.dealer("BJ-1", "NO", name="北京乙")
    world.product("P-1", list_price="1000.00")
    world.stock("P-1", 100)
    world.product("B-1", list_price="100.00")  # none at HQ: approved orders of it wait (backorders)
    out = {}
    for code in ("SH-1", "BJ-1"):
        world.credit_limit(code, "100000")
        with freeze(NOW - dt.timedelta(days=20)):
            order = world.order(code, [("P-1", 5), ("B-1", 2)])
            world.shipment(order, [("P-1", 1)])
        world.credit_limit(code, "0")
        review = world.order(code, [("P-1", 1)])
        m1_end = today().replace(day=1) - dt.timedelta(days=1)
        m2_end = m1_end.replace(day=1) - dt.timedelta(days=1)
        m3_end = m2_end.replace(day=1) - dt.timedelta(days=1)
        world.invoice(code, amount="500.00", issued_on=m3_end.replace(day=3))
        world.invoice(code, amount="300.00", issued_on=m2_end.replace(day=3))
        world.payment(code, "5000.00", received_on=m2_end.replace(day=20))  # more than every invoice: unapplied
        with freeze(NOW - dt.timedelta(days=15)):
            stale = world.statement(code, m3_end.strftime("%Y-%m"))
        with freeze(NOW - dt.timedelta(days=5)):
            statement = world.statement(code, m2_end.strftime("%Y-%m"))
        world.hold(code)
        out[code] = {"order": order, "review": review, "statement": statement, "stale": stale}
    world.dispute(out["SH-1"]["statement"])
    world.dispute(out["BJ-1"]["statement"])
    out["users"] = {
        "rm.ea": world.user("region_manager", region="EA", username="rm.ea"),
        "sh.admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "sh.staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "fin": world.user("finance", username="fin"),
        "cm": world.user("channel_manager", username="cm"),
    }
    return out


def _everything(client, keys) -> str:
    pages = [client.get("/home"), client.get("/api/v1/home/queues")]
    pages += [client.get(f"/home/queues/{key}") for key in keys]
    for resp in pages:
        assert resp.status_code == 200, resp.request.path
    return "\n".join(resp.get_data(as_text=True) for resp in pages)


def test_a_region_manager_never_sees_another_regions_items(app, world, two_regions):
    client = app.test_client()
    login(client, "rm.ea")
    text = _everything(client, ("approvals", "waiting_for_hq"))
    assert two_regions["SH-1"]["review"] in text
    assert "BJ-1" not in text and "北京乙" not in text and two_regions["BJ-1"]["review"] not in text


@pytest.mark.parametrize("username", ["sh.admin", "sh.staff"])
def test_a_dealer_sees_only_its_own(app, world, two_regions, username):
    from portal.home.queues import ROLE_QUEUES

    client = app.test_client()
    login(client, username)
    role = "dealer_admin" if username == "sh.admin" else "dealer_staff"
    text = _everything(client, ROLE_QUEUES[role])
    assert two_regions["SH-1"]["order"] in text
    for secret in ("BJ-1", "北京乙", two_regions["BJ-1"]["order"]):
        assert secret not in text


def test_hq_sees_both_regions(app, world, two_regions):
    client = app.test_client()
    login(client, "fin")
    body = client.get("/api/v1/home/queues").get_json()
    by_key = {q["key"]: q for q in body["queues"]}
    assert by_key["disputes"]["total"] == 2 and by_key["credit_holds"]["total"] == 2
    assert by_key["unapplied_cash"]["total"] == 2 and by_key["stale_statements"]["total"] == 2
    assert by_key["approvals"]["total"] == 2


def test_a_queue_of_another_role_answers_404(app, world, two_regions):
    client = app.test_client()
    login(client, "sh.staff")
    for key in ("disputes", "approvals", "statements_to_confirm", "no_such_queue"):
        assert client.get(f"/home/queues/{key}").status_code == 404
    client = app.test_client()
    login(client, "rm.ea")
    assert client.get("/home/queues/failed_jobs").status_code == 404
    assert client.get("/home/queues/approvals?page=99999999999999999999").status_code == 200  # past the end: empty


def _statements_for(app, client, url: str) -> int:
    count = 0

    def on_execute(*_args):
        nonlocal count
        count += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return count


@pytest.mark.parametrize("username", ["fin", "cm", "rm.ea", "sh.admin"])
def test_a_queue_costs_the_same_statements_for_one_item_or_many(app, world, two_regions, username):
    client = app.test_client()
    login(client, username)
    few = _statements_for(app, client, "/api/v1/home/queues")
    for code, region in (("SH-2", "EA"), ("SH-3", "EA"), ("BJ-2", "NO")):  # more of everything that waits
        world.dealer(code, region)
        world.credit_limit(code, "100000")
        with freeze(NOW - dt.timedelta(days=9)):
            order = world.order(code, [("P-1", 3), ("B-1", 1)])
            world.shipment(order, [("P-1", 1)])
        world.credit_limit(code, "0")
        world.order(code, [("P-1", 1)])
        world.order(code, [("P-1", 2)])
        world.payment(code, "9000.00", received_on=today())
        world.hold(code)
        world.failed_job("fin")
    for _n in range(2):  # and of the dealer's own
        world.shipment(two_regions["SH-1"]["order"], [("P-1", 1)])
    many = _statements_for(app, client, "/api/v1/home/queues")
    assert sum(q["total"] for q in client.get("/api/v1/home/queues").get_json()["queues"]) > 3
    assert many == few, f"{username}: {few} statements with one item per queue, {many} with more"
