"""Sub-dealers in the browser (§16): HQ's dealer form takes a distributor, the dealer list shows and filters by it, a
distributor's overview lists its sub-dealers with their account with it (the figures of their own overviews, each a
link to it), a sub-dealer's says whom it buys from (a link only for those who may open it), and a distributor's users
have a "My sub-dealers" page — in Chinese and in English."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from portal.dealers.models import Dealer
from portal.platform.timeutil import today
from tests.conftest import login, page_csrf


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    world.dealer("DIST-1", "SH", name="上海一级总代")
    world.dealer("DIST-2", "NORTH")
    world.dealer("SH-9", "SH")
    world.sub_dealer("DIST-1", "SUB-1A", name="嘉定二级店")
    world.sub_dealer("DIST-1", "SUB-1B", name="松江二级店")
    world.sub_dealer("DIST-2", "SUB-2A")
    t = today()
    world.credit_limit("SUB-1A", "20000.00")
    world.credit_limit("SUB-1B", "5000.00")
    world.invoice("SUB-1A", "S1A-1", "2000.00", issued_on=t - dt.timedelta(days=70), due_on=t - dt.timedelta(days=40))
    world.invoice("SUB-1A", "S1A-2", "2000.00", issued_on=t - dt.timedelta(days=5))
    world.payment("SUB-1A", "500.00", received_on=t - dt.timedelta(days=1))
    world.invoice("SUB-1B", "S1B-1", "4000.00", issued_on=t - dt.timedelta(days=3))
    world.product("P-1", list_price="1000.00")
    world.order("SUB-1A", [("P-1", 1)])
    return {
        "hq": world.user("channel_manager", username="cm.zhou"),
        "hq_zh": world.user("channel_manager", username="cm.zh", locale="zh_CN"),
        "d1_admin": world.user("dealer_admin", dealer="DIST-1", username="d1.admin"),
        "d1_zh": world.user("dealer_staff", dealer="DIST-1", username="d1.zh", locale="zh_CN"),
        "s1a_admin": world.user("dealer_admin", dealer="SUB-1A", username="s1a.admin"),
        "sh9_admin": world.user("dealer_admin", dealer="SH-9", username="sh9.admin"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
    }


def as_(app, username):
    client = app.test_client()
    login(client, username)
    return client


def text(resp) -> str:
    return resp.get_data(as_text=True)


def rows(html: str, marker: str = "data-sub") -> dict[str, dict[str, str]]:
    """{code: {column: text}} of the rows marked `marker="<code>"`, from the cells' `data-col` links."""
    out = {}
    for code, body in re.findall(rf'<tr {marker}="([^"]+)">(.*?)</tr>', html, re.S):
        cells = re.findall(r'data-col="([^"]+)"[^>]*>([^<]*)<', body)
        out[code] = {col: unescape(value).strip() for col, value in cells}
        out[code]["_html"] = body
    return out


def test_hq_creates_a_sub_dealer_with_the_distributor_field(app, world, channel):
    client = as_(app, channel["hq"])
    form = text(client.get("/dealers/new"))
    options = re.search(r'<select[^>]*name="parent_code"[^>]*>(.*?)</select>', form, re.S).group(1)
    assert 'value="DIST-1"' in options and 'value="SH-9"' in options
    assert 'value="SUB-1A"' not in options  # one level deep: a sub-dealer is never offered
    data = {"code": "SUB-1C", "name": "闵行二级店", "parent_code": "DIST-1", "region_code": "", "tier": "C",
            "channel_type": "chain", "payment_terms_days": "15", "status": "active",
            "csrf_token": page_csrf(client, "/dealers/new")}  # fmt: skip
    resp = client.post("/dealers/new", data=data)
    assert resp.status_code == 302, text(resp)[:2000]
    made = world.get(Dealer, code="SUB-1C")
    assert made["parent_id"] == world.get(Dealer, code="DIST-1")["id"] and made["payment_terms_days"] == 15
    # in another region than its distributor's: the form says why, nothing is written
    resp = client.post("/dealers/new", data={**data, "code": "SUB-1D", "region_code": "NORTH"})
    assert resp.status_code == 422
    assert "A sub-dealer is in its distributor&#39;s region: DIST-1 is in SH, not in NORTH." in text(resp)
    assert world.get(Dealer, code="SUB-1D") is None
    # a dealer of HQ's still needs its region
    resp = client.post("/dealers/new", data={**data, "code": "HZ-1", "parent_code": ""})
    assert resp.status_code == 422 and "Required (a sub-dealer takes its distributor" in text(resp)
    assert world.get(Dealer, code="HZ-1") is None


