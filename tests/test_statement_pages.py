"""Statement pages (PRODUCT.md §6): the list in scope, one statement with its PDF, the dealer confirming or disputing
lines, finance settling disputes (a credit note re-issues the month as a new version; a rejection shows its reason),
the conversation, the dispute queue, and finance's monthly run with its failed dealers and retry. A refused action
shows a friendly message and changes nothing."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.background.models import JobRecord
from portal.credit.models import LedgerEntry
from portal.statements.models import Dispute, Statement, StatementMessage, StatementRunItem
from tests.conftest import login, page_csrf

JAN = "2026-01"


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("NORTH", name="华北")
    world.dealer("SH-001", "EAST", name="上海浦东经销商")
    world.dealer("BJ-002", "NORTH", name="北京朝阳经销商")
    world.invoice("SH-001", "INV-SH-1", "1000.00", issued_on=dt.date(2026, 1, 5))
    world.invoice("SH-001", "INV-SH-2", "250.00", issued_on=dt.date(2026, 1, 12))
    world.payment("SH-001", "400.00", received_on=dt.date(2026, 1, 20), reference="BANK-SH-1")
    world.invoice("BJ-002", "INV-BJ-1", "800.00", issued_on=dt.date(2026, 1, 8))
    return {
        "sh": world.statement("SH-001", JAN),
        "bj": world.statement("BJ-002", JAN),
        "sh_admin": world.user("dealer_admin", dealer="SH-001", username="sh.admin"),
        "bj_admin": world.user("dealer_admin", dealer="BJ-002", username="bj.admin"),
        "east": world.user("region_manager", region="EAST", username="east.rm"),
        "finance": world.user("finance", username="fin"),
        "hq": world.user("channel_manager", username="hq.cm"),
    }


def as_user(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def post(client, url: str, prefix: str | None, **fields):
    """A form post the way the page sends it: the form's fields under its prefix, with its CSRF token."""
    token = page_csrf(client)
    data = {f"{prefix}-{k}" if prefix else k: v for k, v in fields.items() if k != "line_id"}
    data[f"{prefix}-csrf_token" if prefix else "csrf_token"] = token
    if "line_id" in fields:
        data["line_id"] = [str(i) for i in fields["line_id"]]
    return client.post(url, data=data)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def dispute_lines(client, world, statement_id: int, positions: list[int], comment: str = "价格不对 wrong price"):
    ids = world.statement_lines(statement_id)
    return post(client, f"/statements/{statement_id}/disputes", "dispute", comment=comment,
                line_id=[ids[p] for p in positions])  # fmt: skip


# ------------------------------------------------------------------ list and scope


def test_a_dealer_admin_sees_its_own_statements_only(app, world, channel):
    client = as_user(app, channel["sh_admin"])
    page = text(client.get("/statements"))
    assert "ST-202601-SH-001" in page and "ST-202601-BJ-002" not in page
    assert "Issued" in page and "850.00" in page  # closing: 1 000 + 250 − 400
    assert 'name="run-period"' not in page  # finance's forms are not offered
    assert client.get(f"/statements/{channel['bj']}").status_code == 404
    assert client.get(f"/statements/{channel['bj']}/pdf").status_code == 404
    assert client.get(f"/statements/{channel['sh']}").status_code == 200


def test_the_pdf_is_served_to_whoever_may_read_the_statement(app, world, channel):
    with as_user(app, channel["sh_admin"]).get(f"/statements/{channel['sh']}/pdf") as resp:
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        assert resp.data.startswith(b"%PDF")
        assert "ST-202601-SH-001-v1.pdf" in resp.headers["Content-Disposition"]
    assert world.get(Statement, id=channel["sh"])["pdf_path"]  # drawn once, kept


def test_a_region_manager_sees_its_region_and_hq_filters_everything(app, world, channel):
    page = text(as_user(app, channel["east"]).get("/statements"))
    assert "ST-202601-SH-001" in page and "ST-202601-BJ-002" not in page
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/statements"))
    assert "ST-202601-SH-001" in page and "ST-202601-BJ-002" in page
    page = text(hq.get("/statements?dealer=BJ-002&period=2026-01"))
    assert "ST-202601-SH-001" not in page and "ST-202601-BJ-002" in page
    assert "ST-202601" not in text(hq.get("/statements?status=confirmed")).split("<tbody>")[1]
    assert "No statement matches" in text(hq.get("/statements?period=2025-12"))


