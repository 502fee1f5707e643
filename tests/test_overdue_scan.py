"""The daily overdue scan: automatic holds, reminders to the dealer's users and region managers, run twice
sends nothing twice; a payment lifts the automatic hold (never a manual one)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.credit.models import DealerCredit
from portal.notify.models import Notification, OutboxEmail
from portal.platform.timeutil import freeze

NOW = dt.datetime(2026, 6, 1, 4, tzinfo=dt.UTC)  # 12:00 in Shanghai


@pytest.fixture
def channel(world):
    world.region("EAST")
    world.region("SH", parent="EAST")
    world.region("NORTH")
    late = world.dealer("SH-LATE", "SH", name="上海逾期经销商")
    fine = world.dealer("SH-FINE", "SH")
    world.invoice(late, "FP-OLD", "1000.00", issued_on=dt.date(2026, 1, 1), due_on=dt.date(2026, 1, 31))  # 121 days
    world.invoice(fine, "FP-NEW", "500.00", issued_on=dt.date(2026, 5, 10), due_on=dt.date(2026, 5, 20))  # 12 days
    return {
        "late": late,
        "fine": fine,
        "late_admin": world.user("dealer_admin", dealer=late, username="late.admin"),
        "rm_east": world.user("region_manager", region="EAST", username="rm.east"),
        "rm_north": world.user("region_manager", region="NORTH", username="rm.north"),
        "fin": world.auth(world.user("finance")),
    }


def _run_scan(client, fin):
    with freeze(NOW):
        resp = client.post("/api/v1/credit/overdue-scan", headers=fin)
        assert resp.status_code == 202
        job_id = resp.get_json()["job_id"]
        _drain(client.application)
        job = client.get(f"/api/v1/jobs/{job_id}", headers=fin).get_json()
    assert job["status"] == "finished", job
    return job["result"]


def _drain(app):
    """The queued jobs run here as a worker would (tests/conftest.py work_queued_jobs)."""
    from tests.conftest import work_queued_jobs

    work_queued_jobs(app)


def test_the_scan_holds_dealers_over_90_days_and_reminds_everyone_concerned(client, world, channel):
    result = _run_scan(client, channel["fin"])
    assert result["overdue_dealers"] == 2 and result["holds_set"] == 1
    late_credit = world.get(
        DealerCredit,
        dealer_id=world.get(__import__("portal.dealers.models", fromlist=["Dealer"]).Dealer, code=channel["late"])[
            "id"
        ],
    )
    assert late_credit["on_hold"] and late_credit["hold_source"] == "overdue"
    users = world.run(
        lambda: {
            n.dedupe_key.split(":")[1] + "→" + str(n.user_id)
            for n in __import__("portal.extensions", fromlist=["db"]).db.session.query(Notification)
        }
    )
    assert any(k.startswith("SH-LATE") for k in users) and any(k.startswith("SH-FINE") for k in users)
    rm_north_id = world.get(__import__("portal.dealers.models", fromlist=["User"]).User, username="rm.north")["id"]
    assert world.count(Notification, user_id=rm_north_id) == 0  # not his region


def test_running_the_scan_twice_on_one_day_sends_nothing_twice(client, world, channel):
    first = _run_scan(client, channel["fin"])
    count = world.count(Notification, kind="overdue")  # the reminders (dunning notices: tests/test_dunning.py)
    total = world.count(Notification)
    second = _run_scan(client, channel["fin"])
    assert first["reminders_sent"] == count > 0
    assert second["reminders_sent"] == 0 and second["holds_set"] == 0
    assert world.count(Notification) == total


def test_a_payment_lifts_the_automatic_hold(client, world, channel):
    _run_scan(client, channel["fin"])
    with freeze(NOW):
        resp = client.post(
            "/api/v1/payments",
            json={
                "dealer_code": channel["late"],
                "amount": "1000.00",
                "received_on": "2026-06-01",
                "reference": "PAID",
            },
            headers=channel["fin"],
        )
        assert resp.status_code == 201
        credit = client.get(f"/api/v1/dealers/{channel['late']}/credit", headers=channel["fin"]).get_json()
    assert credit["on_hold"] is False


def test_a_manual_hold_stays_after_payment(client, world, channel):
    fin = channel["fin"]
    client.put(f"/api/v1/dealers/{channel['late']}/credit-hold", json={"reason": "合同纠纷"}, headers=fin)
    with freeze(NOW):
        client.post(
            "/api/v1/payments",
            json={
                "dealer_code": channel["late"],
                "amount": "1000.00",
                "received_on": "2026-06-01",
                "reference": "PAID",
            },
            headers=fin,
        )
        credit = client.get(f"/api/v1/dealers/{channel['late']}/credit", headers=fin).get_json()
    assert credit["on_hold"] is True and credit["hold_source"] == "manual"


def test_users_with_an_address_get_the_reminder_by_email_too(client, world, channel):
    from portal.dealers.models import User
    from portal.extensions import db

    world.run(
        lambda: setattr(
            db.session.query(User).filter_by(username="late.admin").one(), "email", "late@dealer.example.cn"
        )
    )
    _run_scan(client, channel["fin"])
    mails = world.run(lambda: [(m.to_address, m.subject) for m in db.session.query(OutboxEmail)])
    mails = [m for m in mails if "past due" in m[1]]  # the reminder (the dunning notice is another e-mail)
    assert len(mails) == 1 and mails[0][0] == "late@dealer.example.cn" and "上海逾期经销商" in mails[0][1]


def test_the_dealer_sees_its_reminder_and_not_the_other_dealers(client, world, channel):
    from tests.conftest import login

    _run_scan(client, channel["fin"])
    login(client, channel["late_admin"])
    page = client.get("/notifications").get_data(as_text=True)
    assert "上海逾期经销商" in page and "SH-FINE" not in page
    items = client.get("/api/v1/notifications", headers=world.auth(channel["late_admin"])).get_json()["items"]
    items = [n for n in items if n["kind"] == "overdue"]  # the reminder (the dunning notice: tests/test_dunning.py)
    assert len(items) == 1 and items[0]["link"] == "/dealers/SH-LATE/ledger"


def test_the_scheduled_entry_point_records_and_runs_a_scan(app, world, channel):
    from portal.background.models import JobRecord
    from portal.jobs.overdue import scheduled_scan

    with app.app_context(), freeze(NOW):
        result = scheduled_scan()
    assert result["holds_set"] == 1
    assert world.get(JobRecord, kind="overdue_scan")["status"] == "finished"


def test_the_worker_schedules_the_daily_scan_with_rq_cron(app):
    from croniter import croniter

    cron = app.config["PORTAL_OVERDUE_SCAN_CRON"]
    assert croniter.is_valid(cron)
    nxt = croniter(cron, dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)).get_next(dt.datetime)
    assert nxt.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).hour == 2


# --- the day a scan is for: today, a past day only as a dry run, never a future day ---


def _state(world):
    """Everything the scan may change: holds, notifications, e-mails (job records left out)."""
    snap = world.snapshot()
    return {t: snap[t] for t in ("dealer_credit", "notifications", "email_outbox", "audit_log") if t in snap}


def test_a_scan_for_a_future_day_is_refused_and_starts_nothing(client, world, channel):
    from portal.background.models import JobRecord

    before = _state(world)
    with freeze(NOW):
        resp = client.post("/api/v1/credit/overdue-scan?date=2027-06-30", headers=channel["fin"])
        tomorrow = client.post("/api/v1/credit/overdue-scan?date=2026-06-02", headers=channel["fin"])
    assert resp.status_code == 422 and tomorrow.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and "date" in error["fields"]
    assert world.count(JobRecord) == 0
    assert _state(world) == before


@pytest.mark.parametrize("query", ["?date=2026-05-31", "?date=2026-06-01&dry_run=true", "?dry_run=true"])
def test_a_past_day_or_dry_run_reports_and_changes_nothing(client, world, channel, query):
    before = _state(world)
    with freeze(NOW):
        resp = client.post(f"/api/v1/credit/overdue-scan{query}", headers=channel["fin"])
        assert resp.status_code == 202, resp.get_json()
        _drain(client.application)
        job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=channel["fin"]).get_json()
    result = job["result"]
    assert job["status"] == "finished" and result["dry_run"] is True
    # what the real scan would do: one hold (SH-LATE, 120+ days); reminders to SH-LATE's admin, and to the East
    # region manager for each of the two dealers
    assert result["overdue_dealers"] == 2 and result["holds_set"] == 1 and result["reminders_sent"] == 3
    assert _state(world) == before
    # the real scan afterwards still does all of it
    real = _run_scan(client, channel["fin"])
    assert real["dry_run"] is False and real["holds_set"] == 1 and real["reminders_sent"] == 3


def test_the_preview_button_shows_a_dry_run(client, world, channel):
    from tests.conftest import login, page_csrf

    fin_user = world.user("finance", username="fin.page")
    login(client, fin_user)
    before = _state(world)
    with freeze(NOW):
        token = page_csrf(client, "/receivables")
        resp = client.post("/receivables/overdue-scan", data={"csrf_token": token, "dry_run": "1"})
        assert resp.status_code == 302
        _drain(client.application)
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "data-dry-run" in page and "nothing was changed or sent" in page
    assert _state(world) == before


@pytest.mark.parametrize("locale, expected", [("en", "1,000.00 CNY past due"), ("zh_CN", "1,000.00")])
def test_reminders_format_money_as_the_pages_do(client, world, channel, locale, expected):
    from portal.dealers.models import User
    from portal.extensions import db

    def set_up():
        user = db.session.query(User).filter_by(username="late.admin").one()
        user.email, user.locale = "late@dealer.example.cn", locale

    world.run(set_up)
    _run_scan(client, channel["fin"])
    subject, body = world.run(lambda: [(m.subject, m.body) for m in db.session.query(OutboxEmail)][0])
    assert expected in subject and "1,000.00" in body and "1000.00" not in subject + body
