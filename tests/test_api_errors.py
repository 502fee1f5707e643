"""API conventions: one error shape, field-level messages, bad input refused whole, nothing half-written."""

from __future__ import annotations

import re

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import Dealer


@pytest.fixture
def hq(world):
    world.region("RX")
    return world.auth(world.user("channel_manager"))


def _error(resp, status):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert "Traceback" not in resp.get_data(as_text=True)
    return body["error"]


GOOD = {"code": "SH-900", "name": "上海测试经销商", "region_code": "RX", "tier": "A", "channel_type": "4s_store"}


def test_malformed_json_is_a_400_in_the_error_shape(client, hq):
    resp = client.post("/api/v1/dealers", data='{"code": "SH-1", ', content_type="application/json", headers=hq)
    assert _error(resp, 400)["code"] == "malformed_json"


def test_wrong_types_name_each_field(client, hq):
    body = {**GOOD, "payment_terms_days": "thirty", "tier": 1}
    err = _error(client.post("/api/v1/dealers", json=body, headers=hq), 422)
    assert err["code"] == "validation_error"
    assert set(err["fields"]) == {"payment_terms_days", "tier"}


def test_unknown_fields_are_refused(client, hq):
    err = _error(client.post("/api/v1/dealers", json={**GOOD, "credit": "100"}, headers=hq), 422)
    assert err["fields"] == {"credit": ["Unknown field."]}


def test_missing_required_fields_are_listed(client, hq):
    err = _error(client.post("/api/v1/dealers", json={"code": "X-1"}, headers=hq), 422)
    assert {"name", "region_code", "tier", "channel_type"} <= set(err["fields"])


def test_a_rule_broken_in_the_service_is_a_field_error(client, hq):
    err = _error(client.post("/api/v1/dealers", json={**GOOD, "region_code": "NOWHERE"}, headers=hq), 422)
    assert "region_code" in err["fields"]


def test_amounts_are_strings_with_at_most_two_decimals(client, world):
    admin = world.auth(world.user("hq_admin"))
    for bad, why in (("12.345", "two decimal"), (12.5, "as strings"), ("-1", "negative"), ("abc", "number")):
        err = _error(
            client.post("/api/v1/regions", json={"code": "R9", "name": "x", "approval_limit": bad}, headers=admin), 422
        )
        assert why in " ".join(err["fields"]["approval_limit"])
    ok = client.post("/api/v1/regions", json={"code": "R9", "name": "x", "approval_limit": "1234.5"}, headers=admin)
    assert ok.get_json()["approval_limit"] == "1234.50"


def test_bad_input_writes_nothing(client, hq, world):
    before = world.snapshot()
    client.post("/api/v1/dealers", json={**GOOD, "tier": "Z"}, headers=hq)
    client.post("/api/v1/dealers", json={**GOOD, "region_code": "NOWHERE"}, headers=hq)
    client.post("/api/v1/dealers", data="not json", content_type="application/json", headers=hq)
    assert world.snapshot() == before
    assert world.count(Dealer) == 0 and world.count(AuditEntry) == 0


def test_a_duplicate_is_refused_and_the_first_is_kept(client, hq, world):
    assert client.post("/api/v1/dealers", json=GOOD, headers=hq).status_code == 201
    err = _error(client.post("/api/v1/dealers", json={**GOOD, "name": "另一个"}, headers=hq), 422)
    assert "code" in err["fields"]
    assert world.get(Dealer, code="SH-900")["name"] == GOOD["name"]


def test_not_found_unauthorized_forbidden_and_method_not_allowed_share_the_shape(client, world, hq):
    assert _error(client.get("/api/v1/dealers/NOPE", headers=hq), 404)["code"] == "not_found"
    assert _error(client.get("/api/v1/dealers"), 401)["code"] == "unauthorized"
    staff = world.auth(world.user("dealer_staff"))
    assert _error(client.post("/api/v1/dealers", json=GOOD, headers=staff), 403)["code"] == "forbidden"
    assert _error(client.delete("/api/v1/dealers", headers=hq), 405)["code"] == "method_not_allowed"
    assert _error(client.get("/api/v1/no-such-thing", headers=hq), 404)["code"] == "not_found"


def test_an_unexpected_error_is_a_500_without_a_trace(app, client, hq, monkeypatch):
    from portal.dealers import services

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "dealers_query", boom)
    err = _error(client.get("/api/v1/dealers", headers=hq), 500)
    assert err["code"] == "internal_error" and "secret" not in err["message"]


