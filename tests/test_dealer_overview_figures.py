"""Every figure of the dealer overview (一户一档) equals the one on the page or list it links to (PRODUCT.md §12).

The overview's figures (its API answer and the HTML page) are compared with what the linked lists and pages answer
for the same dealer: the credit figures, the ageing, each open invoice, the orders per status, the shipments in
transit, the statements per status, the stock and its age, the 30-day sell-through, the rebate progress. Then every
figure link of the page is followed: each target answers, filtered to the dealer.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.platform.timeutil import today
from tests.conftest import login


class FigureLinks(HTMLParser):
    """Every <a data-figure="…" href="…">text</a> of a page: {figure: (href, text)}."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, tuple[str, str]] = {}
        self._open: list[tuple[str, str]] = []
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "data-figure" in attrs:
            self._open.append((attrs["data-figure"], attrs.get("href") or ""))
            self._text = []

    def handle_data(self, data):
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            name, href = self._open.pop()
            self.figures[name] = (unescape(href), " ".join("".join(self._text).split()))


def figures_of(html: str) -> dict[str, tuple[str, str]]:
    parser = FigureLinks()
    parser.feed(html)
    return parser.figures


def number(text: str) -> Decimal:
    """The last number of a figure's text ('已批准 3' → 3, '1,234.50' → 1234.50)."""
    found = re.findall(r"-?[\d,]+(?:\.\d+)?", text)
    assert found, f"no number in {text!r}"
    return Decimal(found[-1].replace(",", ""))


@pytest.fixture
def busy(world):
    world.busy_dealer("SH-002", "SH", invoices=1, orders=1)  # a neighbour: nothing of it may count
    made = world.busy_dealer("SH-001", "SH")  # last: its backorder is not allocated by the neighbour's orders
    hq = world.user("hq_admin", username="hq.figures")
    return {"made": made, "hq": hq, "auth": world.auth(hq)}


def test_the_api_figures_equal_the_linked_lists_and_pages(client, busy):
    auth = busy["auth"]
    o = client.get("/api/v1/dealers/SH-001/overview", headers=auth).get_json()

    # credit: the credit page's service
    credit = client.get("/api/v1/dealers/SH-001/credit", headers=auth).get_json()
    for key in ("credit_limit", "temporary", "exposure", "open_receivables", "open_orders", "available", "on_hold"):
        assert o["credit"][key] == credit[key], key
    total = Decimal(credit["credit_limit"]) + Decimal(credit["temporary"])
    assert Decimal(o["credit"]["utilisation"]) == (Decimal(credit["exposure"]) / total * 100).quantize(Decimal("0.1"))

    # ageing: the receivables report's row of the dealer
    ageing = client.get("/api/v1/receivables/ageing?group_by=dealer", headers=auth).get_json()
    row = next(r for r in ageing["rows"] if r["key"] == "SH-001")
    for bucket in ("not_due", "1_30", "31_60", "61_90", "over_90", "unapplied", "total"):
        assert o["ageing"][bucket] == row[bucket], bucket
    overdue = sum(Decimal(row[b]) for b in ("1_30", "31_60", "61_90", "over_90"))
    assert Decimal(o["ageing"]["overdue"]) == overdue > 0
    assert o["ageing"]["total"] == o["credit"]["open_receivables"]

    # open invoices: each one's open amount is what its entry answers; all of them are the ageing's buckets
    assert o["open_invoices"]["count"] >= len(o["open_invoices"]["items"]) > 0
    for item in o["open_invoices"]["items"]:
        entry = client.get(f"/api/v1/entries/{item['id']}", headers=auth).get_json()
        assert entry["number"] == item["number"] and entry["residual"] == item["open"]
        assert Decimal(item["paid"]) + Decimal(item["open"]) == Decimal(entry["amount"])
    buckets = sum(Decimal(row[b]) for b in ("not_due", "1_30", "31_60", "61_90", "over_90"))
    assert Decimal(o["open_invoices"]["total"]) == buckets

    # orders per status: the order list filtered by dealer and status
    assert o["orders"]["by_status"], "the busy dealer has open orders"
    for entry in o["orders"]["by_status"] + o["orders"]["closed"]:
        listed = client.get(f"/api/v1/orders?dealer=SH-001&status={entry['status']}&per_page=500", headers=auth)
        listed = listed.get_json()
        assert listed["total"] == entry["count"], entry["status"]
        assert sum(Decimal(i["gross"]) for i in listed["items"]) == Decimal(entry["gross"])
    assert (o["backorders"]["lines"], o["backorders"]["quantity"], o["backorders"]["orders"]) == (1, 2, 1)
    listed = client.get("/api/v1/backorders?dealer=SH-001", headers=auth)  # the backorder list (§12)
    if listed.status_code == 200:
        items = listed.get_json()["items"]
        assert len(items) == o["backorders"]["lines"] and sum(i["backordered"] for i in items) == 2
    waiting = o["backorders"]["items"][0]
    order = client.get(f"/api/v1/orders/{waiting['order_number']}", headers=auth).get_json()
    assert any(ln["sku"] == waiting["sku"] for ln in order["lines"])

    # shipments in transit: the shipment list
    transit = client.get("/api/v1/shipments?dealer=SH-001&status=in_transit", headers=auth).get_json()
    assert transit["total"] == o["shipments"]["count"] == 1
    assert sum(Decimal(i["gross"]) for i in transit["items"]) == Decimal(o["shipments"]["gross"])

    # statements per status: the statement list (current versions)
    assert o["statements"]["count"] >= 1
    for entry in o["statements"]["by_status"]:
        listed = client.get(f"/api/v1/statements?dealer=SH-001&status={entry['status']}", headers=auth).get_json()
        assert listed["total"] == entry["count"], entry["status"]

    # stock and its age: the stock page's report
    stock = client.get("/api/v1/dealers/SH-001/stock", headers=auth).get_json()
    assert o["stock"]["on_hand"] == stock["totals"]["on_hand"] == 6
    assert o["stock"]["incoming"] == stock["totals"]["incoming"] == 1
    assert o["stock"]["age"] == stock["totals"]["age"]

    # the last 30 days' sell-through: the sell-through list from that day
    since = o["sell_through"]["since"]
    assert since == (today() - dt.timedelta(days=29)).isoformat()
    sold = client.get(f"/api/v1/sell-through?dealer=SH-001&from={since}&per_page=500", headers=auth).get_json()
    assert sold["total"] == o["sell_through"]["lines"] == 1
    assert sum(i["quantity"] for i in sold["items"]) == o["sell_through"]["quantity"] == 3
    assert sum(Decimal(i["amount"]) for i in sold["items"]) == Decimal(o["sell_through"]["amount"])

    # rebates: the dealer's progress in its programmes
    progress = client.get("/api/v1/dealers/SH-001/rebates", headers=auth).get_json()["items"]
    assert [r["programme"] for r in o["rebates"]] == [p["programme"]["code"] for p in progress] == ["RB-SH-001"]
    assert o["rebates"][0]["rebate"] == progress[0]["rebate"]
    assert Decimal(o["rebates"][0]["basis"]) == Decimal(progress[0]["basis"])


