"""§16 in the pages: a distributor's admin sets its sub-dealers' credit and records their payments; finance sees a
sub-dealer's account but acts on it nowhere; a sub-dealer's users see their account with their distributor ("Your
credit with DIST-1") and are told whom to ask instead of sending HQ requests or payment notices; the receivables page
shows a distributor's receivables with `?seller=`."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.credit.models import CreditLimitChange, DealerCredit, LedgerEntry
from portal.dealers.models import Dealer
from tests.conftest import login, page_csrf

D = dt.date


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST", name="一级经销商")
    world.dealer("DIST-2", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级甲")
    world.sub_dealer("DIST-1", "SUB-1B", name="二级乙")
    world.sub_dealer("DIST-2", "SUB-2A")
    world.invoice("DIST-1", "HQ-1", "10000.00", issued_on=D(2026, 2, 1), due_on=D(2026, 3, 3))
    world.invoice("SUB-1A", "S1A-1", "700.00", issued_on=D(2026, 11, 10), due_on=D(2026, 12, 10))
    world.invoice("SUB-1B", "S1B-1", "1500.00", issued_on=D(2026, 2, 10), due_on=D(2026, 3, 12))
    world.credit_limit("SUB-1A", "3000")
    return {
        "dist1": world.user("dealer_admin", dealer="DIST-1", username="dist1.admin"),
        "dist1_staff": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "dist2": world.user("dealer_admin", dealer="DIST-2", username="dist2.admin"),
        "sub1a": world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin"),
        "fin": world.user("finance", username="fin"),
        "rm": world.user("region_manager", region="EAST", username="rm.east"),
    }


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _as(client, username):
    browser = client.application.test_client()
    assert login(browser, username).status_code == 302
    return browser


def _limit(world, code):
    return str(world.get(DealerCredit, dealer_id=world.get(Dealer, code=code)["id"])["credit_limit"])


def test_the_distributors_admin_sets_a_sub_dealers_limit_on_its_credit_page(client, world, ch):
    browser = _as(client, ch["dist1"])
    page = browser.get("/dealers/SUB-1A/credit")
    assert page.status_code == 200
    html = _text(page)
    assert 'name="limit-amount"' in html and "3,000.00" in html and 'data-account-with="DIST-1"' in html
    csrf = page_csrf(browser, "/dealers/SUB-1A/credit")
    resp = browser.post("/dealers/SUB-1A/credit", data={"action": "limit", "limit-csrf_token": csrf,
                                                         "limit-amount": "4,500.00", "limit-reason": "提额"})
    assert resp.status_code == 302 and _limit(world, "SUB-1A") == "4500.00"
    assert world.get(CreditLimitChange, reason="提额")["changed_by"] == "dist1.admin"
    # a bad amount: the form says so, nothing is written
    before = world.snapshot()
    bad = browser.post("/dealers/SUB-1A/credit", data={"action": "limit", "limit-csrf_token": csrf,
                                                       "limit-amount": "-1", "limit-reason": "x"})
    assert bad.status_code == 422 and world.snapshot() == before


def test_finance_sees_a_sub_dealers_credit_but_has_no_form_and_cannot_post(client, world, ch):
    browser = _as(client, ch["fin"])
    html = _text(browser.get("/dealers/SUB-1A/credit"))
    assert "Account with DIST-1 (its distributor)" in html and 'name="limit-amount"' not in html
    csrf = page_csrf(browser, "/dealers/DIST-1/credit")
    before = world.snapshot()
    resp = browser.post("/dealers/SUB-1A/credit", data={"action": "limit", "limit-csrf_token": csrf,
                                                         "limit-amount": "1", "limit-reason": "x"})
    assert resp.status_code == 403
    assert world.snapshot() == before
    # finance's own forms stay on the dealers HQ sells to
    assert 'name="limit-amount"' in _text(browser.get("/dealers/DIST-1/credit"))


def test_a_distributors_admin_has_no_form_for_its_own_account_and_no_page_for_others(client, world, ch):
    browser = _as(client, ch["dist1"])
    assert 'name="limit-amount"' not in _text(browser.get("/dealers/DIST-1/credit"))
    assert browser.get("/dealers/SUB-2A/credit").status_code == 404
    csrf = page_csrf(browser, "/dealers/DIST-1/credit")
    resp = browser.post("/dealers/DIST-1/credit", data={"action": "limit", "limit-csrf_token": csrf,
                                                         "limit-amount": "1", "limit-reason": "x"})
    assert resp.status_code == 403
    staff = _as(client, ch["dist1_staff"])
    assert 'name="limit-amount"' not in _text(staff.get("/dealers/SUB-1A/credit"))


def test_a_sub_dealer_sees_its_credit_with_its_distributor(client, world, ch):
    browser = _as(client, ch["sub1a"])
    credit = _text(browser.get("/dealers/SUB-1A/credit"))
    assert "Your credit with DIST-1" in credit and "3,000.00" in credit and "2,300.00" in credit  # limit, available
    assert 'name="limit-amount"' not in credit
    assert "Request a temporary increase" not in credit and "Send a payment notice" not in credit
    ledger = _text(browser.get("/dealers/SUB-1A/ledger"))
    assert "Your account with DIST-1" in ledger and "S1A-1" in ledger and "HQ-1" not in ledger
    for code in ("DIST-1", "SUB-1B", "SUB-2A"):
        assert browser.get(f"/dealers/{code}/ledger").status_code == 404
        assert browser.get(f"/dealers/{code}/credit").status_code == 404


def test_a_sub_dealer_is_told_whom_to_ask_instead_of_hq(client, world, ch):
    browser = _as(client, ch["sub1a"])
    requests_page = _text(browser.get("/credit-requests"))
    assert "data-refused" in requests_page and "ask DIST-1 for more credit" in requests_page
    assert 'name="req-amount"' not in requests_page
    notices_page = _text(browser.get("/payment-notices"))
    assert "data-refused" in notices_page and "tell DIST-1 of your payment" in notices_page
    assert 'name="pn-amount"' not in notices_page
    # a distributor still asks HQ
    assert 'name="req-amount"' in _text(_as(client, ch["dist1"]).get("/credit-requests"))


def test_the_distributors_admin_records_a_sub_dealers_payment_on_the_page(client, world, ch):
    browser = _as(client, ch["dist1"])
    form = _text(browser.get("/payments/new?dealer=SUB-1B"))
    assert '<option selected value="SUB-1B">' in form or 'value="SUB-1B" selected' in form
    assert 'value="DIST-1"' not in form and 'value="SUB-2A"' not in form  # only its sub-dealers
    csrf = page_csrf(browser, "/payments/new")
    resp = browser.post("/payments/new", data={"csrf_token": csrf, "dealer_code": "SUB-1B", "amount": "1,000.00",
                                               "received_on": "2026-04-01", "reference": "S-PAY-9"})
    assert resp.status_code == 302
    payment = world.get(LedgerEntry, number="S-PAY-9")
    assert payment["dealer_id"] == world.get(Dealer, code="SUB-1B")["id"] and payment["created_by"] == "dist1.admin"
    ledger = _text(browser.get("/dealers/SUB-1B/ledger"))
    assert "S-PAY-9" in ledger and "500.00" in ledger and "/payments/new?dealer=SUB-1B" in ledger
    # a dealer admin without sub-dealers posts for nobody; finance cannot post for a sub-dealer
    assert _as(client, ch["sub1a"]).get("/payments/new").status_code == 403
    fin = _as(client, ch["fin"])
    assert 'value="SUB-1B"' not in _text(fin.get("/payments/new"))
    assert "/payments/new?dealer=SUB-1B" not in _text(fin.get("/dealers/SUB-1B/ledger"))
    before = world.snapshot()
    refused = fin.post("/payments/new", data={"csrf_token": page_csrf(fin, "/payments/new"), "dealer_code": "SUB-1B",
                                              "amount": "1.00", "received_on": "2026-04-01", "reference": "F-1"})
    assert refused.status_code in (200, 422) and world.snapshot() == before


def test_the_receivables_page_shows_a_distributors_receivables_with_seller(client, world, ch):
    dist = _as(client, ch["dist1"])
    own = _text(dist.get("/receivables?as_of=2026-12-01&group_by=dealer"))
    assert 'data-receivables-of="DIST-1"' in own and "10,000.00" in own and "SUB-1A" not in own
    theirs = dist.get("/receivables?as_of=2026-12-01&group_by=dealer&seller=DIST-1")
    assert theirs.status_code == 200
    html = _text(theirs)
    assert "Receivables from the sub-dealers of DIST-1" in html and "SUB-1A" in html and "SUB-1B" in html
    assert "2,200.00" in html and "10,000.00" not in html  # 700 + 1,500, not its debt to HQ
    csv_text = _text(dist.get("/receivables?as_of=2026-12-01&group_by=dealer&seller=DIST-1&format=csv"))
    assert "SUB-1B" in csv_text and "DIST-1" not in csv_text.split("\n", 1)[1]
    rm = _as(client, ch["rm"])
    region = _text(rm.get("/receivables?as_of=2026-12-01&group_by=dealer"))
    assert "DIST-1" in region and ">SUB-1A<" not in region and '<option value="DIST-1"' in region
    assert "SUB-1A" in _text(rm.get("/receivables?as_of=2026-12-01&group_by=region&seller=DIST-1"))
    # a code that names no distributor in the caller's scope: HQ's receivables and a warning
    other = _text(dist.get("/receivables?group_by=dealer&seller=DIST-2"))
    assert "No distributor DIST-2" in other and "SUB-2A" not in other
    assert 'data-sub-dealer-receivables' in _text(dist.get("/dealers/DIST-1/ledger"))
