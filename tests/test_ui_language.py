"""The same figure everywhere (issue 17): what the portal writes is said in the reader's language with money as on
every page — job runs by what they are (not their id), ledger memos and order notes rendered at display time (older
rows as stored), notification amounts 1,234.50, the audit page as a readable list of changes, dates as ISO
YYYY-MM-DD in both languages, and the stock form's own "received on"."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from portal.credit.models import LedgerEntry
from portal.dealers.models import Dealer, User
from portal.extensions import db
from portal.notify.models import Notification, OutboxEmail
from portal.orders.models import Order, OrderEvent
from portal.platform.timeutil import freeze
from tests.conftest import login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SLASH_DATE = re.compile(r"\b\d{4}/\d{1,2}/\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\d{4}年\d{1,2}月\d{1,2}日")
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")


def html(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def visible(page: str) -> str:
    """The page's text without tags, attributes, scripts and URLs (what a reader sees)."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def as_user(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


def drain(app) -> None:
    """With Redis a job waits in the queue: run it as a worker would (in-process it ran already)."""
    if app.config["REDIS_URL"]:
        from rq import SimpleWorker

        from portal import jobs

        with app.app_context():
            queue = jobs.get_queue(app)
            SimpleWorker([queue], connection=queue.connection).work(burst=True)


@pytest.fixture
def shop(world):
    """Dealer SH-1 (limit 1,000,000), a part in stock, finance and a channel manager in each language, the dealer's
    admin in Chinese (with an e-mail address) and its staff in English."""
    world.region("EAST")
    world.dealer("SH-1", "EAST", tier="B")
    world.credit_limit("SH-1", "1000000")
    world.product("OIL-1", list_price="1000.00", category="oil")
    world.stock("OIL-1", 50)
    for role, name, locale in (("finance", "fin.zh", "zh_CN"), ("finance", "fin.en", "en"),
                               ("channel_manager", "cm.zh", "zh_CN"), ("channel_manager", "cm.en", "en"),
                               ("hq_admin", "admin.zh", "zh_CN"), ("hq_admin", "admin.en", "en")):  # fmt: skip
        world.user(role, username=name, locale=locale)
    world.user("dealer_admin", dealer="SH-1", username="sh1.admin", locale="zh_CN")
    world.user("dealer_staff", dealer="SH-1", username="sh1.staff", locale="en")
    world.run(lambda: db.session.query(User).filter_by(username="sh1.admin").update({"email": "li@example.com"}))
    return world


# ---------------------------------------------------------------- 2. job runs by what they are


def test_a_statement_run_is_named_by_kind_start_and_starter_not_by_its_id(app, client, shop):
    shop.invoice("SH-1", "INV-1", "1000.00", issued_on=dt.date(2026, 3, 5))
    resp = client.post("/api/v1/statements/runs", json={"period": "2026-03"}, headers=shop.auth("fin.en"))
    assert resp.status_code == 202, resp.get_json()
    job_id = resp.get_json()["job_id"]
    drain(app)
    for user, label in (("fin.en", r"Monthly statement run, started \d{4}-\d{2}-\d{2} \d{2}:\d{2} by fin\.en"),
                        ("fin.zh", r"月度对账单批量任务，fin\.en 于 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 启动")):  # fmt: skip
        reader = as_user(app, user)
        for url in (f"/jobs/{job_id}", f"/statements/runs/{job_id}"):
            page = html(reader, url)
            assert re.search(label, visible(page)), (user, url)
            # the id is one small detail of its own (and in URLs), never the name of the run
            assert visible(page).count(job_id) == 1 and "data-job-id" in page, (user, url)
    statement_id = shop.run(lambda: db.session.execute(db.text("SELECT id FROM statements")).scalar_one())
    page = visible(html(as_user(app, "fin.en"), f"/statements/{statement_id}"))
    assert f"run {job_id[:8]}" not in page  # was: "Issued on 2026-12-01 · run 1a2b3c4d"
    assert re.search(r"Monthly statement run, started \d{4}-\d{2}-\d{2} \d{2}:\d{2} by fin\.en", page)
    page = visible(html(as_user(app, "sh1.admin"), f"/statements/{statement_id}"))
    assert f"run {job_id[:8]}" not in page and "月度对账单批量任务" in page  # the conversation's author too


# ---------------------------------------------------------------- 3. ledger memos and order notes


def _approved_rebate(shop) -> None:
    from portal.rebates import services
    from portal.rebates.models import RebateProgramme, RebateSettlement

    shop.sold("SH-1", "OIL-1", dt.date(2026, 2, 1), 60, "1000.00")  # 60,000.00 → 2 % = 1,200.00
    shop.rebate_programme("RB-Q1", name="一季度销售返利", name_en="Q1 sell-through")

    def approve():
        programme = db.session.query(RebateProgramme).filter_by(code="RB-Q1").one()
        services.compute_settlement(None, programme)
        settlement = db.session.query(RebateSettlement).filter_by(programme_id=programme.id).one()
        services.approve(None, settlement)

    with freeze(dt.datetime(2026, 4, 10, 2, 0, tzinfo=dt.UTC)):
        shop._in_request(approve)


