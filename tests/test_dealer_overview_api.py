"""GET /api/v1/dealers/{dealer}/overview: the overview's figures as JSON (PRODUCT.md §9, §12).

Scoped like every dealer path (another dealer's or region's answers 404), money as strings, dates ISO; a dealer user
gets its own overview without HQ's internal fields (notes null, who set the hold and approved increases null).
"""

from __future__ import annotations

import re

import pytest

MONEY = re.compile(r"^-?\d+\.\d{2}$")
SECTIONS = {
    "dealer",
    "seller",  # §16: whom it buys from; a distributor's sub-dealers
    "sub_dealers",
    "as_of",
    "account_manager",
    "credit",
    "ageing",
    "open_invoices",
    "orders",
    "backorders",
    "shipments",
    "statements",
    "stock",
    "sell_through",
    "rebates",
    "contacts",
    "addresses",
    "notes",
}


@pytest.fixture
def channel(world):
    world.region("NORTH")
    world.busy_dealer("BJ-001", "NORTH", invoices=1, orders=0)
    world.busy_dealer("SH-001", "SH")
    world.hold("SH-001", "付款承诺未兑现")
    cm = world.user("channel_manager", username="cm.zhou")
    world.account_manager("SH-001", cm)
    return {
        "cm": cm,
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
        "staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff"),
        "other": world.user("dealer_staff", dealer="BJ-001", username="bj001.staff"),
    }


def _money_fields(body: dict) -> list[str]:
    out = []
    credit = body["credit"]
    out += [
        credit[k]
        for k in (
            "credit_limit",
            "temporary",
            "credit_total",
            "exposure",
            "open_receivables",
            "open_orders",
            "available",
        )
    ]
    out += list(body["ageing"].values())
    out += [body["open_invoices"]["total"]]
    for item in body["open_invoices"]["items"]:
        out += [item["amount"], item["paid"], item["open"]]
    out += [body["orders"]["open_gross"], body["shipments"]["gross"], body["sell_through"]["amount"]]
    out += [s["gross"] for s in body["orders"]["by_status"]] + [r["rebate"] for r in body["rebates"]]
    return out


def test_the_shape_as_hq_sees_it(client, world, channel):
    resp = client.get("/api/v1/dealers/sh-001/overview", headers=world.auth(channel["cm"]))  # codes in any case
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == SECTIONS
    assert body["dealer"]["code"] == "SH-001" and body["dealer"]["region_code"] == "SH"
    assert body["account_manager"] == {"username": "cm.zhou", "name": "cm.zhou", "role": "channel_manager"}
    assert all(isinstance(v, str) and MONEY.match(v) for v in _money_fields(body)), _money_fields(body)
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", body["as_of"])
    credit = body["credit"]
    assert credit["on_hold"] is True and credit["hold_reason"] == "付款承诺未兑现" and credit["held_by"] == "system"
    assert credit["increases"][0]["approved_by"] == "system" and credit["increases"][0]["in_force"] is True
    assert credit["utilisation"] is not None and re.match(r"^\d+\.\d$", credit["utilisation"])
    assert [c["role"] for c in body["contacts"]] == ["owner", "finance"]
    assert [a["is_default"] for a in body["addresses"]] == [True, False]
    assert [n["body"] for n in body["notes"]] == ["月度拜访：库存偏高，建议促销"]
    assert body["orders"]["open_count"] == sum(s["count"] for s in body["orders"]["by_status"]) == 5
    assert body["shipments"]["items"][0]["order_number"].startswith("SO-")
    assert body["stock"]["age"]["31_60"] == 6  # received 60 days ago, 4 sold since
    assert [s["status"] for s in body["statements"]["by_status"]] == ["issued", "confirmed", "disputed", "resolved"]
    assert body["open_invoices"]["items"][0]["number"] == "SH-001-INV-OLD"  # the oldest due first
    assert body["open_invoices"]["items"][0]["days_overdue"] == 120


def test_the_region_manager_gets_the_same(client, world, channel):
    hq = client.get("/api/v1/dealers/SH-001/overview", headers=world.auth(channel["cm"])).get_json()
    rm = client.get("/api/v1/dealers/SH-001/overview", headers=world.auth(channel["rm"])).get_json()
    assert rm == hq


def test_a_dealer_gets_its_own_without_internal_fields(client, world, channel):
    body = client.get("/api/v1/dealers/SH-001/overview", headers=world.auth(channel["admin"])).get_json()
    assert set(body) == SECTIONS
    assert body["notes"] is None
    assert body["credit"]["held_by"] is None and body["credit"]["held_at"] is None
    assert body["credit"]["hold_reason"] == "付款承诺未兑现"
    assert all(i["approved_by"] is None for i in body["credit"]["increases"])
    assert body["statements"] is not None
    staff = client.get("/api/v1/dealers/SH-001/overview", headers=world.auth(channel["staff"])).get_json()
    assert staff["statements"] is None and staff["notes"] is None  # dealer staff do not read statements


@pytest.mark.parametrize(
    ("who", "code"), [("admin", "BJ-001"), ("other", "SH-001"), ("rm_north", "SH-001"), ("rm", "BJ-001")]
)
def test_out_of_scope_is_404_as_missing(client, world, channel, who, code):
    auth = world.auth(channel[who])
    resp = client.get(f"/api/v1/dealers/{code}/overview", headers=auth)
    missing = client.get("/api/v1/dealers/NO-SUCH/overview", headers=auth)
    assert resp.status_code == missing.status_code == 404
    assert resp.get_json() == missing.get_json()


def test_tokens_and_strangers(client, world, channel):
    assert client.get("/api/v1/dealers/SH-001/overview").status_code == 401
    mes = {"Authorization": f"Bearer {world.integration_token('production')}"}
    assert client.get("/api/v1/dealers/SH-001/overview", headers=mes).status_code == 403


def test_the_document_describes_it(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/dealers/{code}/overview"]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/Overview")
    credit = spec["components"]["schemas"]["OverviewCredit"]["properties"]
    assert credit["available"]["type"] == "string" and credit["utilisation"]["type"] == "string"
