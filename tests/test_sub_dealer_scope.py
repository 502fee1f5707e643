"""§16 tenancy in the one scope: a distributor sees itself and its sub-dealers, a sub-dealer itself alone (never its
distributor nor a sibling), a region manager and HQ both levels; pricing takes a sub-dealer's distributor's lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.catalog import pricing
from portal.catalog.models import PriceList, Product
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.platform.errors import NotFound
from portal.platform.tenancy import Scope


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST")
    world.dealer("DIST-2", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")


def _codes(app, scope, model=Dealer):
    with app.app_context():
        return sorted(o.code for o in db.session.execute(scope.select(model)).unique().scalars())


def _scope_of(app, username):
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).unique().scalar_one()
        return Scope.for_principal(user)


def test_a_sub_dealer_is_in_its_distributors_region(app, channel):
    with app.app_context():
        sub = db.session.execute(select(Dealer).filter_by(code="SUB-1A")).unique().scalar_one()
        assert sub.parent.code == "DIST-1" and sub.region.code == "EAST" and sub.is_sub_dealer


def test_a_distributor_sees_itself_and_its_own_sub_dealers(app, world, channel):
    for role in ("dealer_staff", "dealer_admin"):
        scope = _scope_of(app, world.user(role, dealer="DIST-1"))
        assert _codes(app, scope) == ["DIST-1", "SUB-1A", "SUB-1B"]


def test_a_sub_dealer_sees_itself_alone(app, world, channel):
    scope = _scope_of(app, world.user("dealer_admin", dealer="SUB-1A"))
    assert _codes(app, scope) == ["SUB-1A"]  # neither its distributor nor its sibling
    with app.app_context():
        for other in ("DIST-1", "SUB-1B", "SUB-2A", "DIST-2"):
            with pytest.raises(NotFound):
                scope.get_or_404(Dealer, code=other)


def test_a_distributor_never_sees_another_distributors_sub_dealers(app, world, channel):
    scope = _scope_of(app, world.user("dealer_admin", dealer="DIST-1"))
    with app.app_context():
        for other in ("DIST-2", "SUB-2A"):
            with pytest.raises(NotFound):
                scope.get_or_404(Dealer, code=other)


def test_region_managers_and_hq_see_both_levels(app, world, channel):
    assert _codes(app, _scope_of(app, world.user("region_manager", region="EAST"))) == ["DIST-1", "SUB-1A", "SUB-1B"]
    assert _codes(app, _scope_of(app, world.user("channel_manager"))) == [
        "DIST-1", "DIST-2", "SUB-1A", "SUB-1B", "SUB-2A"]


def test_a_distributors_admin_sees_its_sub_dealers_users_and_a_sub_dealer_only_its_own(app, world, channel):
    world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff")
    world.user("dealer_staff", dealer="SUB-2A", username="sub2a.staff")
    dist = _scope_of(app, world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"))
    sub = _scope_of(app, world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"))
    with app.app_context():
        names = lambda scope: sorted(u.username for u in db.session.execute(scope.select(User)).unique().scalars())  # noqa: E731
        assert names(dist) == ["dist1.admin", "sub1a.admin", "sub1a.staff"]
        assert names(sub) == ["sub1a.admin", "sub1a.staff"]


def _price(app, code, sku):
    with app.app_context():
        dealer = db.session.execute(select(Dealer).filter_by(code=code)).unique().scalar_one()
        product = db.session.execute(select(Product).filter_by(sku=sku)).scalar_one()
        return pricing.resolve(dealer, product, 1, dt.date.today()).unit_price


def test_a_sub_dealer_is_priced_by_its_distributors_lists_only(app, world, channel):
    world.product("P-1", list_price="1000.00")
    world.price_list("all", [{"sku": "P-1", "discount_pct": "10"}])  # HQ's, for every dealer that buys from HQ
    assert _price(app, "DIST-1", "P-1") == Decimal("900.00")
    assert _price(app, "SUB-1A", "P-1") == Decimal("1000.00")  # HQ's list never prices a sub-dealer

    def seller_list(seller, scope_kind, scope_value, price):
        def make():
            dist = db.session.execute(select(Dealer).filter_by(code=seller)).unique().scalar_one()
            pl = PriceList(name=f"{seller} {scope_kind}", scope_kind=scope_kind, scope_value=scope_value,
                           seller_id=dist.id, created_by="test")
            from portal.catalog.models import PriceRule

            pl.rules.append(PriceRule(sku="P-1", unit_price=Decimal(price)))
            db.session.add(pl)
        world.run(make)

    seller_list("DIST-1", "all", None, "950.00")
    seller_list("DIST-1", "dealer", "SUB-1B", "930.00")
    seller_list("DIST-2", "all", None, "800.00")
    assert _price(app, "SUB-1A", "P-1") == Decimal("950.00")
    assert _price(app, "SUB-1B", "P-1") == Decimal("930.00")  # the more specific scope
    assert _price(app, "SUB-2A", "P-1") == Decimal("800.00")
    assert _price(app, "DIST-1", "P-1") == Decimal("900.00")  # a distributor's own lists never price itself
