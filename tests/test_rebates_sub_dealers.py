"""§16: HQ's rebate programmes are for the dealers HQ sells to — a sub-dealer, even one inside the programme's scope
(all dealers, its distributor's region or tier), is never covered, and its sub-dealer's sales do not count."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.dealers.models import Dealer
from portal.extensions import db
from portal.platform.errors import Invalid
from portal.platform.tenancy import Scope
from portal.rebates import services
from portal.rebates.models import RebateProgramme


def _covered(world, code: str) -> list[str]:
    def read():
        programme = db.session.execute(select(RebateProgramme).filter_by(code=code)).scalar_one()
        return [d.code for d in db.session.execute(services.covered_dealers_query(programme, Scope("hq"))).scalars()]

    return world.run(read)


def test_hqs_programmes_never_cover_a_sub_dealer(world):
    world.region("R1")
    world.dealer("DIST-1", "R1", tier="A")
    world.dealer("D-2", "R1", tier="A")
    world.sub_dealer("DIST-1", "SUB-1A", tier="A")
    for code, scope in (("RB-ALL", "all"), ("RB-R1", "region:R1"), ("RB-A", "tier:A")):
        world.rebate_programme(code, scope=scope)
        assert _covered(world, code) == ["D-2", "DIST-1"], code  # never SUB-1A, though in every one of these scopes
    with pytest.raises(Invalid) as named:  # a programme for the sub-dealer itself is refused, nothing saved
        world.rebate_programme("RB-SUB", scope="dealer:SUB-1A")
    assert "scope" in named.value.fields and world.count(RebateProgramme, code="RB-SUB") == 0
    assert world.run(lambda: db.session.query(Dealer).filter_by(code="SUB-1A").one().parent_id) is not None
