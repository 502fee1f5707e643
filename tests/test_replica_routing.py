"""Reports read from a PostgreSQL streaming replica (portal/platform/replica.py, docs/REPLICA.md).

The first tests run everywhere (SQLite too): the settings are checked at start-up, every endpoint named like a report is
routed (so a report added later without routing fails here), the OpenAPI document carries the freshness headers, and
without a replica nothing changes. The others need PostgreSQL: they start a real primary and a streaming replica of it
(tests/replica.py, never the shared server) and count the statements each engine runs.
"""

from __future__ import annotations

import logging
import os
import re
import time

import pytest
from flask import request
from sqlalchemy import event, literal_column, select

from portal.config import DEFAULT_REPLICA_MAX_LAG_S, Config, ConfigError, replica_max_lag
from portal.extensions import db
from portal.platform import replica
from tests.conftest import PASSWORD, login, make_app, page_csrf, reset_schema
from tests.factories import World

LOGGER = "portal.platform.replica"
PROBE = re.compile(r"pg_current_wal_lsn|pg_is_in_recovery|statement_timeout", re.IGNORECASE)
AUTH = re.compile(r"\bFROM users\b|\bFROM api_tokens\b", re.IGNORECASE)


# ---------------------------------------------------------------- everywhere (SQLite too)


def test_the_max_lag_setting_is_checked_at_start_up(tmp_path):
    assert Config(str(tmp_path), {}).PORTAL_REPLICA_MAX_LAG_S == DEFAULT_REPLICA_MAX_LAG_S == 30
    assert Config(str(tmp_path), {"PORTAL_REPLICA_MAX_LAG_S": " 2.5 "}).PORTAL_REPLICA_MAX_LAG_S == 2.5
    assert replica_max_lag("0") == 0
    for bad in ("soon", "-1", "nan", "inf", ""):
        if bad == "":
            assert replica_max_lag(bad) == 30  # unset: the default
            continue
        with pytest.raises(ConfigError, match="PORTAL_REPLICA_MAX_LAG_S"):
            Config(str(tmp_path), {"PORTAL_REPLICA_MAX_LAG_S": bad})
    with pytest.raises(ConfigError, match="PORTAL_REPLICA_MAX_LAG_S"):  # an override is checked when the app is made
        make_app(f"sqlite:///{tmp_path / 'x.db'}", PORTAL_REPLICA_MAX_LAG_S=-3)


def test_the_replica_must_be_postgresql(tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_REPLICA_DATABASE_URL"):
        Config(str(tmp_path), {"PORTAL_REPLICA_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"})
    url = Config(str(tmp_path), {"PORTAL_REPLICA_DATABASE_URL": "postgresql://reader@replica:5432/portal"})
    assert url.PORTAL_REPLICA_DATABASE_URL == "postgresql+psycopg://reader@replica:5432/portal"
    with pytest.raises(ConfigError, match="PostgreSQL primary"):  # SQLite has no streaming replica
        make_app(f"sqlite:///{tmp_path / 'x.db'}", PORTAL_REPLICA_DATABASE_URL="postgresql://reader@replica/portal")


@pytest.fixture(scope="module")
def plain_app(tmp_path_factory):
    """An app on SQLite without a replica (its own file: the session's `app` is left alone)."""
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('plain') / 'plain.db'}")
    reset_schema(app)
    return app


def test_every_report_endpoint_is_routed(plain_app):
    rules = {rule.endpoint: rule for rule in plain_app.url_map.iter_rules()}
    for endpoint in replica.REPORT_ENDPOINTS:
        assert endpoint in rules, f"{endpoint} is routed to the replica but no longer exists"
        assert "GET" in rules[endpoint].methods, f"{endpoint}: a report is read with GET"
    for endpoint in replica.NOT_REPORTS:
        assert endpoint in rules, f"{endpoint} is listed as no report but no longer exists"
    unrouted = sorted(
        f"{endpoint} {rule.rule}"
        for endpoint, rule in rules.items()
        if replica.looks_like_report(endpoint, rule.rule)
        and endpoint not in replica.REPORT_ENDPOINTS
        and endpoint not in replica.NOT_REPORTS
    )
    assert not unrouted, (
        "named like a report or an export, but neither in replica.REPORT_ENDPOINTS (read from the replica) nor in "
        f"replica.NOT_REPORTS (with the reason): {unrouted}"
    )


