"""Bank file import: a job; the file is applied whole or not at all; every rejected row has its line and reason;
a file imported twice is not counted twice."""

from __future__ import annotations

import io

import pytest

from portal.credit.models import LedgerEntry
from tests.test_overdue_scan import _drain

GOOD = "dealer_code,amount,received_on,reference\nSH-1,1000.00,2026-03-01,BK-001\nSH-2,250.50,2026-03-02,BK-002\n"
BAD = (
    "dealer_code,amount,received_on,reference\n"
    "SH-1,1000.00,2026-03-01,BK-101\n"
    "NOPE,10.00,2026-03-01,BK-102\n"
    "SH-2,12.345,2026-03-01,BK-103\n"
    "SH-2,10.00,03/01/2026,BK-104\n"
    "SH-2,10.00,2026-03-01,\n"
    "SH-1,5.00,2026-03-01,BK-101\n"
)


@pytest.fixture
def fin(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")
    return world.auth(world.user("finance"))


def _import(client, fin, text):
    resp = client.post(
        "/api/v1/payments/import",
        data={"file": (io.BytesIO(text.encode()), "bank.csv")},
        headers=fin,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202, resp.get_json()
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()
    assert job["status"] == "finished" and job["kind"] == "payment_import"
    return job


def test_a_good_file_posts_every_payment(client, fin, world):
    job = _import(client, fin, GOOD)
    assert job["result"]["applied"] is True and job["result"]["payments"] == 2 and job["result"]["total"] == "1250.50"
    assert job["progress"] == {"done": 2, "total": 2}
    assert world.get(LedgerEntry, number="BK-002")["source"] == "import"


def test_a_bad_file_posts_nothing_and_reports_every_row(client, fin, world):
    job = _import(client, fin, BAD)
    result = job["result"]
    assert result["applied"] is False and world.count(LedgerEntry) == 0
    lines = {e["line"]: e["reason"] for e in result["errors"]}
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert "Unknown dealer" in lines[3] and "two decimal" in lines[4] and "YYYY-MM-DD" in lines[5]
    assert "reference is missing" in lines[6] and "twice" in lines[7]


def test_the_same_file_twice_is_not_counted_twice(client, fin, world):
    _import(client, fin, GOOD)
    job = _import(client, fin, GOOD)
    assert job["result"]["applied"] is False
    assert all("already recorded" in e["reason"] for e in job["result"]["errors"])
    assert world.count(LedgerEntry, type="payment") == 2


@pytest.mark.parametrize("text,why", [("", "empty"), ("amount,reference\n1,2\n", "Missing columns")])
def test_malformed_files_are_refused_clearly(client, fin, world, text, why):
    resp = client.post(
        "/api/v1/payments/import",
        data={"file": (io.BytesIO(text.encode()), "x.csv")},
        headers=fin,
        content_type="multipart/form-data",
    )
    if resp.status_code == 422:
        assert why in str(resp.get_json()["error"]["fields"])
        return
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()
    assert why in job["result"]["errors"][0]["reason"]
    assert world.count(LedgerEntry) == 0


def test_the_import_in_the_browser_shows_the_result(client, world, fin):
    from tests.conftest import login, page_csrf

    login(client, world.user("finance"))
    csrf = page_csrf(client, "/payments/import")
    resp = client.post(
        "/payments/import",
        data={"file": (io.BytesIO(BAD.encode()), "bank.csv"), "csrf_token": csrf},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    _drain(client.application)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Nothing was posted" in page and "Unknown dealer NOPE" in page


def test_another_user_cannot_see_the_job(client, world, fin):
    resp = client.post(
        "/api/v1/payments/import",
        data={"file": (io.BytesIO(GOOD.encode()), "b.csv")},
        headers=fin,
        content_type="multipart/form-data",
    )
    job_id = resp.get_json()["job_id"]
    other = world.auth(world.user("dealer_admin", dealer="SH-1"))
    assert client.get(f"/api/v1/jobs/{job_id}", headers=other).status_code == 404