def test_the_edit_form_shows_the_distributor_and_keeps_the_region(app, world, channel):
    client = as_(app, channel["hq"])
    page = text(client.get("/dealers/SUB-1A/edit"))
    assert "data-distributor" in page and "上海一级总代" in page and 'name="account_manager"' not in page
    assert re.search(r'<select[^>]*disabled[^>]*name="region_code"|<select[^>]*name="region_code"[^>]*disabled', page)
    data = {"code": "SUB-1A", "name": "嘉定二级店", "tier": "A", "channel_type": "chain", "payment_terms_days": "30",
            "status": "active", "csrf_token": page_csrf(client, "/dealers/SUB-1A/edit")}  # fmt: skip
    assert client.post("/dealers/SUB-1A/edit", data=data).status_code == 302
    saved = world.get(Dealer, code="SUB-1A")
    assert saved["tier"] == "A" and saved["parent_id"] == world.get(Dealer, code="DIST-1")["id"]
    assert "data-distributor" not in text(client.get("/dealers/DIST-1/edit"))


def test_the_dealer_list_shows_and_filters_by_distributor(app, channel):
    client = as_(app, channel["hq"])
    page = text(client.get("/dealers?level=2"))
    listed = re.findall(r'<tr data-dealer="([^"]+)">', page)
    assert listed == ["SUB-1A", "SUB-1B", "SUB-2A"]
    assert re.search(r'data-col="parent"><a class="code" href="/dealers/DIST-1"[^>]*>DIST-1</a>', page)
    filtered = text(client.get("/dealers?parent=DIST-1"))
    assert re.findall(r'<tr data-dealer="([^"]+)">', filtered) == ["SUB-1A", "SUB-1B"]
    assert '<option value="DIST-1" selected>' in filtered  # the distributor filter offers those with sub-dealers
    assert '<option value="SH-9"' not in filtered
    level1 = text(client.get("/dealers?level=1"))
    assert re.findall(r'<tr data-dealer="([^"]+)">', level1) == ["DIST-1", "DIST-2", "SH-9"]
    export = text(client.get("/dealers?level=2&format=csv"))
    assert export.splitlines()[0].endswith(",parent_code") and "SUB-2A" in export and ",DIST-2" in export
    # a sub-dealer's own list: itself, its distributor as text (it may not open that page)
    own = text(as_(app, channel["s1a_admin"]).get("/dealers"))
    assert re.findall(r'<tr data-dealer="([^"]+)">', own) == ["SUB-1A"]
    assert 'href="/dealers/DIST-1"' not in own and ">DIST-1</span>" in own


