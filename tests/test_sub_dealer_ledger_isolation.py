"""HQ's receivables stay HQ's (§16): what a distributor sells its sub-dealers and collects from them lands on their
ledgers with it, and leaves HQ's account with the distributor and every HQ-wide figure (ageing, exposure, credit
used, DSO, open invoices) exactly as it was; the daily scan, dunning, collections, the statement run and HQ's bank
cover the dealers HQ sells to only."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from portal.banking.models import UnmatchedReceipt
from portal.collections.models import DunningAction
from portal.credit.models import DealerCredit, LedgerEntry
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.notify.models import Notification
from portal.platform.timeutil import freeze
from portal.statements.models import Statement
from tests.test_overdue_scan import _drain

D = dt.date
NOW = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)  # 12:00 in Shanghai


@pytest.fixture
def ch(world):
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.region("NORTH", parent="HQ")
    world.dealer("DIST-1", "EAST", name="一级经销商")
    world.dealer("BJ-1", "NORTH")
    world.sub_dealer("DIST-1", "SUB-1A", name="二级经销商甲")
    world.sub_dealer("DIST-1", "SUB-1B")
    # HQ's books: DIST-1 owes HQ (one invoice long overdue, one not due, part paid), BJ-1 too
    world.invoice("DIST-1", "HQ-1", "10000.00", issued_on=D(2026, 1, 5), due_on=D(2026, 2, 4))
    world.invoice("DIST-1", "HQ-2", "4000.00", issued_on=D(2026, 5, 20), due_on=D(2026, 6, 19))
    world.payment("DIST-1", "2500.00", received_on=D(2026, 2, 20), reference="HQ-PAY-1")
    world.invoice("BJ-1", "HQ-3", "3000.00", issued_on=D(2026, 4, 1), due_on=D(2026, 5, 1))
    world.credit_limit("DIST-1", "50000")
    world.credit_limit("BJ-1", "20000")
    return {
        "fin": world.auth(world.user("finance", username="fin")),
        "rm": world.auth(world.user("region_manager", region="EAST", username="rm.east")),
        "dist1": world.auth(world.user("dealer_admin", dealer="DIST-1", username="dist1.admin")),
        "dist1_staff": world.user("dealer_staff", dealer="DIST-1", username="dist1.staff"),
        "sub1a_staff": world.user("dealer_staff", dealer="SUB-1A", username="sub1a.staff"),
    }


def _hq_figures(client, ch) -> dict:
    """Everything HQ (and the distributor, about its own account) reads of HQ's receivables."""
    out = {}
    for who in ("fin", "rm", "dist1"):
        for group_by in ("dealer", "region", "total", "account_manager"):
            out[(who, group_by)] = client.get(
                f"/api/v1/receivables/ageing?as_of=2026-05-31&group_by={group_by}", headers=ch[who]
            ).get_json()
        out[(who, "credit")] = client.get("/api/v1/receivables/credit?date=2026-05-31", headers=ch[who]).get_json()
        out[(who, "open")] = client.get("/api/v1/receivables/open-invoices?per_page=500", headers=ch[who]).get_json()
        out[(who, "ledger")] = client.get("/api/v1/dealers/DIST-1/ledger", headers=ch[who]).get_json()
        out[(who, "dist_credit")] = client.get("/api/v1/dealers/DIST-1/credit", headers=ch[who]).get_json()
    return out


def _distributor_trades(client, world, ch) -> None:
    """The distributor sells to its sub-dealers and collects from them, through every posting it may make."""
    dist = ch["dist1"]
    for code, amount in (("SUB-1A", "80000"), ("SUB-1B", "30000")):
        resp = client.put(f"/api/v1/dealers/{code}/credit-limit", json={"amount": amount, "reason": "二级授信"},
                          headers=dist)  # fmt: skip
        assert resp.status_code == 200
    postings = [
        ("/api/v1/invoices", {"dealer_code": "SUB-1A", "number": "S-1", "issued_on": "2026-01-10",
                              "due_on": "2026-02-09", "amount": "20000.00"}),
        ("/api/v1/invoices", {"dealer_code": "SUB-1A", "number": "S-2", "issued_on": "2026-05-25",
                              "amount": "6000.00"}),
        ("/api/v1/invoices", {"dealer_code": "SUB-1B", "number": "S-3", "issued_on": "2026-03-01",
                              "due_on": "2026-03-31", "amount": "9000.00"}),
        ("/api/v1/payments", {"dealer_code": "SUB-1A", "amount": "7000.00", "received_on": "2026-02-25",
                              "reference": "S-PAY-1"}),
        ("/api/v1/payments", {"dealer_code": "SUB-1B", "amount": "12000.00", "received_on": "2026-04-02",
                              "reference": "S-PAY-2"}),  # more than it owes: unapplied cash with DIST-1
        ("/api/v1/credit-notes", {"dealer_code": "SUB-1A", "amount": "500.00", "issued_on": "2026-03-01",
                                  "reason": "折让", "invoice_number": "S-1"}),
    ]  # fmt: skip
    for url, body in postings:
        resp = client.post(url, json=body, headers=dist)
        assert resp.status_code == 201, (url, resp.get_json())
    assert client.put("/api/v1/dealers/SUB-1B/credit-hold", json={"reason": "对账"}, headers=dist).status_code == 200


