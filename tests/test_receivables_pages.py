"""The receivables pages for each role: dashboard, ledger, entry, postings, exports (CSV and XLSX)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from portal.credit.models import Application, LedgerEntry
from tests.conftest import login, page_csrf

D = dt.date


@pytest.fixture
def channel(world):
    world.region("HQ")
    world.region("EAST", parent="HQ", name="华东大区")
    world.region("NORTH", parent="HQ", name="华北大区")
    world.dealer("SH-1", "EAST", name="上海一号")
    world.dealer("BJ-1", "NORTH", name="北京一号")
    world.invoice("SH-1", "FP-SH", "1000.00", issued_on=D(2026, 1, 1), due_on=D(2026, 1, 31))
    world.invoice("BJ-1", "FP-BJ", "2000.00", issued_on=D(2026, 10, 1), due_on=D(2026, 12, 31))
    world.payment("SH-1", "300.00", received_on=D(2026, 2, 1), reference="P-SH")


def test_hq_sees_every_region_and_exports_xlsx(client, world, channel):
    login(client, world.user("finance"))
    page = client.get("/receivables?as_of=2026-11-23&group_by=region").get_data(as_text=True)
    assert "华东大区" in page and "华北大区" in page and "2,700.00" in page
    resp = client.get("/receivables?as_of=2026-11-23&group_by=dealer&format=xlsx")
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("key", "name", "not_due")
    by_key = {r[0]: r for r in rows[1:]}
    assert str(by_key["SH-1"][6]) == "700" or float(by_key["SH-1"][6]) == 700.0  # over_90 column
    assert by_key["BJ-1"][2] == 2000


def test_a_region_manager_sees_its_region_only(client, world, channel):
    login(client, world.user("region_manager", region="EAST"))
    page = client.get("/receivables?group_by=dealer").get_data(as_text=True)
    assert "SH-1" in page and "BJ-1" not in page
    csv_text = client.get("/receivables?group_by=dealer&format=csv").get_data(as_text=True)
    assert "SH-1" in csv_text and "BJ-1" not in csv_text


def test_the_api_ageing_by_region_rolls_up_subtrees(client, world, channel):
    fin = world.auth(world.user("finance"))
    body = client.get("/api/v1/receivables/ageing?as_of=2026-11-23&group_by=region", headers=fin).get_json()
    rows = {r["key"]: r for r in body["rows"]}
    assert rows["EAST"]["over_90"] == "700.00" and rows["NORTH"]["not_due"] == "2000.00"
    assert body["totals"]["total"] == "2700.00"
    total = client.get("/api/v1/receivables/ageing?as_of=2026-11-23&group_by=total", headers=fin).get_json()
    assert total["rows"][0]["total"] == "2700.00"
    past = client.get("/api/v1/receivables/ageing?as_of=2026-01-15&group_by=dealer", headers=fin).get_json()
    assert past["totals"]["not_due"] == "1000.00" and past["totals"]["unapplied"] == "0.00"
    assert client.get("/api/v1/receivables/ageing?region=NOPE", headers=fin).status_code == 422


def test_a_dealer_sees_its_own_ledger_page_and_exports(client, world, channel):
    login(client, world.user("dealer_staff", dealer="SH-1"))
    page = client.get("/dealers/SH-1/ledger?from=2026-01-01").get_data(as_text=True)
    assert "FP-SH" in page and "P-SH" in page and "700.00" in page
    assert client.get("/dealers/BJ-1/ledger").status_code == 404
    csv_text = client.get("/dealers/SH-1/ledger?from=2026-01-01&format=csv").get_data(as_text=True)
    assert "opening" in csv_text and "FP-SH" in csv_text and "closing" in csv_text


def test_finance_records_a_payment_in_the_browser(client, world, channel):
    login(client, world.user("finance"))
    csrf = page_csrf(client, "/payments/new")
    bad = client.post(
        "/payments/new",
        data={
            "dealer_code": "SH-1",
            "amount": "12.345",
            "received_on": "2026-03-01",
            "reference": "WEB-1",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 422 and world.count(LedgerEntry, number="WEB-1") == 0
    ok = client.post(
        "/payments/new",
        data={
            "dealer_code": "SH-1",
            "amount": "700",
            "received_on": "2026-03-01",
            "reference": "WEB-1",
            "csrf_token": csrf,
        },
    )
    assert ok.status_code == 302 and "/entries/" in ok.headers["Location"]
    page = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "FP-SH" in page and "700.00" in page
    dup = client.post(
        "/payments/new",
        data={
            "dealer_code": "SH-1",
            "amount": "1",
            "received_on": "2026-03-01",
            "reference": "WEB-1",
            "csrf_token": csrf,
        },
    )
    assert dup.status_code == 409 or "already recorded" in dup.get_data(as_text=True)


def test_finance_reverses_and_reapplies_in_the_browser(client, world, channel):
    login(client, world.user("finance"))
    payment = world.get(LedgerEntry, number="P-SH")["id"]
    app_id = world.application_of(payment)
    csrf = page_csrf(client, f"/entries/{payment}")
    resp = client.post(
        f"/entries/{payment}", data={"action": "reverse", "application_id": app_id, "rev-csrf_token": csrf}
    )
    assert resp.status_code == 302
    assert world.count(Application) == 2
    page = client.get(f"/entries/{payment}").get_data(as_text=True)
    assert "FP-SH" in page and "Apply to an invoice" in page
    resp = client.post(
        f"/entries/{payment}",
        data={"action": "apply", "apply-invoice_number": "FP-SH", "apply-amount": "300.00", "apply-csrf_token": csrf},
    )
    assert resp.status_code == 302 and world.count(Application) == 3


def test_dealers_cannot_post_or_reverse(client, world, channel):
    login(client, world.user("dealer_admin", dealer="SH-1"))
    assert client.get("/payments/new").status_code == 403
    payment = world.get(LedgerEntry, number="P-SH")["id"]
    csrf = page_csrf(client, f"/entries/{payment}")
    resp = client.post(f"/entries/{payment}", data={"action": "reverse", "application_id": 1, "rev-csrf_token": csrf})
    assert resp.status_code == 403 and world.count(Application) == 1


def test_home_pages_show_receivables_in_scope(client, world, channel):
    login(client, world.user("region_manager", region="NORTH"))
    page = client.get("/home").get_data(as_text=True)
    assert "2,000.00" in page and "700.00" not in page
