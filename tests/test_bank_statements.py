"""Bank statements as banks send them (PRODUCT.md §14): each shipped layout and encoding, title lines above the
header, the layout detected; matched by payer account then name; a statement imported twice posts nothing twice;
unmatched receipts kept once; debit, interest and zero lines skipped and listed; a broken line posts nothing."""

from __future__ import annotations

import csv
import io
import json

import pytest

from portal.banking.models import UnmatchedReceipt
from portal.credit.models import Application, LedgerEntry
from tests.test_overdue_scan import _drain

ACME = "6222 0210 0100 1234"  # registered for SH-1 (grouped as banks print it)
ACME_DIGITS = "6222021001001234"


@pytest.fixture
def fin(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST", name="上海甲汽车销售有限公司")
    world.dealer("SH-2", "EAST", name="上海乙汽车销售有限公司")
    world.user("finance", username="fin")
    headers = world.auth("fin")
    return headers


def register(client, fin, dealer, number, name, status=201):
    resp = client.post(
        f"/api/v1/dealers/{dealer}/payer-accounts", json={"account_number": number, "account_name": name}, headers=fin
    )
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


# The lines every layout's file carries: (date, credit, debit, payer account, payer name, memo, serial)
LINES = [
    ("2026-03-02", "12,800.00", "", "6222-0210-0100-1234", "上海甲汽车销售有限公司", "货款", "S0001"),  # by account
    ("2026-03-03", "5000.00", "", "", "上海乙汽车销售有限公司", "三月货款", "S0002"),  # by the dealer's name
    ("2026-03-04", "777.77", "", "9999888877776666", "不认识的公司", "货款", "S0003"),  # unknown payer
    ("2026-03-05", "", "300.00", "1111222233334444", "某物流公司", "运费", "S0004"),  # debit
    ("2026-03-06", "12.34", "", "", "", "结息", "S0005"),  # interest
    ("2026-03-07", "0.00", "", "6222021001001234", "上海甲汽车销售有限公司", "冲账", "S0006"),  # zero
]


def icbc_gb18030(lines=LINES) -> tuple[bytes, str]:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["中国工商银行 账户明细查询"])
    w.writerow(["账号：1001 2345 6789", "", "户名：某某汽车集团"])
    w.writerow(["起止日期：2026-03-01 至 2026-03-31"])
    w.writerow([])
    w.writerow(["凭证号", "本方账号", "对方账号", "交易时间", "借/贷", "借方发生额", "贷方发生额", "对方单位名称",
                "摘要", "余额"])  # fmt: skip
    for date, cr, dr, acct, name, memo, serial in lines:
        w.writerow([serial, "100123456789", acct, f"{date} 10:15:00", "贷" if cr else "借", dr, cr, name, memo, ""])
    w.writerow(["合计", "", "", "", "", "300.00", "18590.11", "", "", ""])
    return out.getvalue().encode("gb18030"), "icbc.csv"


def ccb_utf8_bom(lines=LINES) -> tuple[bytes, str]:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["中国建设银行单位账户交易明细"])
    w.writerow(["账号", "账户名称", "交易时间", "借方发生额（支取）", "贷方发生额（收入）", "余额", "币种", "对方户名",
                "对方账号", "记账日期", "摘要", "备注", "账户明细编号-交易流水号"])  # fmt: skip
    for date, cr, dr, acct, name, memo, serial in lines:
        compact = date.replace("-", "")
        w.writerow(["3100155", "某某汽车集团", f"{compact} 093000", dr, cr, "", "人民币", name, acct, compact, memo,
                    "", serial])  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8"), "ccb.csv"


def generic_xlsx(lines=LINES) -> tuple[bytes, str]:
    import datetime as dt
    from decimal import Decimal

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["交易明细"])
    ws.append([])
    ws.append(["交易日期", "流水号", "借方发生额", "贷方发生额", "对方账号", "对方户名", "附言"])
    for date, cr, dr, acct, name, memo, serial in lines:
        money = [float(Decimal(x.replace(",", ""))) if x else None for x in (dr, cr)]
        ws.append([dt.date.fromisoformat(date), serial, *money, acct or None, name or None, memo])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "statement.xlsx"


FORMATS = {"icbc": icbc_gb18030, "ccb": ccb_utf8_bom, "generic": generic_xlsx}


def upload(client, fin, data: bytes, name: str, bank: str | None = None):
    form = {"file": (io.BytesIO(data), name)}
    if bank:
        form["bank"] = bank
    return client.post("/api/v1/bank-statements/import", data=form, headers=fin, content_type="multipart/form-data")


