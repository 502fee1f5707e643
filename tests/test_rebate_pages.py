"""Rebate pages (PRODUCT.md §11): the list and a programme for every role (drafts are HQ's; a dealer sees its own
progress only; a region its dealers), the programme form (CSRF, every error next to its field and nothing saved,
an active programme's frozen definition), activate and close, the progress export, finance's settlement (compute,
adjust with a reason, approve one or all) and the dealer's home card. Out-of-scope codes answer 404."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from portal.credit.models import LedgerEntry
from portal.rebates.models import RebateProgramme, RebateSettlement
from tests.conftest import login, page_csrf
from tests.test_statement_pages import drain

Q1 = {"period_start": dt.date(2026, 1, 1), "period_end": dt.date(2026, 3, 31)}


@pytest.fixture
def channel(world):
    world.region("EAST", name="华东")
    world.region("SH", parent="EAST", name="上海")
    world.region("NORTH", name="华北")
    world.dealer("SH-001", "SH", name="上海浦东经销商")
    world.dealer("SH-002", "SH", name="上海闵行经销商")
    world.dealer("BJ-001", "NORTH", name="北京朝阳经销商")
    world.product("EV-1", category="ev", build_to_order=False)
    world.product("P-1", category="parts")
    world.sold("SH-001", "EV-1", dt.date(2026, 2, 10), 3, "5000.00")  # 15 000: tier 2
    world.sold("SH-002", "P-1", dt.date(2026, 3, 5), 4, "1000.00")  # 4 000: tier 1
    world.sold("BJ-001", "P-1", dt.date(2026, 1, 20), 25, "1000.00")  # 25 000: tier 3
    world.rebate_programme("RB-ALL", name="一季度销售返利", name_en="Q1 sell-through rebate",
                           tiers=[("1000", "1"), ("10000", "2"), ("20000", "3")], **Q1)  # fmt: skip
    world.rebate_programme("RB-BJ", scope="dealer:BJ-001", name="北京专项", **Q1)
    world.rebate_programme("RB-DRAFT", status="draft", name="草稿方案", **Q1)
    return {
        "hq": world.user("channel_manager", username="hq.cm"),
        "finance": world.user("finance", username="fin"),
        "east": world.user("region_manager", region="EAST", username="east.rm"),
        "sh": world.user("dealer_admin", dealer="SH-001", username="sh.admin"),
        "bj": world.user("dealer_admin", dealer="BJ-001", username="bj.admin"),
    }


def as_user(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def text(resp) -> str:
    return resp.get_data(as_text=True)


def post(client, url: str, prefix: str | None = None, **fields):
    data = {f"{prefix}-{k}" if prefix else k: v for k, v in fields.items()}
    data[f"{prefix}-csrf_token" if prefix else "csrf_token"] = page_csrf(client)
    return client.post(url, data=data)


def programme_form(**overrides) -> dict:
    data = {
        "code": "RB-NEW",
        "name": "二季度提货返利",
        "name_en": "Q2 sell-in rebate",
        "description": "",
        "period_start": "2026-04-01",
        "period_end": "2026-06-30",
        "scope": "region:EAST",
        "basis": "sell_in_amount",
        "tier_kind": "percent",
        "cap": "",
        "target_skus": "",
        "target_categories": "",
        "tiers-0-threshold": "100000",
        "tiers-0-rate": "1",
        "tiers-1-threshold": "500,000",
        "tiers-1-rate": "2.5",
    }
    data.update(overrides)
    return data


def _input(html: str, name: str) -> str:
    """The <input> tag of the field `name`."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, name
    return match.group(0)


# ------------------------------------------------------------------ the list and one programme, per role


def test_hq_lists_every_programme_and_filters_by_status(app, channel):
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/rebates"))
    for code in ("RB-ALL", "RB-BJ", "RB-DRAFT"):
        assert f'data-programme="{code}"' in page
    assert "New programme" in page
    drafts = text(hq.get("/rebates?status=draft"))
    assert 'data-programme="RB-DRAFT"' in drafts and 'data-programme="RB-ALL"' not in drafts


def test_a_dealer_lists_the_programmes_covering_it_with_its_own_rebate(app, channel):
    page = text(as_user(app, channel["sh"]).get("/rebates"))
    assert 'data-programme="RB-ALL"' in page
    assert "RB-BJ" not in page and "RB-DRAFT" not in page  # another dealer's programme, a draft
    assert "New programme" not in page
    assert re.search(r"data-own-rebate>\s*300\.00", page)  # 15 000 at 2 %


