"""The overview runs a bounded number of SQL statements, whatever the dealer's history (PRODUCT.md §12, speed).

Two dealers with the same kinds of things — one with a handful of invoices and orders, one with many times more
invoices, orders, shipments and statements — cost the same number of statements, for the page and for the API,
counted with the shared helper (tests/querycount.py: every statement sent on the app's engine).
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import today
from tests.conftest import login
from tests.querycount import counting

# statements for one page view, login check and all (the API answer needs a few less): 40, plus ~35 since the page
# shows the dealer's targets and score (§15) — three achievement calls (5–6 statements each, one per measure) and the
# month's scorecard (~19: every component is one grouped statement over the whole channel, ranks need everyone); a
# fixed number whatever the data, as the equal counts below check (PostgreSQL's SET LOCAL planner settings are not
# counted: tests/querycount.py)
BOUND = 90


@pytest.fixture
def two_dealers(world):
    few = world.busy_dealer("SH-FEW", "SH", invoices=2, orders=0)
    many = world.busy_dealer("SH-MANY", "SH", invoices=60, orders=12)
    t = today()
    for n in range(1, 4):  # more shipments in transit and more months stated
        world.shipment(many["orders"][-n], [("P-1", 1)])
    for months in (2, 3, 4):
        end = t.replace(day=1)
        for _ in range(months - 1):
            end = (end - dt.timedelta(days=1)).replace(day=1)
        world.statement("SH-MANY", (end - dt.timedelta(days=1)).strftime("%Y-%m"))
    world.backorder(many["orders"][4], "P-1", 1, t)
    world.backorder(many["orders"][1], "P-1", 2, t)  # the fixture's own backorder, marked again after the orders
    world.backorder(few["orders"][1], "P-1", 2, t)
    return world.user("hq_admin", username="hq.count")


def _count(app, client, url: str, **kwargs) -> int:
    with counting(app) as statements:
        resp = client.get(url, **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return len(statements)


def test_the_many_cost_what_the_few_cost(app, client, world, two_dealers):
    few = client.get("/api/v1/dealers/SH-FEW/overview", headers=world.auth(two_dealers)).get_json()
    many = client.get("/api/v1/dealers/SH-MANY/overview", headers=world.auth(two_dealers)).get_json()
    assert many["open_invoices"]["count"] > 10 * few["open_invoices"]["count"] / 2
    assert many["orders"]["open_count"] > 3 * few["orders"]["open_count"]
    assert many["shipments"]["count"] > few["shipments"]["count"]
    assert many["statements"]["count"] > few["statements"]["count"]
    assert many["backorders"]["lines"] > few["backorders"]["lines"]

    login(client, two_dealers)
    client.get("/dealers/SH-FEW")  # warm: the first request of a session loads what later ones find cached
    page_few, page_many = _count(app, client, "/dealers/SH-FEW"), _count(app, client, "/dealers/SH-MANY")
    assert page_few == page_many <= BOUND, (page_few, page_many)

    auth = world.auth(two_dealers)
    api_few = _count(app, client, "/api/v1/dealers/SH-FEW/overview", headers=auth)
    api_many = _count(app, client, "/api/v1/dealers/SH-MANY/overview", headers=auth)
    assert api_few == api_many <= BOUND, (api_few, api_many)


def test_a_dealer_user_costs_no_more(app, client, world, two_dealers):
    few = world.user("dealer_admin", dealer="SH-FEW", username="few.admin")
    many = world.user("dealer_admin", dealer="SH-MANY", username="many.admin")
    counts = []
    for username, code in ((few, "SH-FEW"), (many, "SH-MANY")):
        other = app.test_client()
        login(other, username)
        other.get("/home")
        counts.append(_count(app, other, f"/dealers/{code}"))
    assert counts[0] == counts[1] <= BOUND, counts
