"""Promises to pay (PRODUCT.md §14): refused whole when bad; settled by the daily scan after their date — kept
when the payments since reach the amount, else broken (back on top of the worklist, the account manager told
once)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.collections.models import PromiseToPay
from portal.dealers.models import User
from portal.notify.models import Notification
from portal.platform.timeutil import freeze
from tests.test_dunning import scan

NOW = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)


def day(d: int) -> dt.datetime:
    return dt.datetime(2026, 6, d, 4, tzinfo=dt.UTC)


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.dealer("SH-BIG", "EAST")
    world.dealer("SH-SMALL", "EAST")
    world.invoice("SH-BIG", "FP-B", "1000.00", issued_on=dt.date(2026, 3, 1), due_on=dt.date(2026, 4, 1))
    world.invoice("SH-SMALL", "FP-S", "9000.00", issued_on=dt.date(2026, 3, 1), due_on=dt.date(2026, 4, 1))
    cm = world.user("channel_manager", username="cm.p")
    world.run(lambda: _assign("SH-BIG", cm))
    return {"fin": world.auth(world.user("finance", username="fin.p")), "cm": world.auth(cm)}


def _assign(code, username):
    from portal.dealers.models import Dealer
    from portal.extensions import db

    dealer = db.session.query(Dealer).filter_by(code=code).one()
    dealer.account_manager = db.session.query(User).filter_by(username=username).one()
    db.session.commit()


def promise(client, who, code, body, status=201, at=NOW):
    with freeze(at):
        resp = client.post(f"/api/v1/dealers/{code}/promises", json=body, headers=who)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def worklist(client, who, at):
    with freeze(at):
        return client.get("/api/v1/collections", headers=who).get_json()["items"]


def broken_notices(world):
    return world.run(
        lambda: [
            u
            for (u,) in User.query.with_entities(User.username)
            .join(Notification, Notification.user_id == User.id)
            .filter(Notification.kind == "promise_broken")
        ]
    )


def test_bad_promises_are_refused_and_nothing_is_written(client, world, channel):
    for body, field in (
        ({"amount": "-5.00", "promised_on": "2026-06-10"}, "amount"),
        ({"amount": "0", "promised_on": "2026-06-10"}, "amount"),
        ({"amount": "100.00", "promised_on": "2026-05-31"}, "promised_on"),
        ({"amount": "100.00", "promised_on": "2026-6-10"}, "promised_on"),
        ({"promised_on": "2026-06-10"}, "amount"),
        ({"amount": "100.00"}, "promised_on"),
    ):
        err = promise(client, channel["fin"], "SH-BIG", body, status=422)
        assert field in err["error"]["fields"], err
    assert world.count(PromiseToPay) == 0


def test_a_promise_kept(client, world, channel):
    body = {"amount": "600.00", "promised_on": "2026-06-05", "note": "分两笔"}
    made = promise(client, channel["fin"], "SH-BIG", body)
    assert made["status"] == "open" and made["amount"] == "600.00"
    top = worklist(client, channel["fin"], NOW)[1]
    assert top["dealer_code"] == "SH-BIG" and top["promise_amount"] == "600.00" and top["promise_date"] == "2026-06-05"
    world.payment("SH-BIG", "300.00", received_on=dt.date(2026, 6, 2))
    world.payment("SH-BIG", "300.00", received_on=dt.date(2026, 6, 5))
    result = scan(client, channel["fin"], day(6))
    assert result["promises_kept"] == 1 and result["promises_broken"] == 0
    assert world.get(PromiseToPay, id=made["id"])["status"] == "kept" and broken_notices(world) == []


def test_a_promise_broken_comes_back_on_top_and_tells_the_account_manager_once(client, world, channel):
    assert worklist(client, channel["fin"], NOW)[0]["dealer_code"] == "SH-SMALL"  # 9000 × 61 before 1000 × 61
    made = promise(client, channel["fin"], "SH-BIG", {"amount": "600.00", "promised_on": "2026-06-05"})
    scan(client, channel["fin"], day(5))  # its day: not yet settled
    assert world.get(PromiseToPay, id=made["id"])["status"] == "open"
    world.payment("SH-BIG", "100.00", received_on=dt.date(2026, 6, 5))
    result = scan(client, channel["fin"], day(6))
    assert result["promises_broken"] == 1
    scan(client, channel["fin"], day(6))
    scan(client, channel["fin"], day(7))
    assert world.get(PromiseToPay, id=made["id"])["status"] == "broken"
    assert broken_notices(world) == ["cm.p"]
    rows = worklist(client, channel["fin"], day(7))
    assert rows[0]["dealer_code"] == "SH-BIG" and rows[0]["promise_broken"] is True
    assert rows[1]["promise_broken"] is False


def test_a_new_promise_replaces_the_open_one(client, world, channel):
    first = promise(client, channel["cm"], "SH-BIG", {"amount": "100.00", "promised_on": "2026-06-05"})
    promise(client, channel["cm"], "SH-BIG", {"amount": "200.00", "promised_on": "2026-06-08"})
    assert world.get(PromiseToPay, id=first["id"])["status"] == "cancelled"
    with freeze(NOW):
        listed = client.get("/api/v1/dealers/SH-BIG/promises", headers=channel["fin"]).get_json()
    assert [(p["amount"], p["status"]) for p in listed] == [("200.00", "open"), ("100.00", "cancelled")]