def test_a_region_manager_lists_the_programmes_covering_its_dealers(app, channel):
    page = text(as_user(app, channel["east"]).get("/rebates"))
    assert 'data-programme="RB-ALL"' in page and "RB-BJ" not in page and "RB-DRAFT" not in page


def test_the_programme_page_for_hq_shows_tiers_progress_totals_and_charts(app, channel):
    page = text(as_user(app, channel["hq"]).get("/rebates/RB-ALL"))
    for dealer in ("SH-001", "SH-002", "BJ-001"):
        assert f'data-dealer="{dealer}"' in page
    assert "Q1 sell-through rebate" in page  # the English name for an English reader
    assert "Tier 3" in page and "20,000.00" in page
    assert 'data-chart="tiers"' in page and 'data-chart="top"' in page and "<rect" in page
    totals = page.split("data-totals", 1)[1].split("</tr>", 1)[0]
    assert "44,000.00" in totals and "1,090.00" in totals  # 15 000 + 4 000 + 25 000; 300 + 40 + 750
    assert "Activate" not in page and "Close</button>" in page  # an active programme can be closed
    assert "Compute settlement" not in page  # finance's


def test_a_region_manager_sees_its_dealers_only(app, channel):
    client = as_user(app, channel["east"])
    page = text(client.get("/rebates/RB-ALL"))
    assert 'data-dealer="SH-001"' in page and 'data-dealer="SH-002"' in page
    assert "BJ-001" not in page
    assert client.get("/rebates/RB-BJ").status_code == 404  # covers no dealer of the region
    assert client.get("/rebates/RB-DRAFT").status_code == 404


def test_a_dealer_sees_its_own_card_and_nobody_elses_figures(app, channel):
    client = as_user(app, channel["sh"])
    page = text(client.get("/rebates/RB-ALL"))
    assert 'data-rebate-card="RB-ALL"' in page
    assert "15,000.00" in page and "300.00" in page and "Tier 2" in page
    assert "The period ended on 2026-03-31" in page  # its progress is final: no "more for the next tier"
    assert "SH-002" not in page and "BJ-001" not in page and "data-progress>" not in page
    assert "Export CSV" not in page
    for code in ("RB-BJ", "RB-DRAFT", "NO-SUCH"):
        assert client.get(f"/rebates/{code}").status_code == 404
        assert client.get(f"/rebates/{code}?format=csv").status_code == 404


def test_the_progress_table_filters_by_dealer_and_tier(app, channel):
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/rebates/RB-ALL?q=sh-00&tier=2"))
    assert 'data-dealer="SH-001"' in page and 'data-dealer="SH-002"' not in page and 'data-dealer="BJ-001"' not in page
    assert "15,000.00" in page.split("data-totals", 1)[1].split("</tr>", 1)[0]  # the totals of what is shown
    page = text(hq.get("/rebates/RB-ALL?tier=none"))
    assert "No dealer matches the filter." in page
    lines = text(hq.get("/rebates/RB-ALL?q=北京&format=csv")).lstrip("\ufeff").splitlines()
    assert len(lines) == 2 and lines[1].startswith("BJ-001")


def test_the_progress_exports_as_csv_and_xlsx(app, channel):
    hq = as_user(app, channel["hq"])
    resp = hq.get("/rebates/RB-ALL?format=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    lines = text(resp).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("dealer_code,dealer_name,region_code")
    assert lines[1].startswith("BJ-001,北京朝阳经销商,NORTH,华北,25000.00,3,3")
    resp = hq.get("/rebates/RB-ALL?format=xlsx")
    assert resp.status_code == 200 and resp.data[:2] == b"PK"
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(resp.data)).active.values)
    assert len(rows) == 4 and rows[1][0] == "BJ-001"


# ------------------------------------------------------------------ the form


def test_a_channel_manager_creates_a_draft_through_the_form(app, world, channel):
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/rebates/new"))
    assert 'name="tiers-5-threshold"' in page and 'name="csrf_token"' in page
    resp = post(hq, "/rebates/new", **programme_form())
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/rebates/RB-NEW")
    saved = world.get(RebateProgramme, code="RB-NEW")
    assert saved["status"] == "draft" and saved["scope_kind"] == "region" and saved["scope_value"] == "EAST"
    page = text(hq.get("/rebates/RB-NEW"))
    assert "Programme RB-NEW saved." in page and "500,000.00" in page and "2.5%" in page and "Activate" in page


