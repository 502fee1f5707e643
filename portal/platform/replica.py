"""Reports read from a PostgreSQL streaming replica (docs/REPLICA.md). All the routing is here.

With `PORTAL_REPLICA_DATABASE_URL` set, the reads of a *report* request go to the replica, everything else to the
primary:

- A report is a GET/HEAD request to an endpoint of `REPORT_ENDPOINTS` (ageing, channel flow, price monitoring, the
  home pages' figures, rebate progress, achievement, scorecards) or any GET/HEAD asking for an export
  (`?format=csv|xlsx`). tests/test_replica_routing.py fails when an endpoint named like a report (`REPORT_WORDS`) is
  neither listed here nor in `NOT_REPORTS`.
- Who is calling is always read from the primary (the session's user or the bearer token is loaded before the
  request turns to the replica): a deactivated user or a revoked token is refused at once, not after the lag.
- Only plain SELECTs (and a report's `SET LOCAL` settings) go to the replica. A flush, an INSERT/UPDATE/DELETE, a
  `SELECT … FOR UPDATE`, other textual SQL and `session.connection()` go to the primary, and once the session has
  written anything the rest of the request reads the primary too. A non-GET request never reads the replica. Jobs
  and CLI commands (no request) use the primary.
- Read your own writes: after a request that wrote, the browser session remembers the primary's WAL position, and its
  reports read the primary until the replica has replayed that far (usually the next request or two).
- Lag: 0 when the replica has replayed the primary's current WAL position (an idle primary is not lag), else
  now() − pg_last_xact_replay_timestamp() on the replica. Checked at most every `CHECK_SECONDS` per process, with a
  short connect timeout. Beyond `PORTAL_REPLICA_MAX_LAG_S`, or when the replica cannot be reached or is no standby,
  reports read the primary; the log says so once per change of state (WARNING) and when the replica is back (INFO).
  A report that fails on the replica mid-request (it went away) is answered again from the primary.
- Freshness: report pages show one line (templates/_freshness.html, from `data_freshness()`), and report responses
  carry `X-Portal-Data-Source: replica|primary` and `X-Portal-Data-Lag-Seconds` (documented in the OpenAPI document).

Without `PORTAL_REPLICA_DATABASE_URL` nothing is installed but `data_freshness()` (always None): one engine, no line,
no headers, SQLite as before.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import threading
import time
from dataclasses import dataclass

from flask import current_app, g, has_request_context, request, session
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import CompoundSelect, Select

from portal.config import ConfigError, normalise_database_url, replica_max_lag, replica_url

log = logging.getLogger(__name__)

EXTENSION = "portal_replica"
CHECK_SECONDS = 2.0  # a process asks the replica for its lag at most this often
CONNECT_TIMEOUT_S = 2  # libpq's smallest useful connect timeout
PROBE_TIMEOUT_MS = 2000  # the lag query's statement timeout
CATCH_UP_GRACE_S = 0.1  # one second look when the replica is just behind (a WAL record written a moment ago)
EXPORT_FORMATS = ("csv", "xlsx")

# Report endpoints, pages and API (`flask --app portal routes`). Exports (?format=csv|xlsx) of any page are reports
# without being listed.
REPORT_ENDPOINTS = frozenset(
    {
        # ageing and the other credit reports
        "credit.receivables",
        "api_credit.receivables_ageing",
        "api_credit.receivables_credit",
        "api_credit.receivables_open_invoices",
        # channel flow and price monitoring
        "analytics.channel_flow",
        "analytics.price_monitoring",
        "api_analytics.channel_flow",
        "api_analytics.price_monitoring",
        # the home pages' figures (HQ's dashboard, a region's, a dealer's)
        "home.index",
        # rebate progress
        "rebates.detail",
        "api_rebates.progress",
        "api_rebates.dealer_rebates",
        # targets: achievement, scorecards and the targets export
        "achievement.achievement_page",
        "api_achievement.get_achievement",
        "scorecards.index",
        "api_scorecards.list_scorecards",
        "api_scorecards.dealer_scorecard",
        "targets.export",
    }
)

# Words in an endpoint's name or URL that mark it as a report or an export: such an endpoint is in REPORT_ENDPOINTS or
# in NOT_REPORTS (with the reason), else tests/test_replica_routing.py fails.
REPORT_WORDS = (
    "report",
    "export",
    "ageing",
    "aging",
    "receivables",
    "analytics",
    "dashboard",
    "progress",
    "achievement",
    "scorecard",
    "statistic",
    "summary",
    ".csv",
    ".xlsx",
)

NOT_REPORTS = {
    "credit.overdue_scan": "POST: starts the overdue scan (a write)",
    "credit.payment_import_template": "a blank import file: reads no figures",
    "inventory.sellthrough_template": "a blank import file: reads no figures",
    "targets.import_template": "a blank import file: reads no figures",
    "api_production.summary": "the build line's live state, read to act on (not a report)",
}


def is_report_request() -> bool:
    """Whether the current request is a report (its reads may go to the replica)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.endpoint in REPORT_ENDPOINTS:
        return True
    return request.args.get("format") in EXPORT_FORMATS


