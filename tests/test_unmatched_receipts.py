"""Unmatched receipts (PRODUCT.md §14): finance assigns one to a dealer (posted as its payment, reference = the
bank's serial, applied FIFO to the oldest invoice; optionally registering the payer account) or dismisses it with a
reason; dealers and regions can neither import nor list nor assign."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.banking.models import PayerAccount, UnmatchedReceipt
from portal.credit.models import Application, LedgerEntry
from tests.test_bank_statements import icbc_gb18030, run_import, upload

UNKNOWN = ("2026-03-04", "1500.00", "", "9999 8888 7777 6666", "不认识的公司", "货款", "U0001")


@pytest.fixture
def fin(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.user("finance", username="fin")
    world.user("dealer_admin", username="adm1", dealer="SH-1")
    world.user("region_manager", username="rm", region="EAST")
    return world.auth("fin")


def receipt_id(client, fin) -> int:
    run_import(client, fin, *icbc_gb18030([UNKNOWN]))
    items = client.get("/api/v1/unmatched-receipts", headers=fin).get_json()["items"]
    assert [r["serial"] for r in items] == ["U0001"]
    return items[0]["id"]


def test_listed_then_assigned_and_applied_to_the_oldest_invoice(client, fin, world):
    newer = world.invoice("SH-1", "INV-2", "2000.00", issued_on=dt.date(2026, 2, 1))
    older = world.invoice("SH-1", "INV-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    rid = receipt_id(client, fin)
    listed = client.get("/api/v1/unmatched-receipts", headers=fin).get_json()
    assert listed["total"] == 1 and listed["items"][0] | {"created_at": None, "job_id": None} == {
        "id": rid, "bank": "icbc", "serial": "U0001", "received_on": "2026-03-04", "amount": "1500.00",
        "payer_account": "9999888877776666", "payer_name": "不认识的公司", "memo": "货款", "status": "open",
        "dealer_code": None, "reason": None, "job_id": None, "decided_by": None, "decided_at": None, "created_at": None,
    }  # fmt: skip
    resp = client.post(
        f"/api/v1/unmatched-receipts/{rid}/assign", json={"dealer_code": "SH-1", "register_account": True}, headers=fin
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["payment_reference"] == "U0001" and body["receipt"]["status"] == "assigned"
    assert body["receipt"]["dealer_code"] == "SH-1" and body["receipt"]["decided_by"] == "fin"
    payment = world.get(LedgerEntry, number="U0001")
    applied = world.run(lambda: {(a.invoice_id, str(a.amount)) for a in Application.query.filter_by(
        credit_id=payment["id"])})  # fmt: skip
    assert applied == {(older, "1000.00"), (newer, "500.00")}  # FIFO: the oldest invoice whole, then the next
    assert world.get(PayerAccount, account_number="9999888877776666")["account_name"] == "不认识的公司"
    assert client.get("/api/v1/unmatched-receipts", headers=fin).get_json()["total"] == 0
    assert client.get("/api/v1/unmatched-receipts?status=assigned", headers=fin).get_json()["total"] == 1
    # decided once: neither assigned again nor dismissed
    again = client.post(f"/api/v1/unmatched-receipts/{rid}/assign", json={"dealer_code": "SH-1"}, headers=fin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "receipt_decided"
    gone = client.post(f"/api/v1/unmatched-receipts/{rid}/dismiss", json={"reason": "x"}, headers=fin)
    assert gone.status_code == 409
    # the next statement from that account matches by itself
    later = ("2026-03-05", "10.00", "", "9999888877776666", "不认识的公司", "货款", "U0002")
    result = run_import(client, fin, *icbc_gb18030([later]))["result"]
    assert result["matched"][0]["dealer_code"] == "SH-1" and result["matched"][0]["reason"] == "account"


def test_assigning_to_an_unknown_dealer_changes_nothing(client, fin, world):
    rid = receipt_id(client, fin)
    resp = client.post(f"/api/v1/unmatched-receipts/{rid}/assign", json={"dealer_code": "NOPE"}, headers=fin)
    assert resp.status_code == 422 and "dealer_code" in resp.get_json()["error"]["fields"]
    assert world.get(UnmatchedReceipt, id=rid)["status"] == "open" and world.count(LedgerEntry) == 0


def test_a_serial_already_posted_for_the_dealer_is_refused(client, fin, world):
    rid = receipt_id(client, fin)
    world.payment("SH-1", "1500.00", reference="U0001")
    resp = client.post(f"/api/v1/unmatched-receipts/{rid}/assign", json={"dealer_code": "SH-1"}, headers=fin)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "duplicate_reference"
    assert world.get(UnmatchedReceipt, id=rid)["status"] == "open"


def test_dismissed_with_a_reason(client, fin, world):
    rid = receipt_id(client, fin)
    missing = client.post(f"/api/v1/unmatched-receipts/{rid}/dismiss", json={"reason": " "}, headers=fin)
    assert missing.status_code == 422
    resp = client.post(f"/api/v1/unmatched-receipts/{rid}/dismiss", json={"reason": "退回付款人"}, headers=fin)
    assert resp.status_code == 200 and resp.get_json()["status"] == "dismissed"
    row = world.get(UnmatchedReceipt, id=rid)
    assert row["reason"] == "退回付款人" and row["decided_by"] == "fin" and row["payment_id"] is None
    assert world.count(LedgerEntry) == 0
    assert client.get("/api/v1/unmatched-receipts?status=dismissed", headers=fin).get_json()["total"] == 1
    # the same statement again keeps it dismissed, nothing new
    again = run_import(client, fin, *icbc_gb18030([UNKNOWN]))["result"]
    assert again["skipped"][0]["reason"] == "already_unmatched" and world.count(UnmatchedReceipt) == 1


def test_dealers_and_regions_can_neither_import_nor_list_nor_decide(client, fin, world):
    rid = receipt_id(client, fin)
    for who in ("adm1", "rm"):
        headers = world.auth(who)
        assert upload(client, headers, *icbc_gb18030([UNKNOWN])).status_code == 403
        assert client.get("/api/v1/unmatched-receipts", headers=headers).status_code == 403
        assert client.post(f"/api/v1/unmatched-receipts/{rid}/assign", json={"dealer_code": "SH-1"},
                           headers=headers).status_code == 403  # fmt: skip
        assert client.post(f"/api/v1/unmatched-receipts/{rid}/dismiss", json={"reason": "x"},
                           headers=headers).status_code == 403  # fmt: skip
    assert client.post("/api/v1/unmatched-receipts/987654/assign", json={"dealer_code": "SH-1"},
                       headers=fin).status_code == 404  # fmt: skip
    assert world.get(UnmatchedReceipt, id=rid)["status"] == "open"
    from tests.conftest import login

    login(client, "adm1")
    assert client.get("/unmatched-receipts").status_code == 403
    assert client.get("/bank-statements/import").status_code == 403


def test_the_page_assigns_and_dismisses(client, fin, world):
    from tests.conftest import login, page_csrf

    rid = receipt_id(client, fin)
    second = ("2026-03-05", "20.00", "", "", "某人", "退款", "U0002")
    run_import(client, fin, *icbc_gb18030([second]))
    other = world.get(UnmatchedReceipt, serial="U0002")["id"]
    login(client, "fin")
    csrf = page_csrf(client, "/unmatched-receipts")
    page = client.get("/unmatched-receipts").get_data(as_text=True)
    assert "U0001" in page and "U0002" in page and "不认识的公司" in page
    resp = client.post(f"/unmatched-receipts/{rid}/assign", data={"csrf_token": csrf, "dealer_code": "NOPE"})
    assert resp.status_code == 303 and world.get(UnmatchedReceipt, id=rid)["status"] == "open"
    resp = client.post(f"/unmatched-receipts/{rid}/assign", data={"csrf_token": csrf, "dealer_code": "SH-1"})
    assert resp.status_code == 302 and world.get(UnmatchedReceipt, id=rid)["status"] == "assigned"
    resp = client.post(f"/unmatched-receipts/{other}/dismiss", data={"csrf_token": csrf, "reason": "不是货款"})
    assert resp.status_code == 302 and world.get(UnmatchedReceipt, id=other)["status"] == "dismissed"
    page = client.get("/unmatched-receipts?status=all").get_data(as_text=True)
    assert "Posted as a payment of SH-1 by fin." in page and "Dismissed by fin: 不是货款" in page
