"""Price resolution at the edges mutation testing found unpinned: an inactive list never prices; a region's list
beats a tier's whatever their priorities, even the top region of the tree; a rule out of reach by quantity does not
stop the list's later rules; between two rules giving the same price, the earlier one explains it."""

from __future__ import annotations

from decimal import Decimal

from tests.test_pricing_resolution import price, setup  # noqa: F401  (the fixture)


def _names(world, *lists):
    return [world.price_list(scope, rules, priority=p, name=name) for name, scope, rules, p in lists]


def test_an_inactive_price_list_never_prices(app, world, setup):  # noqa: F811
    from portal.catalog.models import PriceList
    from portal.extensions import db

    (pl_id,) = _names(world, ("停用", "all", [{"sku": "CAR-1", "unit_price": "90000.00"}], 0))
    assert price(app) == (Decimal("90000.00"), "停用")

    def deactivate():
        db.session.get(PriceList, pl_id).active = False

    world.run(deactivate)
    assert price(app) == (Decimal("100000.00"), None)


def test_a_region_list_beats_a_tier_list_of_any_priority_even_at_the_top_of_the_tree(app, world, setup):  # noqa: F811
    _names(world, ("级别A", "tier:A", [{"sku": "CAR-1", "unit_price": "80000.00"}], 900),
           ("总部区域", "region:HQ", [{"sku": "CAR-1", "unit_price": "95000.00"}], -900))  # fmt: skip
    assert price(app) == (Decimal("95000.00"), "总部区域")


def test_a_rule_out_of_reach_by_quantity_does_not_hide_the_next_rules(app, world, setup):  # noqa: F811
    _names(world, ("阶梯", "all", [{"sku": "CAR-1", "min_qty": 10, "unit_price": "85000.00"},
                                   {"sku": "CAR-1", "unit_price": "97000.00"}], 0))  # fmt: skip
    assert price(app, qty=1) == (Decimal("97000.00"), "阶梯")
    assert price(app, qty=10) == (Decimal("85000.00"), "阶梯")


def test_between_equal_prices_the_earlier_rule_explains(app, world, setup):  # noqa: F811
    from portal.catalog import pricing
    from portal.catalog.models import Product
    from portal.dealers.models import Dealer
    from portal.extensions import db
    from tests.test_pricing_resolution import ON

    _names(world, ("同价", "all", [{"sku": "CAR-1", "unit_price": "90000.00"},
                                   {"category": "vehicles", "discount_pct": "10"}], 0))  # fmt: skip
    with app.app_context():
        dealer = db.session.query(Dealer).filter_by(code="SH-1").one()
        product = db.session.query(Product).filter_by(sku="CAR-1").one()
        rule = pricing.resolve(dealer, product, 1, ON).rule
    assert rule["target"] == "sku:CAR-1" and "discount_pct" not in rule  # the first rule, not the category's 10 %
