"""Build-to-order options through the API (PRODUCT.md §12): chosen per line on orders, quotes and drafts, priced
through the dealer's rule (a discount takes its percent off list price + delta), shown on the order's lines with their
labels; options the product does not declare are refused with the line's field named and nothing written."""

from __future__ import annotations

import pytest

from portal.orders.models import Order, OrderDraft, OrderLine
from portal.production.models import Unit
from tests.test_order_drafts_api import named

ORDERS = "/api/v1/orders"
RED_LUX = {"colour": "RED", "trim": "LUX"}


@pytest.fixture
def cars(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.credit_limit("SH-1", "1000000.00")
    world.user("dealer_admin", dealer="SH-1", username="sh1")
    world.product("CAR-1", list_price="100000.00", build_to_order=True, category="vehicles")
    world.product("OIL-1", list_price="10.00")
    world.option("CAR-1", "colour", "WHT", "珍珠白", "Pearl white", default=True)
    world.option("CAR-1", "colour", "RED", "宝石红", "Ruby red", delta="3000.00")
    world.option("CAR-1", "trim", "STD", "标准版", "Standard", default=True)
    world.option("CAR-1", "trim", "LUX", "豪华版", "Luxury", delta="12000.00")
    world.price_list("all", [{"sku": "CAR-1", "discount_pct": "10"}])
    return world.auth("sh1")


def _line(options=None, quantity: int = 2) -> dict:
    line = {"sku": "CAR-1", "quantity": quantity}
    return {**line, "options": options} if options is not None else line


def test_options_are_priced_by_the_rule_and_shown_on_the_order(client, world, cars):
    resp = client.post(ORDERS, json={"lines": [_line(RED_LUX)]}, headers=cars)
    assert resp.status_code == 201, resp.get_json()
    (line,) = resp.get_json()["lines"]
    assert line["list_price"] == "115000.00"  # 100,000.00 + 3,000.00 + 12,000.00
    assert line["unit_price"] == "103500.00"  # 10 % off list price and deltas
    assert (line["net"], line["gross"]) == ("207000.00", "233910.00")
    assert line["options"] == [
        {"group": "colour", "code": "RED", "label": "宝石红", "label_en": "Ruby red", "price_delta": "3000.00"},
        {"group": "trim", "code": "LUX", "label": "豪华版", "label_en": "Luxury", "price_delta": "12000.00"},
    ]
    number = resp.get_json()["number"]
    shown = client.get(f"{ORDERS}/{number}", headers=cars).get_json()
    assert [o["code"] for o in shown["lines"][0]["options"]] == ["RED", "LUX"]
    assert len(shown["units"]) == 2
    # a line leaving a group out gets its default; a stock line has none
    resp = client.post(ORDERS, json={"lines": [_line({"colour": "red"}, 1), {"sku": "OIL-1", "quantity": 1}]},
                       headers=cars)  # fmt: skip
    car, oil = resp.get_json()["lines"]
    assert [o["code"] for o in car["options"]] == ["RED", "STD"] and car["unit_price"] == "92700.00"
    assert oil["options"] is None


def test_the_quote_and_the_draft_price_options_like_the_order(client, world, cars):
    quote = client.post(f"{ORDERS}/quote", json={"lines": [_line(RED_LUX)]}, headers=cars).get_json()
    assert (quote["lines"][0]["unit_price"], quote["gross"]) == ("103500.00", "233910.00")
    assert [o["code"] for o in quote["lines"][0]["options"]] == ["RED", "LUX"]
    resp = client.put(f"{ORDERS}/draft", json={"lines": [_line({"trim": "LUX"}), _line(None, 1)]}, headers=cars)
    assert resp.status_code == 200, resp.get_json()
    lux, plain = resp.get_json()["lines"]
    assert (lux["options"], lux["unit_price"]) == ({"trim": "LUX"}, "100800.00")  # as chosen; WHT by default
    assert [o["code"] for o in lux["option_details"]] == ["WHT", "LUX"]
    assert (plain["options"], plain["unit_price"]) == ({}, "90000.00")
    order = client.post(f"{ORDERS}/draft/submit", headers=cars).get_json()
    assert [[o["code"] for o in ln["options"]] for ln in order["lines"]] == [["WHT", "LUX"], ["WHT", "STD"]]
    assert order["gross"] == "329508.00"  # (2 × 100,800.00 + 90,000.00) × 1.13
    assert world.count(Unit) == 3


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (_line({"roof": "GLASS"}), "has no option group roof"),  # a group the product does not declare
        (_line({"colour": "PINK"}), "offers no"),  # a code it does not offer
        ({"sku": "OIL-1", "quantity": 1, "options": {"colour": "RED"}}, "stock product"),  # a product without options
    ],
)
def test_options_not_declared_for_the_product_are_refused_and_nothing_written(client, world, cars, line, why):
    before = world.snapshot()
    for path in (ORDERS, f"{ORDERS}/draft", f"{ORDERS}/quote"):
        resp = (client.put if path.endswith("draft") else client.post)(path, json={"lines": [line]}, headers=cars)
        assert resp.status_code == 422, (path, resp.get_json())
        fields = resp.get_json()["error"]["fields"]
        assert named(fields) == {"lines.0.options"} and why in fields["lines.0.options"][0], (path, fields)
    assert (world.count(Order), world.count(OrderLine), world.count(OrderDraft), world.count(Unit)) == (0, 0, 0, 0)
    assert world.snapshot() == before
