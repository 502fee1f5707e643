"""The channel-flow and price-monitoring API: validation, group_by parsing, figures, and tenancy (a region manager
sees its subtree only in every figure; dealers are refused)."""

from __future__ import annotations

import pytest

from tests.test_channel_flow import fixed_channel

Q1 = "from=2026-01-01&to=2026-03-31"


@pytest.fixture
def channel(world):
    world.run(fixed_channel)
    return {
        "hq": world.auth(world.user("channel_manager")),
        "rm": world.auth(world.user("region_manager", region="RA")),
        "dealer": world.auth(world.user("dealer_admin", dealer="DA")),
    }


def _flow(client, headers, query):
    resp = client.get(f"/api/v1/analytics/channel-flow?{query}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_hq_sees_every_region_with_the_figures_of_the_definitions(client, channel):
    body = _flow(client, channel["hq"], Q1)
    assert body["from"] == "2026-01-01" and body["to"] == "2026-03-31" and body["group_by"] == ["region"]
    rows = {r["region_code"]: r for r in body["rows"]}
    assert set(rows) == {"RA", "RB"}
    ra = rows["RA"]
    assert (ra["sell_in_qty"], ra["sell_in_amount"], ra["sell_through_qty"], ra["sell_through_amount"]) == (
        7, "1150.00", 6, "810.00")  # fmt: skip
    assert (ra["opening_stock"], ra["ending_stock"], ra["cash_received"]) == (10, 11, "500.00")
    assert ra["sell_through_rate"] == "0.3529"  # 6 / (10 + 7)
    assert ra["days_of_inventory"] == "165.0"  # 11 / (6 / 90 days)
    rb = rows["RB"]
    assert (rb["sell_in_qty"], rb["sell_through_amount"], rb["ending_stock"], rb["cash_received"]) == (
        4, "180.00", 0, "300.00")  # fmt: skip
    assert rb["days_of_inventory"] == "0.0" and rb["sell_through_rate"] == "1.0000"
    t = body["totals"]
    assert (t["sell_in_qty"], t["sell_through_amount"], t["ending_stock"], t["cash_received"]) == (
        11, "990.00", 11, "800.00")  # fmt: skip


def test_group_by_is_parsed_in_order_and_any_combination_works(client, channel):
    body = _flow(client, channel["hq"], f"{Q1}&group_by=region,category,month")
    assert body["group_by"] == ["region", "category", "month"]
    first = body["rows"][0]
    assert {"region_code", "region_name", "category", "month"} <= set(first) and "dealer_code" not in first
    keys = [(r["region_code"], r["category"], r["month"]) for r in body["rows"]]
    assert keys == sorted(keys)
    assert all(r["cash_received"] is None for r in body["rows"]) and body["totals"]["cash_received"] is None
    ra_parts = {r["month"]: r for r in body["rows"] if r["region_code"] == "RA" and r["category"] == "parts"}
    assert [ra_parts[m]["ending_stock"] for m in ("2026-01", "2026-02", "2026-03")] == [12, 10, 10]
    by_product = _flow(client, channel["hq"], f"{Q1}&group_by=product,dealer")
    assert [(r["sku"], r["dealer_code"]) for r in by_product["rows"]] == [("P1", "DA"), ("P2", "DA1"), ("P3", "DB")]
    whole = _flow(client, channel["hq"], f"{Q1}&group_by=")
    assert len(whole["rows"]) == 1 and whole["rows"][0]["sell_through_qty"] == 10


def test_filters_narrow_every_figure(client, channel):
    body = _flow(client, channel["hq"], f"{Q1}&group_by=dealer&region=RA")
    assert [r["dealer_code"] for r in body["rows"]] == ["DA", "DA1"]
    body = _flow(client, channel["hq"], f"{Q1}&group_by=dealer&category=parts")
    assert [r["dealer_code"] for r in body["rows"]] == ["DA", "DB"] and body["totals"]["cash_received"] is None
    body = _flow(client, channel["hq"], f"{Q1}&group_by=month&sku=P2")
    assert [(r["month"], r["sell_in_qty"]) for r in body["rows"]] == [("2026-02", 2), ("2026-03", 0)]


def test_the_default_period_is_the_last_twelve_months(client, channel):
    body = _flow(client, channel["hq"], "to=2026-03-31&group_by=month")
    assert body["from"] == "2025-04-01" and body["to"] == "2026-03-31"
    assert body["rows"][0]["month"] == "2025-12"  # nothing moved before December


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=city", "group_by"),
        ("group_by=region,region", "group_by"),
        ("from=2026-03-01&to=2026-01-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("from=yesterday", "from"),
        ("region=NOPE", "region"),
        ("dealer=NOPE", "dealer"),
        ("sku=NOPE", "sku"),
    ],
)
def test_bad_queries_are_refused_in_the_error_shape(client, channel, query, field):
    resp = client.get(f"/api/v1/analytics/channel-flow?{query}", headers=channel["hq"])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]


def test_a_region_manager_sees_its_subtree_only_in_every_figure(client, channel):
    body = _flow(client, channel["rm"], Q1)
    assert {r["region_code"] for r in body["rows"]} == {"RA", "RA1"}  # its region's dealers, then its children
    t = body["totals"]
    assert (t["sell_in_qty"], t["sell_through_qty"], t["ending_stock"], t["cash_received"]) == (7, 6, 11, "500.00")
    dealers = _flow(client, channel["rm"], f"{Q1}&group_by=dealer,product,month")
    assert {r["dealer_code"] for r in dealers["rows"]} == {"DA", "DA1"}
    for query in ("dealer=DB", "region=RB"):  # outside: answered like a code that does not exist
        resp = client.get(f"/api/v1/analytics/channel-flow?{Q1}&{query}", headers=channel["rm"])
        assert resp.status_code == 422
        missing = client.get(f"/api/v1/analytics/channel-flow?{Q1}&{query[:-2]}NOPE", headers=channel["rm"])
        assert missing.status_code == 422
        assert resp.get_json()["error"]["fields"].keys() == missing.get_json()["error"]["fields"].keys()
    prices = client.get(f"/api/v1/analytics/price-monitoring?{Q1}", headers=channel["rm"]).get_json()
    assert [(r["dealer_code"], r["sku"]) for r in prices["rows"]] == [("DA", "P1")]


def test_price_monitoring_lists_the_sales_below_the_floor_with_the_gap(client, channel):
    body = client.get(f"/api/v1/analytics/price-monitoring?{Q1}", headers=channel["hq"]).get_json()
    rows = {(r["dealer_code"], r["sku"]): r for r in body["rows"]}
    assert set(rows) == {("DA", "P1"), ("DB", "P3")}
    assert (rows[("DA", "P1")]["gap"], rows[("DA", "P1")]["worst_price"], rows[("DA", "P1")]["quantity"]) == (
        "30.00", "90.00", 3)  # fmt: skip
    assert rows[("DB", "P3")]["gap"] == "20.00"
    assert body["totals"] == {"lines": 2, "quantity": 7, "amount": "450.00", "gap": "50.00"}
    assert [d["dealer_code"] for d in body["dealers"]] == ["DA", "DB"]


def test_dealers_and_strangers_are_refused(client, channel):
    for path in ("channel-flow", "price-monitoring"):
        assert client.get(f"/api/v1/analytics/{path}", headers=channel["dealer"]).status_code == 403
        resp = client.get(f"/api/v1/analytics/{path}")
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