def run_import(client, fin, data: bytes, name: str, bank: str | None = None) -> dict:
    resp = upload(client, fin, data, name, bank)
    assert resp.status_code == 202, resp.get_json()
    _drain(client.application)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=fin).get_json()
    assert job["status"] == "finished" and job["kind"] == "bank_statement_import", job
    return job


def by_serial(items) -> dict:
    return {x["serial"]: x for x in items}


@pytest.mark.parametrize("layout", sorted(FORMATS))
def test_each_layout_and_encoding_imported_twice_posts_nothing_twice(client, fin, world, layout):
    register(client, fin, "SH-1", ACME, "上海甲汽车销售有限公司")
    data, name = FORMATS[layout]()
    job = run_import(client, fin, data, name)
    r = job["result"]
    assert r["applied"] is True and r["bank"] == layout and r["broken"] == []
    matched = by_serial(r["matched"])
    assert sorted(matched) == ["S0001", "S0002"]
    assert matched["S0001"]["dealer_code"] == "SH-1" and matched["S0001"]["reason"] == "account"
    assert matched["S0001"]["amount"] == "12800.00" and matched["S0001"]["received_on"] == "2026-03-02"
    assert matched["S0002"]["dealer_code"] == "SH-2" and matched["S0002"]["reason"] == "name"
    assert [x["serial"] for x in r["unmatched"]] == ["S0003"] and r["unmatched"][0]["reason"] == "unknown_payer"
    skipped = by_serial(r["skipped"])
    assert skipped["S0004"]["reason"] == "debit" and skipped["S0004"]["amount"] == "300.00"
    assert skipped["S0005"]["reason"] == "not_customer" and skipped["S0006"]["reason"] == "zero_amount"
    assert r["total_matched"] == "17800.00" and r["total_unmatched"] == "777.77"
    assert job["progress"] == {"done": 2, "total": 2}  # the payments posted
    payment = world.get(LedgerEntry, number="S0001")
    assert payment["type"] == "payment" and str(payment["amount"]) == "12800.00" and payment["source"] == "import"
    receipt = world.get(UnmatchedReceipt, serial="S0003")
    assert receipt["status"] == "open" and receipt["payer_account"] == "9999888877776666"
    assert receipt["bank"] == layout and receipt["job_id"] == job["id"]

    again = run_import(client, fin, *FORMATS[layout]())["result"]
    assert again["applied"] is True and again["matched"] == [] and again["unmatched"] == []
    skipped = by_serial(again["skipped"])
    assert skipped["S0001"]["reason"] == "already_posted" and skipped["S0001"]["dealer_code"] == "SH-1"
    assert skipped["S0002"]["reason"] == "already_posted" and skipped["S0003"]["reason"] == "already_unmatched"
    assert world.count(LedgerEntry, type="payment") == 2 and world.count(UnmatchedReceipt) == 1


def test_the_layout_can_be_named_and_an_unknown_one_is_refused(client, fin, world):
    data, name = ccb_utf8_bom()
    assert run_import(client, fin, data, name, bank="ccb")["result"]["bank"] == "ccb"
    resp = upload(client, fin, data, name, bank="nope")
    assert resp.status_code == 422 and "Unknown bank layout" in str(resp.get_json()["error"]["fields"]["bank"])
    refused = run_import(client, fin, data, name, bank="icbc")["result"]  # a CCB file read as ICBC: no header
    assert refused["applied"] is False and "No header row of the icbc layout" in refused["broken"][0]["message"]


def test_a_broken_line_posts_nothing_and_every_broken_line_has_its_reason(client, fin, world):
    register(client, fin, "SH-1", ACME, "上海甲汽车销售有限公司")
    lines = [
        LINES[0],
        ("2026-13-45", "100.00", "", ACME_DIGITS, "x", "货款", "B0002"),  # no such date
        ("2026-03-03", "12.345", "", ACME_DIGITS, "x", "货款", "B0003"),  # three decimals
        ("2026-03-04", "100.00", "", ACME_DIGITS, "x", "货款", ""),  # no serial
        ("2026-03-05", "100.00", "", ACME_DIGITS, "x", "货款", "S0001"),  # the serial of line 1 again
        LINES[2],
    ]
    job = run_import(client, fin, *icbc_gb18030(lines))
    r = job["result"]
    assert r["applied"] is False and r["matched"] == [] and r["unmatched"] == []
    broken = {x["line"]: x["message"] for x in r["broken"]}
    assert sorted(broken) == [7, 8, 9, 10]  # four title lines and an empty one, the header on line 5
    assert "Not a valid date" in broken[7] and "two decimal" in broken[8]
    assert "serial number" in broken[9] and "twice" in broken[10]
    assert world.count(LedgerEntry, type="payment") == 0 and world.count(UnmatchedReceipt) == 0


