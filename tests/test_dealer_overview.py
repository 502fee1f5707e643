"""Who sees a dealer's overview (一户一档) and what of it (PRODUCT.md §1, §12).

HQ and the dealer's region manager see the whole page; the dealer's own users see the same page about themselves
(reached from their navigation, `/my/dealer`) without HQ's internal fields — the notes, who set a hold, who approved
an increase, the editing links — and never another dealer's (404, like a dealer that does not exist); a region
manager never sees a dealer outside its region (404).
"""

from __future__ import annotations

import pytest

from tests.conftest import login

NOTE = "月度拜访：库存偏高，建议促销"


@pytest.fixture
def channel(world):
    world.region("NORTH")
    world.region("BJ", parent="NORTH")
    world.busy_dealer("BJ-001", "BJ", invoices=1, orders=0)
    world.busy_dealer("SH-001", "SH")
    cm = world.user("channel_manager", username="cm.zhou")
    world.account_manager("SH-001", cm)
    world.hold("SH-001", "付款承诺未兑现")
    return {
        "hq": world.user("hq_admin", username="hq.admin"),
        "finance": world.user("finance", username="fin.lin"),
        "cm": cm,
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "admin": world.user("dealer_admin", dealer="SH-001", username="sh001.admin"),
        "staff": world.user("dealer_staff", dealer="SH-001", username="sh001.staff"),
        "other": world.user("dealer_admin", dealer="BJ-001", username="bj001.admin"),
    }


def page(client, username: str, url: str = "/dealers/SH-001"):
    login(client, username)
    return client.get(url)


@pytest.mark.parametrize("who", ["hq", "finance", "cm", "rm_east"])
def test_hq_and_the_region_see_every_section(app, channel, who):
    client = app.test_client()
    resp = page(client, channel[who])
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for section in (
        "credit",
        "ageing",
        "invoices",
        "orders",
        "backorders",
        "shipments",
        "statements",
        "stock",
        "rebates",
        "contacts",
        "addresses",
        "notes",
    ):
        assert f'id="{section}"' in html, section
    assert NOTE in html and "data-hold-internal" in html and "付款承诺未兑现" in html
    assert "张强" in html and "仓库" in html and "021-6234 5678" in html  # contacts and ship-to addresses
    assert "data-account-manager>cm.zhou<" in html
    assert ("data-edit-dealer" in html) == (who in ("hq", "cm"))  # editing the dealer: HQ's dealers.write


def test_a_dealer_sees_itself_without_hq_only_fields(client, channel):
    login(client, channel["admin"])
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/my/dealer"' in home  # in the dealer's navigation
    resp = client.get("/my/dealer")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dealers/SH-001")
    html = client.get("/dealers/SH-001").get_data(as_text=True)
    assert 'id="credit"' in html and 'id="invoices"' in html and 'id="statements"' in html
    assert "付款承诺未兑现" in html  # why ordering is stopped: the dealer is told
    assert NOTE not in html and 'id="notes"' not in html and "data-hold-internal" not in html
    assert "data-edit-dealer" not in html and "/dealers/SH-001/edit" not in html
    assert "张强" in html and "data-add-contact" in html  # its own administrator keeps contacts up to date
    assert "bj001.admin" not in html and "BJ-001" not in html


def test_dealer_staff_see_neither_statements_nor_contact_forms(client, channel):
    html = page(client, channel["staff"]).get_data(as_text=True)
    assert 'id="credit"' in html and 'id="statements"' not in html
    assert "data-add-contact" not in html and "data-add-address" not in html and NOTE not in html


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("admin", "/dealers/BJ-001"),
        ("staff", "/dealers/BJ-001"),
        ("other", "/dealers/SH-001"),
        ("rm_north", "/dealers/SH-001"),
        ("rm_east", "/dealers/BJ-001"),
    ],
)
def test_another_dealer_or_region_answers_404_like_a_missing_dealer(app, world, channel, who, url):
    client = app.test_client()
    login(client, channel[who])
    resp, missing = client.get(url), client.get("/dealers/NO-SUCH")
    assert resp.status_code == missing.status_code == 404
    assert f"经销商{url.rsplit('/', 1)[1]}" not in resp.get_data(as_text=True)  # the asked-for dealer's name
    auth = world.auth(channel[who])
    api, api_missing = (
        client.get(f"/api/v1{url}/overview", headers=auth),
        client.get("/api/v1/dealers/NO-SUCH/overview", headers=auth),
    )
    assert api.status_code == api_missing.status_code == 404
    assert api.get_json()["error"]["code"] == api_missing.get_json()["error"]["code"] == "not_found"


def test_hq_and_regions_reach_the_overview_from_the_dealer_list_and_the_ledger(client, channel):
    login(client, channel["rm_east"])
    listing = client.get("/dealers").get_data(as_text=True)
    assert 'href="/dealers/SH-001"' in listing and "BJ-001" not in listing
    ledger = client.get("/dealers/SH-001/ledger").get_data(as_text=True)
    assert 'href="/dealers/SH-001" data-overview-link' in ledger


def test_the_page_reads_in_chinese(app, world, channel):
    client = app.test_client()
    login(client, world.user("channel_manager", username="cm.zh", locale="zh_CN"))
    html = client.get("/dealers/SH-001").get_data(as_text=True)
    for text in ("应收余额", "内部备注", "收货地址", "联系人", "返利进度"):
        assert text in html, text