def test_every_figure_on_the_page_links_to_a_list_that_shows_it(client, busy, world):
    login(client, busy["hq"])
    html = client.get("/dealers/SH-001").get_data(as_text=True)
    figures = figures_of(html)
    expected = {
        "balance",
        "overdue",
        "available",
        "utilisation",
        "credit_limit",
        "temporary",
        "exposure",
        "open_orders",
        "open-invoices",
        "open-orders",
        "in-transit",
        "on-hand",
        "incoming",
        "sold-qty",
        "sold-amount",
        "rebate",
        "rebate-basis",
        "ageing-not_due",
        "ageing-over_90",
        "age-0_30",
        "statements-issued",
        "orders-approved",
    }
    assert expected <= set(figures), expected - set(figures)
    o = client.get("/api/v1/dealers/SH-001/overview", headers=busy["auth"]).get_json()

    for name, (href, _text) in figures.items():
        target = client.get(href)
        assert target.status_code == 200, f"{name}: {href} answered {target.status_code}"
        query = parse_qs(urlsplit(href).query)
        path = urlsplit(href).path
        assert "SH-001" in path or query.get("dealer") == ["SH-001"] or path.startswith("/rebates/"), (name, href)

    # the list pages say how many rows they hold: the same count as the figure
    def listed(href: str) -> int:
        page = client.get(href).get_data(as_text=True)
        found = re.search(r"(\d+) in all", page)
        assert found, f"{href}: no count on the page"
        return int(found.group(1))

    for name, (href, text) in figures.items():
        if name.startswith(("orders-", "statements-")):
            assert listed(href) == number(text), name
    assert listed(figures["in-transit"][0]) == o["shipments"]["count"]
    assert listed(figures["sold-qty"][0]) == o["sell_through"]["lines"]

    # the money figures read as the API says, to the cent
    def amount(name: str) -> Decimal:
        return number(figures[name][1])

    assert amount("balance") == Decimal(o["credit"]["open_receivables"])
    assert amount("overdue") == Decimal(o["ageing"]["overdue"])
    assert amount("available") == Decimal(o["credit"]["available"])
    assert amount("exposure") == Decimal(o["credit"]["exposure"])
    assert amount("ageing-over_90") == Decimal(o["ageing"]["over_90"])
    assert amount("sold-amount") == Decimal(o["sell_through"]["amount"])
    assert amount("on-hand") == o["stock"]["on_hand"]
    assert amount("rebate") == Decimal(o["rebates"][0]["rebate"])
    # the ledger page the balance links to closes on the same balance
    ledger = client.get(figures["balance"][0]).get_data(as_text=True)
    assert figures["balance"][1] in ledger
    # each open invoice links to its entry, which shows the same open amount
    for entry_id, open_amount in re.findall(
        r'href="/entries/(\d+)".*?data-open>([^<]+)<', html.split('id="invoices"')[1], flags=re.S
    ):
        assert open_amount in client.get(f"/entries/{entry_id}").get_data(as_text=True)


def test_a_dealer_sees_the_same_figures_of_itself(client, busy, world):
    admin = world.user("dealer_admin", dealer="SH-001", username="sh001.admin")
    hq = client.get("/api/v1/dealers/SH-001/overview", headers=busy["auth"]).get_json()
    own = client.get("/api/v1/dealers/SH-001/overview", headers=world.auth(admin)).get_json()
    for section in (
        "credit",
        "ageing",
        "open_invoices",
        "orders",
        "backorders",
        "shipments",
        "statements",
        "stock",
        "sell_through",
        "rebates",
        "contacts",
        "addresses",
    ):
        if section == "credit":
            strip = {"held_at", "held_by", "increases"}
            assert {k: v for k, v in own[section].items() if k not in strip} == {
                k: v for k, v in hq[section].items() if k not in strip
            }
        else:
            assert own[section] == hq[section], section
