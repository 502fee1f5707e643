"""A dealer's price list page row by row: each row says the rule that decided its own price (the page writes each
rule's text once and reuses it for the rows sharing the rule), and each row's "add to order" form posts the row's SKU
with the page's token and way back."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.conftest import login


@pytest.fixture
def shop(world):
    world.region("HQ")
    world.region("SH", parent="HQ")
    world.dealer("SH-1", "SH", tier="A")
    for n in range(4):
        world.product(f"OIL-{n}", list_price="100.00", category="oil")
        world.product(f"TYR-{n}", list_price="500.00", category="tyres")
        world.product(f"CAR-{n}", list_price="90000.00", category="sedan")
    # two rules of one list decide different rows: a row's text is its rule's, not its list's first one
    world.price_list(
        "tier:A",
        [{"category": "oil", "discount_pct": "10"}, {"sku": "OIL-2", "unit_price": "60.00"}],
        name="油品政策",
    )
    world.price_list("dealer:SH-1", [{"category": "tyres", "unit_price": "420.00"}], name="轮胎专享", priority=3)
    return world.user("dealer_staff", dealer="SH-1")


def rows(html: str) -> dict[str, dict]:
    """Each product row: its SKU, the "why this price" cell's text and its add-to-order form's hidden fields."""
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        sku = re.search(r'data-label="[^"]*">([A-Z]+-\d)</td>', row)
        if not sku:
            continue
        rule = re.search(r'class="small col-rule"[^>]*>(.*?)</td>', row, flags=re.S).group(1)
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', row))
        out[sku.group(1)] = {"rule": " ".join(unescape(re.sub(r"<[^>]+>", " ", rule)).split()), "form": fields}
    return out


def test_each_row_names_the_rule_that_decided_its_price(app, shop):
    client = app.test_client()
    login(client, shop)
    seen = rows(client.get("/dealers/SH-1/prices?category=&qty=1").get_data(as_text=True))
    assert len(seen) == 12
    assert seen["OIL-2"]["rule"].startswith("油品政策") and "60.00" in seen["OIL-2"]["rule"], seen["OIL-2"]
    for n in (0, 1, 3):
        assert seen[f"OIL-{n}"]["rule"].startswith("油品政策") and "60.00" not in seen[f"OIL-{n}"]["rule"]
        assert seen[f"OIL-{n}"]["rule"] == seen["OIL-0"]["rule"]
    for n in range(4):
        assert seen[f"TYR-{n}"]["rule"].startswith("轮胎专享") and "420.00" in seen[f"TYR-{n}"]["rule"]
        assert seen[f"CAR-{n}"]["rule"] == seen["CAR-0"]["rule"]
    assert "油品" not in seen["CAR-0"]["rule"] and "轮胎" not in seen["CAR-0"]["rule"]  # no policy: the list price


def test_each_rows_form_adds_its_own_sku_and_comes_back_to_the_page(app, shop):
    client = app.test_client()
    login(client, shop)
    seen = rows(client.get("/dealers/SH-1/prices?qty=3").get_data(as_text=True))
    tokens = {r["form"]["csrf_token"] for r in seen.values()}
    assert len(tokens) == 1 and tokens != {""}
    for sku, row in seen.items():
        assert row["form"]["sku"] == sku
        assert row["form"]["next"] == "/dealers/SH-1/prices?qty=3"
    one = seen["TYR-1"]["form"]
    resp = client.post("/orders/draft/add", data={**one, "quantity": "3"})
    assert resp.status_code in (302, 303) and resp.headers["Location"].endswith("/dealers/SH-1/prices?qty=3")
