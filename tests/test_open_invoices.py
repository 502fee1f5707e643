"""The dealer's open invoices (PRODUCT.md §14): each invoice still open, oldest due first, with what is paid (payments
and credit notes applied) and what is open, days overdue; unapplied cash shown as prepayment. Scoped."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import today
from tests.conftest import login


@pytest.fixture
def dealer(world):
    world.region("EAST")
    world.region("WEST")
    world.dealer("SH-1", "EAST", payment_terms_days=30)
    world.dealer("XA-1", "WEST")
    d = today()
    world.invoice("SH-1", "INV-OLD", "1000.00", issued_on=d - dt.timedelta(days=50), due_on=d - dt.timedelta(days=20))
    world.invoice("SH-1", "INV-NEW", "500.00", issued_on=d - dt.timedelta(days=5), due_on=d + dt.timedelta(days=25))
    world.invoice("SH-1", "INV-PAID", "200.00", issued_on=d - dt.timedelta(days=90),
                  due_on=d - dt.timedelta(days=60))  # fmt: skip
    world.payment("SH-1", "500.00", received_on=d - dt.timedelta(days=3), reference="P-1")  # pays INV-PAID, 300 of OLD
    for username, role, extra in (("sh.staff", "dealer_staff", {"dealer": "SH-1"}),
                                  ("xa.admin", "dealer_admin", {"dealer": "XA-1"}),
                                  ("rm.west", "region_manager", {"region": "WEST"}),
                                  ("rm.east", "region_manager", {"region": "EAST"})):  # fmt: skip
        world.user(role, username=username, **extra)
    return "SH-1"


def test_open_invoices_with_paid_open_and_days_overdue(client, world, dealer):
    data = client.get("/api/v1/dealers/SH-1/open-invoices", headers=world.auth("sh.staff")).get_json()
    rows = [(i["number"], i["amount"], i["paid"], i["open"], i["days_overdue"]) for i in data["items"]]
    assert rows == [("INV-OLD", "1000.00", "300.00", "700.00", 20), ("INV-NEW", "500.00", "0.00", "500.00", 0)]
    assert (data["open"], data["unapplied"]) == ("1200.00", "0.00")


def test_unapplied_cash_is_the_prepayment(client, world, dealer):
    world.payment("SH-1", "1500.00", received_on=today(), reference="P-2")  # 1,200 open: 300 left over
    data = client.get("/api/v1/dealers/SH-1/open-invoices", headers=world.auth("rm.east")).get_json()
    assert data["items"] == [] and data["unapplied"] == "300.00"
    login(client, "sh.staff")
    page = client.get("/dealers/SH-1/open-invoices").get_data(as_text=True)
    assert "300.00" in page and "Prepayment" in page


def test_open_invoices_are_scoped(client, world, dealer):
    for who in ("xa.admin", "rm.west"):
        resp = client.get("/api/v1/dealers/SH-1/open-invoices", headers=world.auth(who))
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_the_page_lists_them_in_both_languages(client, world, dealer):
    login(client, "sh.staff")
    page = client.get("/dealers/SH-1/open-invoices").get_data(as_text=True)
    assert "INV-OLD" in page and "700.00" in page and "INV-PAID" not in page
    credit = client.get("/dealers/SH-1/credit").get_data(as_text=True)
    assert "/dealers/SH-1/open-invoices" in credit and "/payment-notices" in credit
    world.user("dealer_staff", dealer="SH-1", username="sh.zh", locale="zh_CN")
    zh = client.application.test_client()
    login(zh, "sh.zh")
    page = zh.get("/dealers/SH-1/open-invoices").get_data(as_text=True)
    assert "未结清发票" in page and "预付款" in page and "逾期天数" in page and "未结" in page
