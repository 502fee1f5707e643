"""§16 price lists in the pages: a distributor's admin lists, creates and edits its lists for its sub-dealers (the
scope suggestions are its sub-dealers), rules below HQ's minimum resale price marked; HQ sees a distributor's lists
read-only; a sub-dealer keeps none, and its "My prices" page shows its distributor's prices, never HQ's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.catalog.models import PriceList, PriceRule
from portal.dealers.models import Dealer
from portal.extensions import db
from tests.conftest import login, page_csrf


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST", name="一级经销商")
    world.dealer("DIST-2", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级甲")
    world.sub_dealer("DIST-1", "SUB-1B", name="二级乙")
    world.sub_dealer("DIST-2", "SUB-2A", name="二级丙")
    world.product("P-1", list_price="1000.00", min_resale_price="900.00")
    world.product("P-2", list_price="500.00")
    world.price_list("all", [{"sku": "P-1", "unit_price": "777.00"}], name="HQ 通用")
    return {
        "dist1": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "sub1a": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "sub1a_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
        "cm": world.user("channel_manager", username="cm"),
    }


def _seller_list(world, seller, scope, rules, name):
    from portal.catalog import services

    def make():
        dealer = db.session.query(Dealer).filter_by(code=seller).one()
        data = {"name": name, "scope": scope, "priority": 0, "rules": [
            {k: Decimal(v) if k in ("unit_price", "discount_pct") else v for k, v in r.items()} for r in rules]}
        return services.save_price_list(None, data, seller=dealer).id

    return world._in_request(make)


def _as(client, username):
    browser = client.application.test_client()
    assert login(browser, username).status_code == 302
    return browser


def _form(csrf, **over):
    data = {"csrf_token": csrf, "name": "二级促销", "scope": "all", "valid_from": "", "valid_to": "", "priority": "0",
            "active": "y", "rules-0-sku": "P-1", "rules-0-unit_price": "880.00", "rules-1-sku": "P-2",
            "rules-1-discount_pct": "5"}  # fmt: skip
    for i in range(2, 5):
        data.update({f"rules-{i}-{f}": "" for f in ("sku", "category", "min_qty", "unit_price", "discount_pct")})
    data.update(over)
    return data


def test_a_distributors_admin_creates_a_list_for_its_sub_dealers(client, world, ch):
    browser = _as(client, ch["dist1"])
    new = browser.get("/price-lists/new").get_data(as_text=True)
    assert '<option value="all">All my sub-dealers</option>' in new
    assert 'value="dealer:SUB-1A"' in new and 'value="dealer:SUB-1B"' in new
    for other in ("dealer:SUB-2A", "dealer:DIST-1", "dealer:DIST-2", "tier:A", "region:EAST"):
        assert f'value="{other}"' not in new
    resp = browser.post("/price-lists/new", data=_form(page_csrf(browser, "/price-lists/new")))
    assert resp.status_code == 302
    saved = world.get(PriceList, name="二级促销")
    assert saved["seller_id"] == world.get(Dealer, code="DIST-1")["id"] and saved["scope_kind"] == "all"
    assert world.count(PriceRule, price_list_id=saved["id"]) == 2
    listing = browser.get("/price-lists").get_data(as_text=True)
    assert "Price lists for my sub-dealers" in listing and "二级促销" in listing and "HQ 通用" not in listing
    assert "All sub-dealers of DIST-1" in listing
    assert 'data-below-floor="1"' in listing  # P-1 at 880 is under HQ's floor of 900
    csv_text = browser.get("/price-lists?format=csv").get_data(as_text=True)
    assert "二级促销" in csv_text and "HQ 通用" not in csv_text


@pytest.mark.parametrize("scope, message", [
    ("tier:A", "all (all your sub-dealers) or dealer:&lt;one of your sub-dealers&gt;."),
    ("dealer:SUB-2A", "SUB-2A is not one of your sub-dealers."),
    ("dealer:DIST-1", "DIST-1 is not one of your sub-dealers."),
])  # fmt: skip
def test_a_bad_scope_on_the_page_writes_nothing(client, world, ch, scope, message):
    browser = _as(client, ch["dist1"])
    csrf = page_csrf(browser, "/price-lists/new")
    before = world.snapshot()
    resp = browser.post("/price-lists/new", data=_form(csrf, scope=scope))
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert world.snapshot() == before


def test_the_edit_page_marks_rules_below_the_floor_and_keeps_the_seller(client, world, ch):
    list_id = _seller_list(world, "DIST-1", "dealer:SUB-1B", [{"sku": "P-1", "unit_price": "850.00"},
                                                            {"sku": "P-2", "unit_price": "400.00"}], "乙特价")
    browser = _as(client, ch["dist1"])
    page = browser.get(f"/price-lists/{list_id}/edit").get_data(as_text=True)
    assert 'data-below-floor-skus="P-1"' in page and "Below the minimum resale price: P-1" in page
    assert 'data-seller="DIST-1"' in page and "data-read-only" not in page
    csrf = page_csrf(browser, f"/price-lists/{list_id}/edit")
    resp = browser.post(f"/price-lists/{list_id}/edit", data=_form(csrf, name="乙特价二期", scope="dealer:SUB-1A"))
    assert resp.status_code == 302
    saved = world.get(PriceList, id=list_id)
    assert (saved["name"], saved["scope_value"]) == ("乙特价二期", "SUB-1A")
    assert saved["seller_id"] == world.get(Dealer, code="DIST-1")["id"]


def test_hq_sees_a_distributors_list_read_only(client, world, ch):
    list_id = _seller_list(world, "DIST-1", "all", [{"sku": "P-1", "unit_price": "950.00"}], "一级的价格")
    browser = _as(client, ch["cm"])
    listing = browser.get("/price-lists").get_data(as_text=True)
    assert "一级的价格" in listing and "HQ 通用" in listing and "All sub-dealers of DIST-1" in listing
    page = browser.get(f"/price-lists/{list_id}/edit").get_data(as_text=True)
    assert "data-read-only" in page and "only its admin changes it" in page
    before = world.snapshot()
    resp = browser.post(f"/price-lists/{list_id}/edit", data=_form(page_csrf(browser, "/price-lists/new")))
    assert resp.status_code == 403 and world.snapshot() == before
    # HQ's own form offers no sub-dealer
    new = browser.get("/price-lists/new").get_data(as_text=True)
    assert 'value="dealer:DIST-1"' in new and 'value="dealer:SUB-1A"' not in new


def test_a_sub_dealer_keeps_no_price_list_and_another_distributor_sees_none(client, world, ch):
    list_id = _seller_list(world, "DIST-1", "all", [{"sku": "P-1", "unit_price": "950.00"}], "一级的价格")
    sub = _as(client, ch["sub1a"])
    assert sub.get("/price-lists").status_code == 403 and sub.get("/price-lists/new").status_code == 403
    assert sub.get(f"/price-lists/{list_id}/edit").status_code == 404  # like a missing list
    other = _as(client, world.user("dealer_admin", dealer="DIST-2"))
    assert other.get(f"/price-lists/{list_id}/edit").status_code == 404
    assert "一级的价格" not in other.get("/price-lists").get_data(as_text=True)


def test_a_sub_dealers_my_prices_page_shows_its_distributors_prices(client, world, ch):
    _seller_list(world, "DIST-1", "all", [{"sku": "P-1", "unit_price": "950.00"}], "一级给二级")
    browser = _as(client, ch["sub1a_staff"])
    resp = browser.get("/dealers/SUB-1A/prices")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "950.00" in page and "一级给二级" in page and 'data-prices-from="DIST-1"' in page
    assert "777.00" not in page and "HQ 通用" not in page  # HQ's list never prices a sub-dealer
    assert "500.00" in page  # P-2: no rule, the list price
    csv_text = browser.get("/dealers/SUB-1A/prices?format=csv").get_data(as_text=True)
    assert "950.00" in csv_text and "777.00" not in csv_text
    assert browser.get("/dealers/DIST-1/prices").status_code == 404
    # the distributor itself is still priced by HQ
    dist = _as(client, ch["dist1"]).get("/dealers/DIST-1/prices").get_data(as_text=True)
    assert "777.00" in dist and "data-prices-from" not in dist