def test_an_unreadable_file_is_refused_clearly(client, fin, world):
    resp = upload(client, fin, b"", "x.csv")
    assert resp.status_code == 422 and "empty" in str(resp.get_json()["error"]["fields"])
    r = run_import(client, fin, "名称,金额\n甲,1\n".encode(), "x.csv")["result"]
    assert r["applied"] is False and "No bank statement header" in r["broken"][0]["message"]
    assert world.count(LedgerEntry) == 0


def test_an_account_registered_later_or_inactive_decides_the_next_statement(client, fin, world):
    register(client, fin, "SH-1", ACME, "甲公司")
    resp = client.post("/api/v1/dealers/SH-1/payer-accounts/deactivate", json={"account_number": ACME}, headers=fin)
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    line = ("2026-03-02", "100.00", "", ACME_DIGITS, "甲公司", "货款", "L0001")
    r = run_import(client, fin, *icbc_gb18030([line]))["result"]
    assert [x["serial"] for x in r["unmatched"]] == ["L0001"]  # inactive: the account's name no longer counts either
    register(client, fin, "SH-1", ACME, "甲公司")  # active again
    line2 = ("2026-03-03", "100.00", "", ACME_DIGITS, "甲公司", "货款", "L0002")
    r = run_import(client, fin, *icbc_gb18030([line2]))["result"]
    assert r["matched"][0]["dealer_code"] == "SH-1"


def test_a_name_two_dealers_share_is_not_a_match(client, fin, world):
    register(client, fin, "SH-1", "6222000011112222", "共同名称公司")
    register(client, fin, "SH-2", "6222000011113333", "共同名称公司")
    line = ("2026-03-02", "100.00", "", "", "共同名称公司", "货款", "N0001")
    r = run_import(client, fin, *icbc_gb18030([line]))["result"]
    assert r["unmatched"][0]["reason"] == "ambiguous_name" and world.count(LedgerEntry, type="payment") == 0


def test_a_configured_layout_with_one_signed_amount(client, fin, world, app, tmp_path):
    config = tmp_path / "layouts.json"
    config.write_text(json.dumps([{"code": "abc", "name": "ABC", "date": ["记账日"], "amount": ["交易金额"],
                                   "serial": ["交易序号"], "payer_account": "对手账号", "payer_name": ["对手名称"],
                                   "memo": ["用途"]}]), encoding="utf-8")  # fmt: skip
    register(client, fin, "SH-1", ACME, "甲公司")
    text = "记账日,交易金额,对手账号,对手名称,用途,交易序号\n2026/3/2,500.00,6222021001001234,甲公司,货款,A1\n"
    text += "2026/3/3,-80.00,1,物流,运费,A2\n"
    app.config["PORTAL_BANK_LAYOUTS"] = str(config)
    try:
        r = run_import(client, fin, text.encode("gbk"), "abc.csv")["result"]
        assert r["bank"] == "abc" and [x["serial"] for x in r["matched"]] == ["A1"]
        assert r["skipped"][0]["reason"] == "debit" and r["skipped"][0]["amount"] == "80.00"
        config.write_text("[{not json", encoding="utf-8")
        resp = client.get("/bank-statements/import", headers=fin)
        assert resp.status_code == 500
    finally:
        app.config["PORTAL_BANK_LAYOUTS"] = ""


@pytest.mark.parametrize(
    "content,why",
    [
        ("{", "not valid JSON"),
        ('{"code": "x"}', "must be a JSON list"),
        ('[{"code": "x", "date": ["d"], "serial": ["s"]}]', "either credit"),
        ('[{"code": "x", "date": ["d"], "serial": ["s"], "amount": ["a"], "colour": "red"}]', "unknown keys"),
        ('[{"code": "X Y", "date": ["d"], "serial": ["s"], "amount": ["a"]}]', "needs a code"),
    ],
)
def test_a_malformed_layouts_file_says_what_is_wrong(app, tmp_path, content, why):
    from portal.banking import layouts

    config = tmp_path / "layouts.json"
    config.write_text(content, encoding="utf-8")
    with app.app_context():
        app.config["PORTAL_BANK_LAYOUTS"] = str(config)
        try:
            with pytest.raises(layouts.LayoutError, match=why):
                layouts.available()
        finally:
            app.config["PORTAL_BANK_LAYOUTS"] = ""