@pytest.mark.parametrize("who,label", [("hq", "Sub-dealers"), ("hq_zh", "二级经销商"), ("d1_zh", "二级经销商")])
def test_a_distributors_overview_lists_its_sub_dealers_with_their_figures(app, world, channel, who, label):
    client = as_(app, channel[who])
    resp = client.get("/dealers/DIST-1")
    assert resp.status_code == 200
    page = text(resp)
    assert 'id="sub-dealers" data-sub-dealers="2"' in page and label in page
    cards = rows(page)
    assert list(cards) == ["SUB-1A", "SUB-1B"]
    api = {i["code"]: i for i in client.get("/api/v1/dealers/DIST-1/sub-dealers",
                                             headers=world.auth(channel[who])).get_json()["items"]}  # fmt: skip
    for code, card in cards.items():
        assert f'href="/dealers/{code}"' in card["_html"]  # each links to its overview
        for col, key in (("balance", "balance"), ("overdue", "overdue"), ("credit", "credit"),
                         ("available", "available")):  # fmt: skip
            assert card[col].replace(",", "") == api[code][key], (code, col)
        assert card["open-orders"] == str(api[code]["open_order_count"])
    assert cards["SUB-1A"]["balance"] == "3,500.00" and cards["SUB-1A"]["overdue"] == "1,500.00"
    # and each figure is the one on the sub-dealer's own overview
    sub = text(client.get("/dealers/SUB-1A"))
    assert re.search(r'data-figure="balance"[^>]*>3,500.00<', sub)
    assert re.search(r'data-figure="overdue"[^>]*>1,500.00<', sub)


def test_a_sub_dealers_overview_says_whom_it_buys_from(app, channel):
    link = 'href="/dealers/DIST-1"'
    for who in ("hq", "rm_east", "d1_admin"):
        page = text(as_(app, channel[who]).get("/dealers/SUB-1A"))
        seller = re.search(r'<span data-seller="DIST-1">(.*?)</span>\s*\n', page, re.S).group(1)
        assert link in seller and "上海一级总代" in seller, who
    own = as_(app, channel["s1a_admin"]).get("/dealers/SUB-1A")
    assert own.status_code == 200
    page = text(own)
    assert 'data-seller="DIST-1"' in page and "上海一级总代" in page and link not in page  # plain text, never a link
    # nothing of HQ's: no statements, rebates, backorders, account manager; for its distributor nothing internal
    for who in ("s1a_admin", "d1_admin", "hq"):
        page = text(as_(app, channel[who]).get("/dealers/SUB-1A"))
        for section in ('id="statements"', 'id="rebates"', 'id="backorders"', "data-account-manager",
                        'id="sub-dealers"'):  # fmt: skip
            assert section not in page, (who, section)
        assert ('id="notes"' in page) == (who == "hq"), who
    zh = text(as_(app, channel["d1_zh"]).get("/dealers/SUB-1A"))
    assert "供货方" in zh and "我的二级经销商" in zh  # the breadcrumb back to the distributor's list


def test_my_sub_dealers_page(app, world, channel):
    for who, words in (("d1_admin", ("My sub-dealers", "Owed to you (CNY)")),
                       ("d1_zh", ("我的二级经销商", "应收款（元）"))):  # fmt: skip
        resp = as_(app, channel[who]).get("/sub-dealers")
        assert resp.status_code == 200, who
        page = text(resp)
        assert all(w in page for w in words), who
        # the subtitle names the distributor (base.html once clobbered the page's `distributor` with a flag)
        assert world.get(Dealer, code="DIST-1")["name"] in page, who
        listed = rows(page)
        assert list(listed) == ["SUB-1A", "SUB-1B"]
        assert listed["SUB-1A"]["balance"] == "3,500.00" and listed["SUB-1B"]["balance"] == "4,000.00"
        assert listed["SUB-1A"]["open-orders"] == "1" and listed["SUB-1B"]["utilisation"] == "80.0 %"
        assert 'href="/dealers/SUB-1B"' in listed["SUB-1B"]["_html"]
        assert re.search(r'data-total="balance">7,500.00<', page)
    sorted_ = text(as_(app, channel["d1_admin"]).get("/sub-dealers?sort=balance&dir=desc"))
    assert list(rows(sorted_)) == ["SUB-1B", "SUB-1A"]
    # only for the users of a dealer with sub-dealers
    for who in ("s1a_admin", "sh9_admin", "hq", "rm_east"):
        assert as_(app, channel[who]).get("/sub-dealers").status_code == 404, who
