"""Temporary credit increase requests (PRODUCT.md §14): a dealer administrator asks; the region manager decides within
its region's approval limit, finance above it (or after the region forwards it); approval creates the increase and
the available credit grows; a decided request answers 409 with nothing written; scoped like everything else."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.credit.models import CreditIncrease, CreditRequest
from portal.notify.models import Notification
from portal.platform.timeutil import today
from tests.conftest import login, page_csrf


@pytest.fixture
def people(world):
    world.region("EAST", approval_limit="50000")
    world.region("WEST")
    world.dealer("SH-1", "EAST")
    world.dealer("XA-1", "WEST")
    world.credit_limit("SH-1", "100000")
    return {
        "admin": world.user("dealer_admin", dealer="SH-1", username="sh.admin"),
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh.staff"),
        "other": world.user("dealer_admin", dealer="XA-1", username="xa.admin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_west": world.user("region_manager", region="WEST", username="rm.west"),
        "fin": world.user("finance", username="fin"),
    }


def _until(days: int = 30) -> str:
    return (today() + dt.timedelta(days=days)).isoformat()


def ask(client, world, who, amount="20000.00", days=30, reason="旺季备货", status=201):
    body = {"amount": amount, "valid_until": _until(days), "reason": reason}
    resp = client.post("/api/v1/credit-requests", json=body, headers=world.auth(who))
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def decide(client, world, who, request_id, action="approve", comment=None, status=200):
    body = {"comment": comment} if comment is not None else {}
    resp = client.post(f"/api/v1/credit-requests/{request_id}/{action}", json=body, headers=world.auth(who))
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def state(world) -> dict:
    """Every table but the API tokens (whose last use each call stamps)."""
    snap = world.snapshot()
    snap.pop("api_tokens")
    return snap


def available(client, world, who="fin"):
    return client.get("/api/v1/dealers/SH-1/credit", headers=world.auth(who)).get_json()


def test_within_the_region_limit_the_region_manager_approves_and_the_credit_grows(client, world, people):
    before = available(client, world)
    req = ask(client, world, "sh.admin", "20000.00")
    assert (req["status"], req["stage"], req["dealer_code"]) == ("pending", "region", "SH-1")
    approved = decide(client, world, "rm.east", req["id"], comment="同意")
    assert approved["status"] == "approved" and approved["decided_by"] == "rm.east" and approved["increase_id"]
    after = available(client, world)
    assert after["temporary"] == "20000.00"
    assert Decimal(after["available"]) - Decimal(before["available"]) == Decimal("20000.00")
    increase = world.get(CreditIncrease, id=approved["increase_id"])
    assert (increase["valid_from"], increase["valid_until"]) == (today(), today() + dt.timedelta(days=30))
    # the dealer's administrator is told
    assert world.count(Notification, kind="credit_request") == 1


def test_above_the_region_limit_only_finance_decides(client, world, people):
    req = ask(client, world, "sh.admin", "50000.01")
    assert req["stage"] == "finance"
    resp = decide(client, world, "rm.east", req["id"], status=403)
    assert resp["error"]["code"] == "forbidden"
    assert world.count(CreditIncrease) == 0
    assert decide(client, world, "fin", req["id"])["status"] == "approved"
    assert available(client, world)["temporary"] == "50000.01"


def test_the_region_manager_may_forward_to_finance(client, world, people):
    req = ask(client, world, "sh.admin", "1000.00")
    forwarded = decide(client, world, "rm.east", req["id"], action="forward", comment="请财务定")
    assert (forwarded["status"], forwarded["stage"]) == ("pending", "finance")
    decide(client, world, "rm.east", req["id"], status=403)
    rejected = decide(client, world, "fin", req["id"], action="reject", comment="逾期未清")
    assert rejected["status"] == "rejected" and rejected["comment"] == "逾期未清"
    assert world.count(CreditIncrease) == 0


def test_approving_twice_is_a_conflict_and_writes_nothing(client, world, people):
    req = ask(client, world, "sh.admin")
    decide(client, world, "rm.east", req["id"])
    before = state(world)
    again = decide(client, world, "fin", req["id"], status=409)
    assert again["error"]["code"] == "already_decided"
    decide(client, world, "fin", req["id"], action="reject", comment="x", status=409)
    assert state(world) == before
    assert world.count(CreditIncrease) == 1


def test_reject_needs_a_comment(client, world, people):
    req = ask(client, world, "sh.admin")
    resp = decide(client, world, "rm.east", req["id"], action="reject", status=422)
    assert "comment" in resp["error"]["fields"]
    assert world.get(CreditRequest, id=req["id"])["status"] == "pending"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"amount": "-5.00", "valid_until": _until(), "reason": "x"}, "amount"),
        ({"amount": "0", "valid_until": _until(), "reason": "x"}, "amount"),
        ({"amount": "10.00", "valid_until": _until(-1), "reason": "x"}, "valid_until"),
        ({"amount": "10.00", "valid_until": _until(91), "reason": "x"}, "valid_until"),
        ({"amount": "10.00", "valid_until": _until(), "reason": "  "}, "reason"),
    ],
)
def test_bad_requests_are_refused_whole(client, world, people, body, field):
    resp = client.post("/api/v1/credit-requests", json=body, headers=world.auth("sh.admin"))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    assert world.count(CreditRequest) == 0


def test_only_a_dealer_admin_asks(client, world, people):
    for who in ("sh.staff", "rm.east", "fin"):
        ask(client, world, who, status=403)
    assert world.count(CreditRequest) == 0


def test_requests_are_scoped(client, world, people):
    req = ask(client, world, "sh.admin")
    for who in ("xa.admin", "rm.west"):
        resp = client.get(f"/api/v1/credit-requests/{req['id']}", headers=world.auth(who))
        assert resp.status_code == 404
        assert client.get("/api/v1/credit-requests", headers=world.auth(who)).get_json()["total"] == 0
    resp = decide(client, world, "rm.west", req["id"], status=404)
    assert resp["error"]["code"] == "not_found"
    assert client.get("/api/v1/credit-requests", headers=world.auth("rm.east")).get_json()["total"] == 1


def test_lists_put_pending_first(client, world, people):
    first = ask(client, world, "sh.admin", "100.00")
    decide(client, world, "rm.east", first["id"])
    second = ask(client, world, "sh.admin", "200.00")
    items = client.get("/api/v1/credit-requests", headers=world.auth("sh.admin")).get_json()["items"]
    assert [i["id"] for i in items] == [second["id"], first["id"]]


def test_the_pages_ask_and_decide(client, world, people):
    login(client, "sh.admin")
    csrf = page_csrf(client, "/credit-requests")
    resp = client.post("/credit-requests", data={"csrf_token": csrf, "req-amount": "3000", "req-valid_until": _until(),
                                                 "req-reason": "展会"})  # fmt: skip
    assert resp.status_code == 302
    req = world.get(CreditRequest, reason="展会")
    assert req["stage"] == "region"
    client2 = client.application.test_client()
    login(client2, "rm.east")
    page = client2.get("/credit-requests").get_data(as_text=True)
    assert "展会" in page and f'/credit-requests/{req["id"]}/decide' in page
    csrf = page_csrf(client2, "/credit-requests")
    resp = client2.post(f"/credit-requests/{req['id']}/decide", data={"csrf_token": csrf, "action": "approve"})
    assert resp.status_code == 302
    assert world.get(CreditRequest, id=req["id"])["status"] == "approved"
    assert world.count(CreditIncrease) == 1


def test_a_dealer_admin_withdraws_a_pending_request(client, world, people):
    req = ask(client, world, "sh.admin")
    got = decide(client, world, "sh.admin", req["id"], action="withdraw")
    assert got["status"] == "withdrawn" and got["decided_by"] == "sh.admin"
    pending = client.get("/api/v1/credit-requests?status=pending", headers=world.auth("rm.east")).get_json()
    assert pending["total"] == 0  # gone from the deciders' lists (and their work queues, which read pending ones)
    before = state(world)
    for who, action, comment in (("rm.east", "approve", None), ("fin", "reject", "x"), ("sh.admin", "withdraw", None)):
        assert decide(client, world, who, req["id"], action, comment, status=409)["error"]["code"] == "already_decided"
    assert state(world) == before
    assert world.count(CreditIncrease) == 0


def test_only_the_dealer_admin_withdraws_and_not_after_a_decision(client, world, people):
    req = ask(client, world, "sh.admin")
    decide(client, world, "sh.staff", req["id"], action="withdraw", status=403)
    decide(client, world, "rm.east", req["id"], action="withdraw", status=403)
    decide(client, world, "xa.admin", req["id"], action="withdraw", status=404)
    assert world.get(CreditRequest, id=req["id"])["status"] == "pending"
    decide(client, world, "rm.east", req["id"])
    before = state(world)
    decide(client, world, "sh.admin", req["id"], action="withdraw", status=409)
    assert state(world) == before


def test_the_page_withdraws(client, world, people):
    req = ask(client, world, "sh.admin")
    login(client, "sh.admin")
    page = client.get("/credit-requests").get_data(as_text=True)
    assert f'/credit-requests/{req["id"]}/withdraw' in page
    csrf = page_csrf(client, "/credit-requests")
    resp = client.post(f"/credit-requests/{req['id']}/withdraw", data={"csrf_token": csrf})
    assert resp.status_code == 302
    assert world.get(CreditRequest, id=req["id"])["status"] == "withdrawn"
    page = client.get("/credit-requests").get_data(as_text=True)
    assert f'/credit-requests/{req["id"]}/withdraw' not in page