@pytest.mark.parametrize(
    ("method", "url", "report"),
    [
        ("GET", "/receivables", True),
        ("HEAD", "/analytics/channel-flow", True),
        ("GET", "/api/v1/receivables/ageing", True),
        ("GET", "/home", True),
        ("GET", "/targets/achievement", True),
        ("GET", "/rebates/RB-1", True),
        ("GET", "/orders?format=csv", True),  # any export
        ("GET", "/dealers?format=xlsx", True),
        ("GET", "/orders", False),
        ("GET", "/orders?format=html", False),
        ("POST", "/receivables/overdue-scan", False),
        ("POST", "/orders/new?format=csv", False),
        ("GET", "/home/queues/approvals", False),  # work queues: read to act on
    ],
)
def test_which_requests_are_reports(plain_app, method, url, report):
    with plain_app.test_request_context(url, method=method):
        assert request.endpoint  # the URL exists
        assert replica.is_report_request() is report


def test_the_openapi_document_names_the_freshness_headers(plain_app):
    spec = plain_app.test_client().get("/api/v1/openapi.json").get_json()
    assert set(spec["components"]["headers"]) == {"X-Portal-Data-Source", "X-Portal-Data-Lag-Seconds"}
    for path in ("/api/v1/receivables/ageing", "/api/v1/analytics/channel-flow", "/api/v1/rebates/{code}/progress",
                 "/api/v1/scorecards", "/api/v1/dealers/{code}/scorecard"):  # fmt: skip
        headers = spec["paths"][path]["get"]["responses"]["200"]["headers"]
        assert headers["X-Portal-Data-Source"] == {"$ref": "#/components/headers/X-Portal-Data-Source"}, path
    assert "headers" not in spec["paths"]["/api/v1/orders"]["get"]["responses"]["200"]


def test_without_a_replica_nothing_changes(plain_app):
    world = World(plain_app)
    hq = world.user("channel_manager")
    client = plain_app.test_client()
    login(client, hq)
    assert replica.EXTENSION not in plain_app.extensions
    for url in ("/receivables", "/analytics/channel-flow", "/home"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "X-Portal-Data-Source" not in response.headers
        assert "data-freshness" not in response.get_data(as_text=True)


# ---------------------------------------------------------------- a real streaming replica (PostgreSQL)


@pytest.fixture(scope="module")
def pair():
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"):
        pytest.skip("a streaming replica needs PostgreSQL: set TEST_DATABASE_URL=postgresql://…")
    from tests.replica import PG_BIN, StreamingPair, missing_binaries

    missing = missing_binaries()
    if missing:
        message = f"PostgreSQL server programs missing ({', '.join(missing)}; looked in {PG_BIN} and PATH)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + ": CI must run the read-replica tests")
        pytest.skip(message)
    started = StreamingPair()
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _app(pair, storage, **extra):
    app = make_app(pair.url("primary"), PORTAL_REPLICA_DATABASE_URL=pair.url("replica"), PORTAL_STORAGE=str(storage),
                   **extra)  # fmt: skip
    return app


def _write_then_read():
    """A report (an export: ?format=csv) that reads, writes, then reads again."""
    from portal.dealers.models import Dealer

    dealer = db.session.execute(select(Dealer, literal_column("'before-write'")).where(Dealer.code == "SH-001")).first()
    dealer[0].name = dealer[0].name.rstrip("·") + ("·" if not dealer[0].name.endswith("·") else "")
    db.session.flush()
    db.session.execute(select(Dealer.id, literal_column("'after-write'"))).all()
    return {"done": True}


@pytest.fixture(scope="module")
def rapp(pair, tmp_path_factory):
    app = _app(pair, tmp_path_factory.mktemp("replica-storage"))
    app.add_url_rule("/replica-test/write-then-read", "replica_test.write_then_read", _write_then_read)
    reset_schema(app)
    yield app
    app.extensions[replica.EXTENSION].engine.dispose()


@pytest.fixture(scope="module")
def channel(rapp, pair):
    world = World(rapp)
    made = world.busy_dealer("SH-001", "SH")
    people = {
        "hq": world.user("channel_manager", username="hq.replica"),
        "hq_zh": world.user("channel_manager", username="hq.replica.zh", locale="zh_CN"),
        "finance": world.user("finance", username="finance.replica"),
        "dealer": world.user("dealer_admin", dealer="SH-001", username="dealer.replica"),
    }
    pair.wait_replayed()
    return {"world": world, "rebate": made["rebate"], **people}


def _replica(app) -> replica.Replica:
    return app.extensions[replica.EXTENSION]


def _fresh(app, pair) -> None:
    """The replica has replayed everything, and the app asks it again at the next report."""
    pair.wait_replayed()
    _replica(app).expire()


class Statements:
    """The statements each engine ran: `primary` and `replica`, the lag probe's left out."""

    def __init__(self, app):
        with app.app_context():
            self.engines = {"primary": db.engine, "replica": _replica(app).engine}
        self.seen: dict[str, list[str]] = {"primary": [], "replica": []}
        self._listeners = []
        for name, engine in self.engines.items():

            def listen(conn, cursor, statement, parameters, context, executemany, name=name):
                if not PROBE.search(statement):
                    self.seen[name].append(statement)

            event.listen(engine, "before_cursor_execute", listen)
            self._listeners.append((engine, listen))

    @property
    def primary(self) -> list[str]:
        return self.seen["primary"]

    @property
    def replica(self) -> list[str]:
        return self.seen["replica"]

    def clear(self) -> None:
        for seen in self.seen.values():
            seen.clear()

    def close(self) -> None:
        for engine, listen in self._listeners:
            event.remove(engine, "before_cursor_execute", listen)


@pytest.fixture
def statements(rapp):
    recorder = Statements(rapp)
    yield recorder
    recorder.close()


def _client(app, username, language="en"):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert login(client, username, PASSWORD).status_code == 302
    return client


REPORT_PAGES = ("/receivables", "/analytics/channel-flow", "/analytics/price-monitoring", "/home",
                "/targets/achievement", "/scorecards")  # fmt: skip


def test_report_pages_read_the_replica_and_say_so(rapp, pair, channel, statements):
    client = _client(rapp, channel["hq"])
    for url in (*REPORT_PAGES, f"/rebates/{channel['rebate']}"):
        _fresh(rapp, pair)
        statements.clear()
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["X-Portal-Data-Source"] == "replica", url
        assert float(response.headers["X-Portal-Data-Lag-Seconds"]) >= 0
        assert statements.replica, f"{url}: nothing read from the replica"
        figures_on_primary = [s for s in statements.primary if not AUTH.search(s)]
        assert not figures_on_primary, f"{url} read its figures from the primary: {figures_on_primary[:3]}"
        html = response.get_data(as_text=True)
        assert html.count('data-freshness="replica"') == 1, url
        assert "Figures from the read replica" in html
    chinese = _client(rapp, channel["hq_zh"], "zh-CN")
    _fresh(rapp, pair)
    assert "数据来自只读副本" in chinese.get("/receivables").get_data(as_text=True)


def test_report_api_and_exports_read_the_replica(rapp, pair, channel, statements):
    headers = channel["world"].auth(channel["hq"])
    client = rapp.test_client()
    for url in ("/api/v1/receivables/ageing", "/api/v1/analytics/channel-flow", "/api/v1/scorecards",
                f"/api/v1/rebates/{channel['rebate']}/progress"):  # fmt: skip
        _fresh(rapp, pair)
        statements.clear()
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_json())
        assert response.headers["X-Portal-Data-Source"] == "replica", url
        assert statements.replica, url
        assert not [s for s in statements.primary if not AUTH.search(s)], url
    browser = _client(rapp, channel["hq"])
    for url in ("/receivables?format=csv", "/dealers?format=csv", "/orders?format=xlsx"):
        _fresh(rapp, pair)
        statements.clear()
        response = browser.get(url)
        assert response.status_code == 200, url
        body = response.get_data()  # a streamed export reads as it is sent
        assert body
        assert response.headers["X-Portal-Data-Source"] == "replica", url
        assert statements.replica, url
        assert not [s for s in statements.primary if not AUTH.search(s)], url


