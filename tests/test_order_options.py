"""Options of build-to-order products (PRODUCT.md §12): chosen per order line (one per group the product declares,
the group's default when left out), their price delta added to the list price and priced through the dealer's rule,
carried onto each unit; wrong choices refused with the line's field named and nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.orders.models import Order
from portal.platform.errors import Invalid
from tests.ordering_helpers import amend, option, order_of, place, units_of


@pytest.fixture
def cars(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "1000000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.product("CAR-1", list_price="100000.00", build_to_order=True, category="vehicles")
    world.product("OIL-1", list_price="10.00")
    option(world, "CAR-1", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    option(world, "CAR-1", "colour", "RED", "宝石红", "Ruby red", delta="3000.00")
    option(world, "CAR-1", "trim", "STD", "标准版", "Standard", default=True)
    option(world, "CAR-1", "trim", "LUX", "豪华版", "Luxury", delta="12000.00")
    return world


def test_without_a_rule_the_price_is_the_list_price_with_the_deltas(world, cars):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED", "trim": "LUX"}}])
    (line,) = order_of(world, number)["lines"]
    assert line["options"] == ["RED", "LUX"]
    assert line["list_price"] == line["unit_price"] == Decimal("115000.00")


def test_a_discount_rule_takes_its_percent_off_the_list_price_with_the_deltas(world, cars):
    world.price_list("all", [{"sku": "CAR-1", "discount_pct": "10"}])
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 2, "options": {"colour": "RED"}}])
    (line,) = order_of(world, number)["lines"]
    assert line["list_price"] == Decimal("103000.00")
    assert line["unit_price"] == Decimal("92700.00")  # 90 % of 103,000.00
    assert line["gross"] == Decimal("209502.00")  # 185,400.00 + 13 %


def test_a_fixed_price_rule_fixes_the_product_and_the_delta_is_added(world, cars):
    world.price_list("dealer:SH-1", [{"sku": "CAR-1", "unit_price": "95000.00"}])
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"trim": "LUX"}}])
    (line,) = order_of(world, number)["lines"]
    assert line["unit_price"] == Decimal("107000.00")
    assert line["options"] == ["WHT", "LUX"]  # the colour left out: its default


def test_the_rules_compete_on_the_price_with_the_delta(world, cars):
    # 10 % off beats a fixed 95,000.00 on the bare car (90,000.00) but not with Luxury (101,700.00 vs 107,000.00)...
    world.price_list("all", [{"sku": "CAR-1", "discount_pct": "10"}, {"sku": "CAR-1", "unit_price": "95000.00"}])
    bare = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1}])
    assert order_of(world, bare)["lines"][0]["unit_price"] == Decimal("90000.00")
    lux = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"trim": "LUX"}}])
    # ...the lowest price with the delta wins: 90 % of 112,000.00 = 100,800.00 < 95,000.00 + 12,000.00
    assert order_of(world, lux)["lines"][0]["unit_price"] == Decimal("100800.00")


def test_each_unit_carries_its_lines_options(world, cars):
    number = place(world, "sh1", "SH-1", [
        {"sku": "CAR-1", "quantity": 2, "options": {"colour": "RED"}},
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "WHT", "trim": "LUX"}},
    ])  # fmt: skip
    assert units_of(world, number) == [("CAR-1", ["RED", "STD"]), ("CAR-1", ["RED", "STD"]), ("CAR-1", ["WHT", "LUX"])]
    amend(world, "sh1", number, [
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED"}},
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "WHT", "trim": "LUX"}},
        {"sku": "CAR-1", "quantity": 1, "options": {"colour": "WHT"}},
    ])  # fmt: skip
    assert sorted(units_of(world, number)) == [
        ("CAR-1", ["RED", "STD"]), ("CAR-1", ["WHT", "LUX"]), ("CAR-1", ["WHT", "STD"])
    ]  # fmt: skip


def test_codes_are_read_regardless_of_case(world, cars):
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"colour": " red "}}])
    assert order_of(world, number)["lines"][0]["options"] == ["RED", "STD"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"sku": "CAR-1", "quantity": 1, "options": {"colour": "BLU"}}, "CAR-1 没有"),
        ({"sku": "CAR-1", "quantity": 1, "options": {"roof": "SUN"}}, "没有选装组 roof"),
        ({"sku": "OIL-1", "quantity": 1, "options": {"colour": "RED"}}, "现货产品"),
        ({"sku": "CAR-1", "quantity": 1, "options": ["RED"]}, "按组各选一个"),
    ],
)
def test_options_the_product_does_not_offer_are_refused(world, cars, line, message):
    """(The messages are in the request's default language, Chinese.)"""
    before = world.count(Order)
    with pytest.raises(Invalid) as caught:
        place(world, "sh1", "SH-1", [{"sku": "OIL-1", "quantity": 1}, line])
    assert message in " ".join(caught.value.fields["lines.1.options"])
    assert world.count(Order) == before


def test_a_group_without_a_default_must_be_chosen(world, cars):
    option(world, "CAR-1", "interior", "BLK", "黑色内饰", "Black interior")
    with pytest.raises(Invalid) as caught:
        place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1}])
    assert "请选择 CAR-1" in " ".join(caught.value.fields["lines.0.options"])
    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"interior": "BLK"}}])
    assert order_of(world, number)["lines"][0]["options"] == ["WHT", "BLK", "STD"]  # colour, interior, trim


def test_the_same_choice_twice_is_one_line_too_many(world, cars):
    with pytest.raises(Invalid) as caught:
        place(world, "sh1", "SH-1", [
            {"sku": "CAR-1", "quantity": 1, "options": {"colour": "WHT"}},
            {"sku": "CAR-1", "quantity": 1},  # the default colour: the same choice
        ])  # fmt: skip
    assert "CAR-1" in caught.value.fields["lines"][0]


def test_a_placed_order_keeps_what_it_chose_when_the_option_changes(world, cars):
    from portal.catalog.models import ProductOption
    from portal.extensions import db

    number = place(world, "sh1", "SH-1", [{"sku": "CAR-1", "quantity": 1, "options": {"colour": "RED"}}])

    def reprice():
        opt = db.session.query(ProductOption).filter_by(code="RED").one()
        opt.price_delta, opt.label_en = Decimal("5000.00"), "Crimson"

    world.run(reprice)
    (line,) = order_of(world, number)["lines"]
    assert line["unit_price"] == Decimal("103000.00")