def test_the_list_shows_earlier_versions_only_when_asked(app, world, channel):
    world.invoice("SH-001", "INV-SH-3", "50.00", issued_on=dt.date(2026, 1, 30))
    v2 = world.statement("SH-001", JAN)
    assert v2 != channel["sh"]
    hq = as_user(app, channel["hq"])
    current = text(hq.get("/statements?dealer=SH-001"))
    assert f'data-statement="{v2}"' in current and f'data-statement="{channel["sh"]}"' not in current
    both = text(hq.get("/statements?dealer=SH-001&all_versions=1"))
    assert f'data-statement="{v2}"' in both and f'data-statement="{channel["sh"]}"' in both


# ------------------------------------------------------------------ one statement


def test_the_statement_page_shows_summary_ageing_lines_and_versions(app, world, channel):
    page = text(as_user(app, channel["sh_admin"]).get(f"/statements/{channel['sh']}"))
    for expected in ("ST-202601-SH-001", "v1", "Opening balance", "Closing balance", "1,250.00", "400.00", "850.00",
                     "Ageing at month end", "INV-SH-1", "INV-SH-2", "BANK-SH-1", "Confirm statement",
                     "Dispute selected lines", "Download PDF"):  # fmt: skip
        assert expected in page, expected
    assert page.count('name="line_id"') == 3
    assert "superseded" not in page


def test_others_see_the_statement_without_the_dealers_buttons(app, world, channel):
    page = text(as_user(app, channel["east"]).get(f"/statements/{channel['sh']}"))
    assert "INV-SH-1" in page
    assert 'name="line_id"' not in page and "Confirm statement" not in page and 'name="comment-body"' not in page
    page = text(as_user(app, channel["finance"]).get(f"/statements/{channel['sh']}"))
    assert 'name="line_id"' not in page and 'name="comment-body"' in page


def test_the_dealer_disputes_lines_with_a_comment(app, world, channel):
    client = as_user(app, channel["sh_admin"])
    resp = dispute_lines(client, world, channel["sh"], [1], "250 元的发票不是我们的")
    assert resp.status_code == 302
    item = world.get(Dispute, statement_id=channel["sh"])
    assert resp.headers["Location"].endswith(f"/statements/{channel['sh']}#dispute-{item['id']}")
    assert item["status"] == "open" and item["raised_by"] == "sh.admin"
    assert world.get(Statement, id=channel["sh"])["status"] == "disputed"
    page = text(client.get(f"/statements/{channel['sh']}"))
    assert "250 元的发票不是我们的" in page and f'id="dispute-{item["id"]}"' in page
    assert 'data-status="disputed"' in page and "Waiting for finance." in page
    assert "Confirm statement" not in page and "Finance settles the open disputes first" in page
    assert page.count('name="line_id"') == 2  # the disputed line cannot be ticked again


@pytest.mark.parametrize(
    ("positions", "comment", "message"),
    [([], "wrong", "Choose the lines you dispute."), ([0], "   ", "Say what is wrong.")],
)
def test_a_dispute_without_lines_or_comment_is_refused_and_changes_nothing(app, world, channel, positions, comment,
                                                                            message):  # fmt: skip
    client = as_user(app, channel["sh_admin"])
    before = world.snapshot()
    resp = dispute_lines(client, world, channel["sh"], positions, comment)
    assert resp.status_code == 422
    assert message in text(resp)
    assert world.snapshot() == before


def test_a_line_of_another_statement_cannot_be_disputed(app, world, channel):
    client = as_user(app, channel["sh_admin"])
    foreign = world.statement_lines(channel["bj"])[0]
    before = world.snapshot()
    resp = post(client, f"/statements/{channel['sh']}/disputes", "dispute", comment="x", line_id=[foreign])
    assert resp.status_code == 422 and "Not lines of this statement" in text(resp)
    resp = post(client, f"/statements/{channel['sh']}/disputes", "dispute", comment="x", line_id=["abc"])
    assert resp.status_code == 422 and "Choose the lines you dispute." in text(resp)
    assert world.snapshot() == before