def test_a_rebate_credit_note_reads_in_the_readers_language_and_old_memos_as_stored(app, shop):
    _approved_rebate(shop)
    note_id, reason = shop.run(lambda: [(e.id, e.reason) for e in db.session.query(LedgerEntry).filter_by(
        type="credit_note")][0])  # fmt: skip
    assert "Rebate" not in reason and "返利 Rebate" not in reason  # no two languages in one string
    # an entry posted before memos were data: shown as it was stored
    shop.run(lambda: db.session.add(LedgerEntry(
        dealer_id=db.session.query(Dealer).filter_by(code="SH-1").one().id, type="credit_note", number="CN-OLD",
        entry_date=dt.date(2026, 4, 1), amount=Decimal("5.00"), reason="返利 Rebate RB-OLD 旧方案", source="rebate",
        created_by="system")))  # fmt: skip
    url = "/dealers/SH-1/ledger?from=2026-01-01&to=2026-04-30"
    zh = visible(html(as_user(app, "fin.zh"), url))
    en = visible(html(as_user(app, "fin.en"), url))
    assert "返利 RB-Q1 一季度销售返利" in zh and "Rebate RB-Q1" not in zh
    assert "Rebate RB-Q1 Q1 sell-through" in en and "返利 RB-Q1" not in en
    assert zh.count("返利 Rebate RB-OLD 旧方案") == 1 and en.count("返利 Rebate RB-OLD 旧方案") == 1
    entry = visible(html(as_user(app, "fin.en"), f"/entries/{note_id}"))
    assert "Rebate RB-Q1 Q1 sell-through" in entry


def test_a_rebate_approval_notifies_with_grouped_money(app, shop):
    _approved_rebate(shop)
    title = shop.run(lambda: db.session.query(Notification).filter_by(kind="rebate.approved").one().title)
    assert title == "返利 RB-Q1 已审核：1,200.00 元"


def test_a_credit_review_note_is_said_in_the_readers_language_with_grouped_money(app, shop):
    shop.credit_limit("SH-1", "1000")
    shop.product("CAR-1", list_price="100000.00", category="sedan", build_to_order=True)
    number = shop.order("SH-1", [("CAR-1", 1)], username="sh1.admin")  # placed by a Chinese reader
    comment, data = shop.run(lambda: [(e.comment, e.data) for e in db.session.query(OrderEvent).filter_by(
        to_status="credit_review")][0])  # fmt: skip
    assert comment is None and data["note"] == "over_available"  # data, not a sentence
    en = visible(html(as_user(app, "fin.en"), f"/orders/{number}"))
    zh = visible(html(as_user(app, "fin.zh"), f"/orders/{number}"))
    history_en, history_zh = en.split("History", 1)[1], zh.split("历史", 1)[-1]
    assert "Exceeds available credit by 112,000.00 CNY." in history_en and "超出可用额度" not in en
    assert "超出可用额度 112,000.00元。" in history_zh and "Exceeds available" not in zh
    api = as_user(app, "fin.en").get(f"/api/v1/orders/{number}").get_json()
    assert api["events"][-1]["comment"] == "Exceeds available credit by 112,000.00 CNY."
    # an event written before notes were data: as stored
    shop.run(lambda: db.session.add(OrderEvent(
        order_id=db.session.query(Order).filter_by(number=number).one().id, actor="old", from_status="submitted",
        to_status="credit_review", comment="超出可用额度 92478.37元。")))  # fmt: skip
    assert "超出可用额度 92478.37元。" in visible(html(as_user(app, "fin.en"), f"/orders/{number}"))


def test_an_order_in_review_that_now_fits_says_so(app, shop):
    shop.credit_limit("SH-1", "1000")
    shop.product("CAR-1", list_price="100000.00", category="sedan", build_to_order=True)
    number = shop.order("SH-1", [("CAR-1", 1)], username="sh1.admin")
    page = html(as_user(app, "fin.en"), f"/orders/{number}")
    assert "data-excess" in page and "data-fits" not in page
    shop.credit_limit("SH-1", "1000000")  # the dealer can afford it now
    for user, fits in (("fin.en", "The order now fits the available credit"), ("fin.zh", "现已在可用信用额度之内")):
        page = html(as_user(app, user), f"/orders/{number}")
        assert "data-fits" in page and fits in page and "data-excess" not in page
        assert not re.search(r"by 0\.00 CNY|额度 0\.00元", visible(page))


# ---------------------------------------------------------------- 4. notification amounts


