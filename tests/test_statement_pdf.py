"""The statement PDF (portal/statements/pdf.py) and the shared PDF helpers (portal/platform/pdf.py).

Rendered from plain data, read back with pdfminer.six: totals, the dealer's name taken literally, "x / y" on the
pages, and an embedded TrueType font (not ReportLab's unembedded STSong-Light, which shows boxes in most viewers).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from io import BytesIO

import pytest
from flask import Flask
from pdfminer.high_level import extract_text
from pdfminer.layout import LAParams

from portal.platform import pdf as platform_pdf
from portal.platform.pdf import cjk_font, money_text, text
from portal.statements.pdf import render_statement

LONG_NAME = ("上海浦东新区汽车销售服务有限公司 A & B <华东> 合伙企业" * 8)[:200]
KINDS = ("invoice", "invoice", "payment", "credit_note")
PREFIXES = {"invoice": "SI", "payment": "PM", "credit_note": "CN"}
REFERENCES = (None, "SO-202610-000045", "工行转账 尾号 8812 & 回单 <A>", "很长的参考 long reference " * 6)


def _doc(lines: int, dealer_name: str = "上海一号汽车 SH-1") -> dict:
    opening = balance = Decimal("125000.00")
    debits = credits = Decimal("0.00")
    rows = []
    for i in range(lines):
        kind = KINDS[i % 4]
        amount = Decimal(1000 + (i * 7919) % 900_000) + Decimal("0.35")
        debit, credit = (amount, None) if kind == "invoice" else (None, amount)
        balance += (debit or 0) - (credit or 0)
        debits += debit or 0
        credits += credit or 0
        rows.append(
            {
                "date": dt.date(2026, 10, 1 + i * 30 // max(lines, 1)),
                "type": kind,
                "number": f"{PREFIXES[kind]}-202610-{i:06d}",
                "reference": REFERENCES[i % 4],
                "debit": debit,
                "credit": credit,
                "balance": balance,
            }
        )
    return {
        "number": "ST-202610-SH001",
        "version": 2,
        "period": "2026-10",
        "period_start": dt.date(2026, 10, 1),
        "period_end": dt.date(2026, 10, 31),
        "issued_on": dt.date(2026, 11, 1),
        "company": {"name": "DRP Motors Co., Ltd. 德锐普汽车有限公司", "address": None, "phone": "+86 21 5555 0000"},
        "dealer": {"code": "SH001", "name": dealer_name, "region": "华东 East", "address": None, "contact": None,
                   "payment_terms_days": 30},
        "opening": opening, "debits": debits, "credits": credits, "closing": balance,
        "lines": rows,
        "ageing": {"not_due": Decimal("80000.00"), "1_30": Decimal("20000.00"), "31_60": Decimal("5000.00"),
                   "61_90": Decimal("0.00"), "over_90": Decimal("1200.50"), "unapplied": Decimal("-3000.00"),
                   "total": Decimal("103200.50")},
    }  # fmt: skip


def _text(pdf: bytes, pages: list[int] | None = None) -> str:
    # boxes_flow=None: no grouping of text boxes, which is most of pdfminer's time and not needed here
    return extract_text(BytesIO(pdf), page_numbers=pages, laparams=LAParams(boxes_flow=None))


def _squash(value: str) -> str:
    return re.sub(r"\s+", "", value)


def _squash_spaces(value: str) -> str:
    return re.sub(r"\s+", " ", value)


def _check(doc: dict, pdf: bytes, pages: int, read: list[int] | None = None) -> str:
    assert pdf.startswith(b"%PDF") and int(re.search(rb"/Count (\d+)", pdf).group(1)) == pages
    assert b"/FontFile2" in pdf  # the TrueType font is embedded (as a subset)
    assert b"STSong" not in pdf
    content = _text(pdf, read)
    for key in ("opening", "debits", "credits", "closing"):
        assert money_text(doc[key]) in content, key
    assert _squash(doc["dealer"]["name"]) in _squash(content)  # literally: neither dropped nor shown as &amp;
    assert "&amp;" not in content and "&lt;" not in content
    assert "对账单 Statement of account" in content and "对账确认回执 Balance confirmation" in content
    markers = re.findall(r"(\d+) / (\d+)", content)
    assert {int(total) for _, total in markers} == {pages}
    expected = {n + 1 for n in read} if read is not None else set(range(1, pages + 1))
    assert {int(n) for n, _ in markers} == expected
    return content


def test_an_empty_month_is_one_page_with_the_opening_balance_and_the_slip():
    doc = _doc(0)
    pdf, pages = render_statement(doc)
    content = _check(doc, pdf, pages)
    assert pages == 1
    assert "期初余额 Opening balance" in content and "本期合计 Totals" in content
    assert "第 2 版 / version 2" in content
    assert "We confirm the closing balance of ¥125,000.00 as of 2026-10-31 is correct" in _squash_spaces(content)


def test_a_forty_line_statement_shows_each_entry_the_ageing_and_the_slip():
    doc = _doc(40, "A & B <Motors> 汽车")
    pdf, pages = render_statement(doc)
    content = _check(doc, pdf, pages)
    assert 1 <= pages <= 3
    for line in doc["lines"]:
        assert line["number"] in content and money_text(line["balance"]) in content
    assert "工行转账 尾号 8812" in content and "& 回单 <A>" in content  # a reference on two lines, literally
    assert "贷项通知单 Credit note" in content and "收款 Payment" in content and "发票 Invoice" in content
    assert "-3,000.00" in content and "103,200.50" in content  # unapplied cash and the ageing total
    assert "签字" in content and "盖章" in content and "DRP Portal" in content


def test_six_hundred_lines_run_over_pages_with_the_header_on_each():
    doc = _doc(600, LONG_NAME)
    assert len(LONG_NAME) == 200 and "&" in LONG_NAME and "<" in LONG_NAME
    pdf, pages = render_statement(doc)
    assert pages >= 10
    # pdfminer reads about 0.1 s a page: the first two and the last two are enough to check
    content = _check(doc, pdf, pages, read=[0, 1, pages - 2, pages - 1])
    assert "本期合计 Totals" in content
    second = _text(pdf, [1])
    assert "单据号" in second and "Reference" in second  # the header row again at the top of the next page
    assert "期初余额 Opening balance" not in second and "对账确认回执" not in second


def test_the_helpers():
    assert money_text(Decimal("1234.5")) == "1,234.50" and money_text(Decimal("-0.5")) == "-0.50"
    assert money_text("12.30") == "12.30" and money_text(None) == ""
    assert text("A & B <x>") == "A &amp; B &lt;x&gt;" and text(None) == text("") == "—"


def test_the_font_comes_from_the_config_the_environment_or_a_known_path(monkeypatch):
    name = cjk_font()
    path, index = platform_pdf._font_file()
    assert cjk_font() == name  # registered once, then cached
    monkeypatch.setenv("PORTAL_PDF_FONT", "/nowhere/font.ttf")
    with pytest.raises(RuntimeError, match="PORTAL_PDF_FONT"):
        cjk_font()
    app = Flask(__name__)
    app.config["PORTAL_PDF_FONT"] = f"{path}#{index}"
    with app.app_context():  # the app's config before the environment
        assert cjk_font() == name
    monkeypatch.delenv("PORTAL_PDF_FONT")
    monkeypatch.setattr(platform_pdf, "FONT_PATHS", (("/nowhere/wqy-microhei.ttc", 0),))
    with pytest.raises(RuntimeError, match="make fonts"):
        cjk_font()
