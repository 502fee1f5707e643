"""`GET /api/v1/home/queues`: the caller's work queues as JSON, the same as its home page shows, oldest first, scoped;
a personal token works, an integration token has no home (403), nobody at all 401."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import freeze

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def shop(world):
    world.region("EA", approval_limit="0")
    world.region("NO")
    world.dealer("SH-1", "EA", name="上海一号")
    world.dealer("BJ-1", "NO", name="北京一号")
    world.product("P-1", list_price="1000.00")
    orders = []
    for days, dealer in ((6, "SH-1"), (2, "BJ-1"), (4, "SH-1")):
        with freeze(NOW - dt.timedelta(days=days, hours=1)):
            orders.append(world.order(dealer, [("P-1", 1)]))
    return {
        "orders": orders,
        "cm": world.user("channel_manager", username="cm"),
        "rm": world.user("region_manager", region="EA", username="rm.ea"),
        "dealer": world.user("dealer_staff", dealer="BJ-1", username="bj.staff"),
    }


def test_the_channel_managers_queues_as_json(client, world, shop):
    resp = client.get("/api/v1/home/queues", headers=world.auth("cm"))
    assert resp.status_code == 200
    queues = resp.get_json()["queues"]
    assert [q["key"] for q in queues] == ["approvals", "backorders", "built_units", "returns_to_decide",
                                         "returns_to_receive", "discrepancies"]
    approvals = queues[0]
    assert approvals["title"] == "Orders in credit review" and approvals["total"] == 3
    assert approvals["see_all"] == "/approvals"
    first, second, third = shop["orders"]
    assert [i["label"] for i in approvals["items"]] == [first, third, second]  # oldest first
    item = approvals["items"][0]
    assert set(item) == {"key", "label", "detail", "age_seconds", "since", "link"}
    assert item["link"] == f"/orders/{first}" and "SH-1 上海一号" in item["detail"]
    since = dt.datetime.fromisoformat(item["since"])
    assert abs(since - (NOW - dt.timedelta(days=6, hours=1))) < dt.timedelta(seconds=1)
    assert 6 * 86400 <= item["age_seconds"] < 6 * 86400 + 2 * 3600
    assert queues[1] == {"key": "backorders", "title": "Backorders", "total": 0, "items": [],
                         "see_all": "/home/queues/backorders"}  # fmt: skip


def test_scoped_like_the_home_page(client, world, shop):
    first, second, third = shop["orders"]
    queues = client.get("/api/v1/home/queues", headers=world.auth("rm.ea")).get_json()["queues"]
    assert [q["key"] for q in queues] == ["approvals", "waiting_for_hq", "credit_requests", "broken_promises"]
    assert queues[0]["total"] == 0  # an approval limit of 0: everything waits for HQ
    assert [i["label"] for i in queues[1]["items"]] == [first, third] and second not in str(queues)
    queues = client.get("/api/v1/home/queues", headers=world.auth("bj.staff")).get_json()["queues"]
    assert [q["key"] for q in queues] == ["shipments_to_receive", "backorders"]
    assert "SH-1" not in str(queues)


def test_in_the_callers_language(client, world, shop):
    world.user("channel_manager", username="cm.zh", locale="zh_CN")
    resp = client.get("/api/v1/home/queues", headers={**world.auth("cm.zh"), "Accept-Language": "zh-CN"})
    assert resp.get_json()["queues"][0]["title"] == "信用审核中的订单"


def test_who_may_call_it(client, world, shop):
    assert client.get("/api/v1/home/queues").status_code == 401
    token = world.integration_token("erp")
    resp = client.get("/api/v1/home/queues", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