def test_notifications_and_emails_group_money_in_each_readers_language(app, shop):
    number = shop.order("SH-1", [("OIL-1", 5)], username="sh1.staff")  # 5,000.00 + 13 % = 5,650.00, approved
    shipment = shop.shipment(number, [("OIL-1", 5)])
    bodies = shop.run(lambda: sorted(n.body for n in db.session.query(Notification).filter_by(kind="shipment")))
    due = re.search(r"\d{4}-\d{2}-\d{2}", bodies[0]).group(0)
    invoice = bodies[0].split(":", 1)[0].removeprefix("Invoice ")
    assert bodies == [f"Invoice {invoice}: 5,650.00 CNY, due {due}.", f"发票 {invoice}：5,650.00 元，到期日 {due}。"]
    mails = shop.run(lambda: [m.body for m in db.session.query(OutboxEmail).filter(
        OutboxEmail.subject.contains(shipment))])  # fmt: skip
    assert mails == [bodies[1]]  # the e-mail says what the notification says
    shop.invoice("SH-1", "INV-9", "12345.60", issued_on=dt.date(2026, 3, 5))
    shop.statement("SH-1", "2026-03")
    issued = shop.run(lambda: db.session.query(Notification).filter_by(kind="statement.issued").one().body)
    assert "期末余额 " in issued and re.search(r"\d{1,3}(,\d{3})+\.\d{2} 元", issued)
    assert not re.search(r"\d{4,}\.\d{2}", issued)


# ---------------------------------------------------------------- 5. the audit page


def test_the_audit_page_reads_as_changes_with_labels_and_object_types(app, client, shop):
    cm = shop.auth("cm.en")
    body = {"code": "SH-9", "name": "上海九号", "region_code": "EAST", "tier": "B", "channel_type": "chain"}
    assert client.post("/api/v1/dealers", json=body, headers=cm).status_code == 201
    assert client.patch("/api/v1/dealers/SH-9", json={"tier": "A", "payment_terms_days": 45}, headers=cm).status_code \
        == 200  # fmt: skip
    body = {"amount": "150000.00", "reason": "年度授信"}
    assert client.put("/api/v1/dealers/SH-9/credit-limit", json=body, headers=shop.auth("fin.en")).status_code == 200
    zh = html(as_user(app, "admin.zh"), "/audit?object_key=SH-9")
    en = html(as_user(app, "admin.en"), "/audit?object_key=SH-9")
    for page in (zh, en):
        assert "{'" not in page and "&#39;tier&#39;" not in page  # no raw dicts
    text_zh, text_en = visible(zh), visible(en)
    assert re.search(r"级别: B → A", text_zh) and re.search(r"账期（天）: 30 → 45", text_zh)
    assert re.search(r"Tier: B → A", text_en) and re.search(r"Payment terms \(days\): 30 → 45", text_en)
    assert "名称: 上海九号" in text_zh and "Name: 上海九号" in text_en  # a creation: the values set
    assert "信用额度（元）: 0.00 → 150,000.00" in text_zh and "Credit limit (CNY): 0.00 → 150,000.00" in text_en
    assert "经销商 SH-9" in text_zh and "Dealer SH-9" in text_en  # the object type translated
    assert "dealer SH-9" not in text_zh


# ---------------------------------------------------------------- 6. ISO dates everywhere


def test_dates_and_times_are_iso_in_both_languages(app, client, shop):
    number = shop.order("SH-1", [("OIL-1", 1)], username="sh1.staff")
    shop.shipment(number, [("OIL-1", 1)])  # the dealer's people are told
    resp = client.post("/api/v1/statements/runs", json={"period": "2026-03"}, headers=shop.auth("fin.en"))
    job_id = resp.get_json()["job_id"]
    drain(app)
    for admin, fin, dealer in (("admin.zh", "fin.zh", "sh1.admin"), ("admin.en", "fin.en", "sh1.staff")):
        pages = [html(as_user(app, admin), "/audit"), html(as_user(app, fin), f"/orders/{number}"),
                 html(as_user(app, fin), f"/jobs/{job_id}"), html(as_user(app, dealer), "/notifications")]  # fmt: skip
        for page in pages:
            text = visible(page)
            assert ISO_TIME.search(text), text[:300]
            assert not SLASH_DATE.search(text), SLASH_DATE.search(text).group(0)


# ---------------------------------------------------------------- 7. the stock form's own words


def test_the_stock_receiving_form_says_received_into_stock_not_payment_date(app, shop):
    page = visible(html(as_user(app, "cm.zh"), "/hq-stock/receive"))
    assert "入库日期" in page and "回款日期" not in page
    assert "Received on" in visible(html(as_user(app, "cm.en"), "/hq-stock/receive"))
    assert "回款日期" in visible(html(as_user(app, "fin.zh"), "/payments/new"))  # the payment keeps its own
