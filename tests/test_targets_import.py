"""Targets from a file (PRODUCT.md §15): CSV in UTF-8 and GB18030 with Chinese headers, XLSX as Excel saves it,
applied whole or not at all by a job with every rejected line and its reason; the template; an export imports back
as it is."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from portal.audit.models import AuditEntry
from tests.conftest import login, page_csrf
from tests.test_overdue_scan import _drain
from tests.test_targets_api import amounts, item, put, targets_channel

D = Decimal


@pytest.fixture
def ch(world):
    return targets_channel(world)


def upload(client, headers, data: bytes, name="targets.csv"):
    return client.post("/api/v1/targets/import", data={"file": (io.BytesIO(data), name)}, headers=headers,
                       content_type="multipart/form-data")  # fmt: skip


def run_import(client, headers, data: bytes, name="targets.csv") -> dict:
    resp = upload(client, headers, data, name)
    assert resp.status_code == 202, resp.get_json()
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=headers).get_json()
    assert job["status"] == "finished" and job["kind"] == "target_import", job
    return job["result"]


ZH = (
    "月份,对象,指标,品类,目标\r\n"
    '2026-01,region:EAST,sell_in_amount,,"1,250,000.00"\r\n'
    "2026年2月,dealer:E-1,销售额,parts,￥3000\r\n"
    "2026/3,region:SH,sell_through_units,,４０\r\n"
    "2026-04,dealer:SH-1,collections_amount,,500.5\r\n"
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_with_chinese_headers_in_utf8_and_gb18030(client, world, ch, encoding):
    result = run_import(client, ch["cm"], ZH.encode(encoding))
    assert result == {"applied": True, "rows": 4, "created": 4, "updated": 0, "unchanged": 0, "errors": []}
    assert amounts(world) == {
        ("EAST", "2026-01", "sell_in_amount", ""): D("1250000.00"),
        ("E-1", "2026-02", "sell_in_amount", "parts"): D("3000.00"),
        ("SH", "2026-03", "sell_through_units", ""): D("40"),
        ("SH-1", "2026-04", "collections_amount", ""): D("500.50"),
    }
    assert world.count(AuditEntry, action="target.set") == 4



def test_the_measures_by_their_chinese_names(client, world, ch):
    rows = "月份,对象,指标,目标\r\n2026-01,region:EAST,提货金额,100\r\n2026-01,region:EAST,分销台数,5\r\n" \
           "2026-01,region:EAST,回款金额,80\r\n"
    assert run_import(client, ch["cm"], rows.encode("gb18030"))["created"] == 3
    assert amounts(world) == {
        ("EAST", "2026-01", "sell_in_amount", ""): D("100.00"),
        ("EAST", "2026-01", "sell_through_units", ""): D("5"),
        ("EAST", "2026-01", "collections_amount", ""): D("80.00"),
    }

def test_xlsx_as_excel_saves_it(client, world, ch):
    wb = Workbook()
    ws = wb.active
    ws.append(["Period", "Scope", "Measure", "Category", "Amount"])
    ws.append([dt.datetime(2026, 5, 1), "region:WEST", "sell_in_amount", None, 1500.5])  # Excel's date for 2026-05
    ws.append(["2026-06", "dealer:W-1", "sell_through_units", "parts", 12])
    ws.append([None, None, None, None, None])
    ws.append(["2026-07", "dealer:W-1", "sell_through_units", "", 12.0])
    buf = io.BytesIO()
    wb.save(buf)
    result = run_import(client, ch["cm"], buf.getvalue(), "targets.xlsx")
    assert result["applied"] is True and result["created"] == 3, result
    assert amounts(world) == {
        ("WEST", "2026-05", "sell_in_amount", ""): D("1500.50"),
        ("W-1", "2026-06", "sell_through_units", "parts"): D("12"),
        ("W-1", "2026-07", "sell_through_units", ""): D("12"),
    }


BAD = (
    "period,scope,measure,category,amount\n"
    "2026-01,region:SH,sell_in_amount,,100\n"  # 2: good
    "2026-13,region:SH,sell_in_amount,,100\n"  # 3: month 13
    "2026-02,dealer:W-1,sell_in_amount,,100\n"  # 4: outside the region manager's reach
    "2026-02,region:SH,sell_out,,100\n"  # 5: unknown measure
    "2026-02,region:SH,sell_in_amount,boats,100\n"  # 6: unknown category
    "2026-02,region:SH,collections_amount,parts,100\n"  # 7: collections with a category
    "2026-02,region:SH,sell_through_units,,1.5\n"  # 8: fractional units
    "2026-02,region:SH,sell_in_amount,,-3\n"  # 9: negative
    "2026-02,region:SH,sell_in_amount,,1.005\n"  # 10: three decimals
    "2026-01,region:sh,sell_in_amount,,200\n"  # 11: the same as line 2
    "2026-02,dealer:SH-1-A,sell_in_amount,,100\n"  # 12: a sub-dealer
    "2026-02,region:EAST,sell_in_amount,,100\n"  # 13: its own region
    "2026-02,region:SH,sell_in_amount,,100,extra\n"  # 14: more values than columns
)


def test_a_bad_file_writes_nothing_and_reports_every_line(client, world, ch):
    put(client, ch["cm"], item("region:SH", "2026-01", amount="5"))
    before = world.snapshot()
    result = run_import(client, ch["rm"], BAD.encode())
    assert result["applied"] is False and result["created"] == result["updated"] == 0
    reasons = {e["line"]: e["reason"] for e in result["errors"]}
    assert sorted(reasons) == list(range(3, 15)), reasons
    assert "A month as YYYY-MM" in reasons[3]
    assert reasons[4] == "scope: Unknown dealer W-1."
    assert "Unknown measure sell_out" in reasons[5]
    assert "Unknown category boats." in reasons[6]
    assert "Collections have no category" in reasons[7]
    assert "whole pieces" in reasons[8]
    assert "Must not be negative" in reasons[9]
    assert "At most two decimal places." in reasons[10]
    assert reasons[11] == "scope: The same target as line 2."
    assert "sub-dealer" in reasons[12]
    assert "set by HQ" in reasons[13]
    assert "More values than columns." in reasons[14]
    snapshot = world.snapshot()
    snapshot.pop("job_records"), before.pop("job_records")
    assert snapshot == before


@pytest.mark.parametrize(("data", "why"), [
    (b"", "The file is empty."),
    (b"period,scope,measure\n2026-01,region:SH,sell_in_amount\n", "Missing columns: amount"),
    (b"period,scope,measure,amount\n", "The file has no target rows."),
])  # fmt: skip
def test_malformed_files_are_refused_clearly(client, world, ch, data, why):
    resp = upload(client, ch["cm"], data)
    if resp.status_code == 422:
        assert why in str(resp.get_json()["error"]["fields"])
        return
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=ch["cm"]).get_json()
    assert why in job["result"]["errors"][0]["reason"]


def test_only_writers_import(client, world, ch):
    assert upload(client, ch["dealer"], ZH.encode()).status_code == 403


def test_the_templates_import_as_they_are(client, world, ch):
    login(client, "cm")
    en = client.get("/targets/import/template.csv")
    zh = client.get("/targets/import/template.csv?headers=zh")
    assert en.status_code == zh.status_code == 200
    assert en.get_data(as_text=True).splitlines()[0].lstrip("\ufeff") == "period,scope,measure,category,amount"
    assert zh.get_data(as_text=True).splitlines()[0].lstrip("\ufeff") == "月份,对象,指标,品类,目标"
    for template in (en, zh):
        result = run_import(client, world.auth("cm"), template.get_data())
        assert result["applied"] is True, result


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(client, world, ch, fmt):
    put(client, ch["cm"], item("region:SH", "2026-01", amount="1234.56"), item("dealer:E-1", "2026-02",
        measure="sell_through_units", category="parts", amount="7"), item("region:WEST", "2026-12",
        measure="collections_amount", amount="0"))  # fmt: skip
    before = amounts(world)
    login(client, "cm")
    export = client.get(f"/targets/export?year=2026&format={fmt}")
    assert export.status_code == 200
    result = run_import(client, ch["cm"], export.get_data(), f"targets.{fmt}")
    assert result == {"applied": True, "rows": 3, "created": 0, "updated": 0, "unchanged": 3, "errors": []}
    assert amounts(world) == before


def test_the_import_page_runs_the_job_and_shows_its_result(app, world, ch):
    client = app.test_client()
    login(client, "rm.east")
    page = client.get("/targets/import")
    assert page.status_code == 200 and 'data-template="zh"' in page.get_data(as_text=True)
    resp = client.post("/targets/import", data={"csrf_token": page_csrf(client, "/targets/import"),
                                                "file": (io.BytesIO(BAD.encode()), "t.csv")},
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 302 and "/targets/import/" in resp.headers["Location"]
    _drain(app)
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "data-rejected-rows" in html and "Unknown dealer W-1." in html
    good = "period,scope,measure,amount\n2026-01,region:SH,sell_in_amount,100\n"
    resp = client.post("/targets/import", data={"csrf_token": page_csrf(client, "/targets/import"),
                                                "file": (io.BytesIO(good.encode()), "t.csv")},
                       content_type="multipart/form-data")  # fmt: skip
    _drain(app)
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "data-import-applied" in html and "1 new" in html
