"""The targets pages (PRODUCT.md §15): HQ's grid and its saving (all or nothing, problems in their cells), a region
manager's split (its own region read-only, the sum and the warning), a region's split by URL (404 out of scope), the
dealer's own read-only view, the export."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from portal.platform.timeutil import freeze
from tests.conftest import login, page_csrf
from tests.test_targets_api import amounts, item, put

D = Decimal


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.region("WEST", parent="HQ", name="西部")
    world.dealer("E-1", "EAST", name="东一经销商")
    world.dealer("SH-1", "SH")
    world.sub_dealer("SH-1", "SH-1-A")
    world.dealer("W-1", "WEST", name="西一经销商")
    world.product("P-PARTS", category="parts")
    world.user("channel_manager", username="cm")
    world.user("region_manager", region="EAST", username="rm.east")
    world.user("dealer_admin", dealer="E-1", username="e1.admin")
    world.user("dealer_admin", dealer="SH-1-A", username="sub.admin")
    return {"cm": world.auth("cm"), "rm": world.auth("rm.east")}


def session(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def test_hq_grid_shows_the_top_region_and_saves_all_cells_at_once(app, world, ch):
    client = session(app, "cm")
    page = client.get("/targets?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="t:region:HQ:2026-01"' in html and 'name="t:region:EAST:2026-12"' in html
    assert 'name="t:region:WEST:2026-06"' in html
    resp = client.post("/targets?year=2026&measure=sell_in_amount", data={
        "csrf_token": page_csrf(client, "/targets"), "t:region:HQ:2026-01": "3,000.00", "t:region:EAST:2026-01": "1000",
        "t:region:WEST:2026-01": " 1500.5 ", "t:region:EAST:2026-02": ""})  # fmt: skip
    assert resp.status_code == 302
    assert amounts(world) == {("HQ", "2026-01", "sell_in_amount", ""): D("3000.00"),
                              ("EAST", "2026-01", "sell_in_amount", ""): D("1000.00"),
                              ("WEST", "2026-01", "sell_in_amount", ""): D("1500.50")}  # fmt: skip
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Targets saved: 3 new, 0 changed, 0 unchanged." in html
    assert 'data-warning="2026-01"' in html  # 2,500.50 of 3,000.00


def test_a_bad_cell_saves_nothing_and_is_shown_in_its_cell(app, world, ch):
    client = session(app, "cm")
    put(app.test_client(), ch["cm"], item("region:EAST", "2026-01", amount="10"))
    before = world.snapshot()
    resp = client.post("/targets?year=2026&measure=sell_through_units", data={
        "csrf_token": page_csrf(client, "/targets"), "t:region:EAST:2026-01": "12", "t:region:WEST:2026-01": "1.5",
        "t:region:HQ:2026-03": "-4"})  # fmt: skip
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Nothing was saved: correct the marked cells." in html
    assert html.count("data-cell-error") == 2
    assert "Sell-through units are whole pieces." in html and "Must not be negative." in html
    assert 'value="1.5"' in html  # what was typed stays in its cell
    assert world.snapshot() == before


def test_region_manager_sees_its_split_with_its_own_figure_read_only(app, world, ch):
    put(app.test_client(), ch["cm"], item("region:EAST", "2026-01", amount="1000"),
        item("region:EAST", "2026-02", amount="800"))  # fmt: skip
    client = session(app, "rm.east")
    page = client.get("/targets?year=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="t:region:EAST:' not in html  # HQ's figure to it
    assert 'data-cell="region:EAST 2026-01"' in html and "1,000.00" in html
    assert 'name="t:region:SH:2026-01"' in html and 'name="t:dealer:E-1:2026-01"' in html
    assert "SH-1-A" not in html and "W-1" not in html and "WEST" not in html
    resp = client.post("/targets?year=2026", data={"csrf_token": page_csrf(client, "/targets"),
                                                   "t:region:SH:2026-01": "600", "t:dealer:E-1:2026-01": "400",
                                                   "t:region:SH:2026-02": "500"})  # fmt: skip
    assert resp.status_code == 302
    html = client.get("/targets?year=2026").get_data(as_text=True)
    assert 'data-warning="2026-02"' in html and 'data-warning="2026-01"' not in html
    assert "data-split-warning" in html and "-300.00" in html


def test_region_manager_posting_its_own_region_saves_nothing(app, world, ch):
    client = session(app, "rm.east")
    before = world.snapshot()
    resp = client.post(
        "/targets?year=2026",
        data={"csrf_token": page_csrf(client, "/targets"), "t:region:EAST:2026-01": "5", "t:region:SH:2026-01": "6"},
    )
    assert resp.status_code == 422
    assert "Your own region&#39;s targets are set by HQ." in resp.get_data(as_text=True)
    assert world.snapshot() == before


def test_region_split_by_url_and_404_outside_the_scope(app, world, ch):
    hq = session(app, "cm")
    html = hq.get("/targets/regions/EAST?year=2026").get_data(as_text=True)
    assert 'name="t:region:EAST:2026-01"' in html and 'name="t:region:SH:2026-01"' in html  # HQ edits EAST too
    assert hq.get("/targets/regions/NO-SUCH").status_code == 404
    rm = session(app, "rm.east")
    assert rm.get("/targets/regions/SH?year=2026").status_code == 200
    assert rm.get("/targets/regions/WEST").status_code == 404
    assert rm.get("/targets/regions/HQ").status_code == 404
    dealer = session(app, "e1.admin")
    assert dealer.get("/targets/regions/EAST").status_code == 404


def test_a_dealer_sees_its_own_targets_only(app, world, ch):
    put(app.test_client(), ch["cm"], item("dealer:E-1", "2026-01", amount="700"),
        item("dealer:E-1", "2026-02", measure="sell_through_units", amount="12"),
        item("dealer:W-1", "2026-01", amount="9999"), item("region:EAST", "2026-01", amount="8888"))  # fmt: skip
    client = session(app, "e1.admin")
    page = client.get("/targets?year=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "data-own-targets" in html
    assert "700.00" in html and re.search(r">\s*12\s*<", html)
    assert "9,999" not in html and "8,888" not in html and 'name="t:' not in html
    before = world.snapshot()
    resp = client.post("/targets", data={"csrf_token": page_csrf(client, "/targets"), "t:dealer:E-1:2026-01": "1"})
    assert resp.status_code == 403 and world.snapshot() == before  # a dealer may not set its own
    export = client.get("/targets/export?year=2026&format=csv").get_data(as_text=True)
    assert "dealer:E-1" in export and "W-1" not in export and "EAST" not in export


def test_a_sub_dealer_and_an_empty_year_get_a_sensible_page(app, world, ch):
    sub = session(app, "sub.admin")
    page = sub.get("/targets")
    assert page.status_code == 200 and "data-sub-dealer" in page.get_data(as_text=True)
    dealer = session(app, "e1.admin")
    assert "data-no-targets" in dealer.get("/targets?year=2031").get_data(as_text=True)


def test_export_xlsx_of_the_scope(app, world, ch):
    put(app.test_client(), ch["cm"], item("region:SH", "2026-05", amount="123.45"),
        item("dealer:W-1", "2026-05", amount="5"))  # fmt: skip
    client = session(app, "rm.east")
    resp = client.get("/targets/export?year=2026&format=xlsx")
    assert resp.status_code == 200
    rows = list(load_workbook(io.BytesIO(resp.get_data())).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("period", "scope", "measure", "category", "amount")
    assert [r[:5] for r in rows[1:]] == [("2026-05", "region:SH", "sell_in_amount", None, 123.45)]


def test_the_default_year_is_the_business_year(app, world, ch):
    import datetime as dt

    client = session(app, "cm")
    with freeze(dt.datetime(2027, 1, 1, 1, 0, tzinfo=dt.UTC)):
        html = client.get("/targets").get_data(as_text=True)
    assert 'name="t:region:HQ:2027-01"' in html


def test_finance_reads_the_grid_but_may_not_save_it(app, world, ch):
    world.user("finance", username="fin")
    client = session(app, "fin")
    html = client.get("/targets?year=2026").get_data(as_text=True)
    assert 'data-cell="region:EAST 2026-01"' in html and 'name="t:' not in html and "data-save" not in html
    before = world.snapshot()
    resp = client.post(
        "/targets?year=2026", data={"csrf_token": page_csrf(client, "/targets"), "t:region:EAST:2026-01": "5"}
    )
    assert resp.status_code == 403 and world.snapshot() == before
