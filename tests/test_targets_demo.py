"""The demo's targets (PRODUCT.md §15, `portal/targets/demo.py`): a year of them, HQ's for the big regions and their
provinces and the region managers' splits among their dealers, for all three measures, read off the demo's own
actuals so that some regions are clearly ahead and some clearly behind; a couple of category targets; two splits that
do not add up (the split page's warning); none for a sub-dealer; none for a month that has not begun.

The demo is loaded ONCE for the module (as tests/test_demo_invariants.py does: its per-module fixture replaces
conftest's per-test cleaning, and the tables are emptied when the module ends).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.platform.tenancy import Scope
from portal.platform.timeutil import today

BIG = ("EAST", "NORTH", "SOUTH", "WEST", "CENTRAL")


@pytest.fixture(autouse=True)
def _clean():
    """Replaces conftest's per-test cleaning: the demo stays loaded for the whole module (see `demo`)."""
    yield


@pytest.fixture(scope="module")
def demo(app):
    from portal.production import eta
    from tests.conftest import empty_all_tables

    eta.clear_cache()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0 and "Demo channel loaded" in result.output, result.output
    assert "Targets: " in result.output
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        ctx.pop()
        empty_all_tables(app)
        eta.clear_cache()
        if app.config["REDIS_URL"]:
            from portal.jobs import redis_connection

            redis_connection(app).flushdb()


def _targets():
    from portal.dealers.models import Dealer, Region
    from portal.targets.models import Target

    return db.session.execute(
        select(Target, Region.code, Dealer.code, Dealer.parent_id, Dealer.region_id)
        .outerjoin(Region, Region.id == Target.region_id)
        .outerjoin(Dealer, Dealer.id == Target.dealer_id)
    ).all()


def test_a_year_of_targets_all_measures(demo):
    from portal.targets.models import MEASURES, Target

    months = db.session.execute(select(func.min(Target.month), func.max(Target.month))).one()
    first, last = (m if isinstance(m, dt.date) else dt.date.fromisoformat(str(m)[:10]) for m in months)
    assert last == today().replace(day=1)  # up to this month, nothing for a month that has not begun
    assert (last.year - first.year) * 12 + last.month - first.month == 11  # twelve months
    rows = _targets()
    for measure in MEASURES:
        assert any(t.measure == measure and t.region_id for t, *_x in rows)
        assert any(t.measure == measure and t.dealer_id for t, *_x in rows)
    categories = {(rc, t.category) for t, rc, *_x in rows if t.category}
    assert len(categories) >= 2  # a couple of category targets
    assert all(t.amount >= 0 for t, *_x in rows)
    assert all(t.amount == t.amount.to_integral_value() for t, *_x in rows if t.measure == "sell_through_units")


def test_hq_sets_the_regions_the_managers_split(demo):
    rows = _targets()
    region_setters = {t.updated_by for t, rc, *_x in rows if t.region_id and rc in BIG}
    assert region_setters == {"channel"}
    dealer_setters = {t.updated_by for t, *_x in rows if t.dealer_id}
    assert dealer_setters and all(u.startswith("rm.") for u in dealer_setters)
    assert "rm.sh" in dealer_setters  # the Shanghai city manager splits its own region's figure


def test_no_sub_dealer_targets(demo):
    rows = _targets()
    assert any(parent is not None for *_x, parent, _r in rows) is False
    from portal.dealers.models import Dealer

    assert db.session.execute(select(func.count(Dealer.id)).where(Dealer.parent_id.is_not(None))).scalar_one() > 0


def test_some_regions_ahead_some_behind(demo):
    """Over the complete months: the big regions' achievement (the achievement module's own answer) differs
    clearly — at least one 5 % or more ahead and one 5 % or more behind, on every measure."""
    from portal.targets.achievement import achievement
    from portal.targets.models import MEASURES

    month = today().replace(day=1)
    last_complete = (month - dt.timedelta(days=1)).replace(day=1)
    first = (month - dt.timedelta(days=330)).replace(day=1)
    for measure in MEASURES:
        result = achievement(Scope("hq"), first, last_complete, group_by="region", measure=measure)
        pct = {r["key"]: r["pct"] for r in result["rows"] if r["key"] in BIG}
        assert set(pct) == set(BIG) and all(p is not None for p in pct.values()), (measure, pct)
        assert any(p >= Decimal("1.05") for p in pct.values()), (measure, pct)
        assert any(p <= Decimal("0.95") for p in pct.values()), (measure, pct)


def test_splits_mostly_add_up_one_does_not(demo):
    """A province's target against Σ of its children's (its city regions' and its dealers'), per measure and month:
    most are equal; the demo's two deliberate exceptions differ every month."""
    from portal.dealers.models import Dealer, Region

    regions = {r.id: r for r in db.session.execute(select(Region)).unique().scalars()}
    dealer_region = dict(db.session.execute(select(Dealer.id, Dealer.region_id)).all())
    own: dict = {}
    children: dict = defaultdict(Decimal)
    for t, *_x in _targets():
        if t.category:
            continue
        key = (t.measure, t.month)
        if t.region_id:
            own[t.region_id, *key] = t.amount
            parent = regions[t.region_id].parent_id
        else:
            parent = dealer_region[t.dealer_id]
        children[parent, *key] += t.amount
    provinces = [r for r in regions.values() if r.parent and r.parent.code in BIG]
    equal, differ = set(), set()
    for (rid, measure, month), amount in own.items():
        if regions[rid] in provinces and (rid, measure, month) in children:
            (equal if children[rid, measure, month] == amount else differ).add(regions[rid].code)
    assert {"ZJ", "CQ"} <= differ  # the split page's warning shows for these
    assert len(equal - differ) >= 8
    big_ok = all(children[rid, m, mo] == a for (rid, m, mo), a in own.items() if regions[rid].code in BIG)
    assert big_ok  # a big region's target is the sum of its provinces'
