"""Sell-through CSV import: a job; the file is applied whole or not at all; every rejected row is reported with its
line number and reason; UTF-8 with or without BOM; large files are checked in bulk and report progress."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest

from portal.background.models import JobRecord
from portal.inventory.models import DealerStockMove, SellThroughLine, SellThroughMonthly
from portal.platform.timeutil import freeze
from tests.test_overdue_scan import _drain

NOW = dt.datetime(2026, 11, 20, 4, 0, tzinfo=dt.UTC)
VIN1, VIN2 = "LDP00000000000001", "LDP00000000000002"
HEADER = "sold_on,sku,serial,quantity,unit_price,city,customer_type\n"
GOOD = HEADER + (
    "2026-05-01,OIL-1,,4,35.00,上海,individual\n"
    "2026-05-02,CAR-1,LDP00000000000001,1,120000.00,杭州,business\n"
    "2026-05-03,OIL-1,,2,36.50,,\n"
)
BAD = HEADER + (
    "2026-05-01,OIL-1,,4,35.00,上海,individual\n"  # 2: good
    "2026-05-01,NOPE,,1,35.00,,\n"  # 3: unknown SKU
    "05/01/2026,OIL-1,,1,35.00,,\n"  # 4: date
    "2026-05-01,OIL-1,,1.5,35.00,,\n"  # 5: quantity
    "2026-05-01,OIL-1,,1,35.555,,\n"  # 6: price
    "2026-05-01,CAR-1,LDP00000000000099,1,120000.00,,\n"  # 7: VIN never received
    "2026-05-01,OIL-1,,1,35.00,,martian\n"  # 8: customer type
    "2026-06-01,OIL-1,,7,35.00,,\n"  # 9: more than held (10 − 4 = 6 left)
    "2026-05-01,OIL-1,,1,35.00,,,extra\n"  # 10: too many values
)


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def shop(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("OIL-1", list_price="30.00")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True,
                  min_resale_price="102000.00")  # fmt: skip
    world.dealer_receipt("SH-1", "OIL-1", 10, on=dt.date(2026, 3, 1))
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN1)
    return {"staff": world.auth(world.user("dealer_staff", dealer="SH-1", username="sh1.staff"))}


def upload(client, headers, data: bytes, name="sales.csv"):
    return client.post("/api/v1/sell-through/import", data={"file": (io.BytesIO(data), name)}, headers=headers,
                       content_type="multipart/form-data")  # fmt: skip


def run_import(client, headers, data: bytes):
    resp = upload(client, headers, data)
    assert resp.status_code == 202, resp.get_json()
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=headers).get_json()
    assert job["status"] == "finished" and job["kind"] == "sell_through_import", job
    return job


def test_a_good_file_is_written_whole_through_the_service(client, world, shop):
    job = run_import(client, shop["staff"], GOOD.encode())
    result = job["result"]
    assert result["applied"] is True and result["lines"] == 3 and result["quantity"] == 7
    assert result["amount"] == "120213.00" and result["errors"] == []
    assert world.count(SellThroughLine, source="import", job_id=job["id"]) == 3
    assert world.count(DealerStockMove, kind="sale") == 3 and world.count(SellThroughMonthly) == 2
    assert job["progress"]["done"] == job["progress"]["total"]


def test_a_bad_file_writes_nothing_and_reports_every_rejected_row_with_its_line_and_reason(client, world, shop):
    before = world.snapshot()
    result = run_import(client, shop["staff"], BAD.encode())["result"]
    assert result["applied"] is False
    reasons = {e["line"]: e["reason"] for e in result["errors"]}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "Unknown or inactive SKU NOPE" in reasons[3]
    assert "YYYY-MM-DD" in reasons[4] and "whole number" in reasons[5] and "two decimal" in reasons[6]
    assert "never received" in reasons[7] and "customer_type" in reasons[8]
    assert "Only 6 of OIL-1" in reasons[9] and "More values than columns" in reasons[10]
    after = world.snapshot()
    after.pop("job_records"), before.pop("job_records")
    assert after == before


def test_a_file_with_a_bom_and_crlf_is_read(client, world, shop):
    data = ("\ufeff" + GOOD).replace("\n", "\r\n").encode("utf-8")
    assert run_import(client, shop["staff"], data)["result"]["applied"] is True
    assert world.count(SellThroughLine) == 3


@pytest.mark.parametrize(
    "data,why",
    [(b"", "empty"), (b"\xff\xfe\x00b\x00a\x00d", "UTF-8"), (b"sku,quantity\nOIL-1,1\n", "Missing columns"),
     (HEADER.encode(), "no sell-through rows")],
)  # fmt: skip
def test_malformed_files_are_refused_clearly(client, world, shop, data, why):
    resp = upload(client, shop["staff"], data)
    if resp.status_code == 422:
        assert why in str(resp.get_json()["error"]["fields"])
        return
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=shop["staff"]).get_json()
    assert why in job["result"]["errors"][0]["reason"] and world.count(SellThroughLine) == 0


def test_only_dealer_users_import_and_only_they_see_their_job(client, world, shop):
    hq = world.auth(world.user("channel_manager"))
    assert upload(client, hq, GOOD.encode()).status_code == 403
    job_id = upload(client, shop["staff"], GOOD.encode()).get_json()["job_id"]
    world.dealer("SH-2", "EAST")
    other = world.auth(world.user("dealer_staff", dealer="SH-2"))
    assert client.get(f"/api/v1/jobs/{job_id}", headers=other).status_code == 404
    assert world.get(JobRecord, id=job_id)["params"] == {"filename": "sales.csv"}


def _big(rows: int, bad_every: int | None = None) -> bytes:
    out = [HEADER]
    for i in range(rows):
        day = dt.date(2026, 3, 1) + dt.timedelta(days=i % 250)
        sku = "NOPE" if bad_every and i % bad_every == 0 else "OIL-1"
        out.append(f"{day.isoformat()},{sku},,{1 + i % 3},{30 + i % 7}.50,城市{i % 40},individual\n")
    return "".join(out).encode()


def test_a_large_file_is_applied_in_bulk(client, world, shop):
    world.dealer_receipt("SH-1", "OIL-1", 100_000, on=dt.date(2026, 2, 1))
    started = time.perf_counter()
    job = run_import(client, shop["staff"], _big(10_000))
    elapsed = time.perf_counter() - started
    assert job["result"]["applied"] is True and job["result"]["lines"] == 10_000, job["result"]["errors"][:3]
    assert job["progress"] == {"done": 10_000, "total": 10_000}
    assert world.count(SellThroughLine) == 10_000
    assert elapsed < 60, elapsed


def test_a_large_bad_file_reports_every_bad_row(client, world, shop):
    world.dealer_receipt("SH-1", "OIL-1", 100_000, on=dt.date(2026, 2, 1))
    result = run_import(client, shop["staff"], _big(10_000, bad_every=1000))["result"]
    assert result["applied"] is False
    assert [e["line"] for e in result["errors"]] == [2 + i for i in range(0, 10_000, 1000)]
    assert world.count(SellThroughLine) == 0