def test_lists_page(client, world, hq):
    for i in range(7):
        world.dealer(f"P-{i}", "RX")
    body = client.get("/api/v1/dealers?per_page=3&page=3", headers=hq).get_json()
    assert body["total"] == 7 and body["page"] == 3 and body["per_page"] == 3
    assert [d["code"] for d in body["items"]] == ["P-6"]
    assert _error(client.get("/api/v1/dealers?per_page=0", headers=hq), 422)["fields"]["per_page"]


def test_a_page_past_the_end_is_empty_however_far(client, world, hq):
    """page=10**22 was a 500 (the offset overflowed the database's integer; found by tests/test_api_fuzz.py)."""
    world.dealer("P-1", "RX")
    for page in (2, 10**22):
        body = client.get(f"/api/v1/dealers?page={page}", headers=hq).get_json()
        assert (body["items"], body["page"], body["total"]) == ([], page, 1)


def test_an_id_too_large_for_the_database_is_a_404(client, world, hq):
    """/api/v1/entries/10**21 was a 500 (the driver refused the integer; found by tests/test_api_fuzz.py), and so was
    an id above INTEGER's 2**31 - 1 on PostgreSQL (5107198351, found by the fuzzing in CI)."""
    for url in ("/api/v1/entries/1000000000000000000000", "/api/v1/statements/1000000000000000000000",
                "/api/v1/entries/5107198351", "/api/v1/notifications/2147483648/read"):  # fmt: skip
        response = client.post(url, headers=hq) if url.endswith("/read") else client.get(url, headers=hq)
        assert _error(response, 404)["code"] == "not_found"


def test_the_top_level_message_is_in_the_callers_language(app, client, world, monkeypatch):
    """The message of every error answer is in the requester's language, like the field messages (it was English in a
    Chinese session): the user's own language with a token or a session, the browser's before login."""
    from portal.dealers import services
    from tests.conftest import login

    world.region("RX")
    zh = world.auth(world.user("channel_manager", locale="zh_CN"))
    en = world.auth(world.user("channel_manager", locale="en"))
    zh_staff = world.auth(world.user("dealer_staff", locale="zh_CN"))
    monkeypatch.setattr(services, "dealers_query", lambda *a, **k: 1 / 0)

    def answers(auth: dict, staff: dict, anonymous: dict) -> list[tuple[int, str, str]]:
        calls = [
            client.get("/api/v1/dealers/NOPE", headers=auth),  # the scope's 404
            client.get("/api/v1/no-such-thing", headers=auth),  # routing's 404
            client.delete("/api/v1/dealers", headers=auth),  # 405
            client.post("/api/v1/dealers", data='{"code": ', content_type="application/json", headers=auth),
            client.post("/api/v1/dealers", json={**GOOD, "region_code": "NOWHERE"}, headers=auth),  # 422, the service
            client.post("/api/v1/dealers", json={"code": "X-1"}, headers=auth),  # 422, the schema
            client.post("/api/v1/dealers", json=GOOD, headers=staff),  # 403
            client.get("/api/v1/dealers", headers=anonymous),  # 401
            client.get("/api/v1/dealers", headers=auth),  # 500
        ]
        return [(r.status_code, r.get_json()["error"]["code"], r.get_json()["error"]["message"]) for r in calls]

    chinese = answers(zh, zh_staff, {"Accept-Language": "zh-CN,zh;q=0.9"})
    english = answers(en, world.auth(world.user("dealer_staff", locale="en")), {})
    assert [(s, c) for s, c, _m in chinese] == [(s, c) for s, c, _m in english] == [
        (404, "not_found"), (404, "not_found"), (405, "method_not_allowed"), (400, "malformed_json"),
        (422, "validation_error"), (422, "validation_error"), (403, "forbidden"), (401, "unauthorized"),
        (500, "internal_error")]  # fmt: skip
    assert chinese[0][2] == "未找到 Dealer。" and english[0][2] == "Dealer not found."
    assert chinese[4][2] == "输入无效，请查看各字段的说明。" and english[4][2] == "The input is not valid; see fields."
    for (_s, _c, message_zh), (_s2, _c2, message_en) in zip(chinese, english, strict=True):
        assert re.search(r"[\u4e00-\u9fff]", message_zh), message_zh
        assert message_en.isascii() and message_en != message_zh, message_en

    login(client, world.user("hq_admin", locale="zh_CN"))
    csrf = client.post("/api/v1/regions", json={"code": "R2", "name": "x"}).get_json()["error"]
    assert csrf["code"] == "csrf_failed" and csrf["message"].startswith("CSRF 令牌缺失或无效")
