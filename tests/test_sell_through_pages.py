"""The stock and sell-through pages: the dealer's stock (now and as of a date), HQ and regions opening a dealer in
scope, the entry form (nothing saved while a line is bad, errors next to the line), the list with its exports, the
import page leading to the job's progress and rejected rows, stock adjustments by the dealer's administrator."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from portal.inventory.models import DealerStockMove, SellThroughLine
from portal.platform.timeutil import freeze
from tests.conftest import login, page_csrf
from tests.test_overdue_scan import _drain

NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
VIN1 = "LDP00000000000001"


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST", name="上海一号")
    world.dealer("XA-1", "WEST")
    world.product("OIL-1", list_price="30.00", name="机油")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True,
                  min_resale_price="102000.00")  # fmt: skip
    world.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 3, 1))
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN1)
    return {
        "staff": world.user("dealer_staff", dealer="SH-1", username="sh1.staff"),
        "admin": world.user("dealer_admin", dealer="SH-1", username="sh1.admin"),
        "hq": world.user("channel_manager", username="cm"),
        "east": world.user("region_manager", region="EAST", username="rm.east"),
        "west": world.user("region_manager", region="WEST", username="rm.west"),
    }


def browser(client, username):
    """A browser of its own, logged in as `username`."""
    fresh = client.application.test_client()
    login(fresh, username)
    return fresh


def test_the_dealer_sees_its_stock_by_sku_with_ages_and_vins(client, shop):
    login(client, shop["staff"])
    resp = client.get("/stock")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dealers/SH-1/stock")
    page = client.get("/dealers/SH-1/stock").get_data(as_text=True)
    assert "OIL-1" in page and VIN1 in page and "Over 180 days" in page and 'data-nav-item="stock"' in page
    assert "Adjust stock" not in page  # staff do not adjust
    before = client.get("/dealers/SH-1/stock?as_of=2026-02-01").get_data(as_text=True)
    assert "No stock." in before and VIN1 not in before


def test_hq_and_the_region_open_a_dealer_in_scope_and_nobody_else(client, shop):
    login(client, shop["hq"])
    assert 'data-stock-link' in client.get("/dealers/SH-1").get_data(as_text=True)
    assert "OIL-1" in client.get("/dealers/SH-1/stock").get_data(as_text=True)
    assert browser(client, shop["east"]).get("/dealers/SH-1/stock").status_code == 200
    assert browser(client, shop["west"]).get("/dealers/SH-1/stock").status_code == 404


def _entry(client, rows: list[dict]):
    csrf = page_csrf(client, "/sell-through/new")
    data = {"csrf_token": csrf}
    for name in ("sold_on", "sku", "serial", "quantity", "unit_price", "city", "customer_type"):
        data[name] = [r.get(name, "") for r in rows]
    return client.post("/sell-through/new", data=data)


def test_the_entry_form_saves_several_lines(client, world, shop):
    login(client, shop["staff"])
    resp = _entry(client, [
        {"sold_on": "2026-05-01", "sku": "OIL-1", "quantity": "3", "unit_price": "35.00", "city": "上海",
         "customer_type": "individual"},
        {"sold_on": "2026-05-02", "sku": "CAR-1", "serial": VIN1.lower(), "quantity": "1", "unit_price": "101000"},
        {},  # an empty row is ignored
    ])  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert world.count(SellThroughLine, source="portal") == 2
    assert world.get(SellThroughLine, serial=VIN1)["below_floor"] is True
    listing = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sales recorded: 2 line(s)." in listing and "below floor" in listing


def test_a_bad_line_saves_nothing_and_is_marked_in_the_form(client, world, shop):
    login(client, shop["staff"])
    resp = _entry(client, [
        {"sold_on": "2026-05-01", "sku": "OIL-1", "quantity": "3", "unit_price": "35.00"},
        {"sold_on": "2026-05-01", "sku": "OIL-1", "quantity": "30", "unit_price": "35.00"},
        {"sold_on": "2026-05-01", "sku": "OIL-1", "quantity": "x", "unit_price": "35.00"},
    ])  # fmt: skip
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Nothing was saved" in page and "whole number" in page
    assert "Only 7 of OIL-1" in page  # the lines that could be read are checked as well
    assert world.count(SellThroughLine) == 0
    resp = _entry(client, [{"sold_on": "2026-05-01", "sku": "OIL-1", "quantity": "30", "unit_price": "35.00"}])
    assert resp.status_code == 422 and "Only 10 of OIL-1" in resp.get_data(as_text=True)
    assert world.count(DealerStockMove, kind="sale") == 0


def test_the_list_filters_and_exports_csv_and_xlsx(client, world, shop):
    from decimal import Decimal

    world.sell("SH-1", [{"sold_on": dt.date(2026, 5, 1), "sku": "OIL-1", "quantity": 2, "unit_price": Decimal("33")},
                        {"sold_on": dt.date(2026, 7, 1), "sku": "CAR-1", "serial": VIN1, "quantity": 1,
                         "unit_price": Decimal("101000")}])  # fmt: skip
    login(client, shop["east"])
    page = client.get("/sell-through?below_floor=1").get_data(as_text=True)
    assert VIN1 in page and "2026-05-01" not in page
    csv_text = client.get("/sell-through?format=csv&from=2026-04-01&to=2026-05-31").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines()[1].startswith("SH-1,2026-05-01,OIL-1,,2,33.00,66.00")
    xlsx = client.get("/sell-through?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "OIL-1" not in browser(client, shop["west"]).get("/sell-through").get_data(as_text=True)


def test_the_import_page_leads_to_the_progress_and_the_rejected_rows(client, world, shop):
    login(client, shop["staff"])
    template = client.get("/sell-through/import/template.csv")
    assert template.status_code == 200 and "sold_on,sku,serial,quantity" in template.get_data(as_text=True)
    csrf = page_csrf(client, "/sell-through/import")
    bad = "sold_on,sku,serial,quantity,unit_price,city,customer_type\n2026-05-01,NOPE,,1,3.00,,\n"
    resp = client.post("/sell-through/import", data={"file": (io.BytesIO(bad.encode()), "s.csv"), "csrf_token": csrf},
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    _drain(client.application)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sell-through import" in page and "Nothing was saved" in page and "Unknown or inactive SKU NOPE" in page


def test_the_dealer_admin_adjusts_stock_on_the_stock_page(client, world, shop):
    login(client, shop["admin"])
    csrf = page_csrf(client, "/dealers/SH-1/stock")
    form = {"csrf_token": csrf, "adj-sku": "OIL-1", "adj-delta": "-11", "adj-reason": "count"}
    resp = client.post("/dealers/SH-1/stock", data=form)
    assert resp.status_code == 422 and "Only 10" in resp.get_data(as_text=True)
    resp = client.post("/dealers/SH-1/stock", data=dict(form, **{"adj-delta": "-2"}))
    assert resp.status_code == 302
    page = client.get("/dealers/SH-1/stock").get_data(as_text=True)
    assert "Stock adjusted." in page and "count" in page
    assert world.count(DealerStockMove, kind="adjustment") == 1
