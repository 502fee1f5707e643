"""What the busiest pages cost in SQL statements (issue 24, "Cost per request"): each a fixed number, whatever the data,
within the ceiling measured when it was made — a card that starts reading per row, or a statement put back, fails here.

Counted with tests/querycount.py (every statement on the app's engine, transaction bookkeeping and PostgreSQL's
planner settings left out: the same counts on SQLite and PostgreSQL), on a warm session: the page seen once before,
and the home pages' report cards kept as they are in production (targets, HQ's and a region's channel flow and
rebates accrued, kept per process for PORTAL_SCORECARD_CACHE_SECONDS, portal/home/cache.py; the suite runs with 0, so
these tests turn it on).

What each page's statements are (the dealer's home, as a dealer's staff sees it): the user (with whether its dealer has
sub-dealers), each work queue (its page of rows with the total), the overdue amount, the credit figures (two), the
unread notifications (the bell's and the notices card's, with their count), the team, the open orders with their
units, the sell-through (last lines and 30 days' sums), stock on hand, stock incoming, the price lists and their
rules, the rebate programmes (their tiers, their targets, the dealer's progress in each); the bell reads the notices'
statement.
"""

from __future__ import annotations

import datetime as dt

import pytest

from portal.home import cache as home_cache
from portal.platform.timeutil import today
from tests.conftest import login
from tests.querycount import counting

# the ceilings, as measured on this shop (before issue 24: the dealer's home 49 statements, HQ's 43, a region's 33, the
# price list page 10, the order page 11, its API 8, tracking 5, a quote 8)
DEALER_HOME = 16  # a dealer's staff with one rebate programme running (each one more: its progress)
PRICE_LIST_PAGE = 6
ORDER_PAGE = 9  # an order being built; one with a shipment: + 2 (the shipment's lines and units)
ORDER_API = 7
TRACK_API = 4
QUOTE_API = 5
HQ_HOME = 19  # a channel manager (six queues)
REGION_HOME = 16


@pytest.fixture
def kept_cards(app, monkeypatch):
    """The targets cards kept as in production (portal/home/cache.py); forgotten before and after."""
    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_CACHE_SECONDS", 300)
    home_cache.clear()
    yield
    home_cache.clear()


@pytest.fixture
def shop(world):
    """A region with a dealer that has a bit of everything its home shows: an order being built, a shipment on its
    way, a backorder, sales, a price list, a rebate programme running this year, unread notifications, an overdue
    invoice; HQ stock; a channel manager and the region's manager."""
    now = today()
    world.region("CN")
    world.region("EA", parent="CN", name="华东")
    world.dealer("SH-1", "EA")
    world.dealer("SH-2", "EA")
    staff = world.user("dealer_staff", dealer="SH-1", username="sh1.staff")
    world.user("dealer_admin", dealer="SH-1", username="sh1.admin")
    world.user("channel_manager", username="cm")
    world.user("region_manager", region="EA", username="rm")
    world.product("OIL-1", list_price="100.00", category="oil")
    world.product("CAR-1", list_price="150000.00", category="sedan", build_to_order=True)
    world.stock("OIL-1", 40)
    world.credit_limit("SH-1", "5000000.00")
    world.price_list("tier:B", [{"category": "oil", "discount_pct": "10"}], name="B级油品")
    world.rebate_programme("RB-1", period_start=now.replace(month=1, day=1), period_end=now.replace(month=12, day=31))
    built = world.order("SH-1", [("CAR-1", 2)], username=staff)
    shipped = world.order("SH-1", [("OIL-1", 5)], username=staff)
    world.shipment(shipped, [("OIL-1", 5)])
    world.order("SH-1", [("OIL-1", 3)], username=staff)
    world.backorder(built, "CAR-1", 1, now + dt.timedelta(days=20))
    world.dealer_receipt("SH-1", "OIL-1", 10, on=now - dt.timedelta(days=20))
    world.sold("SH-1", "OIL-1", now - dt.timedelta(days=2), 2, "120.00")
    world.invoice("SH-1", amount="800.00", issued_on=now - dt.timedelta(days=120))
    world.notification(staff, title="订单 SO-202611-000336 已批准，金额 1,793,150.18 元")
    return {"built": built, "shipped": shipped, "staff": staff}


def grow(world, shop) -> None:
    """More of everything the pages list or sum: the counts must not move."""
    now = today()
    for _ in range(4):
        order = world.order("SH-1", [("CAR-1", 1), ("OIL-1", 2)], username=shop["staff"])
        world.shipment(order, [("OIL-1", 2)])
        world.backorder(order, "CAR-1", 1, now + dt.timedelta(days=30))
        world.notification(shop["staff"])
        world.sold("SH-1", "OIL-1", now - dt.timedelta(days=1), 1, "110.00")
        world.invoice("SH-1", amount="300.00", issued_on=now - dt.timedelta(days=60))
    world.user("dealer_staff", dealer="SH-1")
    world.price_list("dealer:SH-1", [{"sku": "OIL-1", "unit_price": "80.00"}], name="SH-1 专享")
    world.rebate_programme("RB-2", period_start=now.replace(month=1, day=1), period_end=now.replace(month=12, day=31))