def test_other_pages_and_writes_use_the_primary_only(rapp, pair, channel, statements):
    client = _client(rapp, channel["finance"])
    _fresh(rapp, pair)
    statements.clear()
    for url in ("/orders", "/dealers/SH-001", "/home/queues/approvals"):
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert "X-Portal-Data-Source" not in response.headers
        assert "data-freshness" not in response.get_data(as_text=True)
    token = channel["world"].auth(channel["finance"])
    response = client.post("/api/v1/payments", headers=token,
                           json={"dealer_code": "SH-001", "amount": "12.00", "received_on": "2026-01-21",
                                 "reference": "REPLICA-PAY-1"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    assert any(s.lstrip().upper().startswith("INSERT") for s in statements.primary)
    assert statements.replica == []


def test_a_report_that_writes_reads_the_primary_from_then_on(rapp, pair, channel, statements):
    client = _client(rapp, channel["hq"])
    _fresh(rapp, pair)
    statements.clear()
    response = client.get("/replica-test/write-then-read?format=csv")
    assert response.status_code == 200
    assert any("before-write" in s for s in statements.replica)  # the first read: the replica
    assert any(s.lstrip().upper().startswith("UPDATE DEALERS") for s in statements.primary)  # the flush: the primary
    assert any("after-write" in s for s in statements.primary)  # and every read after it
    assert not any("after-write" in s for s in statements.replica)
    assert not [s for s in statements.replica if not s.lstrip().upper().startswith("SELECT")]
    assert response.headers["X-Portal-Data-Source"] == "primary"


def test_a_session_reads_its_own_write_in_the_next_report(rapp, pair, channel, statements):
    writer = _client(rapp, channel["dealer"])
    other = _client(rapp, channel["finance"])
    _fresh(rapp, pair)
    assert writer.get("/receivables").headers["X-Portal-Data-Source"] == "replica"
    assert other.get("/receivables").headers["X-Portal-Data-Source"] == "replica"
    channel["world"].note("SH-001", "replica: a recent commit")  # the replay pauses right after a fresh commit: lag ≈ 0
    pair.wait_replayed()
    pair.pause_replay()
    try:
        token = page_csrf(writer)
        assert writer.post("/lang/zh_CN", data={"csrf_token": token, "next": "/receivables"}).status_code == 302
        _replica(rapp).expire()
        statements.clear()
        mine = writer.get("/receivables")
        assert mine.headers["X-Portal-Data-Source"] == "primary"  # its own change is not on the replica yet
        assert 'data-freshness="primary"' in mine.get_data(as_text=True)
        assert other.get("/receivables").headers["X-Portal-Data-Source"] == "replica"  # others: the replica
    finally:
        pair.resume_replay()
    _fresh(rapp, pair)
    assert writer.get("/receivables").headers["X-Portal-Data-Source"] == "replica"


def test_a_lagging_replica_falls_back_to_the_primary_and_the_log_says_so(pair, channel, tmp_path, caplog):
    app = _app(pair, tmp_path, PORTAL_REPLICA_MAX_LAG_S="1")
    try:
        client = _client(app, channel["hq"])
        _fresh(app, pair)
        assert client.get("/receivables").headers["X-Portal-Data-Source"] == "replica"
        pair.pause_replay()
        try:
            channel["world"].note("SH-001", "replica: written while the replay is paused")
            time.sleep(1.5)  # the replica's last replayed commit is now more than PORTAL_REPLICA_MAX_LAG_S old
            _replica(app).expire()
            caplog.clear()
            with caplog.at_level(logging.INFO, logger=LOGGER):
                page = client.get("/receivables")
                api = app.test_client().get("/api/v1/receivables/ageing", headers=channel["world"].auth(channel["hq"]))
                _replica(app).expire()
                again = client.get("/analytics/channel-flow")
            for response in (page, api, again):
                assert response.status_code == 200
                assert response.headers["X-Portal-Data-Source"] == "primary"
                assert response.headers["X-Portal-Data-Lag-Seconds"] == "0.0"
            html = page.get_data(as_text=True)
            assert 'data-freshness="primary"' in html and "Live figures from the primary database" in html
            warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
            assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once per change of state
            assert "behind the primary" in warnings[0].getMessage()
            assert "PORTAL_REPLICA_MAX_LAG_S = 1" in warnings[0].getMessage()
        finally:
            pair.resume_replay()
        _fresh(app, pair)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert client.get("/receivables").headers["X-Portal-Data-Source"] == "replica"
        assert any("reports read the replica" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    finally:
        app.extensions[replica.EXTENSION].engine.dispose()


def test_a_stopped_replica_falls_back_and_reports_still_answer(rapp, pair, channel, caplog, monkeypatch):
    client = _client(rapp, channel["hq"])
    token = channel["world"].auth(channel["hq"])
    _fresh(rapp, pair)
    assert client.get("/receivables").headers["X-Portal-Data-Source"] == "replica"  # a pooled connection to it
    check_seconds = replica.CHECK_SECONDS
    monkeypatch.setattr(replica, "CHECK_SECONDS", 3600)  # the last probe ("usable") stands for the next request
    pair.stop_replica()
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            first = client.get("/receivables")  # finds the replica gone mid-request: answered again from the primary
            monkeypatch.setattr(replica, "CHECK_SECONDS", check_seconds)
            _replica(rapp).expire()
            page = client.get("/analytics/channel-flow")  # a new probe: down from the start
            api = rapp.test_client().get("/api/v1/receivables/ageing", headers=token)
        for response in (first, page, api):
            assert response.status_code == 200
            assert response.headers["X-Portal-Data-Source"] == "primary"
        assert "Live figures from the primary database" in page.get_data(as_text=True)
        messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]
        assert any(level == logging.INFO and "after a failure on the replica" in m for level, m in messages)
        warnings = [m for level, m in messages if level == logging.WARNING]
        assert len(warnings) == 1, warnings  # once, not on every request
        assert "fall back to the primary" in warnings[0] and "the read replica failed" in warnings[0]
    finally:
        pair.start_replica()
    _fresh(rapp, pair)
    assert client.get("/receivables").headers["X-Portal-Data-Source"] == "replica"
