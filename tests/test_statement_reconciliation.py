"""Reconciliation through the API (PRODUCT.md §6, §9.1): the dealer confirms or disputes lines, finance resolves
with a credit note (a new version; later months follow), an adjustment or a rejection; bad input changes nothing;
another dealer's statement answers 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.notify.models import Notification
from portal.statements.models import Dispute, Statement, StatementMessage


@pytest.fixture
def books(world):
    world.region("EAST")
    world.dealer("ST-1", "EAST", payment_terms_days=30)
    world.dealer("ST-2", "EAST")
    world.invoice("ST-1", number="INV-A", amount="1000.00", issued_on=dt.date(2026, 3, 3))
    world.invoice("ST-1", number="INV-B", amount="250.50", issued_on=dt.date(2026, 3, 10))
    world.payment("ST-1", amount="400.00", received_on=dt.date(2026, 3, 20), reference="BANK-1")
    world.invoice("ST-1", number="INV-C", amount="99.00", issued_on=dt.date(2026, 4, 2))
    world.invoice("ST-2", number="INV-Z", amount="70.00", issued_on=dt.date(2026, 3, 3))
    world.user("dealer_admin", dealer="ST-1", username="st1.admin")
    world.user("dealer_staff", dealer="ST-1", username="st1.staff")
    world.user("dealer_admin", dealer="ST-2", username="st2.admin")
    world.user("finance", username="fin")
    march, april = world.statement("ST-1", "2026-03"), world.statement("ST-1", "2026-04")
    other = world.statement("ST-2", "2026-03")
    return {
        "march": march, "april": april, "other": other, "lines": world.statement_lines(march),
        "other_lines": world.statement_lines(other), "dealer": world.auth("st1.admin"),
        "outsider": world.auth("st2.admin"), "staff": world.auth("st1.staff"), "finance": world.auth("fin"),
    }  # fmt: skip


def test_the_dealer_reads_its_statement_with_lines_and_running_balance(client, books):
    body = client.get(f"/api/v1/statements/{books['march']}", headers=books["dealer"]).get_json()
    assert (body["period"], body["version"], body["status"]) == ("2026-03", 1, "issued")
    assert (body["opening"], body["closing"]) == ("0.00", "850.50")
    assert [(ln["number"], ln["debit"], ln["credit"], ln["balance"]) for ln in body["lines"]] == [
        ("INV-A", "1000.00", None, "1000.00"),
        ("INV-B", "250.50", None, "1250.50"),
        ("BANK-1", None, "400.00", "850.50"),
    ]
    assert body["ageing"]["total"] == "850.50"
    listed = client.get("/api/v1/statements?period=2026-03", headers=books["dealer"]).get_json()
    assert [item["id"] for item in listed["items"]] == [books["march"]]


def test_confirming_is_recorded_and_told_to_finance(client, world, books):
    resp = client.post(f"/api/v1/statements/{books['march']}/confirm", json={"comment": "OK"}, headers=books["dealer"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["status"] == "confirmed"
    assert [m["kind"] for m in resp.get_json()["conversation"]] == ["issued", "confirmed"]
    assert world.count(Notification, kind="statement.confirmed") == 1
    again = client.post(f"/api/v1/statements/{books['march']}/confirm", json={}, headers=books["dealer"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_confirmed"


def test_a_credit_note_resolution_reissues_the_month_and_every_later_month(client, world, books):
    resp = client.post(
        f"/api/v1/statements/{books['march']}/disputes",
        json={"line_ids": [books["lines"][1]], "comment": "INV-B was priced at the old list price"},
        headers=books["dealer"],
    )
    assert resp.status_code == 201, resp.get_json()
    dispute = resp.get_json()
    assert world.get(Statement, id=books["march"])["status"] == "disputed"
    queue = client.get("/api/v1/disputes?status=open", headers=books["finance"]).get_json()
    assert [d["id"] for d in queue["items"]] == [dispute["id"]]

    resp = client.post(
        f"/api/v1/disputes/{dispute['id']}/resolve",
        json={"action": "credit_note", "amount": "50.50", "reason": "price corrected"},
        headers=books["finance"],
    )
    assert resp.status_code == 200, resp.get_json()
    settled = resp.get_json()
    assert settled["status"] == "resolved" and settled["credit_note_number"].startswith("CN-202603-")
    note = world.get(LedgerEntry, number=settled["credit_note_number"])
    assert note["entry_date"] == dt.date(2026, 3, 31) and note["amount"] == Decimal("50.50")

    old = client.get(f"/api/v1/statements/{books['march']}", headers=books["dealer"]).get_json()
    new = client.get(f"/api/v1/statements/{settled['reissued_statement_id']}", headers=books["dealer"]).get_json()
    assert (old["status"], old["current"], old["closing"]) == ("resolved", False, "850.50")
    assert (new["version"], new["status"], new["closing"]) == (2, "issued", "800.00")
    april = client.get("/api/v1/statements?period=2026-04", headers=books["dealer"]).get_json()["items"][0]
    assert (april["version"], april["opening"], april["closing"]) == (2, "800.00", "899.00")
    assert [m["kind"] for m in new["conversation"]] == ["issued", "disputed", "issued", "resolved"]
    assert world.count(Notification, kind="dispute.resolved") == 1

    # the superseded version can be neither confirmed nor disputed any more; the new one can be confirmed
    stale = client.post(f"/api/v1/statements/{books['march']}/confirm", json={}, headers=books["dealer"])
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "superseded"
    ok = client.post(f"/api/v1/statements/{new['id']}/confirm", json={}, headers=books["dealer"])
    assert ok.status_code == 200


def test_a_rejection_keeps_the_version_and_says_why(client, world, books):
    dispute = client.post(
        f"/api/v1/statements/{books['march']}/disputes",
        json={"line_ids": [books["lines"][2]], "comment": "we paid 500"}, headers=books["dealer"],
    ).get_json()  # fmt: skip
    resp = client.post(
        f"/api/v1/disputes/{dispute['id']}/resolve",
        json={"action": "reject", "reason": "the bank received 400.00 (BANK-1)"},
        headers=books["finance"],
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    statement = client.get(f"/api/v1/statements/{books['march']}", headers=books["dealer"]).get_json()
    assert (statement["status"], statement["version"], statement["current"]) == ("resolved", 1, True)
    assert statement["conversation"][-1]["body"] == "the bank received 400.00 (BANK-1)"
    assert world.count(Notification, kind="dispute.rejected") == 1


def test_an_adjustment_needs_a_corrected_ledger(client, world, books):
    dispute = client.post(
        f"/api/v1/statements/{books['march']}/disputes",
        json={"line_ids": [books["lines"][2]], "comment": "our second payment of 100 is missing"},
        headers=books["dealer"],
    ).get_json()
    before = world.snapshot()
    early = client.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                        json={"action": "adjustment", "reason": "posted"}, headers=books["finance"])  # fmt: skip
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "nothing_changed"
    assert world.snapshot() == before
    world.payment("ST-1", amount="100.00", received_on=dt.date(2026, 3, 28), reference="BANK-2")
    body = {"action": "adjustment", "reason": "payment BANK-2 posted"}
    resp = client.post(f"/api/v1/disputes/{dispute['id']}/resolve", json=body, headers=books["finance"])
    assert resp.status_code == 200, resp.get_json()
    new = client.get(f"/api/v1/statements/{resp.get_json()['reissued_statement_id']}", headers=books["dealer"])
    assert new.get_json()["closing"] == "750.50"


def test_bad_reconciliation_input_is_refused_whole(client, world, books):
    before = world.snapshot()
    foreign = client.post(
        f"/api/v1/statements/{books['march']}/disputes",
        json={"line_ids": [books["lines"][0], books["other_lines"][0]], "comment": "x"}, headers=books["dealer"],
    )  # fmt: skip
    assert foreign.status_code == 422 and "line_ids" in foreign.get_json()["error"]["fields"]
    empty = client.post(f"/api/v1/statements/{books['march']}/disputes", json={"line_ids": [], "comment": "x"},
                        headers=books["dealer"])  # fmt: skip
    assert empty.status_code == 422
    no_comment = client.post(f"/api/v1/statements/{books['march']}/disputes",
                             json={"line_ids": [books["lines"][0]], "comment": "  "},
                             headers=books["dealer"])  # fmt: skip
    assert no_comment.status_code == 422
    assert world.snapshot() == before

    dispute = client.post(f"/api/v1/statements/{books['march']}/disputes",
                          json={"line_ids": [books["lines"][0]], "comment": "x"},
                          headers=books["dealer"]).get_json()  # fmt: skip
    twice = client.post(f"/api/v1/statements/{books['march']}/disputes",
                        json={"line_ids": [books["lines"][0]], "comment": "again"},
                        headers=books["dealer"])  # fmt: skip
    assert twice.status_code == 422  # the line is in an open dispute already
    blocked = client.post(f"/api/v1/statements/{books['march']}/confirm", json={}, headers=books["dealer"])
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "open_disputes"
    bad_amount = client.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                             json={"action": "credit_note", "reason": "r"}, headers=books["finance"])  # fmt: skip
    assert bad_amount.status_code == 422
    bad_date = client.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                           json={"action": "credit_note", "amount": "5.00", "reason": "r", "issued_on": "2026-04-01"},
                           headers=books["finance"])  # fmt: skip
    assert bad_date.status_code == 422 and "issued_on" in bad_date.get_json()["error"]["fields"]
    assert world.count(LedgerEntry, type="credit_note") == 0
    first = client.post(f"/api/v1/disputes/{dispute['id']}/resolve", json={"action": "reject", "reason": "no"},
                        headers=books["finance"])  # fmt: skip
    assert first.status_code == 200
    snapshot = world.snapshot()
    second = client.post(f"/api/v1/disputes/{dispute['id']}/resolve",
                         json={"action": "credit_note", "amount": "5.00", "reason": "yes after all"},
                         headers=books["finance"])  # fmt: skip
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "already_resolved"
    assert world.snapshot() == snapshot


def test_who_may_do_what(client, world, books):
    staff = client.post(f"/api/v1/statements/{books['march']}/confirm", json={}, headers=books["staff"])
    assert staff.status_code == 403  # dealer_staff do not reconcile
    assert client.get(f"/api/v1/statements/{books['march']}", headers=books["staff"]).status_code == 403
    dealer_resolves = client.post("/api/v1/disputes/1/resolve", json={"action": "reject", "reason": "x"},
                                  headers=books["dealer"])  # fmt: skip
    assert dealer_resolves.status_code == 403


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/api/v1/statements/{id}", None),
        ("get", "/api/v1/statements/{id}/pdf", None),
        ("post", "/api/v1/statements/{id}/confirm", {}),
        ("post", "/api/v1/statements/{id}/disputes", {"line_ids": [1], "comment": "x"}),
        ("post", "/api/v1/statements/{id}/comments", {"body": "x"}),
    ],
)
def test_another_dealers_statement_answers_404(client, world, books, method, path, body):
    before = world.count(StatementMessage)
    resp = getattr(client, method)(path.format(id=books["other"]), json=body, headers=books["dealer"])
    assert resp.status_code == 404
    assert world.count(StatementMessage) == before and world.count(Dispute) == 0
    listed = client.get("/api/v1/statements?dealer=ST-2", headers=books["dealer"]).get_json()
    assert listed["total"] == 0