def statements(app, client, url: str, method: str = "GET", **kwargs):
    """The statements one request sends, after a first one (a warm session, the cards kept)."""
    assert client.open(url, method=method, **kwargs).status_code == 200
    with counting(app) as seen:
        resp = client.open(url, method=method, **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return seen


def as_user(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


def test_dealer_home(app, world, shop, kept_cards):
    client = as_user(app, shop["staff"])
    few = statements(app, client, "/home")
    assert len(few) <= DEALER_HOME, few.text()
    grow(world, shop)
    client.get("/home")  # the new programme's and orders' figures
    many = statements(app, client, "/home")
    assert len(many) == len(few) + 1, many.text()  # the second rebate programme: its progress is one statement


def test_dealer_home_targets_card_is_kept_per_dealer_and_day(app, world, shop, kept_cards):
    """A kept card is the one computed for that dealer: another dealer's home computes its own."""
    other = world.user("dealer_staff", dealer="SH-2")
    one, two = as_user(app, shop["staff"]), as_user(app, other)
    one.get("/home")
    with counting(app, only="FROM targets") as read:
        two.get("/home")
    assert read, "SH-2's card was computed, not taken from SH-1's"
    with counting(app, only="FROM targets") as again:
        one.get("/home")
        two.get("/home")
    assert not again, again.text()


def test_dealer_home_without_keeping_computes_the_card_every_time(app, world, shop):
    client = as_user(app, shop["staff"])
    client.get("/home")
    with counting(app, only="FROM targets") as read:
        client.get("/home")
    assert read  # PORTAL_SCORECARD_CACHE_SECONDS = 0 (the suite's): nothing kept


def test_notices_render_as_the_macro_did(app, world, shop):
    """The dealer's notices go through the `keep_whole` filter (portal/platform/i18n.py), the macro's rule in Python:
    the same HTML."""
    from portal.platform.i18n import keep_whole

    html = as_user(app, shop["staff"]).get("/home").get_data(as_text=True)
    title = "订单 SO-202611-000336 已批准，金额 1,793,150.18 元"
    nowrap = '<span class="text-nowrap">{}</span>'
    expected = f"订单 {nowrap.format('SO-202611-000336')} 已批准，金额 {nowrap.format('1,793,150.18')} 元"
    assert str(keep_whole(title)) == expected and expected in html
    with app.test_request_context():
        macro = app.jinja_env.from_string('{% from "_macros.html" import keep_whole %}{{ keep_whole(t) }}')
        samples = (title, None, "", "a<b>&'\"", "ABC-1", "ABCD", "x" * 41 + "1", "2027-01-21, 3.5 台; é1234é", "--1-")
        for text in samples:
            assert macro.render(t=text) == str(keep_whole(text)), text


def test_price_list_page(app, world, shop):
    client = as_user(app, shop["staff"])
    few = statements(app, client, "/dealers/SH-1/prices")
    assert len(few) <= PRICE_LIST_PAGE, few.text()
    for n in range(30):
        world.product(f"P-{n:02d}", category=("oil", "parts", "tyres")[n % 3])
    grow(world, shop)
    assert len(statements(app, client, "/dealers/SH-1/prices")) == len(few)


def test_order_page_and_api(app, world, shop):
    client = as_user(app, shop["staff"])
    auth = world.auth(shop["staff"])
    api = app.test_client()
    for number, shipped in ((shop["built"], 0), (shop["shipped"], 2)):
        page = statements(app, client, f"/orders/{number}")
        assert len(page) <= ORDER_PAGE + shipped, page.text()
        body = statements(app, api, f"/api/v1/orders/{number}", headers=auth)
        assert len(body) <= ORDER_API, body.text()
    track = statements(app, api, f"/api/v1/track/{shop['built']}", headers=auth)
    assert len(track) <= TRACK_API, track.text()
    lines = [{"sku": "OIL-1", "quantity": 3}, {"sku": "CAR-1", "quantity": 1}]
    quote = statements(app, api, "/api/v1/orders/quote", "POST", json={"lines": lines}, headers=auth)
    assert len(quote) <= QUOTE_API, quote.text()


def test_hq_and_region_home(app, world, shop, kept_cards):
    hq, region = as_user(app, "cm"), as_user(app, "rm")
    few = {"hq": statements(app, hq, "/home"), "region": statements(app, region, "/home")}
    assert len(few["hq"]) <= HQ_HOME, few["hq"].text()
    assert len(few["region"]) <= REGION_HOME, few["region"].text()
    world.region("NO", parent="CN", name="华北")
    for n in range(5):
        world.dealer(f"BJ-{n}", "NO", tier="ABC"[n % 3])
    grow(world, shop)
    for who, client in (("hq", hq), ("region", region)):
        many = statements(app, client, "/home")
        assert len(many) == len(few[who]), many.text()


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_numbers_are_written_as_babel_writes_them(app, locale):
    """The home pages' figures are formatted without Babel (portal/platform/i18n.py `number_text`): the same text as
    Babel's patterns in both of the portal's languages."""
    import random
    from decimal import Decimal

    from flask_babel import force_locale, format_decimal

    from portal.platform.i18n import NUMBER_PATTERNS, number_text

    draw = random.Random(24)
    values = [0, -5, 1234567, 2.675, -0.5, "1234.5", "-0.125", Decimal("-0.00"), Decimal("-0.004"), Decimal("0.005"),
              Decimal("0.015"), Decimal("2.5"), Decimal("-2.5"), Decimal("1234567.125"), Decimal("1E+3"),
              Decimal("0.0001")]  # fmt: skip
    values += [Decimal(draw.randint(-10**10, 10**10)) / Decimal(10 ** draw.randint(0, 5)) for _ in range(500)]
    with app.test_request_context(), force_locale(locale):
        for places, pattern in NUMBER_PATTERNS.items():
            for value in values:
                assert number_text(value, places) == format_decimal(value, format=pattern), (value, pattern)
