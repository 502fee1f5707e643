"""The receivables dashboard computes its ageing once and its DSO trend in one statement (the first bottleneck of
the mixed-load benchmark, bench/README.md "mixed"), with the same figures as the reports it replaced."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from portal.credit import reports
from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer, Region
from portal.extensions import db
from portal.platform.tenancy import Scope
from tests.conftest import login

D = dt.date
AS_OF = (D(2026, 11, 23), D(2026, 6, 30), D(2026, 3, 15), D(2025, 12, 31))
DEALERS = {"SH-1": "SH", "SH-2": "SH", "JS-1": "JS", "E-1": "EAST", "BJ-1": "NORTH"}


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("SH", parent="EAST", name="上海")
    world.region("JS", parent="EAST", name="江苏")
    world.region("NORTH", parent="HQ", name="华北大区")
    for code, region in DEALERS.items():
        world.dealer(code, region)
    rng = random.Random(7)
    for code in DEALERS:
        for _ in range(14):
            issued = D(2025, 10, 1) + dt.timedelta(days=rng.randrange(0, 410))
            due = issued + dt.timedelta(days=rng.choice((0, 30, 60)))
            world.invoice(
                code, amount=f"{rng.randrange(1_000, 90_000)}.{rng.randrange(100):02d}", issued_on=issued, due_on=due
            )
        for _ in range(6):
            received = D(2025, 11, 1) + dt.timedelta(days=rng.randrange(0, 380))
            world.payment(code, amount=f"{rng.randrange(500, 60_000)}.{rng.randrange(100):02d}", received_on=received)


def _paths() -> dict[str, str]:
    return {d.code: d.region.path for d in db.session.execute(select(Dealer)).unique().scalars()}


def _rolled_up(dealer_rows: list[dict], top: Region) -> dict[str, dict]:
    """The region rows as the dashboard defines them, summed in Python: each dealer into the child region of `top`
    whose subtree holds it, or into `top` itself when it sits there directly."""
    paths = _paths()
    children = db.session.execute(select(Region).where(Region.parent_id == top.id)).unique().scalars().all()
    out: dict[str, dict] = {}
    for row in dealer_rows:
        path = paths[row["key"]]
        group = next((c for c in children if path.startswith(c.path)), top if path == top.path else None)
        into = out.setdefault(group.code, {b: Decimal("0.00") for b in (*reports.BUCKETS, "unapplied", "total")})
        for b in into:
            into[b] += row[b]
    return out


@pytest.mark.parametrize("as_of", AS_OF)
def test_one_pass_gives_the_dealer_and_the_region_ageing(app, channel, as_of):
    with app.test_request_context():
        hq_root = db.session.execute(select(Region).where(Region.code == "HQ")).unique().scalar_one()
        east = db.session.execute(select(Region).where(Region.code == "EAST")).unique().scalar_one()
        cases = [
            (Scope("hq"), None, hq_root),
            (Scope("hq"), east, east),
            (Scope("region", region_path=east.path), None, east),
        ]
        for scope, region, top in cases:
            by_region, by_dealer = reports.ageing_by_region_and_dealer(scope, as_of, region)
            assert by_dealer == reports.ageing(scope, as_of, "dealer", region)
            assert by_region == reports.ageing(scope, as_of, "region", region)
            expected = _rolled_up(by_dealer["rows"], top)
            got = {r["key"]: {b: r[b] for b in expected[r["key"]]} for r in by_region["rows"]}
            assert got == expected
            assert [r["key"] for r in by_region["rows"]] == sorted(expected)
            assert by_region["totals"] == by_dealer["totals"]
        # the region manager's rows hold only the region's dealers; E-1 sits in EAST itself
        keys = {r["key"] for r in reports.ageing_by_region_and_dealer(cases[2][0], as_of)[1]["rows"]}
        assert "BJ-1" not in keys
        assert {r["key"] for r in reports.ageing_by_region_and_dealer(cases[2][0], as_of)[0]["rows"]} <= {
            "SH",
            "JS",
            "EAST",
        }


def _python_dso(dealer_ids: set[int], on: dt.date) -> Decimal | None:
    entries = [e for e in db.session.execute(select(LedgerEntry)).scalars() if e.dealer_id in dealer_ids]
    receivables = sum(
        ((e.amount if e.type == "invoice" else -e.amount) for e in entries if e.entry_date <= on), Decimal(0)
    )
    start = on - dt.timedelta(days=89)
    sales = sum((e.amount for e in entries if e.type == "invoice" and start <= e.entry_date <= on), Decimal(0))
    if sales == 0:
        return None
    return (receivables / sales * 90).quantize(Decimal("0.1"))


def test_the_dso_trend_is_each_dates_dso(app, channel):
    with app.test_request_context():
        east = db.session.execute(select(Region).where(Region.code == "EAST")).unique().scalar_one()
        dealers = {d.code: d.id for d in db.session.execute(select(Dealer)).unique().scalars()}
        ends = reports.month_ends(D(2026, 11, 23), 12) + [D(2025, 6, 30)]  # the last: before any sale → None
        for clause, ids in [
            (Scope("hq").dealer_clause, set(dealers.values())),
            (reports.scoped_clause(Scope("hq"), east), {dealers[c] for c in ("SH-1", "SH-2", "JS-1", "E-1")}),
            (Scope("dealer", dealer_id=dealers["BJ-1"]).dealer_clause, {dealers["BJ-1"]}),
        ]:
            expected = [_python_dso(ids, d) for d in ends]
            assert reports.dso_trend(clause, ends) == expected
            assert expected[-1] is None and any(v is not None for v in expected[:-1])
            assert [reports.dso(clause, d) for d in ends[-3:]] == expected[-3:]
        assert reports.dso_trend(Scope("hq").dealer_clause, []) == []


def test_the_dashboard_reads_the_ledger_a_bounded_number_of_times(app, client, world, channel):
    login(client, world.user("finance"))
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get("/receivables?as_of=2026-11-23&group_by=region").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert "华东大区" in page and "华北大区" in page
    ledger_reads = [s for s in statements if "ledger_entries" in s]
    # one ageing (the region rows and the overdue dealers), one DSO trend, one credit utilisation; it was 27
    assert len(ledger_reads) == 3, ledger_reads