def test_the_dealer_confirms_the_statement(app, world, channel):
    client = as_user(app, channel["sh_admin"])
    resp = post(client, f"/statements/{channel['sh']}/confirm", "confirm", comment="与我方账目一致")
    assert resp.status_code == 302
    row = world.get(Statement, id=channel["sh"])
    assert row["status"] == "confirmed" and row["confirmed_by"] == "sh.admin"
    page = text(client.get(f"/statements/{channel['sh']}"))
    assert "Confirmed by sh.admin" in page and "与我方账目一致" in page
    assert 'name="line_id"' not in page and "Confirm statement" not in page
    before = world.snapshot()
    again = post(client, f"/statements/{channel['sh']}/confirm", "confirm", comment="")
    assert again.status_code == 409 and "confirmed already" in text(again)
    assert world.snapshot() == before


def test_only_the_dealer_admin_confirms_or_disputes(app, world, channel):
    before = world.snapshot()
    for user in ("finance", "east", "hq"):
        client = as_user(app, channel[user])
        assert post(client, f"/statements/{channel['sh']}/confirm", "confirm", comment="").status_code == 403
        assert dispute_lines(client, world, channel["sh"], [0]).status_code == 403
    assert post(as_user(app, channel["east"]), f"/statements/{channel['sh']}/comments", "comment",
                body="hi").status_code == 403  # fmt: skip
    assert world.snapshot() == before


# ------------------------------------------------------------------ finance settles disputes


def _open_dispute(app, world, channel, positions=(1,)) -> int:
    assert dispute_lines(as_user(app, channel["sh_admin"]), world, channel["sh"], list(positions)).status_code == 302
    return world.get(Dispute, statement_id=channel["sh"])["id"]


def test_the_dispute_queue_lists_open_disputes_for_finance(app, world, channel):
    dispute_id = _open_dispute(app, world, channel)
    fin = as_user(app, channel["finance"])
    page = text(fin.get("/disputes"))
    assert f'data-dispute-row="{dispute_id}"' in page and "SH-001" in page
    assert f'href="/statements/{channel["sh"]}#dispute-{dispute_id}"' in page
    assert f'data-dispute-row="{dispute_id}"' not in text(fin.get("/disputes?status=rejected"))
    assert f'data-dispute-row="{dispute_id}"' in text(fin.get("/disputes?status=all&dealer=SH-001"))
    assert f'data-dispute-row="{dispute_id}"' not in text(fin.get("/disputes?status=all&dealer=BJ-002"))
    # the other dealer sees none of it
    assert f'data-dispute-row="{dispute_id}"' not in text(as_user(app, channel["bj_admin"]).get("/disputes"))
    page = text(fin.get(f"/statements/{channel['sh']}"))
    assert f'name="d{dispute_id}-action"' in page and "Settle the dispute" in page


def test_finance_settles_a_dispute_with_a_credit_note_and_the_month_is_reissued(app, world, channel):
    dispute_id = _open_dispute(app, world, channel)
    fin = as_user(app, channel["finance"])
    resp = post(fin, f"/disputes/{dispute_id}/resolve", f"d{dispute_id}", action="credit_note", amount="250.00",
                issued_on="", reason="INV-SH-2 was billed twice")  # fmt: skip
    assert resp.status_code == 302
    item = world.get(Dispute, id=dispute_id)
    v2 = item["reissued_statement_id"]
    assert item["status"] == "resolved" and v2 and resp.headers["Location"].endswith(f"/statements/{v2}")
    note = world.get(LedgerEntry, id=item["credit_note_id"])
    assert note["entry_date"] == dt.date(2026, 1, 31)  # the month end by default
    new = world.get(Statement, id=v2)
    assert new["version"] == 2 and str(new["closing"]) == "600.00"
    old_page = text(fin.get(f"/statements/{channel['sh']}"))
    assert "superseded by version 2" in old_page and f'href="/statements/{v2}"' in old_page
    assert note["number"] in old_page and "INV-SH-2 was billed twice" in old_page
    dealer = as_user(app, channel["sh_admin"])
    new_page = text(dealer.get(f"/statements/{v2}"))
    assert "600.00" in new_page and "Confirm statement" in new_page and "superseded" not in new_page
    assert "INV-SH-2 was billed twice" in new_page  # the conversation spans the versions
    assert post(dealer, f"/statements/{v2}/confirm", "confirm", comment="").status_code == 302
    assert world.get(Statement, id=v2)["status"] == "confirmed"