def test_bad_input_shows_every_error_next_to_its_field_and_saves_nothing(app, world, channel):
    hq = as_user(app, channel["hq"])
    before = world.count(RebateProgramme)
    resp = post(hq, "/rebates/new", **programme_form(
        name="", scope="region:NOWHERE", basis="sell_in_units", tier_kind="percent", cap="-5",
        target_skus="NO-SUCH-SKU", **{"tiers-1-threshold": "50000", "tiers-2-rate": "abc"}))  # fmt: skip
    assert resp.status_code == 422
    page = text(resp)
    for message in ("Must not be negative.", "Tier 3, threshold: Required.", "Tier 3, rate: Not a number.", "Required.",
                    "Unknown region NOWHERE.", "Percent tiers go with an amount basis", "Unknown SKUs: NO-SUCH-SKU.",
                    "thresholds go strictly up"):  # fmt: skip
        assert message in page, message  # the form's and the service's, all at once
    assert page.count("is-invalid") >= 4  # name, scope, tier kind, cap, targets: each marked
    assert 'data-tier-row="2"' in page.split("table-danger", 1)[1][:200] or "table-danger" in page
    assert 'value="region:NOWHERE"' in page  # what was typed is kept
    assert world.count(RebateProgramme) == before


def test_a_post_without_csrf_is_refused_and_saves_nothing(app, world, channel):
    hq = as_user(app, channel["hq"])
    resp = hq.post("/rebates/new", data=programme_form())
    assert resp.status_code in (400, 422)
    assert world.get(RebateProgramme, code="RB-NEW") is None
    assert hq.post("/rebates/RB-DRAFT/activate").status_code == 400
    assert world.get(RebateProgramme, code="RB-DRAFT")["status"] == "draft"


def test_a_draft_is_edited_whole_and_activated(app, world, channel):
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/rebates/RB-DRAFT/edit"))
    assert "草稿方案" in page and "disabled" in _input(page, "code")
    resp = post(hq, "/rebates/RB-DRAFT/edit", **programme_form(code="", name="草稿方案 v2", scope="tier:A"))
    assert resp.status_code == 302
    saved = world.get(RebateProgramme, code="RB-DRAFT")
    assert saved["name"] == "草稿方案 v2" and saved["scope_kind"] == "tier" and saved["basis"] == "sell_in_amount"
    assert post(hq, "/rebates/RB-DRAFT/activate").status_code == 302
    assert world.get(RebateProgramme, code="RB-DRAFT")["status"] == "active"
    assert "The programme is active" in text(hq.get("/rebates/RB-DRAFT"))
    # activating twice: a friendly message, nothing changes
    resp = post(hq, "/rebates/RB-DRAFT/activate")
    assert resp.status_code == 409 and 'data-error' in text(resp)


def test_an_active_programme_changes_its_names_only(app, world, channel):
    hq = as_user(app, channel["hq"])
    page = text(hq.get("/rebates/RB-ALL/edit"))
    assert "data-frozen" in page
    assert "disabled" in _input(page, "tiers-0-threshold") and "disabled" not in _input(page, "name")
    # a tampered post still cannot move the tiers or the period: only names and description are taken
    resp = post(hq, "/rebates/RB-ALL/edit", **programme_form(name="一季度销售返利（修订）", period_end="2026-12-31",
                                                             **{"tiers-0-threshold": "1"}))  # fmt: skip
    assert resp.status_code == 302
    saved = world.get(RebateProgramme, code="RB-ALL")
    assert saved["name"] == "一季度销售返利（修订）" and saved["period_end"] == dt.date(2026, 3, 31)
    assert saved["basis"] == "sell_through_amount"
    resp = post(hq, "/rebates/RB-ALL/edit", **programme_form(name=""))
    assert resp.status_code == 422 and "Required." in text(resp)
    assert post(hq, "/rebates/RB-ALL/close").status_code == 302
    assert world.get(RebateProgramme, code="RB-ALL")["status"] == "closed"


