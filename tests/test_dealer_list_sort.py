"""The dealer list (`/dealers`, `GET /api/v1/dealers`) sorted by balance, overdue amount or credit utilisation, either
way, each figure the one the dealer's own pages show, in one statement for the page's rows whatever their number."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.platform.timeutil import today
from tests.conftest import login
from tests.querycount import counting


@pytest.fixture
def dealers(world):
    """Four dealers: balances 3000 / 500 / 0 / 9000, overdue 2000 / 0 / 0 / 1000, limits 10k / 1k / none / 100k."""
    world.region("EAST")
    world.region("SH", parent="EAST")
    t = today()
    for code in ("SH-A", "SH-B", "SH-C", "SH-D"):
        world.dealer(code, "SH")
    world.credit_limit("SH-A", "10000.00")
    world.credit_limit("SH-B", "1000.00")
    world.credit_limit("SH-D", "100000.00")
    world.invoice("SH-A", "A-1", "2000.00", issued_on=t - dt.timedelta(days=70), due_on=t - dt.timedelta(days=40))
    world.invoice("SH-A", "A-2", "1000.00", issued_on=t - dt.timedelta(days=5))
    world.invoice("SH-B", "B-1", "500.00", issued_on=t - dt.timedelta(days=3))
    world.invoice("SH-D", "D-1", "4000.00", issued_on=t - dt.timedelta(days=100), due_on=t - dt.timedelta(days=70))
    world.invoice("SH-D", "D-2", "6000.00", issued_on=t - dt.timedelta(days=2))
    world.payment("SH-D", "3000.00", received_on=t - dt.timedelta(days=1))  # 1000 of D-1 stays overdue
    return world.user("channel_manager", username="cm.zhou")


def codes(client, auth, query: str) -> list[str]:
    body = client.get(f"/api/v1/dealers?{query}", headers=auth).get_json()
    return [d["code"] for d in body["items"]]


def test_sorting_by_each_figure_either_way(client, world, dealers):
    auth = world.auth(dealers)
    assert codes(client, auth, "") == ["SH-A", "SH-B", "SH-C", "SH-D"]
    assert codes(client, auth, "sort=code&dir=desc") == ["SH-D", "SH-C", "SH-B", "SH-A"]
    assert codes(client, auth, "sort=balance&dir=desc") == ["SH-D", "SH-A", "SH-B", "SH-C"]
    assert codes(client, auth, "sort=balance&dir=asc") == ["SH-C", "SH-B", "SH-A", "SH-D"]
    assert codes(client, auth, "sort=overdue&dir=desc") == ["SH-A", "SH-D", "SH-B", "SH-C"]
    assert codes(client, auth, "sort=overdue") == ["SH-B", "SH-C", "SH-D", "SH-A"]
    # utilisation: B 50 %, A 30 %, D 7 %, C has no credit: last either way
    assert codes(client, auth, "sort=utilisation&dir=desc") == ["SH-B", "SH-A", "SH-D", "SH-C"]
    assert codes(client, auth, "sort=utilisation&dir=asc") == ["SH-D", "SH-A", "SH-B", "SH-C"]
    assert codes(client, auth, "sort=balance&dir=desc&per_page=2&page=2") == ["SH-B", "SH-C"]
    assert codes(client, auth, "sort=overdue&dir=desc&tier=B&q=sh-") == ["SH-A", "SH-D", "SH-B", "SH-C"]
    assert client.get("/api/v1/dealers?sort=name", headers=auth).status_code == 422
    assert client.get("/api/v1/dealers?dir=up", headers=auth).status_code == 422


def test_the_figures_are_the_dealer_pages_figures(client, world, dealers):
    auth = world.auth(dealers)
    listed = {d["code"]: d for d in client.get("/api/v1/dealers", headers=auth).get_json()["items"]}
    ageing = {
        r["key"]: r for r in client.get("/api/v1/receivables/ageing?group_by=dealer", headers=auth).get_json()["rows"]
    }
    for code, row in listed.items():
        credit = client.get(f"/api/v1/dealers/{code}/credit", headers=auth).get_json()
        assert row["balance"] == credit["open_receivables"]
        assert row["exposure"] == credit["exposure"] and row["available"] == credit["available"]
        overview = client.get(f"/api/v1/dealers/{code}/overview", headers=auth).get_json()
        assert row["overdue"] == overview["ageing"]["overdue"]
        assert row["utilisation"] == overview["credit"]["utilisation"]
        if code in ageing:
            overdue = sum(Decimal(ageing[code][b]) for b in ("1_30", "31_60", "61_90", "over_90"))
            assert Decimal(row["overdue"]) == overdue
    assert (listed["SH-A"]["overdue"], listed["SH-D"]["overdue"], listed["SH-C"]["overdue"]) == (
        "2000.00",
        "1000.00",
        "0.00",
    )
    assert listed["SH-B"]["utilisation"] == "50.0" and listed["SH-C"]["utilisation"] is None


def test_the_page_sorts_and_links_each_dealer_to_its_overview(client, world, dealers):
    login(client, dealers)
    html = client.get("/dealers?sort=overdue&dir=desc").get_data(as_text=True)
    order = [html.index(f'data-dealer="{c}"') for c in ("SH-A", "SH-D", "SH-B", "SH-C")]
    assert order == sorted(order)
    assert 'href="/dealers/SH-A"' in html and 'aria-sort="descending"' in html
    assert 'href="/dealers?sort=overdue&amp;dir=asc"' in html  # the active column's link turns the order round
    assert "2,000.00" in html and "50.0 %" in html
    assert client.get("/dealers?sort=bogus").status_code == 200  # an unknown sort falls back to the code


def test_one_statement_for_the_rows_whatever_their_number(app, client, world, dealers):
    auth = world.auth(dealers)

    def statements(query: str) -> int:
        with counting(app) as seen:
            assert client.get(f"/api/v1/dealers?{query}", headers=auth).status_code == 200
        return len(seen)

    few = {q: statements(q) for q in ("sort=overdue&dir=desc", "sort=utilisation", "")}
    for n in range(30):
        code = f"SH-X{n:02d}"
        world.dealer(code, "SH")
        world.invoice(code, f"X-{n}", "100.00", issued_on=today() - dt.timedelta(days=50))
    world.account_manager("SH-X01", dealers)
    many = {q: statements(q) for q in few}
    assert many == few
    assert max(few.values()) <= 6  # the token, the user, the count, the rows
