"""§16 over the API: a sub-dealer's credit, payments and postings are its distributor's admin's to do (never HQ's
finance, never another distributor's admin), on the sub-dealer's ledger with the distributor; `?seller=` reads a
distributor's receivables; a sub-dealer sees neither its distributor's account with HQ nor a sibling's."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.audit.models import AuditEntry
from portal.credit.models import (
    Application,
    CreditIncrease,
    CreditLimitChange,
    CreditRequest,
    DealerCredit,
    LedgerEntry,
    PaymentNotice,
)
from portal.dealers.models import Dealer

D = dt.date


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST")
    world.dealer("DIST-2", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A")
    world.sub_dealer("DIST-1", "SUB-1B")
    world.sub_dealer("DIST-2", "SUB-2A")
    return {
        "dist1": world.auth(world.user("dealer_admin", dealer="DIST-1", username="dist1.admin")),
        "dist1_staff": world.auth(world.user("dealer_staff", dealer="DIST-1", username="dist1.staff")),
        "dist2": world.auth(world.user("dealer_admin", dealer="DIST-2", username="dist2.admin")),
        "sub1a": world.auth(world.user("dealer_admin", dealer="SUB-1A", username="sub1a.admin")),
        "fin": world.auth(world.user("finance", username="fin")),
        "rm": world.auth(world.user("region_manager", region="EAST", username="rm.east")),
        "cm": world.auth(world.user("channel_manager", username="cm")),
    }


def _dealer_id(world, code):
    return world.get(Dealer, code=code)["id"]


def _limit(world, code):
    row = world.get(DealerCredit, dealer_id=_dealer_id(world, code))
    return str(row["credit_limit"]) if row else None


# ------------------------------------------------------------------ credit limits, increases, holds


def test_a_distributors_admin_sets_its_sub_dealers_limit_and_it_is_audited(client, world, ch):
    resp = client.put("/api/v1/dealers/SUB-1A/credit-limit", json={"amount": "50000.00", "reason": "二级授信"},
                      headers=ch["dist1"])  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["credit_limit"] == "50000.00" and resp.get_json()["available"] == "50000.00"
    change = world.get(CreditLimitChange, dealer_id=_dealer_id(world, "SUB-1A"))
    assert change["changed_by"] == "dist1.admin" and str(change["new_limit"]) == "50000.00"
    audit = world.get(AuditEntry, action="credit.limit", object_key="SUB-1A")
    assert audit["actor"] == "dist1.admin" and audit["after"]["credit_limit"] == "50000.00"


def test_finance_cannot_set_a_sub_dealers_limit_and_is_told_who_does(client, world, ch):
    before = world.snapshot()
    resp = client.put("/api/v1/dealers/SUB-1A/credit-limit", json={"amount": "1.00", "reason": "x"}, headers=ch["fin"])
    assert resp.status_code == 403
    assert "DIST-1" in resp.get_json()["error"]["message"]
    assert world.snapshot() == before
    # finance still sets the distributor's own limit (its account with HQ)
    assert client.put("/api/v1/dealers/DIST-1/credit-limit", json={"amount": "9.00", "reason": "x"},
                      headers=ch["fin"]).status_code == 200  # fmt: skip
    assert _limit(world, "DIST-1") == "9.00" and _limit(world, "SUB-1A") is None


def test_a_distributors_admin_cannot_set_its_own_limit_nor_another_distributors_sub_dealers(client, world, ch):
    before = world.snapshot()
    own = client.put("/api/v1/dealers/DIST-1/credit-limit", json={"amount": "1.00", "reason": "x"}, headers=ch["dist1"])
    assert own.status_code == 403 and "HQ" in own.get_json()["error"]["message"]
    other = client.put("/api/v1/dealers/SUB-2A/credit-limit", json={"amount": "1.00", "reason": "x"},
                       headers=ch["dist1"])  # fmt: skip
    assert other.status_code == 404
    # the staff of the distributor may not either (403: sales.manage is its admin's)
    staff = client.put("/api/v1/dealers/SUB-1A/credit-limit", json={"amount": "1.00", "reason": "x"},
                       headers=ch["dist1_staff"])  # fmt: skip
    assert staff.status_code == 403
    # an out-of-scope dealer answers 404 even with a bad body (nothing learnt from a 422)
    assert client.put("/api/v1/dealers/SUB-2A/credit-limit", json={}, headers=ch["dist1"]).status_code == 404
    assert world.snapshot() == before


def test_bad_input_is_refused_with_nothing_written(client, world, ch):
    before = world.snapshot()
    for body in ({"amount": "-5", "reason": "x"}, {"amount": "abc", "reason": "x"}, {"amount": "5"},
                 {"amount": "5", "reason": "x", "extra": 1}):  # fmt: skip
        resp = client.put("/api/v1/dealers/SUB-1A/credit-limit", json=body, headers=ch["dist1"])
        assert resp.status_code == 422, body
        assert resp.get_json()["error"]["code"] == "validation_error"
    resp = client.post("/api/v1/dealers/SUB-1A/credit-increases", headers=ch["dist1"], json={
        "amount": "100", "valid_from": "2026-12-10", "valid_until": "2026-12-01", "reason": "旺季"})
    assert resp.status_code == 422 and "valid_until" in resp.get_json()["error"]["fields"]
    assert world.snapshot() == before


def test_temporary_increases_and_holds_are_the_distributors_too(client, world, ch):
    body = {"amount": "8000.00", "valid_from": "2026-12-01", "valid_until": "2026-12-31", "reason": "旺季"}
    assert client.post("/api/v1/dealers/SUB-1A/credit-increases", json=body, headers=ch["fin"]).status_code == 403
    resp = client.post("/api/v1/dealers/SUB-1A/credit-increases", json=body, headers=ch["dist1"])
    assert resp.status_code == 201 and resp.get_json()["approved_by"] == "dist1.admin"
    assert world.count(CreditIncrease, dealer_id=_dealer_id(world, "SUB-1A")) == 1

    assert client.put("/api/v1/dealers/SUB-1A/credit-hold", json={"reason": "x"}, headers=ch["fin"]).status_code == 403
    held = client.put("/api/v1/dealers/SUB-1A/credit-hold", json={"reason": "对账"}, headers=ch["dist1"])
    assert held.status_code == 200 and held.get_json()["on_hold"] is True
    assert client.delete("/api/v1/dealers/SUB-1A/credit-hold", json={"reason": "x"},
                         headers=ch["fin"]).status_code == 403  # fmt: skip
    lifted = client.delete("/api/v1/dealers/SUB-1A/credit-hold", json={"reason": "已核实"}, headers=ch["dist1"])
    assert lifted.status_code == 200 and lifted.get_json()["on_hold"] is False
    actions = {(e["action"], e["actor"]) for e in [world.get(AuditEntry, action=a) for a in (
        "credit.increase", "credit.hold", "credit.release")]}
    assert actions == {("credit.increase", "dist1.admin"), ("credit.hold", "dist1.admin"),
                       ("credit.release", "dist1.admin")}  # fmt: skip


# ------------------------------------------------------------------ payments and postings


def test_the_distributors_admin_records_a_sub_dealers_payment_applied_fifo(client, world, ch):
    world.invoice("SUB-1A", "S-INV-1", "300.00", issued_on=D(2026, 3, 1), due_on=D(2026, 3, 31))
    world.invoice("SUB-1A", "S-INV-2", "500.00", issued_on=D(2026, 3, 5), due_on=D(2026, 4, 4))
    resp = client.post("/api/v1/payments", headers=ch["dist1"], json={
        "dealer_code": "SUB-1A", "amount": "600.00", "received_on": "2026-04-10", "reference": "SUB-PAY-1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["dealer_code"] == "SUB-1A" and body["unapplied"] == "0.00"
    assert [(a["invoice_number"], a["amount"]) for a in body["applications"]] == [
        ("S-INV-1", "300.00"), ("S-INV-2", "300.00")]  # oldest due first
    ledger = client.get("/api/v1/dealers/SUB-1A/ledger", headers=ch["dist1"]).get_json()
    assert ledger["closing"] == "200.00"
    assert world.get(LedgerEntry, number="SUB-PAY-1")["created_by"] == "dist1.admin"


def test_finance_and_the_erp_cannot_record_a_sub_dealers_payment(client, world, ch):
    erp = {"Authorization": f"Bearer {world.integration_token('erp', 'erp')}"}
    payment = {"dealer_code": "SUB-1A", "amount": "10.00", "received_on": "2026-04-10", "reference": "X-1"}
    before = world.snapshot()
    for headers in (ch["fin"], erp):
        resp = client.post("/api/v1/payments", json=payment, headers=headers)
        assert resp.status_code == 403 and "DIST-1" in resp.get_json()["error"]["message"]
    # another distributor does not know the dealer; the sub-dealer itself does not record payments
    assert client.post("/api/v1/payments", json=payment, headers=ch["dist2"]).status_code == 422
    assert client.post("/api/v1/payments", json=payment, headers=ch["sub1a"]).status_code == 403
    # the distributor's admin records nothing on its own account with HQ
    own = client.post("/api/v1/payments", json={**payment, "dealer_code": "DIST-1"}, headers=ch["dist1"])
    assert own.status_code == 403
    assert world.snapshot() == before


def test_manual_invoices_credit_notes_and_applications_for_a_sub_dealer_are_the_distributors(client, world, ch):
    inv = {"dealer_code": "SUB-1B", "number": "M-1", "issued_on": "2026-05-01", "amount": "400.00"}
    assert client.post("/api/v1/invoices", json=inv, headers=ch["fin"]).status_code == 403
    created = client.post("/api/v1/invoices", json=inv, headers=ch["dist1"])
    assert created.status_code == 201 and created.get_json()["residual"] == "400.00"
    note = {"dealer_code": "SUB-1B", "amount": "50.00", "issued_on": "2026-05-02", "reason": "折让"}
    assert client.post("/api/v1/credit-notes", json=note, headers=ch["fin"]).status_code == 403
    cn = client.post("/api/v1/credit-notes", json=note, headers=ch["dist1"])
    assert cn.status_code == 201 and cn.get_json()["unapplied"] == "0.00"  # applied to M-1 at once
    (app_id,) = [a["id"] for a in cn.get_json()["applications"]]
    assert client.post(f"/api/v1/applications/{app_id}/reverse", json={}, headers=ch["fin"]).status_code == 403
    assert client.post(f"/api/v1/applications/{app_id}/reverse", json={}, headers=ch["dist2"]).status_code == 404
    reversed_ = client.post(f"/api/v1/applications/{app_id}/reverse", json={}, headers=ch["dist1"])
    assert reversed_.status_code == 201 and reversed_.get_json()["amount"] == "-50.00"
    entry = world.get(LedgerEntry, type="credit_note", dealer_id=_dealer_id(world, "SUB-1B"))["id"]
    apply = {"invoice_number": "M-1", "amount": "20.00"}
    assert client.post(f"/api/v1/entries/{entry}/applications", json=apply, headers=ch["fin"]).status_code == 403
    assert client.post(f"/api/v1/entries/{entry}/applications", json=apply, headers=ch["dist1"]).status_code == 201
    assert world.count(Application) == 3


# ------------------------------------------------------------------ ?seller= and tenancy


@pytest.fixture
def books(world, ch):
    """DIST-1 owes HQ 10,000 (its own account); its sub-dealers owe it 700 and 1,200 (one partly paid)."""
    world.invoice("DIST-1", "HQ-INV-1", "10000.00", issued_on=D(2026, 2, 1), due_on=D(2026, 3, 3))
    world.invoice("SUB-1A", "S1A-1", "700.00", issued_on=D(2026, 2, 10), due_on=D(2026, 3, 12))
    world.invoice("SUB-1B", "S1B-1", "1500.00", issued_on=D(2026, 11, 20), due_on=D(2026, 12, 20))
    world.payment("SUB-1B", "300.00", received_on=D(2026, 11, 25), reference="S1B-P1")
    world.invoice("SUB-2A", "S2A-1", "999.00", issued_on=D(2026, 2, 10), due_on=D(2026, 3, 12))
    world.credit_limit("SUB-1A", "5000")
    world.credit_limit("SUB-1B", "1000")


def test_seller_ageing_is_the_distributors_receivables(client, world, ch, books):
    for who in ("dist1", "dist1_staff", "rm", "cm", "fin"):
        body = client.get("/api/v1/receivables/ageing?seller=DIST-1&as_of=2026-12-01", headers=ch[who]).get_json()
        rows = {r["key"]: r for r in body["rows"]}
        assert set(rows) == {"SUB-1A", "SUB-1B"}, who
        assert rows["SUB-1A"]["over_90"] == "700.00" and rows["SUB-1B"]["not_due"] == "1200.00"
        assert body["totals"]["total"] == "1900.00"
    # without seller a distributor reads its own account with HQ, never its sub-dealers' with it
    own = client.get("/api/v1/receivables/ageing?as_of=2026-12-01", headers=ch["dist1"]).get_json()
    assert [r["key"] for r in own["rows"]] == ["DIST-1"] and own["totals"]["total"] == "10000.00"


def test_seller_credit_and_open_invoices_per_sub_dealer(client, world, ch, books):
    credit = client.get("/api/v1/receivables/credit?seller=DIST-1", headers=ch["dist1"]).get_json()
    assert credit["seller_code"] == "DIST-1"
    rows = {r["dealer_code"]: r for r in credit["items"]}
    assert set(rows) == {"SUB-1A", "SUB-1B"}
    assert rows["SUB-1B"] == {"dealer_code": "SUB-1B", "name": rows["SUB-1B"]["name"], "credit_limit": "1000.00",
                              "temporary": "0.00", "credit": "1000.00", "exposure": "1200.00",
                              "available": "-200.00", "ratio": "120.0", "on_hold": False}  # fmt: skip
    assert rows["SUB-1A"]["exposure"] == "700.00" and rows["SUB-1A"]["available"] == "4300.00"
    page = client.get("/api/v1/receivables/open-invoices?seller=DIST-1", headers=ch["dist1"]).get_json()
    assert page["total"] == 2 and page["seller_code"] == "DIST-1"
    by_number = {i["number"]: i for i in page["items"]}
    assert by_number["S1B-1"]["paid"] == "300.00" and by_number["S1B-1"]["open"] == "1200.00"
    assert by_number["S1A-1"]["paid"] == "0.00" and by_number["S1A-1"]["days_overdue"] > 200
    one = client.get("/api/v1/receivables/open-invoices?seller=DIST-1&dealer=SUB-1B", headers=ch["dist1"]).get_json()
    assert [i["number"] for i in one["items"]] == ["S1B-1"]
    # HQ's open invoices (finance, no seller): the dealers HQ sells to only
    hq = client.get("/api/v1/receivables/open-invoices", headers=ch["fin"]).get_json()
    assert [i["number"] for i in hq["items"]] == ["HQ-INV-1"] and hq["seller_code"] is None
    hq_credit = client.get("/api/v1/receivables/credit", headers=ch["fin"]).get_json()
    assert {r["dealer_code"] for r in hq_credit["items"]} <= {"DIST-1", "DIST-2"}


def test_seller_must_be_a_distributor_in_the_callers_scope(client, world, ch, books):
    for who, code in (("dist1", "DIST-2"), ("dist1", "SUB-1A"), ("dist1", "NOPE"), ("rm", "DIST-2"),
                      ("sub1a", "DIST-1"), ("sub1a", "SUB-1A")):  # fmt: skip
        for url in (f"/api/v1/receivables/ageing?seller={code}", f"/api/v1/receivables/credit?seller={code}",
                    f"/api/v1/receivables/open-invoices?seller={code}"):  # fmt: skip
            resp = client.get(url, headers=ch[who])
            assert resp.status_code == 422 and "seller" in resp.get_json()["error"]["fields"], (who, url)


def test_ledger_and_credit_with_a_seller(client, world, ch, books):
    ledger = client.get("/api/v1/dealers/SUB-1B/ledger?seller=DIST-1", headers=ch["dist1"]).get_json()
    assert ledger["closing"] == "1200.00"
    credit = client.get("/api/v1/dealers/SUB-1B/credit?seller=DIST-1", headers=ch["cm"]).get_json()
    assert credit["exposure"] == "1200.00" and credit["credit_limit"] == "1000.00"
    # the distributor's own account is not "with DIST-1"
    assert client.get("/api/v1/dealers/DIST-1/ledger?seller=DIST-1", headers=ch["dist1"]).status_code == 404
    assert client.get("/api/v1/dealers/SUB-1B/ledger?seller=DIST-2", headers=ch["cm"]).status_code == 404
    assert client.get("/api/v1/dealers/SUB-1B/credit?seller=NOPE", headers=ch["cm"]).status_code == 422


def test_a_sub_dealer_sees_its_own_account_only(client, world, ch, books):
    own = client.get("/api/v1/dealers/SUB-1A/ledger", headers=ch["sub1a"]).get_json()
    assert own["closing"] == "700.00"
    for code in ("DIST-1", "SUB-1B", "SUB-2A", "DIST-2"):  # its distributor's account with HQ, a sibling, others
        for url in (f"/api/v1/dealers/{code}/ledger", f"/api/v1/dealers/{code}/credit",
                    f"/api/v1/dealers/{code}/open-invoices"):  # fmt: skip
            assert client.get(url, headers=ch["sub1a"]).status_code == 404, url
    hq_invoice = world.get(LedgerEntry, number="HQ-INV-1")["id"]
    assert client.get(f"/api/v1/entries/{hq_invoice}", headers=ch["sub1a"]).status_code == 404
    ageing = client.get("/api/v1/receivables/ageing?as_of=2026-12-01", headers=ch["sub1a"]).get_json()
    assert [r["key"] for r in ageing["rows"]] == ["SUB-1A"]
    assert client.get("/api/v1/receivables/open-invoices", headers=ch["sub1a"]).get_json()["total"] == 1
    # another distributor sees nothing of DIST-1's sub-dealers
    assert client.get("/api/v1/dealers/SUB-1A/ledger", headers=ch["dist2"]).status_code == 404


# ------------------------------------------------------------------ requests and notices: refused for sub-dealers


def test_credit_requests_and_payment_notices_of_a_sub_dealer_are_refused(client, world, ch):
    before = world.snapshot()
    until = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    resp = client.post("/api/v1/credit-requests", json={"amount": "1000", "valid_until": until, "reason": "旺季"},
                       headers=ch["sub1a"])  # fmt: skip
    assert resp.status_code == 403 and "DIST-1" in resp.get_json()["error"]["message"]
    staff = world.auth(world.user("dealer_staff", dealer="SUB-1A"))
    before = world.snapshot()
    notice = client.post("/api/v1/payment-notices", headers=staff, content_type="multipart/form-data",
                         data={"amount": "100.00", "paid_on": "2026-12-01", "reference": "BK-1"})  # fmt: skip
    assert notice.status_code == 403 and "DIST-1" in notice.get_json()["error"]["message"]
    assert world.snapshot() == before
    assert world.count(CreditRequest) == 0 and world.count(PaymentNotice) == 0
    # a distributor (buying from HQ) still asks HQ
    ok = client.post("/api/v1/credit-requests", json={"amount": "1000", "valid_until": until, "reason": "旺季"},
                     headers=ch["dist1"])  # fmt: skip
    assert ok.status_code == 201