def test_hqs_receivables_are_untouched_by_the_distributors_trade_with_its_sub_dealers(client, world, ch):
    before = _hq_figures(client, ch)
    assert before[("fin", "total")]["totals"]["total"] == "14500.00"  # 10,000 + 4,000 − 2,500 + 3,000
    assert before[("dist1", "dealer")]["totals"]["total"] == "11500.00"
    _distributor_trades(client, world, ch)
    after = _hq_figures(client, ch)
    for key in before:
        assert after[key] == before[key], key
    # and in the figures HQ's services compute directly (DSO, utilisation, the distributor's credit summary)
    def direct():
        from portal.credit import reports, services
        from portal.platform.tenancy import Scope

        scope = Scope("hq")
        dist = db.session.query(Dealer).filter_by(code="DIST-1").one()
        return (
            reports.dso(reports.scoped_clause(scope), D(2026, 5, 31)),
            reports.ageing(scope, D(2026, 5, 31), "total")["totals"],
            services.credit_summary(dist, D(2026, 5, 31)),
        )

    hq_dso, hq_totals, dist_summary = world._in_request(direct)
    assert str(hq_totals["total"]) == before[("fin", "total")]["totals"]["total"] == "14500.00"
    assert str(dist_summary["open_receivables"]) == "11500.00" and str(dist_summary["available"]) == "38500.00"
    assert hq_dso is not None
    # the distributor's receivables are there, under its name
    theirs = client.get("/api/v1/receivables/ageing?seller=DIST-1&as_of=2026-05-31", headers=ch["fin"]).get_json()
    assert theirs["totals"]["total"] == "15500.00"  # 20,000 + 6,000 + 9,000 − 7,000 − 12,000 − 500
    assert theirs["totals"]["unapplied"] == "-3000.00"


def test_the_receivables_page_totals_stay_hqs(client, world, ch):
    from tests.conftest import login

    browser = client.application.test_client()  # a session of its own: the API calls go by their tokens
    login(browser, "fin")
    before = browser.get("/receivables?as_of=2026-05-31&group_by=total").get_data(as_text=True)
    assert "14,500.00" in before
    _distributor_trades(client, world, ch)
    after = browser.get("/receivables?as_of=2026-05-31&group_by=total").get_data(as_text=True)
    assert "14,500.00" in after and "SUB-1A" not in after
    theirs = browser.get("/receivables?as_of=2026-05-31&group_by=dealer&seller=DIST-1").get_data(as_text=True)
    assert "15,500.00" in theirs and "SUB-1A" in theirs and "BJ-1" not in theirs


# ------------------------------------------------------------------ the daily scan, dunning and collections


def _run_scan(client, fin):
    with freeze(NOW):
        resp = client.post("/api/v1/credit/overdue-scan", headers=fin)
        assert resp.status_code == 202
        _drain(client.application)
        return client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()


def _notified(world) -> set[tuple[str, str, str]]:
    return set(world.run(lambda: [
        (db.session.get(User, n.user_id).username, n.kind, n.dedupe_key.split(":")[1])
        for n in db.session.query(Notification).all()]))  # fmt: skip


def test_the_scan_holds_a_late_sub_dealer_for_its_distributor_and_leaves_dunning_to_hq_dealers(client, world, ch):
    world.invoice("SUB-1A", "S-OLD", "700.00", issued_on=D(2026, 1, 2), due_on=D(2026, 1, 20))  # 132 days late
    world.user("dealer_admin", dealer="DIST-1", username="dist1.boss")
    job = _run_scan(client, ch["fin"])
    assert job["status"] == "finished", job
    sub_id = world.get(Dealer, code="SUB-1A")["id"]
    held = world.get(DealerCredit, dealer_id=sub_id)
    assert held["on_hold"] and held["hold_source"] == "overdue"  # the distributor's credit gate
    assert held["dunning_level"] == 0 and world.count(DunningAction, dealer_id=sub_id) == 0  # dunning is HQ's
    notes = _notified(world)
    about_sub = {(user, kind) for user, kind, code in notes if code == "SUB-1A"}
    assert about_sub == {("sub1a.staff", "overdue"), ("dist1.admin", "overdue"), ("dist1.boss", "overdue")}
    # HQ's dealers are dunned and reminded as before (DIST-1's HQ-1 is 117 days late: finance is told)
    assert ("fin", "dunning", "DIST-1") in notes and ("rm.east", "overdue", "DIST-1") in notes
    assert world.count(DunningAction, dealer_id=world.get(Dealer, code="DIST-1")["id"]) > 0
    # the collections worklist lists HQ's dealers only
    codes = [r["dealer_code"] for r in client.get("/api/v1/collections", headers=ch["fin"]).get_json()["items"]]
    assert "DIST-1" in codes and "SUB-1A" not in codes


