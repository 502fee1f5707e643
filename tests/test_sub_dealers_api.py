"""Sub-dealers in the API (§16): every dealer says its level and distributor, the list filters by both,
`GET /api/v1/dealers/{dealer}/sub-dealers` answers a distributor's sub-dealers with their account with it (the figures
of their overviews), and the overview answers a distributor's sub-dealers and a sub-dealer's distributor — through the
one scope: a sub-dealer never sees its distributor nor a sibling, a distributor never another's sub-dealers (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.platform.timeutil import today


@pytest.fixture
def channel(world):
    """DIST-1 (SH) sells to SUB-1A (limit 20,000; owes 3,500 of which 1,500 overdue; two open orders) and SUB-1B
    (limit 5,000; owes 4,000, none overdue); DIST-2 (NORTH) to SUB-2A; SH-9 buys from HQ and sells to nobody."""
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("DIST-1", "SH")
    world.dealer("DIST-2", "NORTH")
    world.dealer("SH-9", "SH")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    t = today()
    world.credit_limit("SUB-1A", "20000.00")
    world.credit_limit("SUB-1B", "5000.00")
    world.credit_limit("DIST-1", "900000.00")
    world.invoice("SUB-1A", "S1A-1", "2000.00", issued_on=t - dt.timedelta(days=70), due_on=t - dt.timedelta(days=40))
    world.invoice("SUB-1A", "S1A-2", "2000.00", issued_on=t - dt.timedelta(days=5))
    world.payment("SUB-1A", "500.00", received_on=t - dt.timedelta(days=1))  # 1,500 of S1A-1 stays overdue
    world.invoice("SUB-1B", "S1B-1", "4000.00", issued_on=t - dt.timedelta(days=3))
    world.invoice("DIST-1", "D1-1", "70000.00", issued_on=t - dt.timedelta(days=3))  # its own account with HQ
    world.product("P-1", list_price="1000.00")
    world.order("SUB-1A", [("P-1", 1)])
    world.order("SUB-1A", [("P-1", 2)])
    people = {
        "hq": world.user("channel_manager", username="cm.zhou"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "d1_admin": world.user("dealer_admin", dealer="DIST-1", username="d1.admin"),
        "d1_staff": world.user("dealer_staff", dealer="DIST-1", username="d1.staff"),
        "d2_admin": world.user("dealer_admin", dealer="DIST-2", username="d2.admin"),
        "s1a_admin": world.user("dealer_admin", dealer="SUB-1A", username="s1a.admin"),
        "s1b_staff": world.user("dealer_staff", dealer="SUB-1B", username="s1b.staff"),
        "sh9_admin": world.user("dealer_admin", dealer="SH-9", username="sh9.admin"),
    }
    return {k: world.auth(v) for k, v in people.items()}


def _codes(client, auth, url):
    resp = client.get(url, headers=auth)
    assert resp.status_code == 200, resp.get_json()
    return [d["code"] for d in resp.get_json()["items"]]


def test_every_dealer_says_its_level_and_distributor(client, channel):
    hq = channel["hq"]
    sub = client.get("/api/v1/dealers/SUB-1A", headers=hq).get_json()
    dist = client.get("/api/v1/dealers/DIST-1", headers=hq).get_json()
    assert (sub["parent_code"], sub["level"]) == ("DIST-1", 2)
    assert (dist["parent_code"], dist["level"]) == (None, 1)
    listed = {d["code"]: (d["parent_code"], d["level"]) for d in client.get("/api/v1/dealers", headers=hq).get_json()[
        "items"]}  # fmt: skip
    assert listed == {"DIST-1": (None, 1), "DIST-2": (None, 1), "SH-9": (None, 1), "SUB-1A": ("DIST-1", 2),
                      "SUB-1B": ("DIST-1", 2), "SUB-2A": ("DIST-2", 2)}  # fmt: skip
    # a sub-dealer reads its own record, distributor's code included
    own = client.get("/api/v1/dealers/SUB-1A", headers=channel["s1a_admin"]).get_json()
    assert own["parent_code"] == "DIST-1" and own["level"] == 2


def test_the_list_filters_by_level_and_distributor(client, channel):
    hq = channel["hq"]
    assert _codes(client, hq, "/api/v1/dealers?level=1") == ["DIST-1", "DIST-2", "SH-9"]
    assert _codes(client, hq, "/api/v1/dealers?level=2") == ["SUB-1A", "SUB-1B", "SUB-2A"]
    assert _codes(client, hq, "/api/v1/dealers?parent=DIST-1") == ["SUB-1A", "SUB-1B"]
    assert _codes(client, hq, "/api/v1/dealers?parent=dist-2&level=2") == ["SUB-2A"]
    assert _codes(client, hq, "/api/v1/dealers?parent=DIST-1&sort=balance&dir=desc") == ["SUB-1B", "SUB-1A"]
    assert _codes(client, hq, "/api/v1/dealers?parent=SH-9") == []
    assert _codes(client, hq, "/api/v1/dealers?parent=NOPE") == []
    assert client.get("/api/v1/dealers?level=3", headers=hq).status_code == 422
    assert client.get("/api/v1/dealers?level=x", headers=hq).status_code == 422
    # through the one scope: a region sees its distributors' sub-dealers only, a distributor its own
    assert _codes(client, channel["rm_east"], "/api/v1/dealers?level=2") == ["SUB-1A", "SUB-1B"]
    assert _codes(client, channel["rm_east"], "/api/v1/dealers?parent=DIST-2") == []
    assert _codes(client, channel["d1_staff"], "/api/v1/dealers") == ["DIST-1", "SUB-1A", "SUB-1B"]
    assert _codes(client, channel["d1_staff"], "/api/v1/dealers?level=1") == ["DIST-1"]
    assert _codes(client, channel["s1a_admin"], "/api/v1/dealers?parent=DIST-1") == []


def test_a_distributors_sub_dealers_with_their_account_with_it(client, channel):
    for who in ("hq", "rm_east", "d1_admin", "d1_staff"):
        resp = client.get("/api/v1/dealers/DIST-1/sub-dealers", headers=channel[who])
        assert resp.status_code == 200, who
        body = resp.get_json()
        assert body["total"] == 2 and [i["code"] for i in body["items"]] == ["SUB-1A", "SUB-1B"], who
    items = {i["code"]: i for i in body["items"]}
    a, b = items["SUB-1A"], items["SUB-1B"]
    assert (a["balance"], a["overdue"], a["credit_limit"], a["open_order_count"]) == ("3500.00", "1500.00",
                                                                                       "20000.00", 2)  # fmt: skip
    assert (b["balance"], b["overdue"], b["credit_limit"], b["open_order_count"]) == ("4000.00", "0.00", "5000.00", 0)
    assert a["parent_code"] == "DIST-1" and a["level"] == 2 and a["status"] == "active"
    assert Decimal(b["available"]) == Decimal(b["credit"]) - Decimal(b["exposure"]) == Decimal("1000.00")
    # each figure is the one the sub-dealer's overview shows
    for code, item in items.items():
        o = client.get(f"/api/v1/dealers/{code}/overview", headers=channel["d1_admin"]).get_json()
        assert item["balance"] == o["credit"]["open_receivables"], code
        assert item["overdue"] == o["ageing"]["overdue"], code
        assert item["exposure"] == o["credit"]["exposure"] and item["available"] == o["credit"]["available"], code
        assert item["credit_limit"] == o["credit"]["credit_limit"] and item["temporary"] == o["credit"]["temporary"]
        assert item["open_order_count"] == o["orders"]["open_count"], code
    sorted_ = client.get("/api/v1/dealers/DIST-1/sub-dealers?sort=utilisation&dir=desc", headers=channel["hq"])
    assert [i["code"] for i in sorted_.get_json()["items"]] == ["SUB-1B", "SUB-1A"]  # 80 % before 17.5 % + orders
    assert client.get("/api/v1/dealers/DIST-1/sub-dealers?sort=name", headers=channel["hq"]).status_code == 422


def test_nobody_sees_sub_dealers_that_are_not_in_their_scope(client, channel):
    # a sub-dealer: its distributor's list and its sibling are not there; its own list is empty
    for url in ("/api/v1/dealers/DIST-1/sub-dealers", "/api/v1/dealers/SUB-1B/sub-dealers",
                "/api/v1/dealers/DIST-1/overview", "/api/v1/dealers/SUB-1B/overview", "/api/v1/dealers/DIST-1"):
        assert client.get(url, headers=channel["s1a_admin"]).status_code == 404, url
        assert client.get(url.replace("SUB-1B", "SUB-1A"), headers=channel["s1b_staff"]).status_code == 404, url
    own = client.get("/api/v1/dealers/SUB-1A/sub-dealers", headers=channel["s1a_admin"]).get_json()
    assert (own["total"], own["items"]) == (0, [])
    # another distributor, another region
    for who in ("d2_admin", "rm_north", "sh9_admin"):
        for url in ("/api/v1/dealers/DIST-1/sub-dealers", "/api/v1/dealers/SUB-1A/overview",
                    "/api/v1/dealers/SUB-1A/sub-dealers"):
            assert client.get(url, headers=channel[who]).status_code == 404, (who, url)
    # a dealer that sells to nobody has none
    none = client.get("/api/v1/dealers/SH-9/sub-dealers", headers=channel["sh9_admin"]).get_json()
    assert none["total"] == 0
    assert client.get("/api/v1/dealers/NOPE/sub-dealers", headers=channel["hq"]).status_code == 404


def test_a_distributors_overview_lists_its_sub_dealers(client, channel):
    for who in ("hq", "rm_east", "d1_staff"):
        o = client.get("/api/v1/dealers/DIST-1/overview", headers=channel[who]).get_json()
        assert o["seller"] is None and o["dealer"]["level"] == 1 and o["dealer"]["parent_code"] is None
        assert o["sub_dealers"]["count"] == 2, who
        listed = client.get("/api/v1/dealers/DIST-1/sub-dealers", headers=channel[who]).get_json()["items"]
        for card, item in zip(o["sub_dealers"]["items"], listed, strict=True):
            for key in ("code", "name", "status", "balance", "overdue", "credit_limit", "temporary", "credit",
                        "exposure", "available", "utilisation", "open_order_count"):
                assert card[key] == item[key], (who, key)
        # the distributor's own figures are its account with HQ: its sub-dealers' invoices are not in them
        assert o["credit"]["open_receivables"] == "70000.00"
    plain = client.get("/api/v1/dealers/SH-9/overview", headers=channel["sh9_admin"]).get_json()
    assert plain["sub_dealers"] == {"count": 0, "items": []} and plain["seller"] is None


def test_a_sub_dealers_overview_says_whom_it_buys_from_and_has_nothing_of_hqs(client, channel):
    visible = {"hq": True, "rm_east": True, "d1_admin": True, "d1_staff": True, "s1a_admin": False}
    for who, sees in visible.items():
        o = client.get("/api/v1/dealers/SUB-1A/overview", headers=channel[who]).get_json()
        assert o["seller"] == {"code": "DIST-1", "name": "经销商DIST-1", "visible": sees}, who
        assert o["dealer"]["parent_code"] == "DIST-1" and o["dealer"]["level"] == 2
        assert o["sub_dealers"] is None and o["account_manager"] is None
        assert o["statements"] is None and o["rebates"] is None and o["backorders"] is None, who
        assert o["credit"]["credit_limit"] == "20000.00" and o["ageing"]["overdue"] == "1500.00"
        assert o["orders"]["open_count"] == 2
    # HQ and the region keep their internal notes; the distributor's users see it as a dealer sees itself
    assert client.get("/api/v1/dealers/SUB-1A/overview", headers=channel["hq"]).get_json()["notes"] == []
    for who in ("d1_admin", "d1_staff", "s1a_admin"):
        o = client.get("/api/v1/dealers/SUB-1A/overview", headers=channel[who]).get_json()
        assert o["notes"] is None and o["credit"]["held_by"] is None, who


def test_a_distributors_admin_keeps_its_sub_dealers_contacts_and_addresses(client, world, channel):
    contact = {"role": "purchasing", "name": "李强", "phone": "021-6234 5678"}
    resp = client.post("/api/v1/dealers/SUB-1A/contacts", json=contact, headers=channel["d1_admin"])
    assert resp.status_code == 201
    address = {"label": "仓库", "address": "上海市嘉定区安亭镇1号"}
    assert client.post("/api/v1/dealers/SUB-1A/addresses", json=address, headers=channel["d1_admin"]).status_code == 201
    # its staff, another distributor's admin, and the sub-dealer's sibling do not
    assert client.post("/api/v1/dealers/SUB-1A/contacts", json=contact, headers=channel["d1_staff"]).status_code == 403
    assert client.post("/api/v1/dealers/SUB-1A/contacts", json=contact, headers=channel["d2_admin"]).status_code == 404
    assert client.post("/api/v1/dealers/SUB-1A/contacts", json=contact,
                       headers=channel["s1b_staff"]).status_code == 404  # fmt: skip
    # and a sub-dealer's admin never its distributor's
    assert client.post("/api/v1/dealers/DIST-1/contacts", json=contact,
                       headers=channel["s1a_admin"]).status_code == 404  # fmt: skip
    listed = client.get("/api/v1/dealers/SUB-1A/contacts", headers=channel["s1a_admin"]).get_json()
    assert [c["name"] for c in listed] == ["李强"]
