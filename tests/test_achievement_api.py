"""GET /api/v1/targets/achievement: the answer's shape and figures, bad input (each a 422 naming the field, nothing
else happening), and tenancy (a region or dealer outside the caller's reach answers like an unknown one; a dealer sees
its own figures only, a sub-dealer none)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.timeutil import freeze
from portal.targets.models import Target
from tests.factories import World
from tests.test_channel_flow import fixed_channel

Q1 = "from=2026-01&to=2026-03"
URL = "/api/v1/targets/achievement"
NOW = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)  # 2026-03-10 in Shanghai


def achievement_channel() -> None:
    """tests/test_channel_flow.py's fixed channel (Q1 2026), SA (DA's sub-dealer) selling 2 P2 on 2026-02-20, and
    targets: RA 10 units a month, DA 4 in January, RB 20 in March; DB 1000.00 of sell-in in January."""
    fixed_channel()
    from portal.catalog.models import Product

    sa = db.session.execute(db.select(Dealer).filter_by(code="SA")).scalar_one()
    World.add_sold(sa.id, db.session.execute(db.select(Product).filter_by(sku="P2")).scalar_one(),
                   dt.date(2026, 2, 20), 2, "300.00")  # fmt: skip
    region = {r.code: r.id for r in db.session.execute(db.select(Region)).unique().scalars()}
    dealer = {d.code: d.id for d in db.session.execute(db.select(Dealer)).scalars()}
    units = "sell_through_units"
    for month in (1, 2, 3):
        db.session.add(Target(month=dt.date(2026, month, 1), measure=units, amount=Decimal(10), region_id=region["RA"],
                              updated_by="t"))  # fmt: skip
    db.session.add(Target(month=dt.date(2026, 1, 1), measure=units, amount=Decimal(4), dealer_id=dealer["DA"],
                          updated_by="t"))  # fmt: skip
    db.session.add(Target(month=dt.date(2026, 3, 1), measure=units, amount=Decimal(20), region_id=region["RB"],
                          updated_by="t"))  # fmt: skip
    db.session.add(Target(month=dt.date(2026, 1, 1), measure="sell_in_amount", amount=Decimal("1000.00"),
                          dealer_id=dealer["DB"], updated_by="t"))  # fmt: skip


@pytest.fixture
def channel(world):
    world.run(achievement_channel)
    return {
        "hq": world.auth(world.user("channel_manager")),
        "rm": world.auth(world.user("region_manager", region="RA")),
        "distributor": world.auth(world.user("dealer_admin", dealer="DA")),
        "dealer": world.auth(world.user("dealer_staff", dealer="DB")),
        "sub": world.auth(world.user("dealer_admin", dealer="SA")),
    }


def _get(client, headers, query, status=200):
    with freeze(NOW):
        resp = client.get(f"{URL}?{query}", headers=headers)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def test_the_answer_has_the_documented_shape_and_figures(client, channel):
    body = _get(client, channel["hq"], f"{Q1}&measure=sell_through_units")
    assert {k: body[k] for k in ("from", "to", "measure", "category", "group_by", "unit")} == {
        "from": "2026-01", "to": "2026-03", "measure": "sell_through_units", "category": None, "group_by": "region",
        "unit": "pieces"}  # fmt: skip
    fields = {"key", "name", "kind", "target", "actual", "pct", "last_year", "yoy_pct", "previous", "mom_pct",
              "forecast"}  # fmt: skip
    assert all(set(r) == fields for r in body["rows"])
    rows = {r["key"]: r for r in body["rows"]}
    assert set(rows) == {"RA", "RB", "ROOT"}  # ROOT: DR, placed directly in the root
    ra = rows["RA"]  # DA 3 + 2, DA1 1, SA 2 (in DA's region)
    assert (ra["kind"], ra["target"], ra["actual"], ra["pct"]) == ("region", "30", "8", "0.2667")
    assert (ra["last_year"], ra["yoy_pct"], ra["previous"], ra["mom_pct"]) == ("0", None, "0", None)
    assert ra["forecast"] == "10"  # 8 × 90 days ÷ 69 days elapsed (Jan 1 – Mar 10) = 10.43…
    assert rows["RB"]["target"] == "20" and rows["RB"]["actual"] == "4"
    assert rows["ROOT"]["kind"] == "direct" and rows["ROOT"]["target"] is None
    t = body["totals"]
    assert (t["target"], t["actual"], t["pct"]) == ("50", "12", "0.2400") and set(t) == fields - {"key", "name", "kind"}
    money = _get(client, channel["hq"], f"{Q1}&group_by=dealer&measure=sell_in_amount")
    db_row = next(r for r in money["rows"] if r["key"] == "DB")
    assert (db_row["target"], db_row["actual"], db_row["pct"], money["unit"]) == ("1000.00", "160.00", "0.1600", "CNY")
    assert [r["key"] for r in money["rows"]] == ["DA", "DA1", "DB", "DR"]  # level-1 dealers only
    months = _get(client, channel["hq"], f"{Q1}&group_by=month&measure=collections_amount&dealer=DA")
    assert [(r["key"], r["actual"]) for r in months["rows"]] == [("2026-01", "0.00"), ("2026-02", "500.00"),
                                                                  ("2026-03", "0.00")]  # fmt: skip


def test_the_default_range_is_the_twelve_months_to_this_month(client, channel):
    body = _get(client, channel["hq"], "group_by=month")
    assert (body["from"], body["to"], len(body["rows"])) == ("2025-04", "2026-03", 12)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13", "from"),
        ("from=2026-1", "from"),
        ("to=2026-03-01", "to"),
        ("from=2026-03&to=2026-01", "to"),
        ("from=2020-01&to=2025-01", "to"),  # 61 months
        ("measure=profit", "measure"),
        ("group_by=product", "group_by"),
        ("category=nope", "category"),
        ("measure=collections_amount&category=parts", "category"),
        ("region=NOPE", "region"),
        ("dealer=NOPE", "dealer"),
        ("dealer=SA", "dealer"),  # a sub-dealer: no targets
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, channel, world, query, field):
    before = world.count(Target)
    body = _get(client, channel["hq"], query, status=422)
    assert body["error"]["code"] == "validation_error" and field in body["error"]["fields"], body
    assert world.count(Target) == before


def test_a_period_like_2026_13_says_how_to_write_a_month(client, channel):
    body = _get(client, channel["hq"], "from=2026-13", status=422)
    assert "YYYY-MM" in body["error"]["fields"]["from"][0]


def test_a_region_manager_sees_its_subtree_and_outside_is_like_unknown(client, channel):
    body = _get(client, channel["rm"], f"{Q1}&measure=sell_through_units")
    rows = {r["key"]: r for r in body["rows"]}
    assert set(rows) == {"RA1", "RA"} and rows["RA"]["kind"] == "direct"  # DA placed directly in RA
    months = _get(client, channel["rm"], f"{Q1}&measure=sell_through_units&group_by=month")
    assert [r["target"] for r in months["rows"]] == ["10", "10", "10"]  # HQ's figure to it
    dealers = _get(client, channel["rm"], f"{Q1}&group_by=dealer")
    assert [r["key"] for r in dealers["rows"]] == ["DA", "DA1"]
    for query in ("dealer=DB", "region=RB"):
        outside = _get(client, channel["rm"], f"{Q1}&{query}", status=422)
        unknown = _get(client, channel["rm"], f"{Q1}&{query.split('=')[0]}=NOPE", status=422)
        assert outside["error"]["fields"].keys() == unknown["error"]["fields"].keys()
        assert outside["error"]["fields"] != {} and "NOPE" in str(unknown) and query.split("=")[1] in str(outside)


def test_dealers_see_their_own_figures_only(client, channel):
    own = _get(client, channel["dealer"], f"{Q1}&measure=sell_in_amount")
    assert own["group_by"] == "dealer" and [r["key"] for r in own["rows"]] == ["DB"]
    assert own["rows"][0]["target"] == "1000.00"
    text = str(_get(client, channel["dealer"], f"{Q1}&group_by=month"))
    assert "DA" not in text and "区域" not in text
    for query in ("dealer=DA", "region=RB", "region=ROOT"):  # like unknown codes
        body = _get(client, channel["dealer"], f"{Q1}&{query}", status=422)
        assert list(body["error"]["fields"]) == [query.split("=")[0]]
    distributor = _get(client, channel["distributor"], f"{Q1}&measure=sell_through_units&group_by=dealer")
    assert [(r["key"], r["actual"], r["target"]) for r in distributor["rows"]] == [("DA", "7", "4")]  # with SA's 2
    sub = _get(client, channel["sub"], f"{Q1}&measure=sell_through_units")
    assert sub["rows"] == [] and sub["totals"]["target"] is None


def test_strangers_are_refused(client, channel):
    resp = client.get(f"{URL}?{Q1}")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"


def test_figures_follow_a_late_sale(client, channel, world):
    before = _get(client, channel["hq"], f"{Q1}&measure=sell_through_units&group_by=dealer")
    world.sold("DB", "P3", dt.date(2026, 3, 9), 3, "45.00")
    after = _get(client, channel["hq"], f"{Q1}&measure=sell_through_units&group_by=dealer")
    db_before = next(r for r in before["rows"] if r["key"] == "DB")
    db_after = next(r for r in after["rows"] if r["key"] == "DB")
    assert int(db_after["actual"]) == int(db_before["actual"]) + 3
