"""Credit limits (logged), temporary increases, exposure and available credit, manual holds."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.credit.models import CreditLimitChange
from portal.platform.timeutil import freeze


@pytest.fixture
def setup(world):
    world.region("EAST")
    dealer = world.dealer("SH-1", "EAST")
    return dealer, world.auth(world.user("finance", username="fin.lin"))


def test_available_is_limit_plus_increases_minus_exposure(client, world, setup):
    dealer, fin = setup
    assert (
        client.put(
            f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "100000.00", "reason": "年度授信"}, headers=fin
        ).status_code
        == 200
    )
    world.invoice(dealer, "FP-1", "30000.00", issued_on=dt.date(2026, 1, 10))
    world.payment(dealer, "5000.00", received_on=dt.date(2026, 1, 20))
    resp = client.post(
        f"/api/v1/dealers/{dealer}/credit-increases",
        json={"amount": "20000.00", "valid_from": "2026-11-01", "valid_until": "2026-11-30", "reason": "旺季备货"},
        headers=fin,
    )
    assert resp.status_code == 201
    body = client.get(f"/api/v1/dealers/{dealer}/credit?date=2026-11-15", headers=fin).get_json()
    assert body == {
        "credit_limit": "100000.00",
        "temporary": "20000.00",
        "exposure": "25000.00",
        "open_receivables": "25000.00",
        "open_orders": "0.00",
        "available": "95000.00",
        "on_hold": False,
        "hold_reason": None,
        "hold_source": None,
        "dunning_level": 0,  # §14
    }
    outside = client.get(f"/api/v1/dealers/{dealer}/credit?date=2026-12-01", headers=fin).get_json()
    assert outside["temporary"] == "0.00" and outside["available"] == "75000.00"


def test_every_limit_change_is_logged_with_old_new_and_reason(client, world, setup):
    dealer, fin = setup
    client.put(f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "50000", "reason": "开户"}, headers=fin)
    client.put(f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "80000", "reason": "提额"}, headers=fin)
    changes = world.run(
        lambda: [
            (str(c.old_limit), str(c.new_limit), c.reason, c.changed_by)
            for c in __import__("portal.extensions", fromlist=["db"])
            .db.session.query(CreditLimitChange)
            .order_by(CreditLimitChange.id)
        ]
    )
    assert changes == [("0.00", "50000.00", "开户", "fin.lin"), ("50000.00", "80000.00", "提额", "fin.lin")]


def test_bad_credit_input_is_refused(client, setup, world):
    dealer, fin = setup
    before = world.snapshot()
    assert (
        client.put(
            f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "-1", "reason": "x"}, headers=fin
        ).status_code
        == 422
    )
    assert client.put(f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "10"}, headers=fin).status_code == 422
    resp = client.post(
        f"/api/v1/dealers/{dealer}/credit-increases",
        json={"amount": "100", "valid_from": "2026-05-02", "valid_until": "2026-05-01", "reason": "x"},
        headers=fin,
    )
    assert resp.status_code == 422 and "valid_until" in resp.get_json()["error"]["fields"]
    assert world.snapshot() == before


def test_a_manual_hold_is_set_and_lifted_by_finance(client, setup):
    dealer, fin = setup
    resp = client.put(f"/api/v1/dealers/{dealer}/credit-hold", json={"reason": "对账争议未解决"}, headers=fin)
    assert resp.get_json()["on_hold"] is True and resp.get_json()["hold_source"] == "manual"
    resp = client.open(f"/api/v1/dealers/{dealer}/credit-hold", method="DELETE", json={"reason": "已解决"}, headers=fin)
    assert resp.get_json()["on_hold"] is False
    again = client.open(f"/api/v1/dealers/{dealer}/credit-hold", method="DELETE", json={"reason": "x"}, headers=fin)
    assert again.status_code == 409


def test_only_finance_manages_credit_and_dealers_see_their_own(client, world, setup):
    dealer, _fin = setup
    world.dealer("SH-2", "EAST")
    cm = world.auth(world.user("channel_manager"))
    assert (
        client.put(
            f"/api/v1/dealers/{dealer}/credit-limit", json={"amount": "1", "reason": "x"}, headers=cm
        ).status_code
        == 403
    )
    staff = world.auth(world.user("dealer_staff", dealer=dealer))
    assert client.get(f"/api/v1/dealers/{dealer}/credit", headers=staff).status_code == 200
    assert client.get("/api/v1/dealers/SH-2/credit", headers=staff).status_code == 404


def test_credit_page_for_finance_changes_the_limit(client, world, setup):
    from tests.conftest import login, page_csrf

    dealer, _ = setup
    login(client, world.user("finance"))
    csrf = page_csrf(client, f"/dealers/{dealer}/credit")
    resp = client.post(
        f"/dealers/{dealer}/credit",
        data={"action": "limit", "limit-amount": "1,5x", "limit-reason": "x", "limit-csrf_token": csrf},
    )
    assert resp.status_code == 422 and "Not a number" in resp.get_data(as_text=True)
    resp = client.post(
        f"/dealers/{dealer}/credit",
        data={"action": "limit", "limit-amount": "150000", "limit-reason": "年度授信", "limit-csrf_token": csrf},
    )
    assert resp.status_code == 302
    with freeze(dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)):
        page = client.get(f"/dealers/{dealer}/credit").get_data(as_text=True)
    assert "150,000.00" in page and "年度授信" in page