def test_only_channel_managers_manage_and_only_finance_settles(app, world, channel):
    dealer = as_user(app, channel["sh"])
    assert dealer.get("/rebates/new").status_code == 403
    assert dealer.get("/rebates/RB-ALL/edit").status_code == 403
    assert post(dealer, "/rebates/RB-ALL/close").status_code == 403
    assert post(dealer, "/rebates/RB-ALL/settlements").status_code == 403
    region = as_user(app, channel["east"])
    assert region.get("/rebates/new").status_code == 403
    assert post(as_user(app, channel["hq"]), "/rebates/RB-ALL/settlements").status_code == 403
    assert world.get(RebateProgramme, code="RB-ALL")["status"] == "active"
    assert world.count(RebateSettlement) == 0


# ------------------------------------------------------------------ settlement


def _compute(app, client, code: str = "RB-ALL"):
    resp = post(client, f"/rebates/{code}/settlements")
    assert resp.status_code == 302, text(resp)
    match = re.search(r"job=([0-9a-f-]{36})", resp.headers["Location"])
    assert match, resp.headers["Location"]
    drain(app)
    return match.group(1)


def test_finance_computes_adjusts_and_approves(app, world, channel):
    fin = as_user(app, channel["finance"])
    page = text(fin.get("/rebates/RB-ALL"))
    assert "Compute settlement" in page
    job_id = _compute(app, fin)
    page = text(fin.get(f"/rebates/RB-ALL?job={job_id}"))
    assert "data-job-result" in page and "3 new" in page
    for dealer in ("SH-001", "SH-002", "BJ-001"):
        assert f'data-settlement="{dealer}"' in page
    assert "Approve all (3)" in page
    assert world.get(RebateProgramme, code="RB-ALL")["status"] == "closed"  # closed by the first computation

    # bad adjustments: friendly messages next to the fields, nothing written
    resp = post(fin, "/rebates/RB-ALL/settlements/SH-001/adjust", _prefix(world, "SH-001"), amount="12.345",
                reason="")  # fmt: skip
    assert resp.status_code == 422
    page = text(resp)
    assert "At most two decimal places." in page and "<details open" in page
    resp = post(fin, "/rebates/RB-ALL/settlements/SH-001/adjust", _prefix(world, "SH-001"), amount="-50", reason=" ")
    assert resp.status_code == 422 and "Say why." in text(resp)
    assert _settlement(world, "SH-001")["adjustment"] == 0
    # a good one
    resp = post(fin, "/rebates/RB-ALL/settlements/SH-001/adjust", _prefix(world, "SH-001"), amount="-50.00",
                reason="一台退货 One return")  # fmt: skip
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#settlement-SH-001")
    row = _settlement(world, "SH-001")
    assert str(row["amount"]) == "250.00" and row["adjustment_reason"] == "一台退货 One return"
    page = text(fin.get("/rebates/RB-ALL"))
    assert "Adjustment -50.00 CNY: 一台退货 One return" in page

    # approve one, then the rest
    resp = post(fin, "/rebates/RB-ALL/settlements/SH-001/approve")
    assert resp.status_code == 302
    row = _settlement(world, "SH-001")
    assert row["status"] == "approved" and row["credit_note_id"]
    page = text(fin.get("/rebates/RB-ALL"))
    assert "credited to its account" in page and "Approve all (2)" in page
    note = world.get(LedgerEntry, id=row["credit_note_id"])
    assert note["number"] in page
    # approving it again: a friendly message, no second credit note
    resp = post(fin, "/rebates/RB-ALL/settlements/SH-001/approve")
    assert resp.status_code == 409 and "approved already" in text(resp)
    assert post(fin, "/rebates/RB-ALL/settlements/approve").status_code == 302
    page = text(fin.get("/rebates/RB-ALL"))
    assert "2 settlement(s) approved, 2 credit note(s), 790.00 CNY in all." in page
    assert "Approve all" not in page
    assert world.count(LedgerEntry, type="credit_note") == 3

    # the dealer sees its own approved settlement and its credit note, nobody else's
    dealer = as_user(app, channel["sh"])
    page = text(dealer.get("/rebates/RB-ALL"))
    assert "data-own-settlement" in page and "250.00" in page and note["number"] in page
    assert "SH-002" not in page and "Compute" not in page
    assert dealer.get(f"/entries/{note['id']}").status_code == 200


