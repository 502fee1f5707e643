"""Posting invoices, payments and credit notes; how payments apply; the ledger with its running balance."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.credit.models import Application, LedgerEntry

D = dt.date


@pytest.fixture
def dealer(world):
    world.region("EAST")
    return world.dealer("SH-1", "EAST", payment_terms_days=30)


@pytest.fixture
def fin(world):
    return world.auth(world.user("finance"))


def _entry(client, fin, entry_id):
    return client.get(f"/api/v1/entries/{entry_id}", headers=fin).get_json()


def test_an_invoice_is_due_after_the_dealers_payment_terms(client, fin, dealer):
    resp = client.post(
        "/api/v1/invoices",
        json={"dealer_code": dealer, "number": "FP-1", "issued_on": "2026-03-01", "amount": "11300.00"},
        headers=fin,
    )
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["due_on"] == "2026-03-31" and body["residual"] == "11300.00" and body["type"] == "invoice"


def test_a_payment_settles_the_oldest_due_invoices_first(client, fin, world, dealer):
    late = world.invoice(dealer, "FP-LATE", "300.00", issued_on=D(2026, 2, 1), due_on=D(2026, 2, 10))
    early = world.invoice(dealer, "FP-EARLY", "500.00", issued_on=D(2026, 1, 1), due_on=D(2026, 1, 31))
    later = world.invoice(dealer, "FP-NEXT", "400.00", issued_on=D(2026, 2, 5), due_on=D(2026, 3, 7))
    resp = client.post(
        "/api/v1/payments",
        json={"dealer_code": dealer, "amount": "650.00", "received_on": "2026-02-20", "reference": "B-1"},
        headers=fin,
    )
    assert resp.status_code == 201
    apps = {a["invoice_number"]: a["amount"] for a in resp.get_json()["applications"]}
    assert apps == {"FP-EARLY": "500.00", "FP-LATE": "150.00"}
    assert _entry(client, fin, early)["residual"] == "0.00"
    assert _entry(client, fin, late)["residual"] == "150.00"
    assert _entry(client, fin, later)["residual"] == "400.00"
    assert all(a["applied_on"] == "2026-02-20" for a in resp.get_json()["applications"])


def test_unapplied_cash_is_applied_to_the_next_invoice(client, fin, world, dealer):
    payment = world.payment(dealer, "1000.00", received_on=D(2026, 1, 10))
    assert _entry(client, fin, payment)["unapplied"] == "1000.00"
    invoice = world.invoice(dealer, "FP-2", "600.00", issued_on=D(2026, 1, 15))
    body = _entry(client, fin, invoice)
    assert body["residual"] == "0.00"
    assert body["applications"][0]["applied_on"] == "2026-01-15"  # counts from when both documents exist
    assert _entry(client, fin, payment)["unapplied"] == "400.00"


def test_a_credit_note_settles_its_invoice_first(client, fin, world, dealer):
    world.invoice(dealer, "FP-OLD", "100.00", issued_on=D(2026, 1, 1))
    target = world.invoice(dealer, "FP-T", "1000.00", issued_on=D(2026, 2, 1))
    resp = client.post(
        "/api/v1/credit-notes",
        json={
            "dealer_code": dealer,
            "amount": "250.00",
            "issued_on": "2026-02-10",
            "reason": "价格补差",
            "invoice_number": "FP-T",
        },
        headers=fin,
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["number"].startswith("CN-202602-")
    assert [(a["invoice_number"], a["amount"]) for a in body["applications"]] == [("FP-T", "250.00")]
    assert _entry(client, fin, target)["residual"] == "750.00"


def test_a_bank_reference_is_counted_once_per_dealer(client, fin, world, dealer):
    world.dealer("SH-2", "EAST")
    body = {"dealer_code": dealer, "amount": "10.00", "received_on": "2026-02-01", "reference": "REF-9"}
    assert client.post("/api/v1/payments", json=body, headers=fin).status_code == 201
    again = client.post("/api/v1/payments", json=body, headers=fin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "duplicate_reference"
    assert world.count(LedgerEntry, type="payment") == 1
    # the same reference for another dealer is another payment
    assert client.post("/api/v1/payments", json={**body, "dealer_code": "SH-2"}, headers=fin).status_code == 201


@pytest.mark.parametrize(
    "amount,why",
    [("-5.00", "negative"), ("0", "greater than zero"), ("1.005", "two decimal"), ("abc", "number"), (12.5, "strings")],
)
def test_bad_amounts_are_refused_and_nothing_is_written(client, fin, world, dealer, amount, why):
    before = world.snapshot()
    resp = client.post(
        "/api/v1/payments",
        json={"dealer_code": dealer, "amount": amount, "received_on": "2026-02-01", "reference": "X"},
        headers=fin,
    )
    assert resp.status_code == 422
    assert why in " ".join(resp.get_json()["error"]["fields"]["amount"])
    assert world.snapshot() == before


def test_unknown_dealer_and_future_dates_are_refused(client, fin, world, dealer):
    resp = client.post(
        "/api/v1/payments",
        json={"dealer_code": "NOPE", "amount": "1.00", "received_on": "2026-02-01", "reference": "X"},
        headers=fin,
    )
    assert resp.status_code == 422 and "dealer_code" in resp.get_json()["error"]["fields"]
    resp = client.post(
        "/api/v1/invoices",
        json={"dealer_code": dealer, "number": "F", "issued_on": "2099-01-01", "amount": "1.00"},
        headers=fin,
    )
    assert resp.status_code == 422 and "issued_on" in resp.get_json()["error"]["fields"]
    resp = client.post(
        "/api/v1/invoices",
        json={
            "dealer_code": dealer,
            "number": "F",
            "issued_on": "2026-02-01",
            "due_on": "2026-01-01",
            "amount": "1.00",
        },
        headers=fin,
    )
    assert resp.status_code == 422 and "due_on" in resp.get_json()["error"]["fields"]
    assert world.count(LedgerEntry) == 0


def test_erp_tokens_post_invoices_and_payments_but_nothing_else(client, world, dealer):
    erp = {"Authorization": f"Bearer {world.integration_token('erp', 'erp')}"}
    inv = client.post(
        "/api/v1/invoices",
        json={"dealer_code": dealer, "number": "ERP-1", "issued_on": "2026-02-01", "amount": "99.00"},
        headers=erp,
    )
    assert inv.status_code == 201
    assert (
        client.post(
            "/api/v1/payments",
            json={"dealer_code": dealer, "amount": "9.00", "received_on": "2026-02-02", "reference": "E-1"},
            headers=erp,
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/credit-notes",
            json={"dealer_code": dealer, "amount": "1.00", "issued_on": "2026-02-02", "reason": "x"},
            headers=erp,
        ).status_code
        == 403
    )
    assert world.get(LedgerEntry, number="ERP-1")["source"] == "erp"
    prod = {"Authorization": f"Bearer {world.integration_token('production', 'mes')}"}
    assert client.post("/api/v1/payments", json={}, headers=prod).status_code == 403


def test_the_ledger_has_opening_running_and_closing_balances(client, fin, world, dealer):
    world.invoice(dealer, "FP-A", "1000.00", issued_on=D(2026, 1, 5))
    world.payment(dealer, "400.00", received_on=D(2026, 1, 20), reference="P-A")
    world.invoice(dealer, "FP-B", "200.00", issued_on=D(2026, 2, 3))
    world.payment(dealer, "100.00", received_on=D(2026, 2, 25), reference="P-B")
    body = client.get(f"/api/v1/dealers/{dealer}/ledger?from=2026-02-01&to=2026-02-28", headers=fin).get_json()
    assert body["opening"] == "600.00" and body["closing"] == "700.00"
    assert [(i["number"], i["debit"], i["credit"], i["balance"]) for i in body["items"]] == [
        ("FP-B", "200.00", None, "800.00"),
        ("P-B", None, "100.00", "700.00"),
    ]
    only_payments = client.get(f"/api/v1/dealers/{dealer}/ledger?type=payment", headers=fin).get_json()
    assert [i["balance"] for i in only_payments["items"]] == ["600.00", "700.00"]  # the account's balance


def test_finance_reverses_an_application_and_applies_elsewhere(client, fin, world, dealer):
    world.invoice(dealer, "FP-1", "500.00", issued_on=D(2026, 1, 1))
    world.invoice(dealer, "FP-2", "500.00", issued_on=D(2026, 1, 2))
    payment = world.payment(dealer, "500.00", received_on=D(2026, 1, 10), reference="P-1")
    app_id = _entry(client, fin, payment)["applications"][0]["id"]
    resp = client.post(f"/api/v1/applications/{app_id}/reverse", json={}, headers=fin)
    assert resp.status_code == 201 and resp.get_json()["amount"] == "-500.00"
    assert client.post(f"/api/v1/applications/{app_id}/reverse", json={}, headers=fin).status_code == 409
    assert _entry(client, fin, payment)["unapplied"] == "500.00"
    too_much = client.post(
        f"/api/v1/entries/{payment}/applications", json={"invoice_number": "FP-2", "amount": "600.00"}, headers=fin
    )
    assert too_much.status_code == 422
    ok = client.post(
        f"/api/v1/entries/{payment}/applications", json={"invoice_number": "FP-2", "amount": "500.00"}, headers=fin
    )
    assert ok.status_code == 201
    entries = {e["number"]: e for e in (_entry(client, fin, i) for i in (payment,))}
    assert entries["P-1"]["unapplied"] == "0.00"
    assert world.count(Application) == 3  # applied, reversed, re-applied: history kept
    assert world.count(AuditEntry, action="application.reverse") == 1


def test_dealers_read_their_own_ledger_only(client, world, dealer):
    world.dealer("SH-2", "EAST")
    world.invoice(dealer, "FP-1", "10.00")
    staff = world.auth(world.user("dealer_staff", dealer=dealer))
    assert client.get(f"/api/v1/dealers/{dealer}/ledger", headers=staff).status_code == 200
    assert client.get("/api/v1/dealers/SH-2/ledger", headers=staff).status_code == 404
    assert client.post("/api/v1/payments", json={}, headers=staff).status_code == 403
