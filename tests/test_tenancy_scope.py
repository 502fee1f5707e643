"""The scope in the query layer: HQ sees all, a region manager its subtree, a dealer user its own dealer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.dealers.models import Dealer, Region, User
from portal.extensions import db
from portal.platform.errors import NotFound
from portal.platform.tenancy import Scope


@pytest.fixture
def tree(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("SH", parent="EAST")
    world.region("NORTH", parent="HQ")
    world.region("E_1", parent="HQ")  # '_' is a LIKE wildcard: must not match "EAST"-like paths
    world.dealer("SH-1", "SH")
    world.dealer("EAST-1", "EAST")
    world.dealer("BJ-1", "NORTH")
    world.dealer("E1-1", "E_1")


def _codes(app, scope, model=Dealer):
    with app.app_context():
        return sorted(o.code for o in db.session.execute(scope.select(model)).unique().scalars())


def _scope_of(app, username):
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).unique().scalar_one()
        return Scope.for_principal(user)


def test_hq_roles_see_every_dealer(app, world, tree):
    for role in ("channel_manager", "finance", "hq_admin"):
        assert _codes(app, _scope_of(app, world.user(role))) == ["BJ-1", "E1-1", "EAST-1", "SH-1"]


def test_a_region_manager_sees_its_whole_subtree(app, world, tree):
    assert _codes(app, _scope_of(app, world.user("region_manager", region="EAST"))) == ["EAST-1", "SH-1"]
    assert _codes(app, _scope_of(app, world.user("region_manager", region="SH"))) == ["SH-1"]
    assert _codes(app, _scope_of(app, world.user("region_manager", region="E_1"))) == ["E1-1"]


def test_a_dealer_user_sees_its_own_dealer(app, world, tree):
    assert _codes(app, _scope_of(app, world.user("dealer_staff", dealer="SH-1"))) == ["SH-1"]
    assert _codes(app, _scope_of(app, world.user("dealer_staff", dealer="SH-1")), Region) == []


def test_get_or_404_treats_out_of_scope_as_missing(app, world, tree):
    scope = _scope_of(app, world.user("dealer_admin", dealer="SH-1"))
    with app.app_context():
        assert scope.get_or_404(Dealer, code="SH-1").code == "SH-1"
        with pytest.raises(NotFound) as out_of_scope:
            scope.get_or_404(Dealer, code="BJ-1")
        with pytest.raises(NotFound) as missing:
            scope.get_or_404(Dealer, code="NOPE")
        assert out_of_scope.value.message == missing.value.message


def test_a_model_without_a_scope_declaration_cannot_be_read_through_a_scope():
    from portal.dealers.models import LoginThrottle

    with pytest.raises(TypeError):
        Scope("hq").select(LoginThrottle)


def test_anonymous_and_unattached_principals_see_nothing(app, world, tree):
    assert _codes(app, Scope.for_principal(None)) == []
    assert _codes(app, Scope("none")) == []
