"""The collections worklist (PRODUCT.md §14): overdue dealers by amount × days, scoped; contact notes; the
account manager (PUT, and the ageing by account manager)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.collections.models import CollectionContact, PromiseToPay
from portal.dealers.models import Dealer
from portal.platform.timeutil import freeze

NOW = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)  # 2026-06-01, 12:00 in Shanghai


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("SH-BIG", "SH", name="上海大户")
    world.dealer("SH-SMALL", "SH")
    world.dealer("BJ-1", "NORTH")
    world.dealer("SH-OK", "SH")
    # weight = overdue × oldest days: SH-BIG 1000 × 61, SH-SMALL 5000 × 1, BJ-1 800 × 30
    world.invoice("SH-BIG", "FP-B", "1000.00", issued_on=dt.date(2026, 3, 1), due_on=dt.date(2026, 4, 1))
    world.invoice("SH-SMALL", "FP-S", "5000.00", issued_on=dt.date(2026, 5, 1), due_on=dt.date(2026, 5, 31))
    world.invoice("BJ-1", "FP-N", "800.00", issued_on=dt.date(2026, 4, 1), due_on=dt.date(2026, 5, 2))
    world.invoice("SH-OK", "FP-OK", "900.00", issued_on=dt.date(2026, 5, 20), due_on=dt.date(2026, 6, 20))
    return {
        "fin": world.auth(world.user("finance", username="fin.c")),
        "cm": world.auth(world.user("channel_manager", username="cm.c")),
        "admin": world.auth(world.user("hq_admin", username="admin.c")),
        "rm_east": world.auth(world.user("region_manager", region="EAST", username="rm.east")),
        "rm_north": world.auth(world.user("region_manager", region="NORTH", username="rm.north")),
        "dealer": world.auth(world.user("dealer_admin", dealer="SH-BIG", username="big.admin")),
    }


def get(client, url, who, status=200):
    with freeze(NOW):
        resp = client.get(url, headers=who)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def send(client, method, url, who, body, status):
    with freeze(NOW):
        resp = client.open(url, method=method, json=body, headers=who)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_the_worklist_by_amount_times_days_in_scope(client, channel):
    rows = get(client, "/api/v1/collections", channel["fin"])
    assert [r["dealer_code"] for r in rows["items"]] == ["SH-BIG", "BJ-1", "SH-SMALL"] and rows["total"] == 3
    big = rows["items"][0]
    assert big["overdue"] == "1000.00" and big["oldest_days"] == 61 and big["promise_amount"] is None
    east = get(client, "/api/v1/collections", channel["rm_east"])
    assert [r["dealer_code"] for r in east["items"]] == ["SH-BIG", "SH-SMALL"]  # never the NORTH dealer
    get(client, "/api/v1/collections", channel["dealer"], status=403)


def test_mine_is_the_dealers_the_caller_looks_after(client, channel):
    send(client, "PUT", "/api/v1/dealers/SH-SMALL/account-manager", channel["admin"], {"username": "cm.c"}, 200)
    mine = get(client, "/api/v1/collections?mine=true", channel["cm"])
    assert [r["dealer_code"] for r in mine["items"]] == ["SH-SMALL"] and mine["items"][0]["account_manager"] == "cm.c"
    ageing = get(client, "/api/v1/receivables/ageing?group_by=account_manager&as_of=2026-06-01", channel["fin"])
    by_key = {r["key"]: r["total"] for r in ageing["rows"]}
    assert by_key == {"": "2700.00", "cm.c": "5000.00"}


def test_the_account_manager_is_an_hq_user_or_the_dealers_region_manager(client, world, channel):
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {"username": "rm.east"}, 200)
    assert world.get(Dealer, code="SH-BIG")["account_manager_id"] is not None
    bad = send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {"username": "rm.north"}, 422)
    assert "account_manager" in bad["error"]["fields"]
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {"username": "big.admin"}, 422)
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {"username": "fin.c"}, 422)
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {}, 422)
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["fin"], {"username": "cm.c"}, 403)
    send(client, "PUT", "/api/v1/dealers/SH-BIG/account-manager", channel["cm"], {"username": None}, 200)
    assert world.get(Dealer, code="SH-BIG")["account_manager_id"] is None


def test_contacts_are_logged_and_shown_as_the_last_contact(client, world, channel):
    body = {"channel": "phone", "note": "答应下周付款"}
    made = send(client, "POST", "/api/v1/dealers/SH-BIG/collection-contacts", channel["rm_east"], body, 201)
    assert made["channel"] == "phone" and made["created_by"] == "rm.east"
    rows = get(client, "/api/v1/collections", channel["fin"])["items"]
    assert rows[0]["last_contact_at"] is not None and rows[1]["last_contact_at"] is None
    assert [c["note"] for c in get(client, "/api/v1/dealers/SH-BIG/collection-contacts", channel["fin"])] == [
        "答应下周付款"
    ]
    for bad in ({"channel": "fax", "note": "x"}, {"channel": "phone", "note": "  "}, {"note": "x"}):
        send(client, "POST", "/api/v1/dealers/SH-BIG/collection-contacts", channel["fin"], bad, 422)
    assert world.count(CollectionContact) == 1


def test_out_of_region_dealers_answer_404(client, world, channel):
    who = channel["rm_east"]
    send(client, "POST", "/api/v1/dealers/BJ-1/collection-contacts", who, {"channel": "phone", "note": "x"}, 404)
    body = {"amount": "100.00", "promised_on": "2026-06-10"}
    send(client, "POST", "/api/v1/dealers/BJ-1/promises", who, body, 404)
    get(client, "/api/v1/dealers/BJ-1/promises", who, status=404)
    send(client, "PUT", "/api/v1/dealers/BJ-1/account-manager", channel["cm"], {"username": "rm.east"}, 422)
    assert world.count(CollectionContact) == 0 and world.count(PromiseToPay) == 0


def test_the_worklist_pages(client, world, channel):
    from tests.conftest import login

    login(client, "rm.east")
    with freeze(NOW):
        page = client.get("/collections").get_data(as_text=True)
        assert 'data-dealer="SH-BIG"' in page and 'data-dealer="BJ-1"' not in page
        assert client.get("/collections/BJ-1").status_code == 404
        assert client.get("/collections/SH-BIG").status_code == 200


def test_contact_and_promise_from_the_page(client, world, channel):
    from tests.conftest import csrf_token_from, login

    login(client, "fin.c")
    with freeze(NOW):
        token = csrf_token_from(client.get("/collections/SH-BIG").get_data(as_text=True))
        form = {"csrf_token": token, "action": "contact", "contact-channel": "visit", "contact-note": "上门拜访"}
        assert client.post("/collections/SH-BIG", data=form).status_code == 302
        form = {"csrf_token": token, "action": "promise", "promise-amount": "-1", "promise-promised_on": "2026-06-09"}
        assert client.post("/collections/SH-BIG", data=form).status_code == 422
        form.update({"promise-amount": "1,500.00", "promise-promised_on": "2026-05-09"})
        assert client.post("/collections/SH-BIG", data=form).status_code == 422
        form["promise-promised_on"] = "2026-06-09"
        assert client.post("/collections/SH-BIG", data=form).status_code == 302
        page = client.get("/collections/SH-BIG").get_data(as_text=True)
    assert "上门拜访" in page and "1,500.00" in page
    assert world.count(PromiseToPay) == 1 and world.count(CollectionContact) == 1


def test_the_receivables_page_by_account_manager(client, world, channel):
    from tests.conftest import login

    send(client, "PUT", "/api/v1/dealers/SH-SMALL/account-manager", channel["admin"], {"username": "cm.c"}, 200)
    login(client, "fin.c")
    with freeze(NOW):
        page = client.get("/receivables?group_by=account_manager").get_data(as_text=True)
    assert '<option value="account_manager" selected' in page
    assert "cm.c" in page and "No account manager" in page and "5,000.00" in page
