"""Rebate programmes (PRODUCT.md §11): a draft is checked whole (every problem answered at once, nothing written),
activation freezes what decides the money, and coverage, scoping and progress follow the programme's scope, basis,
period and targets — progress in one SQL statement for all covered dealers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.platform.errors import Conflict, Invalid
from portal.platform.tenancy import Scope
from portal.platform.timeutil import freeze
from portal.rebates import services
from portal.rebates.models import RebateProgramme, RebateTarget, RebateTier

D = Decimal


def valid(**over) -> dict:
    data = {
        "code": "RB-1", "name": "一季度返利", "name_en": "Q1 rebate", "description": None,
        "period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 3, 31), "scope": "all",
        "basis": "sell_through_amount", "tier_kind": "percent", "cap": None,
        "tiers": [{"threshold": D("0"), "rate": D("1")}, {"threshold": D("10000"), "rate": D("2")}],
        "targets": {"skus": [], "categories": []},
    }  # fmt: skip
    data.update(over)
    return data


def tiers(*pairs) -> list[dict]:
    return [{"threshold": D(t), "rate": D(r)} for t, r in pairs]


def dealer_ids(world) -> dict[str, int]:
    from portal.dealers.models import Dealer

    return world.run(lambda: {d.code: d.id for d in db.session.query(Dealer)})


def _programme(code: str) -> RebateProgramme:
    return db.session.query(RebateProgramme).filter_by(code=code).one()


def save(world, data: dict, code: str | None = None):
    """save_programme in a request of its own; the saved code, or the Invalid / Conflict raised."""

    def make():
        try:
            return services.save_programme(None, data, _programme(code) if code else None).code
        except (Invalid, Conflict) as exc:
            db.session.rollback()
            return exc

    return world._in_request(make)


def fields_of(world, data, code=None) -> dict:
    outcome = save(world, data, code)
    assert isinstance(outcome, Invalid), outcome
    return outcome.fields


@pytest.fixture
def catalogue(world):
    world.region("CN")
    world.region("EAST", parent="CN")
    world.region("SH", parent="EAST")
    world.region("WEST", parent="CN")
    world.dealer("SH-1", "SH", tier="A")
    world.dealer("EA-1", "EAST", tier="B")
    world.dealer("WE-1", "WEST", tier="A")
    world.product("CAR-1", category="cars", list_price="100000.00")
    world.product("OIL-1", category="parts", list_price="100.00")
    return world


# ---------------------------------------------------------------- checking a draft


def test_a_valid_draft_is_saved_with_its_tiers_and_targets(world, catalogue):
    assert save(world, valid(targets={"skus": ["CAR-1"], "categories": ["parts"]}, cap=D("5000"))) == "RB-1"
    saved = world.get(RebateProgramme, code="RB-1")
    assert (saved["status"], saved["scope_kind"], saved["cap"]) == ("draft", "all", D("5000.00"))
    assert world.count(RebateTier) == 2 and world.count(RebateTarget) == 2


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"tiers": []}, "tiers"),
        ({"tiers": tiers(("100", "1"), ("100", "2"))}, "tiers"),  # duplicate threshold
        ({"tiers": tiers(("1000", "1"), ("100", "2"))}, "tiers"),  # unordered
        ({"tiers": tiers(("0", "-1"))}, "tiers"),  # negative rate
        ({"tiers": tiers(("-5", "1"))}, "tiers"),  # negative threshold
        ({"tiers": tiers(("0", "3"), ("100", "2"))}, "tiers"),  # rate lower than the tier below
        ({"tiers": tiers(*[(str(i * 10), "1") for i in range(11)])}, "tiers"),  # more than ten
        ({"tiers": tiers(("0", "101"))}, "tiers"),  # more than 100 %
        ({"period_end": dt.date(2025, 12, 31)}, "period_end"),
        ({"basis": "sell_in_units", "tier_kind": "per_unit"}, "targets"),  # units without targets
        ({"basis": "sell_in_units", "tier_kind": "percent", "targets": {"skus": ["CAR-1"]}}, "tier_kind"),
        ({"basis": "sell_in_amount", "tier_kind": "per_unit"}, "tier_kind"),
        ({"targets": {"skus": ["NO-SUCH"]}}, "targets"),
        ({"targets": {"categories": ["spaceships"]}}, "targets"),
        ({"scope": "tier:Z"}, "scope"),
        ({"scope": "region:NOWHERE"}, "scope"),
        ({"scope": "dealer:NO-SUCH"}, "scope"),
        ({"scope": "everyone"}, "scope"),
        ({"cap": D("0")}, "cap"),
        ({"cap": D("-10")}, "cap"),
        ({"basis": "revenue"}, "basis"),
        ({"name": "  "}, "name"),
        ({"code": ""}, "code"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(world, catalogue, over, field):
    before = world.snapshot()
    assert field in fields_of(world, valid(**over))
    assert world.snapshot() == before


def test_a_duplicate_code_is_refused(world, catalogue):
    save(world, valid())
    assert "code" in fields_of(world, valid(name="again"))
    assert world.count(RebateProgramme) == 1


def test_every_problem_is_answered_at_once(world, catalogue):
    problems = fields_of(world, valid(
        period_end=dt.date(2025, 1, 1), scope="tier:Z", cap=D("0"), basis="sell_in_units", tier_kind="percent",
        tiers=tiers(("100", "2"), ("50", "-1"), ("50", "3")), targets={"skus": ["NO-SUCH"]},
    ))  # fmt: skip
    assert set(problems) >= {"period_end", "scope", "cap", "tier_kind", "tiers", "targets"}
    assert len(problems["tiers"]) >= 2  # the negative rate and the unordered thresholds, each said


def test_unit_thresholds_are_whole_units(world, catalogue):
    data = valid(basis="sell_through_units", tier_kind="per_unit", targets={"categories": ["cars"]},
                 tiers=tiers(("10.5", "100")))  # fmt: skip
    assert "tiers" in fields_of(world, data)


def test_a_draft_is_editable_whole_and_partial_edits_keep_the_rest(world, catalogue):
    save(world, valid())
    assert save(world, {"tiers": tiers(("0", "1.5"), ("5000", "2"), ("20000", "3")), "scope": "region:EAST"},
                "RB-1") == "RB-1"  # fmt: skip
    saved = world.run(lambda: services.snapshot(_programme("RB-1")))
    assert saved["tiers"] == ["0→1.5", "5000→2", "20000→3"] and saved["scope"] == "region:EAST"
    assert saved["name"] == "一季度返利"


# ---------------------------------------------------------------- status


def _transition(world, code, fn):
    def make():
        try:
            return getattr(services, fn)(None, _programme(code)).status
        except Conflict as exc:
            db.session.rollback()
            return exc.code

    return world._in_request(make)


def test_draft_becomes_active_then_closed_and_never_back(world, catalogue):
    save(world, valid())
    assert _transition(world, "RB-1", "close") == "invalid_transition"
    assert _transition(world, "RB-1", "activate") == "active"
    assert _transition(world, "RB-1", "activate") == "invalid_transition"
    assert _transition(world, "RB-1", "close") == "closed"
    assert _transition(world, "RB-1", "close") == "invalid_transition"


def test_an_active_programme_takes_only_its_names_and_description(world, catalogue):
    world.rebate_programme("RB-A")
    assert set(fields_of(world, {"tiers": tiers(("0", "5")), "cap": D("10"), "period_end": dt.date(2026, 6, 30)},
                         "RB-A")) == {"tiers", "cap", "period_end"}  # fmt: skip
    assert save(world, {"name": "新名字", "description": "说明"}, "RB-A") == "RB-A"
    # the whole definition sent back unchanged (a form) is fine as long as only the names change
    whole = world.run(lambda: services._definition(_programme("RB-A")))
    assert save(world, {**whole, "name_en": "New name"}, "RB-A") == "RB-A"
    saved = world.get(RebateProgramme, code="RB-A")
    assert (saved["name"], saved["name_en"], saved["description"]) == ("新名字", "New name", "说明")


# ---------------------------------------------------------------- coverage and scoping


def _covered(world, code, scope=Scope("hq")) -> list[str]:
    return world.run(lambda: [d.code for d in db.session.execute(
        services.covered_dealers_query(_programme(code), scope)).unique().scalars()])  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "dealers"),
    [
        ("all", ["EA-1", "SH-1", "WE-1"]),
        ("tier:A", ["SH-1", "WE-1"]),
        ("region:EAST", ["EA-1", "SH-1"]),  # the region and its whole subtree
        ("region:SH", ["SH-1"]),
        ("region:CN", ["EA-1", "SH-1", "WE-1"]),
        ("dealer:WE-1", ["WE-1"]),
    ],
)
def test_the_scope_decides_which_dealers_are_covered(world, catalogue, scope, dealers):
    world.rebate_programme("RB-S", scope=scope)
    assert _covered(world, "RB-S") == dealers


def test_a_region_code_is_matched_as_a_whole_path_segment(world, catalogue):
    world.region("S", parent="CN")  # "S" is part of "/CN/EAST/SH/" as text, not as a region
    world.dealer("S-1", "S")
    world.rebate_programme("RB-S", scope="region:S")
    assert _covered(world, "RB-S") == ["S-1"]


def _visible(world, scope) -> list[str]:
    return world.run(lambda: [p.code for p in db.session.execute(services.programmes_query(scope)).scalars()])


def test_dealers_see_only_non_draft_programmes_covering_them_and_regions_those_of_their_dealers(world, catalogue):
    world.rebate_programme("RB-ALL")
    world.rebate_programme("RB-EAST", scope="region:EAST", period_start=dt.date(2026, 4, 1),
                           period_end=dt.date(2026, 6, 30))  # fmt: skip
    world.rebate_programme("RB-WE", scope="dealer:WE-1")
    world.rebate_programme("RB-DRAFT", status="draft")
    ids = dealer_ids(world)
    assert _visible(world, Scope("hq")) == ["RB-EAST", "RB-ALL", "RB-DRAFT", "RB-WE"]
    assert _visible(world, Scope("dealer", dealer_id=ids["SH-1"])) == ["RB-EAST", "RB-ALL"]
    assert _visible(world, Scope("dealer", dealer_id=ids["WE-1"])) == ["RB-ALL", "RB-WE"]
    assert _visible(world, Scope("region", region_path="/CN/WEST/")) == ["RB-ALL", "RB-WE"]
    assert _visible(world, Scope("region", region_path="/CN/EAST/")) == ["RB-EAST", "RB-ALL"]
    on = world.run(lambda: [p.code for p in db.session.execute(
        services.programmes_query(Scope("hq"), on=dt.date(2026, 5, 1))).scalars()])  # fmt: skip
    assert on == ["RB-EAST"]


# ---------------------------------------------------------------- progress


def _progress(world, code, scope=Scope("hq"), **kwargs):
    return world._in_request(lambda: services.progress(scope, _programme(code), **kwargs))


def ship(world, dealer: str, lines: list[tuple[str, int]], on: dt.date) -> None:
    """HQ ships an order of `dealer` on `on` (placed that morning), through the services."""
    moment = dt.datetime.combine(on, dt.time(10, 0), dt.UTC)
    with freeze(moment):
        for sku, qty in lines:
            world.stock(sku, qty, on=on)
        order = world.order(dealer, lines)
        world.shipment(order, lines)


def test_sell_in_counts_gross_shipped_in_the_period_by_ship_date(world, catalogue):
    world.credit_limit("SH-1", "10000000")
    ship(world, "SH-1", [("CAR-1", 1), ("OIL-1", 10)], dt.date(2026, 2, 3))  # 113,000.00 + 1,130.00 gross
    ship(world, "SH-1", [("OIL-1", 5)], dt.date(2026, 4, 2))  # after the period
    world.rebate_programme("RB-IN", basis="sell_in_amount")
    world.rebate_programme("RB-IN-PARTS", basis="sell_in_amount", targets={"categories": ["parts"]})
    world.rebate_programme("RB-IN-UNITS", basis="sell_in_units", tier_kind="per_unit", tiers=[("1", "10")],
                           targets={"skus": ["OIL-1"]})  # fmt: skip
    row = {r["dealer_code"]: r for r in _progress(world, "RB-IN")["rows"]}["SH-1"]
    assert (row["basis"], row["tier_index"], row["rebate"]) == (D("114130.00"), 1, D("2282.60"))
    parts = {r["dealer_code"]: r for r in _progress(world, "RB-IN-PARTS")["rows"]}["SH-1"]
    assert parts["basis"] == D("1130.00")
    units = {r["dealer_code"]: r for r in _progress(world, "RB-IN-UNITS")["rows"]}["SH-1"]
    assert (units["basis"], units["rebate"]) == (D(10), D("100.00"))


def test_sell_through_counts_the_period_and_the_targets_only(world, catalogue):
    world.sold("SH-1", "CAR-1", dt.date(2026, 1, 1), 1, "120000.00")
    world.sold("SH-1", "OIL-1", dt.date(2026, 3, 31), 3, "150.00")
    world.sold("SH-1", "OIL-1", dt.date(2025, 12, 31), 3, "150.00")  # before the period
    world.rebate_programme("RB-ST")
    world.rebate_programme("RB-CARS", targets={"skus": ["CAR-1"]})
    world.rebate_programme("RB-MIX", targets={"skus": ["CAR-1"], "categories": ["parts"]})
    world.rebate_programme("RB-UNITS", basis="sell_through_units", tier_kind="per_unit", tiers=[("0", "10")],
                           targets={"categories": ["parts", "cars"]})  # fmt: skip
    basis = {code: {r["dealer_code"]: r["basis"] for r in _progress(world, code)["rows"]}["SH-1"]
             for code in ("RB-ST", "RB-CARS", "RB-MIX", "RB-UNITS")}  # fmt: skip
    assert basis == {"RB-ST": D("120450.00"), "RB-CARS": D("120000.00"), "RB-MIX": D("120450.00"), "RB-UNITS": D(4)}


def test_progress_lists_every_covered_dealer_by_basis_with_totals(world, catalogue):
    world.sold("EA-1", "OIL-1", dt.date(2026, 2, 1), 100, "150.00")  # 15,000 → 2 %
    world.sold("SH-1", "OIL-1", dt.date(2026, 2, 1), 10, "150.00")  # 1,500 → 1 %
    world.rebate_programme("RB-P", scope="region:EAST")
    figures = _progress(world, "RB-P")
    assert [(r["dealer_code"], r["basis"], r["rebate"]) for r in figures["rows"]] == [
        ("EA-1", D("15000.00"), D("300.00")), ("SH-1", D("1500.00"), D("15.00")),
    ]  # fmt: skip
    assert figures["as_of"] == dt.date(2026, 3, 31) and figures["unit"] == "amount"
    assert figures["totals"] == {"dealers": 2, "basis": D("16500.00"), "rebate": D("315.00"),
                                 "by_tier": [{"tier_index": None, "dealers": 0}, {"tier_index": 0, "dealers": 1},
                                             {"tier_index": 1, "dealers": 1}]}  # fmt: skip
    halfway = _progress(world, "RB-P", as_of=dt.date(2026, 1, 31))
    assert halfway["totals"]["basis"] == D("0.00") and halfway["as_of"] == dt.date(2026, 1, 31)


def test_progress_is_one_sql_statement_whatever_the_number_of_dealers(app, world, catalogue):
    for n in range(12):
        world.dealer(f"MORE-{n}", "SH")
        world.sold(f"MORE-{n}", "OIL-1", dt.date(2026, 2, 1), n + 1, "150.00")
    world.rebate_programme("RB-P", targets={"categories": ["parts"]})
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def measure():
        programme = _programme("RB-P")
        assert programme.tiers and programme.targets  # loaded with the programme
        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            return services.progress(Scope("hq"), programme)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    figures = world._in_request(measure)
    assert figures["totals"]["dealers"] == 15
    assert len(statements) == 1 and "GROUP BY" in statements[0]


def test_a_dealer_sees_its_own_row_and_a_region_manager_its_dealers(world, catalogue):
    for dealer in ("SH-1", "EA-1", "WE-1"):
        world.sold(dealer, "OIL-1", dt.date(2026, 2, 1), 1, "150.00")
    world.rebate_programme("RB-P")
    ids = dealer_ids(world)
    own = _progress(world, "RB-P", Scope("dealer", dealer_id=ids["SH-1"]))
    assert [r["dealer_code"] for r in own["rows"]] == ["SH-1"]
    east = _progress(world, "RB-P", Scope("region", region_path="/CN/EAST/"))
    assert sorted(r["dealer_code"] for r in east["rows"]) == ["EA-1", "SH-1"]


def test_a_dealer_sees_its_progress_in_active_and_recently_closed_programmes(world, catalogue):
    world.sold("SH-1", "OIL-1", dt.date(2026, 10, 1), 10, "150.00")
    world.rebate_programme("RB-NOW", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31))
    world.rebate_programme("RB-Q3", period_start=dt.date(2026, 7, 1), period_end=dt.date(2026, 10, 31),
                           status="closed")  # fmt: skip
    world.rebate_programme("RB-Q1", status="closed")  # ended long ago
    world.rebate_programme("RB-DRAFT", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31),
                           status="draft")  # fmt: skip
    world.rebate_programme("RB-WEST", scope="region:WEST", period_start=dt.date(2026, 10, 1),
                           period_end=dt.date(2026, 12, 31))  # fmt: skip

    def read():
        from portal.dealers.models import Dealer

        dealer = db.session.query(Dealer).filter_by(code="SH-1").one()
        with freeze(dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)):
            return [(r["programme"].code, r["basis"], r["as_of"]) for r in
                    services.dealer_progress(Scope("dealer", dealer_id=dealer.id), dealer)]  # fmt: skip

    assert world._in_request(read) == [
        ("RB-NOW", D("1500.00"), dt.date(2026, 11, 20)), ("RB-Q3", D("1500.00"), dt.date(2026, 10, 31)),
    ]  # fmt: skip