def test_a_rejected_dispute_shows_its_reason_and_cannot_be_settled_twice(app, world, channel):
    dispute_id = _open_dispute(app, world, channel)
    fin = as_user(app, channel["finance"])
    resp = post(fin, f"/disputes/{dispute_id}/resolve", f"d{dispute_id}", action="reject",
                reason="Delivered on 12 January, signed by your store")  # fmt: skip
    assert resp.status_code == 302
    assert world.get(Dispute, id=dispute_id)["status"] == "rejected"
    assert world.get(Statement, id=channel["sh"])["status"] == "resolved"
    page = text(as_user(app, channel["sh_admin"]).get(f"/statements/{channel['sh']}"))
    assert "Delivered on 12 January, signed by your store" in page and 'data-dispute-status="rejected"' in page
    before = world.snapshot()
    again = post(fin, f"/disputes/{dispute_id}/resolve", f"d{dispute_id}", action="credit_note", amount="10.00",
                 reason="second try")  # fmt: skip
    assert again.status_code == 409 and "settled already" in text(again)
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "credit_note", "amount": "", "reason": "x"}, "Must be greater than zero."),
        ({"action": "credit_note", "amount": "12.345", "reason": "x"}, "At most two decimal places."),
        ({"action": "credit_note", "amount": "10.00", "issued_on": "2026-02-03", "reason": "x"}, "disputed month"),
        ({"action": "reject", "reason": ""}, "Say why."),
        ({"action": "adjustment", "reason": "see ledger"}, "says the same as this version"),
    ],
)
def test_a_wrong_resolution_is_refused_and_changes_nothing(app, world, channel, fields, message):
    dispute_id = _open_dispute(app, world, channel)
    fin = as_user(app, channel["finance"])
    before = world.snapshot()
    resp = post(fin, f"/disputes/{dispute_id}/resolve", f"d{dispute_id}", **fields)
    assert resp.status_code in (409, 422)
    assert message in text(resp)
    assert world.snapshot() == before


def test_both_sides_talk_in_the_conversation(app, world, channel):
    dealer, fin = as_user(app, channel["sh_admin"]), as_user(app, channel["finance"])
    url = f"/statements/{channel['sh']}/comments"
    assert post(dealer, url, "comment", body="请核对 1 月 12 日的发票").status_code == 302
    assert post(fin, url, "comment", body="Checking with the warehouse").status_code == 302
    page = text(dealer.get(f"/statements/{channel['sh']}"))
    assert page.index("请核对 1 月 12 日的发票") < page.index("Checking with the warehouse")
    assert world.count(StatementMessage, kind="comment") == 2
    empty = post(dealer, url, "comment", body=" ")
    assert empty.status_code == 422 and world.count(StatementMessage, kind="comment") == 2


# ------------------------------------------------------------------ runs


def drain(app) -> None:
    """The queued jobs run here as a worker would (tests/conftest.py work_queued_jobs)."""
    from tests.conftest import work_queued_jobs

    work_queued_jobs(app)


