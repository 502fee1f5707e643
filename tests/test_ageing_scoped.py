"""Scoped ageing (a region manager, HQ narrowed to a region, a dealer, a distributor's sub-dealers) gives each dealer
of the scope exactly the row that dealer's own ageing gives, to the cent, and no dealer outside it; the scope's dealers
are resolved once, before the ageing statement, which then reads no region or dealer table (bench/README.md,
"receivables": the region subtree repeated in every branch made a region's ageing 3× the best SQL)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from portal.credit import reports
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.tenancy import Scope

D = dt.date
COLUMNS = (*reports.BUCKETS, "unapplied", "total")
# month ends and each bucket edge of invoices due on 2026-06-01 (0/1/30/31/60/61/90/91 days past due)
EDGES = (0, 1, 30, 31, 60, 61, 90, 91)
AS_OF = (D(2026, 6, 30), D(2026, 11, 23), *(D(2026, 6, 1) + dt.timedelta(days=n) for n in EDGES))
# code: region; "DIST" is a distributor with two sub-dealers (§16) whose ledgers are its receivables, not HQ's
DEALERS = {"SH-1": "SH", "SH-2": "SH", "JS-1": "JS", "E-1": "EAST", "U-1": "E_1", "X-1": "EX1", "BJ-1": "NORTH",
           "DIST": "SH"}  # fmt: skip
SUBS = ("DIST-S1", "DIST-S2")


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("SH", parent="EAST")
    world.region("JS", parent="EAST")
    world.region("E_1", parent="HQ")  # a LIKE wildcard in the code: its subtree must not take EX1's dealers
    world.region("EX1", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.region("EMPTY", parent="HQ")
    for code, region in DEALERS.items():
        world.dealer(code, region)
    for code in SUBS:
        world.sub_dealer("DIST", code)
    rng = random.Random(24)
    for code in (*DEALERS, *SUBS):
        for _ in range(8):
            issued = D(2026, 1, 1) + dt.timedelta(days=rng.randrange(0, 200))
            due = rng.choice((D(2026, 6, 1), issued + dt.timedelta(days=rng.choice((0, 30, 60)))))
            world.invoice(code, amount=f"{rng.randrange(1_000, 90_000)}.{rng.randrange(100):02d}", issued_on=issued,
                          due_on=max(due, issued))  # fmt: skip
        for _ in range(4):
            received = D(2026, 2, 1) + dt.timedelta(days=rng.randrange(0, 300))
            world.payment(code, amount=f"{rng.randrange(500, 80_000)}.{rng.randrange(100):02d}", received_on=received)


def _own_rows(as_of: dt.date) -> dict[str, dict]:
    """Each dealer's row computed for that dealer alone (the statement and overview path, no scope involved)."""
    rows = {}
    for dealer in db.session.execute(select(Dealer)).unique().scalars():
        row = db.session.execute(reports.one_dealer_ageing_select(as_of), {"dealer_id": dealer.id}).first()
        if row is not None:
            rows[dealer.code] = {c: Decimal(getattr(row, c)).quantize(Decimal("0.01")) for c in COLUMNS}
    return rows


def _region(code: str) -> Region:
    return db.session.execute(select(Region).where(Region.code == code)).unique().scalar_one()


def _dealer(code: str) -> Dealer:
    return db.session.execute(select(Dealer).where(Dealer.code == code)).unique().scalar_one()


def _cases() -> list[tuple[str, Scope, Region | None, Dealer | None, set[str]]]:
    """(label, scope, region, seller, the dealers whose rows it must give)."""
    hq = {c for c in DEALERS}
    east = {"SH-1", "SH-2", "JS-1", "E-1", "DIST"}
    dist = _dealer("DIST")
    subs = tuple(_dealer(c).id for c in SUBS)
    east_path, north_path = _region("EAST").path, _region("NORTH").path
    return [
        ("HQ", Scope("hq"), None, None, hq),
        ("HQ, region EAST", Scope("hq"), _region("EAST"), None, east),
        ("HQ, region E_1 (a wildcard)", Scope("hq"), _region("E_1"), None, {"U-1"}),
        ("HQ, an empty region", Scope("hq"), _region("EMPTY"), None, set()),
        ("region manager EAST", Scope("region", region_path=east_path), None, None, east),
        ("region manager EAST, region SH", Scope("region", region_path=east_path), _region("SH"), None,
         {"SH-1", "SH-2", "DIST"}),
        ("region manager NORTH, region EAST", Scope("region", region_path=north_path), _region("EAST"), None, set()),
        ("region manager of an empty region", Scope("region", region_path=_region("EMPTY").path), None, None, set()),
        ("dealer SH-1", Scope("dealer", dealer_id=_dealer("SH-1").id), None, None, {"SH-1"}),
        ("distributor, its own account", Scope("dealer", dealer_id=dist.id, sub_dealer_ids=subs), None, None, {"DIST"}),
        ("HQ reading the distributor's receivables", Scope("hq"), None, dist, set(SUBS)),
        ("region manager EAST, the distributor's", Scope("region", region_path=east_path), None, dist, set(SUBS)),
        ("nobody", Scope("none"), None, None, set()),
    ]  # fmt: skip


@pytest.mark.parametrize("as_of", AS_OF)
def test_each_scope_gives_exactly_its_dealers_rows(app, channel, as_of):
    with app.test_request_context():
        own = _own_rows(as_of)
        for label, scope, region, seller, codes in _cases():
            result = reports.ageing(scope, as_of, "dealer", region, seller)
            got = {r["key"]: {c: r[c] for c in COLUMNS} for r in result["rows"]}
            assert got == {c: own[c] for c in sorted(codes)}, label
            assert [r["key"] for r in result["rows"]] == sorted(codes), label
            assert result["totals"] == {c: sum((own[k][c] for k in codes), Decimal("0.00")) for c in COLUMNS}, label
            # the other groupings of the same scope hold the same money
            by_region, by_dealer = reports.ageing_by_region_and_dealer(scope, as_of, region, seller)
            assert by_dealer == result, label
            if codes:
                assert by_region["totals"] == result["totals"], label
            total = reports.ageing(scope, as_of, "total", region, seller)
            assert total["totals"] == result["totals"], label
        assert any(row[b] for row in own.values() for b in reports.BUCKETS[1:])  # something is overdue on each date


def _statements(app, fn) -> list[str]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


@pytest.mark.parametrize("who", ["region manager", "HQ with a region", "HQ reading a distributor's"])
def test_the_scope_is_resolved_once_not_in_every_branch(app, channel, who):
    with app.test_request_context():
        east = _region("EAST")
        scope, region, seller = {
            "region manager": (Scope("region", region_path=east.path), None, None),
            "HQ with a region": (Scope("hq"), east, None),
            "HQ reading a distributor's": (Scope("hq"), None, _dealer("DIST")),
        }[who]
        statements = _statements(app, lambda: reports.ageing(scope, D(2026, 11, 23), "dealer", region, seller))
    ageing = [s for s in statements if "ledger_entries" in s]
    assert len(ageing) == 1, ageing
    # the ageing statement itself reads no regions and the dealers table once (the names of its rows), however many
    # branches (ledger sums, application sums, recent invoices) it filters by the scope
    assert "regions" not in ageing[0]
    assert ageing[0].count("FROM dealers") + ageing[0].count("JOIN dealers") == 1, ageing[0]
    # and the subtree (or the sub-dealers) was looked up once, before it
    lookups = [s for s in statements if "FROM dealers" in s and "ledger_entries" not in s]
    assert len([s for s in lookups if ("LIKE" in s or "parent_id" in s)]) >= 1