def looks_like_report(endpoint: str, rule: str) -> bool:
    """Whether an endpoint's name or URL says report or export (see REPORT_WORDS)."""
    haystack = f"{endpoint} {rule}".lower()
    return any(word in haystack for word in REPORT_WORDS)


# ---------------------------------------------------------------- the replica's state


def lsn_value(lsn: str | None) -> int | None:
    """A WAL position ('16/B374D848') as a number."""
    if not lsn:
        return None
    high, _sep, low = str(lsn).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    kind: str  # "ok", "behind" (lag over the limit or unknown), "down" (unreachable or no standby)
    lag: float | None  # seconds behind the primary; None when unknown
    replayed: int | None  # the WAL position replayed (lsn_value)
    reason: str | None  # why not usable, for the log


class Replica:
    """The replica's engine and its lag, checked at most every CHECK_SECONDS by one thread at a time (the others keep
    the last answer meanwhile)."""

    def __init__(self, url: str, max_lag: float, engine_options: dict | None = None):
        options = dict(engine_options or {})
        options["connect_args"] = {**options.get("connect_args", {}), "connect_timeout": CONNECT_TIMEOUT_S}
        options.setdefault("pool_pre_ping", True)
        self.engine = create_engine(url, **options)
        self.max_lag = max_lag
        self._lock = threading.Lock()
        self._state: ReplicaState | None = None
        self._checked = -math.inf
        self._logged: str | None = None
        self._local = threading.local()
        event.listen(self.engine, "handle_error", self._on_error)

    def __repr__(self) -> str:
        return f"<Replica {self.engine.url.render_as_string(hide_password=True)}>"

    # -- state

    def state(self, primary) -> ReplicaState:
        """The replica's state, probed anew when the last probe is older than CHECK_SECONDS."""
        current = self._state
        if current is not None and time.monotonic() - self._checked < CHECK_SECONDS:
            return current
        if not self._lock.acquire(blocking=current is None):
            return current  # another thread is probing: its predecessor's answer meanwhile
        try:
            if self._state is not None and time.monotonic() - self._checked < CHECK_SECONDS:
                return self._state
            self._local.probing = True
            try:
                self._set(self._probe(primary))
            finally:
                self._local.probing = False
            return self._state
        finally:
            self._lock.release()

    def expire(self) -> None:
        """Forget the last probe: the next report asks the replica again."""
        self._checked = -math.inf

    def mark_down(self, reason: str) -> None:
        self._set(ReplicaState(False, "down", None, None, reason))

    def _set(self, state: ReplicaState) -> None:
        self._state, self._checked = state, time.monotonic()
        if state.kind != self._logged:
            if state.usable:
                log.info("read replica: reports read the replica (%.1f s behind the primary)", state.lag or 0)
            else:
                log.warning("read replica: reports fall back to the primary: %s", state.reason)
            self._logged = state.kind

    def _probe(self, primary) -> ReplicaState:
        try:
            with primary.connect() as conn:
                position = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Exception:  # the primary's trouble shows elsewhere; judge the replica by its replay time
            log.exception("read replica: the primary's WAL position could not be read")
            position = None
        query = text(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
            " pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn),"
            " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
        )
        try:
            with self.engine.connect() as conn:
                conn.execute(text(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_MS}"))
                standby, replayed, caught_up, behind = conn.execute(query, {"position": position}).one()
                if standby and position and not caught_up:
                    time.sleep(CATCH_UP_GRACE_S)  # a record written a moment ago, about to be replayed?
                    standby, replayed, caught_up, behind = conn.execute(query, {"position": position}).one()
        except Exception as exc:  # noqa: BLE001 (any failure means: not usable now)
            return ReplicaState(False, "down", None, None, f"the read replica cannot be reached ({_short(exc)})")
        if not standby:
            return ReplicaState(
                False, "down", None, None, "PORTAL_REPLICA_DATABASE_URL is no standby (pg_is_in_recovery() is false)"
            )
        lag = 0.0 if caught_up else (max(0.0, float(behind)) if behind is not None else None)
        if lag is None:
            reason = "the read replica is behind the primary and has replayed no transaction since it started"
            return ReplicaState(False, "behind", None, lsn_value(replayed), reason)
        if lag > self.max_lag:
            reason = f"the read replica is {lag:.1f} s behind the primary (PORTAL_REPLICA_MAX_LAG_S = {self.max_lag:g})"
            return ReplicaState(False, "behind", lag, lsn_value(replayed), reason)
        return ReplicaState(True, "ok", lag, lsn_value(replayed), None)

    def _on_error(self, context) -> None:
        """An error on the replica's engine: a lost or refused connection marks it down at once (reports fall back
        without waiting for the next probe); the request retries on the primary (`_retrying`)."""
        if context.is_pre_ping or getattr(self._local, "probing", False):
            return  # a stale pooled connection (replaced at once), or the probe, which judges for itself
        original = context.original_exception
        if has_request_context():
            g._portal_replica_failed = True
        if context.is_disconnect or _is_connection_error(original):
            self.mark_down(f"the read replica failed ({_short(original)})")
        else:
            log.error("read replica: a report query failed there (%s); answering from the primary", _short(original))


def _is_connection_error(exc) -> bool:
    try:
        import psycopg
    except ImportError:  # pragma: no cover (psycopg is a dependency)
        return False
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


def _short(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def current_replica() -> Replica | None:
    return current_app.extensions.get(EXTENSION)


# ---------------------------------------------------------------- the decision of one request


@dataclass(frozen=True)
class Freshness:
    """Where a report's figures come from: "replica" (lag seconds behind) or "primary" (live)."""

    source: str
    lag: float
    as_of: dt.datetime  # UTC: the moment the figures reflect
    reason: str | None = None  # why the primary, when the replica was wanted

    @property
    def lag_seconds(self) -> int:
        return int(round(self.lag))


def _primary(reason: str | None) -> Freshness:
    from portal.platform.timeutil import utcnow

    return Freshness("primary", 0.0, utcnow(), reason)


WAIT_KEY = "_replica_wal"  # the browser session's last write, as the primary's WAL position after it


def _decide() -> None:
    """before_request (registered last): a report request reads the replica when it is usable."""
    rep = current_replica()
    if rep is None or not is_report_request():
        return
    from flask_login import current_user

    from portal.extensions import db
    from portal.platform.timeutil import utcnow

    if not current_user.is_authenticated:  # loads the user (or token) from the primary, before the choice
        return
    state = rep.state(db.engine)
    if not state.usable:
        g._portal_data = _primary(state.reason)
        return
    waiting = lsn_value(session.get(WAIT_KEY))
    if waiting is not None:
        if state.replayed is None or state.replayed < waiting:
            g._portal_data = _primary("the session's last change is not on the replica yet")
            return
        session.pop(WAIT_KEY, None)
    g._portal_data = Freshness("replica", state.lag or 0.0, utcnow() - dt.timedelta(seconds=state.lag or 0.0))


def data_freshness() -> Freshness | None:
    """Where this request's figures come from, or None (no replica configured, or not a report): the freshness line
    and the response headers. A report that wrote (it flushed) reads the primary from then on."""
    if not has_request_context():
        return None
    decided = g.get("_portal_data")
    if decided is not None and decided.source == "replica" and g.get("_portal_wrote"):
        return _primary("the request wrote")
    return decided


def _after(response):
    """after_request: the freshness headers of a report; the session's WAL position after a write."""
    rep = current_replica()
    if rep is None:
        return response
    fresh = data_freshness()
    if fresh is not None:
        response.headers["X-Portal-Data-Source"] = fresh.source
        response.headers["X-Portal-Data-Lag-Seconds"] = f"{fresh.lag:.1f}"
    if g.get("_portal_wrote") and not g.get("bearer") and response.status_code < 400:
        from portal.extensions import db

        try:
            with db.engine.connect() as conn:
                session[WAIT_KEY] = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        except Exception:  # never fail an answer for this: its reports may then read the replica a moment early
            log.exception("read replica: the primary's WAL position after a write could not be read")
    return response


def _retrying(view):
    """A report that failed on the replica (it went away, or refused a query) is answered again from the primary."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DBAPIError:
            decided = g.get("_portal_data")
            if not g.pop("_portal_replica_failed", False) or decided is None or decided.source != "replica":
                raise
            from portal.extensions import db

            db.session.rollback()
            g._portal_data = _primary("the read replica failed during the request")
            log.info("read replica: %s %s answered from the primary after a failure on the replica",
                     request.method, request.path)  # fmt: skip
            return view(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- the session's routing


def _writes(clause) -> bool:
    return clause is not None and (
        getattr(clause, "is_dml", False) or getattr(clause, "_for_update_arg", None) is not None
    )


_SETTING = re.compile(r"\s*(SET|SHOW|RESET)\s", re.IGNORECASE)


def _reads(clause) -> bool:
    """A plain SELECT, or a setting for the report's transaction (`SET LOCAL work_mem …`, which must reach the
    connection the report reads from). Other textual SQL may write (`SELECT nextval(…)`): the primary."""
    if isinstance(clause, (Select, CompoundSelect)):
        return getattr(clause, "_for_update_arg", None) is None
    return isinstance(clause, TextClause) and bool(_SETTING.match(clause.text))


class RoutingSession(FlaskSession):
    """Flask-SQLAlchemy's session, which sends a report request's plain SELECTs to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and has_request_context():
            rep = current_app.extensions.get(EXTENSION)
            if rep is not None:
                if self._flushing or _writes(clause):
                    g._portal_wrote = True
                elif (
                    _reads(clause)
                    and not g.get("_portal_wrote")
                    and getattr(g.get("_portal_data"), "source", None) == "replica"
                ):
                    return rep.engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


# ---------------------------------------------------------------- installation


def check_urls(primary_url: str, replica: str) -> str:
    """The replica's URL (psycopg 3); ConfigError unless primary and replica are PostgreSQL."""
    url = replica_url(replica)
    if not normalise_database_url(primary_url or "").startswith("postgresql"):
        raise ConfigError("PORTAL_REPLICA_DATABASE_URL needs a PostgreSQL primary (DATABASE_URL is not PostgreSQL)")
    return url


def _document_headers(app) -> None:
    """The freshness headers in the OpenAPI document, on the success answer of every report operation."""
    from portal.platform.api import api

    spec = api.spec
    descriptions = {
        "X-Portal-Data-Source": (
            {"type": "string", "enum": ["replica", "primary"]},
            "Where the figures were read: the read replica, or the primary (live). Sent only when the portal has a "
            "read replica (PORTAL_REPLICA_DATABASE_URL).",
        ),
        "X-Portal-Data-Lag-Seconds": (
            {"type": "string", "example": "0.0"},
            "How many seconds the figures are behind the primary (0.0 from the primary). Sent only when the portal "
            "has a read replica.",
        ),
    }
    refs = {}
    for name, (schema, description) in descriptions.items():
        spec.components.header(name, {"description": description, "schema": schema})
        refs[name] = {"$ref": f"#/components/headers/{name}"}
    paths = spec.to_dict()["paths"]
    prefix = app.config.get("OPENAPI_URL_PREFIX") or ""
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in REPORT_ENDPOINTS or not rule.rule.startswith(prefix + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # /dealers/<code> → /dealers/{code}
        operation = paths.get(path, {}).get("get")
        for status, response in (operation or {}).get("responses", {}).items():
            if str(status).startswith("2") and "$ref" not in response:
                response.setdefault("headers", {}).update(refs)


def install(app) -> None:
    """Check the settings; with a replica configured, its engine, the request hooks and the documented headers."""
    app.config["PORTAL_REPLICA_MAX_LAG_S"] = replica_max_lag(app.config.get("PORTAL_REPLICA_MAX_LAG_S"))
    app.jinja_env.globals["data_freshness"] = data_freshness
    _document_headers(app)
    url = (app.config.get("PORTAL_REPLICA_DATABASE_URL") or "").strip()
    if not url:
        return
    url = check_urls(app.config.get("SQLALCHEMY_DATABASE_URI", ""), url)
    app.config["PORTAL_REPLICA_DATABASE_URL"] = url
    app.extensions[EXTENSION] = Replica(url, app.config["PORTAL_REPLICA_MAX_LAG_S"],
                                        app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))  # fmt: skip
    app.before_request(_decide)
    app.after_request(_after)
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = _retrying(view)