def test_hq_does_not_collect_from_a_sub_dealer(client, world, ch):
    before = world.snapshot()
    promise = client.post("/api/v1/dealers/SUB-1A/promises", json={"amount": "100", "promised_on": "2027-01-10"},
                          headers=ch["fin"])  # fmt: skip
    assert promise.status_code == 403 and "DIST-1" in promise.get_json()["error"]["message"]
    contact = client.post("/api/v1/dealers/SUB-1A/collection-contacts", json={"channel": "phone", "note": "催款"},
                          headers=ch["fin"])  # fmt: skip
    assert contact.status_code == 403
    assert world.snapshot() == before


# ------------------------------------------------------------------ statements and HQ's bank


def test_the_statement_run_states_hqs_dealers_only(client, world, ch):
    world.invoice("SUB-1A", "S-MAR", "700.00", issued_on=D(2026, 3, 2))

    def run():
        from portal.statements import services

        dealers = {d.code: d for d in db.session.query(Dealer).all()}
        chosen = {dealers_by_id.code for dealers_by_id in db.session.query(Dealer).filter(
            Dealer.id.in_(services.run_dealer_ids())).all()}  # fmt: skip
        named = services.run_dealer_ids([dealers["SUB-1A"].id, dealers["BJ-1"].id])
        statement, outcome = services.issue("run test", dealers["SUB-1A"], "2026-03")
        return chosen, [d for d in named], statement, outcome, dealers["BJ-1"].id

    chosen, named, statement, outcome, bj = world._in_request(run)
    assert chosen == {"DIST-1", "BJ-1"} and named == [bj]
    assert statement is None and outcome == "nothing"
    assert world.statement("SUB-1A", "2026-03") is None and world.statement("DIST-1", "2026-02") is not None
    assert world.count(Statement, dealer_id=world.get(Dealer, code="SUB-1A")["id"]) == 0


def _bank_file(lines) -> tuple[bytes, str]:
    from tests.test_bank_statements import icbc_gb18030

    return icbc_gb18030(lines)


def test_hqs_bank_never_matches_nor_takes_a_sub_dealers_payment(client, world, ch):
    before = world.snapshot()
    # no payer account for a sub-dealer, neither by finance nor by its distributor's admin
    for who in ("fin", "dist1"):
        resp = client.post("/api/v1/dealers/SUB-1A/payer-accounts",
                           json={"account_number": "6222000011112222", "account_name": "二级经销商甲"},
                           headers=ch[who])  # fmt: skip
        assert resp.status_code == 403, who
    assert world.snapshot() == before
    # a transfer from a payer named like the sub-dealer is not matched to it: kept unmatched for finance
    data, name = _bank_file([("2026-03-02", "900.00", "", "", "二级经销商甲", "货款", "B-1")])

    def import_it():
        from portal.banking.imports import import_statement

        return import_statement(None, data, name)

    result = world._in_request(import_it)
    assert result["applied"] and not result["matched"] and len(result["unmatched"]) == 1
    receipt = world.get(UnmatchedReceipt, serial="B-1")["id"]
    refused = client.post(f"/api/v1/unmatched-receipts/{receipt}/assign", json={"dealer_code": "SUB-1A"},
                          headers=ch["fin"])  # fmt: skip
    assert refused.status_code == 422 and "dealer_code" in refused.get_json()["error"]["fields"]
    assert world.count(LedgerEntry, dealer_id=world.get(Dealer, code="SUB-1A")["id"]) == 0


def test_the_payment_import_refuses_a_sub_dealers_row_and_posts_nothing(client, world, ch):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["dealer_code", "amount", "received_on", "reference"])
    w.writerow(["BJ-1", "100.00", "2026-03-01", "IMP-1"])
    w.writerow(["SUB-1A", "200.00", "2026-03-01", "IMP-2"])

    def import_it():
        from portal.credit.imports import import_payments

        return import_payments(None, out.getvalue().encode(), "payments.csv")

    before = world.snapshot()
    result = world._in_request(import_it)
    assert not result["applied"] and [e["line"] for e in result["errors"]] == [3]
    assert "DIST-1" in result["errors"][0]["reason"]
    assert world.snapshot() == before
