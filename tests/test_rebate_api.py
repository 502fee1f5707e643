"""The rebates API (PRODUCT.md §9, §11): programmes, progress and settlements over HTTP, errors in the documented
shape, every body checked whole, and tenancy — a dealer sees only the programmes covering it and only its own
progress and approved settlements, a region manager only its dealers; anything else answers 404."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.credit.models import LedgerEntry
from portal.rebates.models import RebateProgramme, RebateSettlement

PROGRAMME = {
    "code": "RB-API", "name": "一季度销售返利", "name_en": "Q1 sell-through rebate",
    "period_start": "2026-01-01", "period_end": "2026-03-31", "scope": "all", "basis": "sell_through_amount",
    "tier_kind": "percent", "cap": "5000.00",
    "tiers": [{"threshold": "0", "rate": "1"}, {"threshold": "10000", "rate": "2.5"}],
    "targets": {"categories": ["parts"]},
}  # fmt: skip


@pytest.fixture
def books(world):
    world.region("CN")
    world.region("EAST", parent="CN")
    world.region("SH", parent="EAST")
    world.region("WEST", parent="CN")
    world.dealer("E1", "SH")
    world.dealer("E2", "EAST")
    world.dealer("W1", "WEST")
    world.product("OIL-1", category="parts", list_price="100.00")
    world.sold("E1", "OIL-1", dt.date(2026, 2, 1), 120, "100.00")  # 12,000.00 → 2.5 % = 300.00
    world.sold("E2", "OIL-1", dt.date(2026, 2, 1), 10, "100.00")  # 1,000.00 → 1 % = 10.00
    world.sold("W1", "OIL-1", dt.date(2026, 2, 1), 50, "100.00")  # 5,000.00 → 1 % = 50.00
    for role, username, extra in (
        ("channel_manager", "cm", {}), ("finance", "fin", {}), ("dealer_admin", "e1.admin", {"dealer": "E1"}),
        ("dealer_admin", "w1.admin", {"dealer": "W1"}), ("region_manager", "east.rm", {"region": "EAST"}),
    ):  # fmt: skip
        world.user(role, username=username, **extra)
    return {name: world.auth(name) for name in ("cm", "fin", "e1.admin", "w1.admin", "east.rm")}


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]["fields"]


def _run_jobs(app):
    """With Redis the settlement job waits in the queue: run it as a worker would (in-process it ran already)."""
    if app.config["REDIS_URL"]:
        from rq import SimpleWorker

        from portal import jobs

        with app.app_context():
            queue = jobs.get_queue(app)
            SimpleWorker([queue], connection=queue.connection).work(burst=True)


# ---------------------------------------------------------------- programmes


def test_a_channel_manager_creates_edits_and_activates_a_programme(client, world, books):
    resp = client.post("/api/v1/rebates", json=PROGRAMME, headers=books["cm"])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["status"], body["scope"], body["unit"], body["cap"]) == ("draft", "all", "amount", "5000.00")
    assert body["tiers"] == [{"threshold": "0", "rate": "1"}, {"threshold": "10000", "rate": "2.5"}]
    assert body["targets"] == {"skus": [], "categories": ["parts"]}
    edited = client.put("/api/v1/rebates/RB-API", json={"tiers": [{"threshold": "0", "rate": "1.5"}]},
                        headers=books["cm"])  # fmt: skip
    assert edited.status_code == 200 and edited.get_json()["tiers"] == [{"threshold": "0", "rate": "1.5"}]
    assert client.post("/api/v1/rebates/RB-API/activate", headers=books["cm"]).get_json()["status"] == "active"
    again = client.post("/api/v1/rebates/RB-API/activate", headers=books["cm"])
    _error(again, 409, "invalid_transition")
    frozen = client.put("/api/v1/rebates/RB-API", json={"cap": "1.00", "name": "改名"}, headers=books["cm"])
    assert set(_error(frozen, 422, "validation_error")) == {"cap"}
    renamed = client.put("/api/v1/rebates/RB-API", json={"name": "改名"}, headers=books["cm"])
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "改名"
    assert client.post("/api/v1/rebates/RB-API/close", headers=books["cm"]).get_json()["status"] == "closed"


def test_a_bad_programme_is_refused_whole_with_every_problem_and_nothing_is_written(client, world, books):
    before = world.snapshot()
    bad = {**PROGRAMME, "period_end": "2025-12-31", "scope": "region:NOWHERE", "cap": "0",
           "tiers": [{"threshold": "100", "rate": "2"}, {"threshold": "50", "rate": "-1"}],
           "targets": {"skus": ["NO-SUCH"]}}  # fmt: skip
    fields = _error(client.post("/api/v1/rebates", json=bad, headers=books["cm"]), 422, "validation_error")
    assert set(fields) == {"period_end", "scope", "cap", "tiers", "targets"}
    assert len(fields["tiers"]) == 2
    units = {**PROGRAMME, "basis": "sell_in_units", "targets": {}}
    fields = _error(client.post("/api/v1/rebates", json=units, headers=books["cm"]), 422, "validation_error")
    assert set(fields) == {"tier_kind", "targets"}
    floats = {**PROGRAMME, "tiers": [{"threshold": 0, "rate": 2.5}]}
    _error(client.post("/api/v1/rebates", json=floats, headers=books["cm"]), 422, "validation_error")
    unknown = {**PROGRAMME, "colour": "red"}
    _error(client.post("/api/v1/rebates", json=unknown, headers=books["cm"]), 422, "validation_error")
    assert world.snapshot() == before
    client.post("/api/v1/rebates", json=PROGRAMME, headers=books["cm"])
    dup = client.post("/api/v1/rebates", json=PROGRAMME, headers=books["cm"])
    assert "code" in _error(dup, 422, "validation_error")
    assert world.count(RebateProgramme) == 1


def test_only_hq_channel_managers_manage_programmes(client, books):
    _error(client.post("/api/v1/rebates", json=PROGRAMME, headers=books["e1.admin"]), 403, "forbidden")
    _error(client.post("/api/v1/rebates", json=PROGRAMME, headers=books["fin"]), 403, "forbidden")
    _error(client.post("/api/v1/rebates", json=PROGRAMME), 401, "unauthorized")


# ---------------------------------------------------------------- tenancy


@pytest.fixture
def programmes(world, books):
    world.rebate_programme("RB-ALL", tiers=[("0", "1"), ("10000", "2.5")])
    world.rebate_programme("RB-WEST", scope="region:WEST")
    world.rebate_programme("RB-W1", scope="dealer:W1")
    world.rebate_programme("RB-DRAFT", status="draft")
    return books


def _codes(client, url, headers) -> list[str]:
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return sorted(item["code"] for item in resp.get_json()["items"])


def test_each_caller_lists_the_programmes_in_its_scope(client, programmes):
    assert _codes(client, "/api/v1/rebates", programmes["cm"]) == ["RB-ALL", "RB-DRAFT", "RB-W1", "RB-WEST"]
    assert _codes(client, "/api/v1/rebates", programmes["e1.admin"]) == ["RB-ALL"]
    assert _codes(client, "/api/v1/rebates", programmes["w1.admin"]) == ["RB-ALL", "RB-W1", "RB-WEST"]
    assert _codes(client, "/api/v1/rebates", programmes["east.rm"]) == ["RB-ALL"]
    assert _codes(client, "/api/v1/rebates?status=draft", programmes["cm"]) == ["RB-DRAFT"]


@pytest.mark.parametrize("path", ["", "/progress", "/settlements"])
def test_a_programme_not_covering_the_caller_answers_like_a_missing_one(client, programmes, path):
    for who, code in (("e1.admin", "RB-W1"), ("e1.admin", "RB-DRAFT"), ("east.rm", "RB-WEST")):
        resp = client.get(f"/api/v1/rebates/{code}{path}", headers=programmes[who])
        missing = client.get(f"/api/v1/rebates/NO-SUCH{path}", headers=programmes[who])
        _error(resp, 404, "not_found")
        assert resp.get_json() == missing.get_json()


def test_a_dealer_sees_only_its_own_progress_and_a_region_manager_only_its_dealers(client, programmes):
    own = client.get("/api/v1/rebates/RB-ALL/progress", headers=programmes["e1.admin"]).get_json()
    assert [(r["dealer_code"], r["basis"], r["rebate"], r["tier_index"]) for r in own["rows"]] == [
        ("E1", "12000.00", "300.00", 1),
    ]  # fmt: skip
    assert own["totals"]["dealers"] == 1 and own["unit"] == "amount" and own["as_of"] == "2026-03-31"
    other = client.get("/api/v1/rebates/RB-ALL/progress?dealer=W1", headers=programmes["e1.admin"]).get_json()
    assert other["rows"] == []
    east = client.get("/api/v1/rebates/RB-ALL/progress", headers=programmes["east.rm"]).get_json()
    assert [r["dealer_code"] for r in east["rows"]] == ["E1", "E2"]
    everyone = client.get("/api/v1/rebates/RB-ALL/progress", headers=programmes["cm"]).get_json()
    assert [r["dealer_code"] for r in everyone["rows"]] == ["E1", "W1", "E2"]  # by basis
    assert everyone["totals"]["rebate"] == "360.00"
    row = everyone["rows"][1]
    assert (row["next_threshold"], row["needed"], row["next_rate"], row["progress_pct"]) == ("10000", "5000", "2.5", 50)


def test_a_dealers_progress_everywhere_is_its_own(client, programmes):
    with_freeze = __import__("portal.platform.timeutil", fromlist=["freeze"]).freeze
    with with_freeze(dt.datetime(2026, 4, 20, 4, 0, tzinfo=dt.UTC)):  # Q1 closed less than 45 days ago
        client.post("/api/v1/rebates/RB-ALL/close", headers=programmes["cm"])
        mine = client.get("/api/v1/dealers/W1/rebates", headers=programmes["w1.admin"])
        assert mine.status_code == 200
        assert sorted(item["programme"]["code"] for item in mine.get_json()["items"]) == ["RB-ALL", "RB-W1", "RB-WEST"]
        assert {item["dealer_code"] for item in mine.get_json()["items"]} == {"W1"}
        _error(client.get("/api/v1/dealers/W1/rebates", headers=programmes["e1.admin"]), 404, "not_found")
        _error(client.get("/api/v1/dealers/W1/rebates", headers=programmes["east.rm"]), 404, "not_found")


# ---------------------------------------------------------------- settlements


def test_settling_before_the_period_ends_is_a_conflict(client, world, books):
    world.rebate_programme("RB-NOW", period_start=dt.date(2026, 10, 1), period_end=dt.date(2026, 12, 31))
    _error(client.post("/api/v1/rebates/RB-NOW/settlements", headers=books["fin"]), 409, "period_not_ended")
    _error(client.post("/api/v1/rebates/RB-NOW/settlements", headers=books["cm"]), 403, "forbidden")


def test_finance_settles_reviews_adjusts_and_approves_once(app, client, world, programmes):
    resp = client.post("/api/v1/rebates/RB-ALL/settlements", headers=programmes["fin"])
    assert resp.status_code == 202, resp.get_json()
    _run_jobs(app)
    job = client.get(f"/api/v1/jobs/{resp.get_json()['job_id']}", headers=programmes["fin"]).get_json()
    assert (job["kind"], job["status"]) == ("rebate_settlement", "finished"), job
    assert job["result"] == {"computed": 3, "refreshed": 0, "carried": 0, "unchanged": 0}

    listed = client.get("/api/v1/rebates/RB-ALL/settlements", headers=programmes["fin"]).get_json()
    assert [(s["dealer_code"], s["computed"], s["status"]) for s in listed["items"]] == [
        ("E1", "300.00", "computed"), ("E2", "10.00", "computed"), ("W1", "50.00", "computed"),
    ]  # fmt: skip
    assert client.get("/api/v1/rebates/RB-ALL/settlements", headers=programmes["e1.admin"]).get_json()["items"] == []
    east = client.get("/api/v1/rebates/RB-ALL/settlements", headers=programmes["east.rm"]).get_json()
    assert [s["dealer_code"] for s in east["items"]] == ["E1", "E2"]

    url = "/api/v1/rebates/RB-ALL/settlements/E1"
    fields = _error(client.post(f"{url}/adjust", json={"amount": "-20.00"}, headers=programmes["fin"]),
                    422, "validation_error")  # fmt: skip
    assert set(fields) == {"reason"}
    adjusted = client.post(f"{url}/adjust", json={"amount": "-20.00", "reason": "late payment"},
                           headers=programmes["fin"]).get_json()  # fmt: skip
    assert (adjusted["adjustment"], adjusted["amount"]) == ("-20.00", "280.00")

    approved = client.post(f"{url}/approve", headers=programmes["fin"])
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert (body["status"], body["amount"], body["credit_note_number"].startswith("CN-")) == (
        "approved",
        "280.00",
        True,
    )
    before = world.snapshot()
    _error(client.post(f"{url}/approve", headers=programmes["fin"]), 409, "already_approved")
    _error(client.post(f"{url}/adjust", json={"amount": "1.00", "reason": "x"}, headers=programmes["fin"]),
           409, "already_approved")  # fmt: skip
    assert world.snapshot() == before

    mine = client.get("/api/v1/rebates/RB-ALL/settlements", headers=programmes["e1.admin"]).get_json()
    assert [(s["dealer_code"], s["amount"]) for s in mine["items"]] == [("E1", "280.00")]
    _error(client.post(f"{url}/approve", headers=programmes["e1.admin"]), 403, "forbidden")
    _error(client.post("/api/v1/rebates/RB-ALL/settlements/NO-SUCH/approve", headers=programmes["fin"]),
           404, "not_found")  # fmt: skip

    everything = client.post("/api/v1/rebates/RB-ALL/settlements/approve", headers=programmes["fin"])
    assert everything.get_json() == {"approved": 2, "credit_notes": 2, "total": "60.00"}
    assert world.count(LedgerEntry, type="credit_note", source="rebate") == 3
    assert world.count(RebateSettlement, status="approved") == 3


def test_the_openapi_document_lists_the_rebate_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in (
        ("/api/v1/rebates", "get"), ("/api/v1/rebates", "post"), ("/api/v1/rebates/{code}", "put"),
        ("/api/v1/rebates/{code}/progress", "get"), ("/api/v1/rebates/{code}/settlements", "post"),
        ("/api/v1/rebates/{code}/settlements/{dealer}/approve", "post"),
        ("/api/v1/rebates/{code}/settlements/approve", "post"), ("/api/v1/dealers/{code}/rebates", "get"),
    ):  # fmt: skip
        assert method in paths[path], (path, method)
