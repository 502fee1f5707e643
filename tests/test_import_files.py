"""Import files as Chinese offices save them (issue 16, docs/IMPORTS.md): UTF-8 or GB18030 CSV and XLSX, headers in
English or Chinese, amounts and dates as spreadsheets hold them; every column limit a line reason, nothing stored; a
job that fails shows its users no SQL, no parameters, no trace."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy.exc import DataError

from portal.background.models import JobRecord
from portal.credit.models import LedgerEntry
from portal.inventory.models import SellThroughLine
from portal.platform.timeutil import freeze
from tests.conftest import login
from tests.test_overdue_scan import _drain

NOW = dt.datetime(2026, 12, 10, 4, 0, tzinfo=dt.UTC)
VIN = "LDP00000000000001"


@pytest.fixture(autouse=True)
def _clock():
    with freeze(NOW):
        yield


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.dealer("SH-2", "EAST")


@pytest.fixture
def fin(world, channel):
    return world.auth(world.user("finance"))


@pytest.fixture
def shop(world, channel):
    world.product("OIL-1", list_price="30.00")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.dealer_receipt("SH-1", "OIL-1", 5000, on=dt.date(2026, 3, 1))
    world.dealer_receipt("SH-1", "CAR-1", 1, on=dt.date(2026, 3, 1), serial=VIN)
    return world.auth(world.user("dealer_staff", dealer="SH-1"))


def xlsx(rows: list[list]) -> bytes:
    """A workbook as Excel saves one: the rows from row 1 (an empty list is an empty row), real number and date
    cells where the test puts them."""
    book = Workbook()
    sheet = book.active
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, url: str, headers, data: bytes, name: str):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, headers=headers,
                       content_type="multipart/form-data")  # fmt: skip


def run(client, url: str, headers, data: bytes, name: str) -> dict:
    resp = upload(client, url, headers, data, name)
    assert resp.status_code == 202, resp.get_json()
    _drain(client.application)
    return client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=headers).get_json()


def payments(client, fin, data: bytes, name: str = "bank.csv") -> dict:
    job = run(client, "/api/v1/payments/import", fin, data, name)
    assert job["status"] == "finished", job
    return job["result"]


def sales(client, staff, data: bytes, name: str = "sales.csv") -> dict:
    job = run(client, "/api/v1/sell-through/import", staff, data, name)
    assert job["status"] == "finished", job
    return job["result"]


def reasons(result: dict) -> dict[int, str]:
    return {e["line"]: e["reason"] for e in result["errors"]}


def amounts(world) -> dict[str, tuple[Decimal, dt.date]]:
    def read():
        from portal.extensions import db

        return {e.number: (e.amount, e.entry_date) for e in db.session.query(LedgerEntry).filter_by(type="payment")}

    return world.run(read)


# ---------------------------------------------------------------- payments


def test_a_gb18030_csv_with_chinese_headers_and_excel_formatting_posts_every_payment(client, fin, world):
    text = (
        "经销商代码,收款金额,收款日期,银行流水号\r\n"
        'SH-1,"1,234.50",2026/12/1,BK-1\r\n'
        "SH-2,¥500,2026年12月2日,BK-2\r\n"
        "SH-1,RMB 1,2026-12-03,BK-3\r\n"
        "SH-2,１２．５０,2026/1/9,BK-4\r\n"
    )
    data = text.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = payments(client, fin, data)
    assert result["applied"] is True and result["payments"] == 4 and result["total"] == "1748.00", result
    assert amounts(world) == {
        "BK-1": (Decimal("1234.50"), dt.date(2026, 12, 1)),
        "BK-2": (Decimal("500.00"), dt.date(2026, 12, 2)),
        "BK-3": (Decimal("1.00"), dt.date(2026, 12, 3)),
        "BK-4": (Decimal("12.50"), dt.date(2026, 1, 9)),
    }


def test_headers_match_without_case_or_blanks_and_other_columns_are_ignored(client, fin, world):
    text = "\ufeff 备注 , DEALER_CODE ,金额, Received_On ,流水号,,\nfirst,SH-1,10.00,2026-12-01,BK-1,,\n"
    result = payments(client, fin, text.encode("utf-8"))
    assert result["applied"] is True and amounts(world) == {"BK-1": (Decimal("10.00"), dt.date(2026, 12, 1))}


def test_an_xlsx_with_number_and_date_cells_posts_every_payment(client, fin, world):
    data = xlsx([
        ["经销商编码", "金额", "日期", "参考号"],
        ["SH-1", 1234.5, dt.date(2026, 12, 1), 2026120100123],
        ["SH-2", 800, dt.datetime(2026, 12, 2, 14, 30), "BK-2"],
        ["SH-1", "¥1,000.00", "2026年12月3日", "BK-3"],
    ])  # fmt: skip
    assert data[:4] == b"PK\x03\x04"
    result = payments(client, fin, data, "回款.xlsx")
    assert result["applied"] is True and result["total"] == "3034.50", result
    assert amounts(world) == {
        "2026120100123": (Decimal("1234.50"), dt.date(2026, 12, 1)),
        "BK-2": (Decimal("800.00"), dt.date(2026, 12, 2)),
        "BK-3": (Decimal("1000.00"), dt.date(2026, 12, 3)),
    }


def test_an_xlsx_is_recognised_by_its_content_whatever_its_name(client, fin, world):
    data = xlsx([["dealer_code", "amount", "received_on", "reference"], ["SH-1", 5, dt.date(2026, 12, 1), "BK-1"]])
    assert payments(client, fin, data, "bank.csv")["applied"] is True


def test_rejected_rows_of_an_xlsx_carry_the_sheets_row_numbers(client, fin, world):
    data = xlsx([
        [],
        ["经销商代码", "金额", "收款日期", "银行流水号"],
        ["SH-1", 10, dt.date(2026, 12, 1), "BK-1"],
        [],
        ["SH-1", 35.555, "20261201", "BK-2"],
        ["NOPE", 12.345, dt.date(2026, 12, 1), "BK-3"],
        ["SH-2", 10, dt.date(2026, 12, 1), "BK-4", None, "stray"],
    ])  # fmt: skip
    result = payments(client, fin, data, "bank.xlsx")
    found = reasons(result)
    assert result["applied"] is False and sorted(found) == [5, 6, 7], found
    assert "two decimal" in found[5] and "YYYY-MM-DD" in found[5]
    assert "Unknown dealer NOPE" in found[6] and "two decimal" in found[6]
    assert "More values than columns" in found[7]
    assert world.count(LedgerEntry) == 0


@pytest.mark.parametrize(
    "amount,date,why",
    [("1,5", "2026-12-01", "Amount: Not a number"), ("12,34", "2026-12-01", "Amount: Not a number"),
     ("1e2", "2026-12-01", "Amount: Not a number"), ("1_0", "2026-12-01", "Amount: Not a number"),
     ("١٢", "2026-12-01", "Amount: Not a number"), ("12元", "2026-12-01", "Amount: Not a number"),
     ("1.234", "2026-12-01", "two decimal"), ("0", "2026-12-01", "greater than zero"),
     ("-5", "2026-12-01", "negative"), ("10", "20261201", "YYYY-MM-DD"), ("10", "2026-W49-1", "YYYY-MM-DD"),
     ("10", "2026/02/30", "valid date"), ("10", "2026/12/31", "future")],
)  # fmt: skip
def test_what_the_file_rules_refuse_is_a_line_reason(client, fin, world, amount, date, why):
    rows = [["dealer_code", "amount", "received_on", "reference"], ["SH-1", "1.00", "2026-12-01", "OK-1"],
            ["SH-1", amount, date, "BAD-1"]]  # fmt: skip
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    result = payments(client, fin, out.getvalue().encode("gb18030"))
    assert result["applied"] is False and list(reasons(result)) == [3] and why in reasons(result)[3]
    assert world.count(LedgerEntry) == 0


def test_a_reference_longer_than_its_column_is_a_line_reason_and_nothing_is_stored(client, fin, world):
    long_ref, long_code = "R" * 65, "D" * 33
    text = (
        "dealer_code,amount,received_on,reference\n"
        f"SH-1,10.00,2026-12-01,{'R' * 64}\n"
        f"SH-1,10.00,2026-12-01,{long_ref}\n"
        f"{long_code},10.00,2026-12-01,BK-3\n"
    )
    resp = upload(client, "/api/v1/payments/import", fin, text.encode(), "bank.csv")
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()
    assert job["status"] == "finished" and job["error"] is None
    found = reasons(job["result"])
    assert sorted(found) == [3, 4]
    assert "reference: at most 64 characters." in found[3]
    assert "dealer_code: at most 32 characters." in found[4]
    assert world.count(LedgerEntry) == 0
    assert "INSERT" not in str(job) and "ledger_entries" not in str(job)


def test_a_job_that_fails_unexpectedly_shows_no_sql_parameters_or_trace(client, fin, world, monkeypatch, caplog):
    from portal.credit import services

    statement = "INSERT INTO ledger_entries (dealer_id, type, number) VALUES (%(dealer_id)s, %(type)s, %(number)s)"

    def broken(*args, **kwargs):
        raise DataError(statement, {"dealer_id": 1, "type": "payment", "number": "SECRET-PARAM"},
                        Exception("value too long for type character varying(64)"))  # fmt: skip

    monkeypatch.setattr(services, "post_payment", broken)
    data = b"dealer_code,amount,received_on,reference\nSH-1,10.00,2026-12-01,BK-1\n"
    with caplog.at_level(logging.ERROR, logger="portal.jobs"):
        resp = upload(client, "/api/v1/payments/import", fin, data, "bank.csv")
        assert resp.status_code == 202
        job_id = resp.get_json()["job_id"]
        _drain(client.application)
    job = client.get(f"/api/v1/jobs/{job_id}", headers=fin).get_json()
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"] == f"An unexpected error stopped the job (reference {job_id}); nothing of it was saved."
    page = browser(client, world, "finance").get(f"/jobs/{job_id}").get_data(as_text=True)
    assert f"reference {job_id}" in page
    for leak in ("INSERT", "ledger_entries", "SECRET-PARAM", "character varying", "Traceback", "DataError"):
        assert leak not in str(job) and leak not in page and leak not in str(world.get(JobRecord, id=job_id))
    logged = [r for r in caplog.records if r.name == "portal.jobs" and r.exc_info]
    assert logged and "SECRET-PARAM" in caplog.text  # the full exception is in the log, for the operators
    assert world.count(LedgerEntry) == 0


def test_the_failure_message_speaks_the_starters_language(client, world, fin, monkeypatch):
    from portal.credit import services

    monkeypatch.setattr(services, "post_payment", lambda *a, **k: 1 / 0)
    chinese = world.auth(world.user("finance", locale="zh_CN"))
    data = b"dealer_code,amount,received_on,reference\nSH-1,10.00,2026-12-01,BK-1\n"
    job = run(client, "/api/v1/payments/import", chinese, data, "bank.csv")
    assert job["status"] == "failed" and job["error"] == f"任务因意外错误中止（参考编号 {job['id']}），未保存任何内容。"


@pytest.mark.parametrize(
    "data,name,why",
    [(b"", "bank.csv", "empty"),
     (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "bank.xls", "old Excel workbook (.xls)"),
     (b"dealer_code,amount\nSH-1,1\n", "bank.zip", "Only CSV (.csv) or Excel (.xlsx) files"),
     (b"dealer_code,amount\nSH-1,1\n", "bank.xlsx", "not one"),
     (b"<html><table><tr><td>1</td></tr></table></html>", "bank.xls", "not one"),
     ("dealer_code,amount\n".encode("utf-16"), "bank.csv", "UTF-8")],
)  # fmt: skip
def test_files_that_cannot_be_read_are_refused_at_the_upload(client, fin, world, data, name, why):
    resp = upload(client, "/api/v1/payments/import", fin, data, name)
    assert resp.status_code == 422 and why in resp.get_json()["error"]["fields"]["file"][0]
    assert world.count(JobRecord) == 0


def test_a_zip_that_is_not_a_workbook_is_refused_at_the_upload(client, fin, world, shop):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payments.csv", "dealer_code,amount\n")
    for url, headers in (("/api/v1/payments/import", fin), ("/api/v1/sell-through/import", shop)):
        resp = upload(client, url, headers, out.getvalue(), "bank.xlsx")
        assert resp.status_code == 422 and "not a readable XLSX" in resp.get_json()["error"]["fields"]["file"][0]
    assert world.count(JobRecord) == 0


@pytest.mark.parametrize(
    "header,why",
    [("dealer_code,amount,金额,received_on,reference", "The column amount (金额) appears twice."),
     ("经销商,金额,日期,流水号", "Missing columns: dealer_code (经销商代码)."),
     ("dealer code,amount,received_on,reference", "Missing columns: dealer_code (经销商代码).")],
)  # fmt: skip
def test_a_header_that_does_not_name_each_column_once_is_refused_on_line_1(client, fin, world, header, why):
    result = payments(client, fin, f"{header}\nSH-1,1.00,2026-12-01,BK-1\n".encode())
    assert result["applied"] is False and result["errors"] == [{"line": 1, "reason": why}]


# ---------------------------------------------------------------- sell-through


def test_sell_through_from_an_xlsx_with_chinese_headers(client, world, shop):
    data = xlsx([
        ["销售日期", "物料编码", "车架号", "数量", "单价", "城市", "客户类型"],
        [dt.date(2026, 5, 1), "OIL-1", None, 4, 35.5, "上海", "individual"],
        [dt.datetime(2026, 5, 2), "CAR-1", VIN, 1, 120000, "杭州", "business"],
        ["2026年5月3日", "OIL-1", None, "1,000", "¥36.00", None, None],
    ])  # fmt: skip
    result = sales(client, shop, data, "终端销售.xlsx")
    assert result["applied"] is True and result["lines"] == 3 and result["quantity"] == 1005, result
    assert result["amount"] == "156142.00"
    assert world.count(SellThroughLine, source="import") == 3
    assert world.get(SellThroughLine, serial=VIN)["sold_on"] == dt.date(2026, 5, 2)


def test_sell_through_from_a_gb18030_csv_as_excel_writes_it(client, world, shop):
    text = '销售日期,物料编码,车架号,数量,单价,城市,客户类型\r\n2026/5/1,OIL-1,,４,"¥1,035.00",北京,\r\n'
    result = sales(client, shop, text.encode("gb18030"))
    assert result["applied"] is True and result["amount"] == "4140.00", result
    assert world.get(SellThroughLine, sku="OIL-1")["city"] == "北京"


def test_sell_through_column_limits_and_number_rules_are_line_reasons(client, world, shop):
    rows = [
        ["sold_on", "sku", "serial", "quantity", "unit_price", "city", "customer_type"],
        ["2026-05-01", "OIL-1", "", "1", "35.00", "上海", ""],  # 2: good
        ["2026-05-01", "X" * 41, "", "1", "35.00", "", ""],  # 3
        ["2026-05-01", "CAR-1", "V" * 18, "1", "35.00", "", ""],  # 4
        ["2026-05-01", "OIL-1", "", "1", "35.00", "城" * 61, ""],  # 5
        ["2026-05-01", "OIL-1", "", "1", "35.00", "", "c" * 17],  # 6
        ["2026-05-01", "OIL-1", "", "1_0", "35.00", "", ""],  # 7
        ["2026-05-01", "OIL-1", "", "1", "1e2", "", ""],  # 8
        ["20260501", "OIL-1", "", "1", "35.00", "", ""],  # 9
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    before = world.count(SellThroughLine)
    result = sales(client, shop, out.getvalue().encode("utf-8"))
    found = reasons(result)
    assert result["applied"] is False and sorted(found) == [3, 4, 5, 6, 7, 8, 9], found
    assert "sku: at most 40 characters." in found[3] and "serial: at most 17 characters." in found[4]
    assert "city: at most 60 characters." in found[5] and "customer_type: at most 16 characters." in found[6]
    assert "quantity: A whole number" in found[7] and "unit_price: Not a number." in found[8]
    assert "sold_on: Date must be YYYY-MM-DD" in found[9]
    assert world.count(SellThroughLine) == before == 0


def test_a_value_under_no_header_is_refused_but_empty_trailing_cells_are_not(client, world, shop):
    text = (
        "sold_on,sku,serial,quantity,unit_price,city,customer_type,,\n"
        "2026-05-01,OIL-1,,1,35.00,,,,\n"
        "2026-05-01,OIL-1,,1,35.00,,,x,\n"
    )
    result = sales(client, shop, text.encode())
    assert result["applied"] is False and reasons(result) == {3: "More values than columns."}


def test_a_sell_through_workbook_that_is_not_one_is_refused(client, world, shop):
    resp = upload(client, "/api/v1/sell-through/import", shop, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "s.xls")
    assert resp.status_code == 422 and "old Excel workbook" in resp.get_json()["error"]["fields"]["file"][0]


# ---------------------------------------------------------------- the pages and the templates


def browser(client, world, role: str, **user):
    """A new browser, logged in as a new user of `role` (a dealer user of SH-1)."""
    other = client.application.test_client()
    login(other, world.user(role, dealer="SH-1" if role.startswith("dealer") else None, **user))
    return other


@pytest.mark.parametrize(
    "role,page,template,first_header,first_chinese",
    [("finance", "/payments/import", "/payments/import/template.csv", "dealer_code", "经销商代码"),
     ("dealer_staff", "/sell-through/import", "/sell-through/import/template.csv", "sold_on", "销售日期")],
)  # fmt: skip
def test_the_upload_pages_say_what_they_accept_in_both_languages(client, world, channel, role, page, template,
                                                                   first_header, first_chinese):  # fmt: skip
    html = browser(client, world, role).get(page).get_data(as_text=True)
    for said in ("GB18030", "XLSX", "1,234.50", "2026年12月1日", first_chinese, "Template with Chinese headers"):
        assert said in html, said
    assert f'href="{template}"' in html and f'href="{template}?headers=zh"' in html
    zh = browser(client, world, role, locale="zh_CN")
    html = zh.get(page).get_data(as_text=True)
    for said in ("文件格式说明", "中文列名模板（CSV）", "英文列名模板（CSV）", "GB18030"):
        assert said in html, said
    english = zh.get(template).get_data(as_text=True)
    chinese = zh.get(f"{template}?headers=zh").get_data(as_text=True)
    assert english.startswith("\ufeff" + first_header + ",") and chinese.startswith("\ufeff" + first_chinese + ",")


def test_the_templates_import_as_they_are(client, world, fin, shop):
    world.dealer("SH-001", "EAST")
    world.product("P-OIL-5W30", list_price="200.00")
    world.dealer_receipt("SH-1", "P-OIL-5W30", 100, on=dt.date(2026, 1, 1))
    finance, staff = browser(client, world, "finance"), browser(client, world, "dealer_staff")
    for headers in ("en", "zh"):
        bank = finance.get(f"/payments/import/template.csv?headers={headers}").data
        sold = staff.get(f"/sell-through/import/template.csv?headers={headers}").data
        assert sales(client, shop, sold)["applied"] is True
        if headers == "en":
            assert payments(client, fin, bank)["applied"] is True
        else:  # the same reference again: refused as already recorded, which shows the Chinese file was read
            assert "already recorded" in payments(client, fin, bank)["errors"][0]["reason"]
    assert world.count(LedgerEntry, number="BK20260301001") == 1 and world.count(SellThroughLine) == 2


def test_workbooks_are_parsed_with_defusedxml():
    """Uploaded XLSX are untrusted XML: openpyxl reads them through defusedxml when it is installed (a declared
    dependency), so entity expansion ("billion laughs") is refused rather than eating the worker's memory."""
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True
