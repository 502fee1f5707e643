"""The scorecards API (PRODUCT.md §15): ranks within the region and the channel whatever the caller's scope, the
region filter, tenancy (a dealer gets its own row only — its ranks and the group sizes, never another dealer's name;
a sub-dealer nothing), bad input, the dealer's own card, and a bounded number of statements."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from portal.platform.timeutil import freeze
from tests.test_dealer_overview_queries import counting
from tests.test_scorecard_components import scored_channel

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai; the last complete month is November
OTHERS = ("SC-B", "乙车行", "SC-C", "丙车行")


@pytest.fixture
def channel(world):
    scored_channel(world)
    return {
        "hq": world.auth(world.user("channel_manager", username="cm.sc")),
        "north": world.auth(world.user("region_manager", region="NORTH", username="rm.north")),
        "south": world.auth(world.user("region_manager", region="SOUTH", username="rm.south")),
        "dealer": world.auth(world.user("dealer_staff", dealer="SC-A", username="a.staff")),
        "sub": world.auth(world.user("dealer_admin", dealer="SC-A-S1", username="a.sub")),
    }


def _get(client, headers, query="", status=200, path="/api/v1/scorecards"):
    with freeze(NOW):
        resp = client.get(f"{path}{'?' + query if query else ''}", headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    return resp.get_json()


def test_hq_gets_every_ranked_dealer_best_first_for_the_last_complete_month(client, channel):
    body = _get(client, channel["hq"])
    assert body["period"] == "2026-11" and body["as_of"] == "2026-11-30"
    assert body["weights"] == {"achievement": 30, "dso": 15, "overdue_share": 15, "sell_through_rate": 15,
                               "days_of_inventory": 15, "below_floor": 10}  # fmt: skip
    ranks = [(r["dealer_code"], r["score"], r["rank_channel"], r["channel_size"], r["rank_region"], r["region_size"])
             for r in body["rows"]]  # fmt: skip
    assert ranks == [("SC-B", "100.0", 1, 3, 1, 2), ("SC-C", "66.7", 2, 3, 1, 1), ("SC-A", "50.0", 3, 3, 2, 2)]
    a = body["rows"][2]
    assert a["region_code"] == "N1" and a["dealer_name"] == "甲车行"
    assert a["components"]["dso"] == {"value": "135.0", "points": "0.0", "weight": 15}
    assert a["components"]["achievement"] == {"value": "0.6500", "points": "65.0", "weight": 30}
    assert body["rows"][0]["components"]["achievement"] is None
    assert body["rows"][0]["components"]["overdue_share"] == {"value": None, "points": "100.0", "weight": 15}
    assert _get(client, channel["hq"], "period=2026-11") == body


def test_sub_dealers_and_suspended_dealers_are_not_ranked(client, channel):
    codes = {r["dealer_code"] for r in _get(client, channel["hq"])["rows"]}
    assert codes == {"SC-A", "SC-B", "SC-C"}
    assert _get(client, channel["sub"])["rows"] == []


def test_the_region_filter_narrows_to_a_subtree_with_the_channel_ranks_kept(client, channel):
    body = _get(client, channel["hq"], "region=NORTH")
    assert [(r["dealer_code"], r["rank_channel"], r["channel_size"], r["rank_region"]) for r in body["rows"]] == [
        ("SC-B", 1, 3, 1), ("SC-A", 3, 3, 2)]  # fmt: skip
    assert [r["dealer_code"] for r in _get(client, channel["hq"], "region=n1")["rows"]] == ["SC-B", "SC-A"]


def test_a_region_manager_sees_its_subtree_ranked_against_the_whole_channel(client, channel):
    north = _get(client, channel["north"])
    assert [(r["dealer_code"], r["rank_channel"], r["channel_size"]) for r in north["rows"]] == [
        ("SC-B", 1, 3), ("SC-A", 3, 3)]  # fmt: skip
    south = _get(client, channel["south"])
    assert [(r["dealer_code"], r["rank_channel"], r["rank_region"], r["region_size"]) for r in south["rows"]] == [
        ("SC-C", 2, 1, 1)]  # fmt: skip


def test_an_unknown_or_out_of_scope_region_is_the_same_error(client, channel):
    unknown = _get(client, channel["south"], "region=NOWHERE", status=422)
    outside = _get(client, channel["south"], "region=NORTH", status=422)
    assert unknown["error"]["code"] == outside["error"]["code"] == "validation_error"
    assert list(unknown["error"]["fields"]) == list(outside["error"]["fields"]) == ["region"]
    assert unknown["error"]["fields"]["region"][0].replace("NOWHERE", "X") == outside["error"]["fields"]["region"][
        0].replace("NORTH", "X")  # fmt: skip
    dealer_asks = _get(client, channel["dealer"], "region=N1", status=422)
    assert list(dealer_asks["error"]["fields"]) == ["region"]


def test_a_dealer_gets_its_own_row_with_its_ranks_and_no_other_name(client, channel):
    body = _get(client, channel["dealer"])
    assert len(body["rows"]) == 1
    own = body["rows"][0]
    assert (own["dealer_code"], own["rank_channel"], own["channel_size"], own["rank_region"], own["region_size"]) == (
        "SC-A", 3, 3, 2, 2)  # fmt: skip
    text = json.dumps(body, ensure_ascii=False)
    for other in OTHERS:
        assert other not in text
    card = _get(client, channel["dealer"], path="/api/v1/dealers/SC-A/scorecard")
    assert (card["dealer_code"], card["rank_channel"], card["score"], card["period"]) == ("SC-A", 3, "50.0", "2026-11")
    assert not any(other in json.dumps(card, ensure_ascii=False) for other in OTHERS)


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "2026-11-01", "26-11", "", "abcd-ef", "2027-01",
                                    "1899-12"])  # fmt: skip
def test_a_bad_period_is_refused(client, channel, period):
    body = _get(client, channel["hq"], f"period={period}", status=422)
    assert body["error"]["code"] == "validation_error" and "period" in body["error"]["fields"]


def test_the_current_month_is_measured_to_today(client, channel):
    body = _get(client, channel["hq"], "period=2026-12")
    assert body["period"] == "2026-12" and body["as_of"] == "2026-12-07" and len(body["rows"]) == 3


def test_one_dealers_card_in_scope_only(client, channel):
    for who in ("hq", "north"):
        card = _get(client, channel[who], "period=2026-11", path="/api/v1/dealers/SC-A/scorecard")
        assert (card["rank_region"], card["region_size"], card["as_of"]) == (2, 2, "2026-11-30")
        assert card["weights"]["achievement"] == 30
    missing = _get(client, channel["south"], path="/api/v1/dealers/SC-A/scorecard", status=404)
    unknown = _get(client, channel["south"], path="/api/v1/dealers/NOPE/scorecard", status=404)
    assert missing["error"]["code"] == unknown["error"]["code"] == "not_found"
    _get(client, channel["dealer"], path="/api/v1/dealers/SC-B/scorecard", status=404)
    # the distributor's own sub-dealer is in its scope but never ranked
    body = _get(client, channel["dealer"], path="/api/v1/dealers/SC-A-S1/scorecard", status=404)
    assert "not ranked" in body["error"]["message"]
    _get(client, channel["sub"], path="/api/v1/dealers/SC-A-S1/scorecard", status=404)
    _get(client, channel["sub"], path="/api/v1/dealers/SC-A/scorecard", status=404)
    _get(client, channel["hq"], "period=2026-13", path="/api/v1/dealers/SC-A/scorecard", status=422)


def test_anonymous_callers_are_refused(client, channel):
    _get(client, {}, status=401)


def test_the_number_of_statements_does_not_grow_with_the_dealers(app, client, world, channel):
    def count() -> int:
        with counting(app) as statements:
            _get(client, channel["hq"])
        return len(statements)

    _get(client, channel["hq"])  # warm
    few = count()
    for n in range(12):
        code = f"SC-M{n:02d}"
        world.dealer(code, "SOUTH" if n % 2 else "N1")
        world.invoice(code, amount="1000.00", issued_on=dt.date(2026, 11, 2), due_on=dt.date(2026, 11, 20))
        world.dealer_receipt(code, "P1", 3, on=dt.date(2026, 10, 2))
        world.sold(code, "P1", dt.date(2026, 11, 3), 1, "850.00")
    world.sub_dealer("SC-M01", "SC-M01-S")
    many = count()
    body = _get(client, channel["hq"])
    assert len(body["rows"]) == 15
    assert few == many <= 30, (few, many)
