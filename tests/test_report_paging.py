"""Big reports are paged (issue 24): channel flow and price monitoring, in the page and the API — the next page holds
the next rows, the totals are those of every row whichever page is shown, page links keep the filters, a page past
the end is documented (API: no rows, 200; page: the last page), page sizes outside 1..500 are a 422 in the API, and
the exports still hold every row."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.conftest import login
from tests.test_channel_flow import fixed_channel

Q1 = "from=2026-01-01&to=2026-03-31"
FLOW = "/analytics/channel-flow"
PRICES = "/analytics/price-monitoring"
BY_DEALER_MONTH = f"{Q1}&group_by=dealer,month"


@pytest.fixture
def channel(world):
    world.run(fixed_channel)
    return world.auth(world.user("channel_manager"))


def _api(client, headers, path, query):
    resp = client.get(f"/api/v1{path}?{query}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _key(row):
    return (row.get("dealer_code"), row.get("month"), row.get("sku"))


# ------------------------------------------------------------------ the API


def test_the_api_pages_the_rows_and_keeps_the_totals_of_every_row(client, channel):
    whole = _api(client, channel, FLOW, f"{BY_DEALER_MONTH}&per_page=500")
    rows = whole["rows"]
    assert len(rows) >= 7 and whole["total"] == len(rows)
    assert (whole["page"], whole["per_page"]) == (1, 500)
    pages = [_api(client, channel, FLOW, f"{BY_DEALER_MONTH}&per_page=3&page={n}") for n in (1, 2, 3)]
    assert [_key(r) for p in pages for r in p["rows"]] == [_key(r) for r in rows]  # page 2 holds the next rows
    assert [len(p["rows"]) for p in pages] == [3, 3, len(rows) - 6]
    for n, p in enumerate(pages, 1):
        assert (p["page"], p["per_page"], p["total"]) == (n, 3, len(rows))
        assert p["totals"] == whole["totals"]  # every row's, not the page's
    first_page_sold = sum(r["sell_through_qty"] for r in pages[0]["rows"])
    assert first_page_sold < whole["totals"]["sell_through_qty"] == 10
    assert whole["totals"]["sell_through_amount"] == "990.00"


def test_the_api_pages_100_rows_by_default_like_the_other_lists(client, channel):
    body = _api(client, channel, FLOW, BY_DEALER_MONTH)
    assert (body["page"], body["per_page"]) == (1, 100) and len(body["rows"]) == body["total"]


@pytest.mark.parametrize("page", ["4", str(10**22)])
def test_a_page_past_the_end_answers_no_rows_with_the_total_and_the_totals(client, channel, page):
    whole = _api(client, channel, FLOW, BY_DEALER_MONTH)
    past = _api(client, channel, FLOW, f"{BY_DEALER_MONTH}&per_page=3&page={page}")
    assert past["rows"] == [] and past["page"] == int(page) and past["total"] == whole["total"]
    assert past["totals"] == whole["totals"]
    prices = _api(client, channel, PRICES, f"{Q1}&page={page}")
    assert prices["rows"] == [] and prices["total"] == 2 and prices["totals"]["gap"] == "50.00"


@pytest.mark.parametrize("path", [FLOW, PRICES])
@pytest.mark.parametrize(("query", "field"), [("per_page=501", "per_page"), ("per_page=0", "per_page"),
                                              ("page=0", "page"), ("page=x", "page")])  # fmt: skip
def test_page_sizes_outside_1_to_500_are_refused(client, channel, path, query, field):
    resp = client.get(f"/api/v1{path}?{Q1}&{query}", headers=channel)
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["code"] == "validation_error" and field in body["fields"]


def test_price_monitoring_pages_its_rows_and_keeps_dealers_and_totals_whole(client, channel):
    first = _api(client, channel, PRICES, f"{Q1}&per_page=1")
    second = _api(client, channel, PRICES, f"{Q1}&per_page=1&page=2")
    assert [(r["dealer_code"], r["sku"], r["gap"]) for r in first["rows"] + second["rows"]] == [
        ("DA", "P1", "30.00"), ("DB", "P3", "20.00")]  # fmt: skip
    for body in (first, second):
        assert body["total"] == 2 and body["per_page"] == 1
        assert body["totals"] == {"lines": 2, "quantity": 7, "amount": "450.00", "gap": "50.00"}
        assert [d["dealer_code"] for d in body["dealers"]] == ["DA", "DB"]


def test_the_openapi_document_describes_the_paging_like_the_orders_list(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    orders = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/orders"]["get"]["parameters"]}
    for path, schema in (("/api/v1/analytics/channel-flow", "ChannelFlow"),
                         ("/api/v1/analytics/price-monitoring", "PriceMonitoring")):  # fmt: skip
        params = {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"]}
        assert params["page"] == orders["page"]
        assert params["per_page"] == {**orders["per_page"], "default": 100}
        body = spec["components"]["schemas"][schema]
        assert {"page", "per_page", "total"} <= set(body["required"])
        assert all(body["properties"][k]["type"] == "integer" for k in ("page", "per_page", "total"))


# ------------------------------------------------------------------ the pages


def _main(client, url) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _flow_rows(page: str) -> list[tuple[str, str]]:
    body = page.split('id="flow"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [(re.search(r'data-drill="dealer">([^<]+)<', tr).group(1), re.search(r"(20\d\d-\d\d)</td>", tr).group(1))
            for tr in body.split("<tr>")[1:]]  # fmt: skip


def _totals_row(page: str) -> str:
    return page.split('data-totals="all"', 1)[1].split("</tr>", 1)[0]


def _links(page: str, anchor: str) -> dict[str, str]:
    """The pager's links under `anchor` (the list's own pager): text → URL."""
    pager = page.split(f'id="{anchor}"', 1)[1].split("</nav>", 1)[0]
    return {text: url.replace("&amp;", "&") for url, text in re.findall(r'class="page-link" href="([^"]+)">([^<]+)<',
                                                                         pager)}  # fmt: skip


def test_the_page_shows_a_page_of_rows_under_the_totals_of_every_row(client, world, channel):
    login(client, world.user("channel_manager"))
    query = f"{BY_DEALER_MONTH}&region=RA&per_page=2"
    first = _main(client, f"{FLOW}?{query}")
    assert _flow_rows(first) == [("DA", "2026-01"), ("DA", "2026-02")]
    assert "5 in all · page 1 of 3" in first
    links = _links(first, "flow-pages")
    for name, value in (("from", "2026-01-01"), ("to", "2026-03-31"), ("group_by", "dealer%2Cmonth"),
                        ("region", "RA"), ("per_page", "2"), ("page", "2")):  # fmt: skip
        assert f"{name}={value}" in links["2"], links["2"]  # the filters stay in the page links
    second = _main(client, links["Next"])
    assert _flow_rows(second) == [("DA", "2026-03"), ("DA1", "2026-02")]
    third = _main(client, _links(second, "flow-pages")["3"])
    assert _flow_rows(third) == [("DA1", "2026-03")]
    # RA sold 3 × 90.00 + 2 × 120.00 (DA) and 1 × 300.00 (DA1): the total row says so on every page
    assert "810.00" in _totals_row(first) and _totals_row(first) == _totals_row(second) == _totals_row(third)
    assert "(all 5 rows)" in _totals_row(first)


def test_a_page_past_the_end_goes_to_the_last_page_with_the_filters(client, world, channel):
    login(client, world.user("channel_manager"))
    resp = client.get(f"{FLOW}?{BY_DEALER_MONTH}&region=RA&per_page=2&page=9")
    assert resp.status_code == 302
    target = resp.headers["Location"]
    assert "page=3" in target and "region=RA" in target and "per_page=2" in target
    assert _flow_rows(_main(client, target)) == [("DA1", "2026-03")]
    assert client.get(f"{FLOW}?{BY_DEALER_MONTH}&page={10**22}").status_code == 302


def test_drill_downs_and_exports_start_from_the_first_row(client, world, channel):
    login(client, world.user("channel_manager"))
    page = _main(client, f"{FLOW}?{Q1}&group_by=dealer&per_page=1&page=2")
    drill = re.search(r'href="([^"]+)" data-drill="dealer"', page).group(1)
    export = re.search(r'href="([^"]+)" data-export="csv"', page).group(1)
    assert "page=" not in drill.replace("per_page=", "") and "page=" not in export.replace("per_page=", "")
    resp = client.get(f"{FLOW}?{Q1}&group_by=dealer&per_page=1&page=2&format=csv")  # the page's own URL: all rows
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in table[1:]] == ["DA", "DA1", "DB"]


def test_price_monitoring_page_pages_the_rows_and_the_lines_on_their_own(client, world, channel):
    login(client, world.user("channel_manager"))
    first = _main(client, f"{PRICES}?{Q1}&per_page=1")
    rows = first.split('id="price-rows"', 1)[1].split("</table>", 1)[0]
    assert 'data-drill="dealer">DA<' in rows and ">DB<" not in rows
    assert "2 in all · page 1 of 2" in first and "50.00" in first  # the gap of every row, in the KPI
    second = _main(client, _links(first, "price-pages")["2"])
    rows = second.split('id="price-rows"', 1)[1].split("</table>", 1)[0]
    assert 'data-drill="dealer">DB<' in rows and ">DA<" not in rows and "50.00" in second
    lines = _main(client, f"{PRICES}?{Q1}&dealer=DA&lines_page=1")
    assert 'id="price-lines"' in lines and "1 in all · page 1 of 1" in lines


# ------------------------------------------------------------------ a dealer's ledger, payment notices


@pytest.fixture
def ledger(world):
    import datetime as dt

    world.region("EAST")
    world.dealer("SH-1", "EAST")
    for day in (5, 6, 7, 8, 9):
        world.invoice("SH-1", f"INV-{day}", "100.00", issued_on=dt.date(2026, 1, day))
    world.payment("SH-1", "250.00", received_on=dt.date(2026, 1, 10), reference="BANK-1")
    return world.user("finance", username="fin")


def test_a_ledger_pages_its_entries_with_the_running_balance_of_the_account(client, world, ledger):
    query = "from=2026-01-01&to=2026-01-31"
    whole = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&per_page=500")
    assert whole["total"] == 6 and [i["balance"] for i in whole["items"]][-1] == whole["closing"] == "250.00"
    second = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&per_page=2&page=2")
    assert second["items"] == whole["items"][2:4] and (second["page"], second["per_page"], second["total"]) == (2, 2, 6)
    assert (second["opening"], second["closing"]) == (whole["opening"], whole["closing"])
    assert client.get(f"/api/v1/dealers/SH-1/ledger?{query}&per_page=501", headers=world.auth("fin")).status_code == 422
    login(client, ledger)
    first = _main(client, f"/dealers/SH-1/ledger?{query}&per_page=2")
    assert "INV-5" in first and "INV-6" in first and "INV-7" not in first
    assert "Opening balance" in first and "Closing balance" not in first and "6 in all · page 1 of 3" in first
    last = _main(client, _links(first, "ledger-pages")["3"])
    assert "INV-9" in last and "BANK-1" in last and "Opening balance" not in last and "Closing balance" in last
    assert "from=2026-01-01" in _links(first, "ledger-pages")["3"]


def test_a_ledger_page_reads_only_its_entries_and_the_export_every_one(app, client, world, ledger):
    """The page's entries are read as a page (LIMIT/OFFSET with the total counted by the same statement), a filtered
    page counts only what the filter keeps, a page past the end still knows the total, and the CSV export (streamed)
    holds the opening, every entry with its running balance and the closing."""
    from tests.querycount import counting

    query = "from=2026-01-01&to=2026-01-31"
    with counting(app, only="FROM ledger_entries") as read:
        page = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&per_page=2&page=3")
    entries = [s for s in read if "entry_date" in s and "OVER" in s.upper() and "count(" in s.lower()]
    assert entries and all(" LIMIT " in s.upper() for s in entries), read.text()
    assert [i["number"] for i in page["items"]] == ["INV-9", "BANK-1"] and page["total"] == 6
    invoices = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&type=invoice&per_page=2&page=3")
    assert [i["number"] for i in invoices["items"]] == ["INV-9"] and invoices["total"] == 5
    assert [i["balance"] for i in invoices["items"]] == ["500.00"]  # the account's running balance, not the filter's
    beyond = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&per_page=2&page=9")
    assert (beyond["items"], beyond["total"]) == ([], 6)

    login(client, ledger)
    whole = _api(client, world.auth("fin"), "/dealers/SH-1/ledger", f"{query}&per_page=500")
    body = client.get(f"/dealers/SH-1/ledger?{query}&format=csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))  # Excel's BOM
    assert rows[0] == ["date", "type", "number", "due_on", "debit", "credit", "balance"]
    assert rows[1][1:] == ["opening", "", "", "", "", whole["opening"]]
    assert [(r[2], r[6]) for r in rows[2:-1]] == [(i["number"], i["balance"]) for i in whole["items"]]
    assert rows[-1] == ["2026-01-31", "closing", "", "", "", "", whole["closing"]]


def test_payment_notices_are_paged_not_cut_at_200(client, world):
    import datetime as dt

    world.region("EAST")
    world.dealer("SH-1", "EAST")
    staff = world.user("dealer_staff", dealer="SH-1", username="sh.staff")
    for n in range(3):
        data = {"amount": "10.00", "paid_on": dt.date(2026, 1, 5).isoformat(), "reference": f"TRX-{n}"}
        resp = client.post("/api/v1/payment-notices", headers=world.auth("sh.staff"), data=data,
                           content_type="multipart/form-data")  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
    login(client, staff)
    page = _main(client, "/payment-notices?per_page=2")
    assert "3 in all · page 1 of 2" in page and "TRX-2" in page and "TRX-0" not in page  # newest first
    assert "TRX-0" in _main(client, "/payment-notices?per_page=2&page=2")