def _job_id(resp) -> str:
    match = re.search(r"/statements/runs/([0-9a-f-]{36})$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return match.group(1)


def test_finance_starts_the_monthly_run_from_the_list_and_follows_it(app, world, channel):
    world.invoice("SH-001", "INV-SH-FEB", "300.00", issued_on=dt.date(2026, 2, 2))
    fin = as_user(app, channel["finance"])
    page = text(fin.get("/statements"))
    assert 'name="run-period"' in page and 'name="one-dealer_code"' in page
    resp = post(fin, "/statements/runs", "run", period="2026-02", dealer_codes="")
    assert resp.status_code == 302
    job_id = _job_id(resp)
    record = world.get(JobRecord, id=job_id)
    assert record["kind"] == "statement_run" and record["params"]["period"] == "2026-02"
    if app.config["REDIS_URL"]:
        assert record["status"] == "queued"  # queued after the commit; a worker takes it
    drain(app)
    assert world.count(StatementRunItem, run_id=job_id) == 2
    assert world.get(Statement, number="ST-202602-SH-001") is not None
    assert world.get(Statement, number="ST-202602-BJ-002") is not None  # its opening carries January's closing
    run_page = text(fin.get(f"/statements/runs/{job_id}"))
    assert 'data-run-item="SH-001"' in run_page and 'data-run-item="BJ-002"' in run_page
    assert "Finished" in run_page and "data-retry" not in run_page
    assert "Dealers of this run" in text(fin.get(f"/jobs/{job_id}"))


def test_finance_prepares_the_statement_of_one_dealer(app, world, channel):
    world.invoice("BJ-002", "INV-BJ-2", "99.00", issued_on=dt.date(2026, 1, 30))
    fin = as_user(app, channel["finance"])
    resp = post(fin, "/statements/issue", "one", dealer_code="BJ-002", period=JAN)
    assert resp.status_code == 302
    job_id = _job_id(resp)
    assert world.get(JobRecord, id=job_id)["params"]["dealer_codes"] == ["BJ-002"]
    drain(app)
    assert world.count(StatementRunItem, run_id=job_id) == 1
    assert world.count(Statement, dealer_id=world.get(Statement, id=channel["bj"])["dealer_id"]) == 2  # v2
    assert world.count(Statement, number="ST-202601-SH-001") == 1  # the others untouched


@pytest.mark.parametrize(
    ("url", "prefix", "fields", "message"),
    [
        ("/statements/runs", "run", {"period": "2026-13"}, "A month as YYYY-MM"),
        ("/statements/runs", "run", {"period": "2099-01"}, "Only a month that has ended"),
        ("/statements/runs", "run", {"period": JAN, "dealer_codes": "SH-001, NOPE-9"}, "Unknown dealers: NOPE-9."),
        ("/statements/issue", "one", {"dealer_code": "NOPE-9", "period": JAN}, "Unknown dealer."),
        ("/statements/issue", "one", {"dealer_code": "", "period": JAN}, "Enter a dealer code."),
    ],
)
def test_a_run_with_bad_input_is_refused_and_starts_nothing(app, world, channel, url, prefix, fields, message):
    fin = as_user(app, channel["finance"])
    before = world.snapshot()
    resp = post(fin, url, prefix, **fields)
    assert resp.status_code == 422 and message in text(resp)
    assert world.snapshot() == before


def test_a_failed_dealer_is_shown_with_its_error_and_retried_alone(app, world, channel, monkeypatch):
    from portal.statements import services

    real = services.store_pdf

    def broken(statement):
        if statement.dealer.code == "BJ-002":
            raise RuntimeError("font server on fire")
        return real(statement)

    monkeypatch.setattr(services, "store_pdf", broken)
    world.invoice("SH-001", "INV-SH-MAR", "70.00", issued_on=dt.date(2026, 3, 3))
    world.invoice("BJ-002", "INV-BJ-MAR", "80.00", issued_on=dt.date(2026, 3, 4))
    fin = as_user(app, channel["finance"])
    job_id = _job_id(post(fin, "/statements/runs", "run", period="2026-03", dealer_codes="SH-001 BJ-002"))
    drain(app)
    page = text(fin.get(f"/statements/runs/{job_id}"))
    assert 'data-run-item="BJ-002" data-item-status="failed"' in page and "An unexpected error (reference" in page
    assert "font server on fire" not in page and "RuntimeError" not in page  # the exception stays in the log
    assert "Retry failed / resume" in page
    monkeypatch.setattr(services, "store_pdf", real)
    resp = post(fin, f"/statements/runs/{job_id}/retry", None)
    assert resp.status_code == 302
    drain(app)
    assert world.get(StatementRunItem, run_id=job_id, status="failed") is None
    assert world.get(Statement, number="ST-202603-BJ-002") is not None
    page = text(fin.get(f"/statements/runs/{job_id}"))
    assert "data-retry" not in page
    before = world.snapshot()
    again = post(fin, f"/statements/runs/{job_id}/retry", None)
    assert again.status_code == 409 and "nothing to retry" in text(again)
    assert world.snapshot() == before


def test_only_finance_runs_statements(app, world, channel):
    for user in ("sh_admin", "hq", "east"):
        client = as_user(app, channel[user])
        assert post(client, "/statements/runs", "run", period=JAN).status_code == 403
        assert 'name="run-period"' not in text(client.get("/statements"))
    assert world.count(JobRecord) == 0