def test_settling_before_the_period_ends_is_refused_with_a_reason(app, world, channel):
    from portal.platform.timeutil import today

    this_year = today().year + 1
    world.rebate_programme("RB-NEXT", period_start=dt.date(this_year, 1, 1), period_end=dt.date(this_year, 3, 31))
    fin = as_user(app, channel["finance"])
    page = text(fin.get("/rebates/RB-NEXT"))
    assert "Compute settlement" not in page and "can be computed after" in page
    resp = post(fin, "/rebates/RB-NEXT/settlements")
    assert resp.status_code == 409 and "it can be settled from the next day on" in text(resp)
    assert world.count(RebateSettlement) == 0


def test_out_of_scope_settlement_actions_answer_404(app, world, channel):
    fin = as_user(app, channel["finance"])
    _compute(app, fin)
    assert post(fin, "/rebates/RB-ALL/settlements/NO-SUCH/approve").status_code == 404
    assert post(fin, "/rebates/NO-SUCH/settlements/SH-001/approve").status_code == 404
    assert post(fin, "/rebates/NO-SUCH/settlements").status_code == 404


def _settlement(world, dealer: str) -> dict:
    from portal.dealers.models import Dealer

    return world.get(RebateSettlement, dealer_id=world.get(Dealer, code=dealer)["id"])


def _prefix(world, dealer: str) -> str:
    return f"s{_settlement(world, dealer)['id']}"


# ------------------------------------------------------------------ home pages


def test_the_dealer_home_shows_its_progress_in_active_programmes(app, world, channel):
    from portal.platform.timeutil import today

    start = today().replace(day=1)
    world.rebate_programme("RB-NOW", name="本月返利", name_en="This month's rebate", period_start=start,
                           period_end=start + dt.timedelta(days=27), tiers=[("0", "1"), ("5000", "2")])  # fmt: skip
    world.sold("SH-001", "P-1", today(), 2, "1000.00")
    page = text(as_user(app, channel["sh"]).get("/home"))
    card = page.split('data-rebate-card="RB-NOW"', 1)[1].split("data-rebate-card", 1)[0]
    assert "This month&#39;s rebate" in card or "This month's rebate" in card
    assert "2,000.00" in card and "20.00" in card and "Tier 1" in card and "3,000.00 more for Tier 2 (2%)" in card
    assert 'href="/rebates/RB-NOW"' in card and "data-progress-pct=" in card
    ended = page.split('data-rebate-card="RB-ALL"', 1)[1].split("data-rebate-card", 1)[0]  # active, not settled yet
    assert "The period ended on 2026-03-31" in ended and "more for" not in ended


def test_a_capped_card_says_what_the_cap_means_and_pushes_no_next_tier(app, world, channel):
    from portal.platform.timeutil import today

    start = today().replace(day=1)
    world.rebate_programme("RB-CAP", name="封顶返利", name_en="Capped rebate", period_start=start, cap="15.00",
                           period_end=start + dt.timedelta(days=27), tiers=[("0", "1"), ("5000", "2")])  # fmt: skip
    world.sold("SH-001", "P-1", today(), 2, "1000.00")  # 2,000.00 × 1 % = 20.00, capped at 15.00
    page = text(as_user(app, channel["sh"]).get("/home"))
    card = page.split('data-rebate-card="RB-CAP"', 1)[1].split("data-rebate-card", 1)[0]
    assert "15.00" in card and "data-capped" in card and "the most this programme pays a dealer" in card
    assert "more for" not in card and "20.00" not in card


def test_hq_and_region_homes_show_the_rebate_accrued(app, world, channel):
    from portal.platform.timeutil import today

    start = today().replace(day=1)
    world.rebate_programme("RB-NOW", period_start=start, period_end=start + dt.timedelta(days=27))
    world.sold("SH-001", "P-1", today(), 2, "1000.00")
    assert "data-rebates-accrued" in text(as_user(app, channel["hq"]).get("/home"))
    assert "data-rebates-accrued" in text(as_user(app, channel["east"]).get("/home"))


def test_the_pages_speak_chinese(app, world, channel):
    client = as_user(app, world.user("dealer_admin", dealer="SH-001", username="sh.zh", locale="zh_CN"))
    page = text(client.get("/rebates/RB-ALL"))
    assert "一季度销售返利" in page and "第2档" in page and "方案期间已于 2026-03-31 结束" in page
    page = text(as_user(app, world.user("finance", username="fin.zh", locale="zh_CN")).get("/rebates"))
    assert "返利方案" in page and "终端销售金额" in page