def test_the_page_imports_and_shows_every_line(client, world, fin):
    from tests.conftest import login, page_csrf

    register(client, fin, "SH-1", ACME, "上海甲汽车销售有限公司")
    login(client, "fin")
    csrf = page_csrf(client, "/bank-statements/import")
    data, name = icbc_gb18030()
    resp = client.post(
        "/bank-statements/import",
        data={"file": (io.BytesIO(data), name), "bank": "", "csrf_token": csrf},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    _drain(client.application)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Bank statement import" in page and "data-statement-applied" in page
    for serial in ("S0001", "S0002", "S0003", "S0004", "S0005", "S0006"):
        assert serial in page
    assert "A debit (money paid out)." in page and "No dealer has this payer." in page


def test_a_dealers_lines_are_applied_fifo_audited_and_lift_an_automatic_hold(client, fin, world):
    import datetime as dt

    from portal.audit.models import AuditEntry
    from portal.credit import services
    from portal.credit.models import DealerCredit
    from portal.dealers.models import Dealer
    from portal.extensions import db

    register(client, fin, "SH-1", ACME, "上海甲汽车销售有限公司")
    newer = world.invoice("SH-1", "INV-2", "1000.00", issued_on=dt.date(2026, 2, 1))
    older = world.invoice("SH-1", "INV-1", "1000.00", issued_on=dt.date(2025, 6, 1))  # long overdue

    def hold():
        dealer = db.session.query(Dealer).filter_by(code="SH-1").one()
        services.set_hold(None, dealer, "Invoices more than 90 days past due.", source="overdue")

    world._in_request(hold)
    lines = [  # the later-dated line first in the file: applied in date order
        ("2026-03-05", "800.00", "", ACME_DIGITS, "上海甲汽车销售有限公司", "货款", "F0002"),
        ("2026-03-02", "1200.00", "", ACME_DIGITS, "上海甲汽车销售有限公司", "货款", "F0001"),
    ]
    r = run_import(client, fin, *icbc_gb18030(lines))["result"]
    assert [x["serial"] for x in r["matched"]] == ["F0002", "F0001"]  # reported in file order

    def applications():
        rows = db.session.query(Application, LedgerEntry.number).join(
            LedgerEntry, LedgerEntry.id == Application.credit_id
        )
        return sorted((number, a.invoice_id, str(a.amount)) for a, number in rows)

    assert world.run(applications) == [("F0001", newer, "200.00"), ("F0001", older, "1000.00"),
                                       ("F0002", newer, "800.00")]  # fmt: skip
    assert world.count(AuditEntry, action="payment.post") == 2
    assert world.get(DealerCredit, dealer_id=world.get(Dealer, code="SH-1")["id"])["on_hold"] is False  # all paid


def test_payment_notices_are_matched_by_the_statements_payments(client, fin, world):
    """The dealer's notices (reference = the bank's serial) are matched when the statement posts those payments, each
    notice by its own payment; a notice whose amount differs stays waiting, as does one of another dealer."""
    from portal.credit.models import PaymentNotice
    from portal.platform.timeutil import today

    register(client, fin, "SH-1", ACME, "上海甲汽车销售有限公司")
    world.user("dealer_staff", dealer="SH-1", username="sh.staff")
    world.user("dealer_staff", dealer="SH-2", username="sh2.staff")

    def notify(who, reference, amount):
        data = {"amount": amount, "paid_on": today().isoformat(), "reference": reference}
        resp = client.post("/api/v1/payment-notices", data=data, headers=world.auth(who),
                           content_type="multipart/form-data")  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["id"]

    first, second = notify("sh.staff", "N0001", "800.00"), notify("sh.staff", "N0002", "500.00")
    wrong_amount, other_dealer = notify("sh.staff", "N0003", "1.00"), notify("sh2.staff", "N0001", "800.00")
    lines = [
        ("2026-03-02", "800.00", "", ACME_DIGITS, "上海甲汽车销售有限公司", "货款", "N0001"),
        ("2026-03-02", "500.00", "", ACME_DIGITS, "上海甲汽车销售有限公司", "货款", "N0002"),
        ("2026-03-03", "300.00", "", ACME_DIGITS, "上海甲汽车销售有限公司", "货款", "N0003"),
    ]
    run_import(client, fin, *icbc_gb18030(lines))
    payments = {n: world.get(LedgerEntry, type="payment", number=n)["id"] for n in ("N0001", "N0002")}
    got = {n: world.get(PaymentNotice, id=n) for n in (first, second, wrong_amount, other_dealer)}
    assert (got[first]["status"], got[first]["payment_id"]) == ("matched", payments["N0001"])
    assert (got[second]["status"], got[second]["payment_id"]) == ("matched", payments["N0002"])
    assert got[wrong_amount]["status"] == got[other_dealer]["status"] == "notified"
