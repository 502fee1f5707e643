"""Settings from the environment: one class, documented defaults.

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite:///<instance>/portal.db | SQLAlchemy URL; `postgresql://` is read as psycopg 3 |
| REDIS_URL | unset | Redis for RQ jobs; unset runs jobs in-process (logged) |
| PORTAL_ENV | development | `production`: SECRET_KEY must come from the environment; Secure cookies default on |
| SECRET_KEY | random, in instance/secret_key | signs sessions and CSRF tokens; production: from the env, ≥ 32 chars |
| PORTAL_TIMEZONE | Asia/Shanghai | business dates ("today") are taken in this zone |
| PORTAL_SECURE_COOKIES | 0 (1 in production) | 1 behind TLS: Secure session cookies |
| PORTAL_TRUSTED_PROXIES | 0 | proxies in front setting X-Forwarded-For/-Proto (1 behind nginx); HSTS on TLS requests |
| PORTAL_MAX_UPLOAD_MB | 16 | largest request (uploaded file) accepted; larger is answered 413 |
| PORTAL_SESSION_HOURS | 12 | a browser session ends this long after its last change (and CSRF tokens expire) |
| PORTAL_STORAGE | <instance>/storage | where generated files (PDFs, exports) are kept |
| PORTAL_TOKEN_HOURS | 12 | lifetime of bearer tokens from POST /api/v1/auth/token |
| PORTAL_LOGIN_MAX_FAILURES | 5 | failed logins of one username from one address within the window before a lock |
| PORTAL_LOGIN_LOCK_MINUTES | 15 | lock duration and failure-counting window |
| PORTAL_DEFAULT_LOCALE | zh_CN | language for users who have not chosen one |
| PORTAL_OVERDUE_HOLD_DAYS | 90 | days past due after which the daily scan puts a dealer on hold |
| PORTAL_RETURN_DAYS | 90 | days after receiving goods within which a dealer may ask to return them (§13) |
| PORTAL_DUNNING_LEVELS | 1:remind,15:region,30:review,60:finance,90:hold | dunning policy (§14), days:action |
|  |  | (remind, region, review, finance, hold; hold: = PORTAL_OVERDUE_HOLD_DAYS; checked at start-up) |
| PORTAL_OVERDUE_SCAN_CRON | 0 18 * * * | when the daily overdue scan runs (cron, UTC; 02:00 Shanghai) |
| PORTAL_BANK_LAYOUTS | unset | JSON file of bank statement layouts added to the shipped ones (docs/COLLECTIONS.md) |
| MAIL_SERVER, MAIL_PORT, MAIL_FROM | unset, 25 (465 with MAIL_USE_SSL), portal@localhost | SMTP for e-mails |
| MAIL_USERNAME, MAIL_PASSWORD | unset | SMTP login (AUTH), when the server wants one |
| MAIL_USE_TLS / MAIL_USE_SSL | 0 / 0 | STARTTLS on a plain connection / TLS from the start (SMTPS); not both |
| MAIL_TLS_CA_FILE | unset (the system's CAs) | PEM file of the CA(s) that signed the mail server's certificate |
| MAIL_TIMEOUT | 30 | seconds of silence from the mail server before an attempt fails |
| MAIL_MAX_ATTEMPTS | 6 | attempts per e-mail before it is marked failed (resend from /outbox) |
| MAIL_RETRY_SECONDS | 60 | wait after the first failed attempt; each further wait is four times longer |
| PORTAL_MAIL_SWEEP_CRON | * * * * * | when the worker delivers what is due in the outbox (cron, UTC) |
| PORTAL_UPLOAD_RETENTION_DAYS | 90 | uploaded import files are deleted this many days after upload (0: kept) |
| PORTAL_UPLOAD_PURGE_CRON | 30 19 * * * | when the worker deletes expired uploads (cron, UTC; 03:30 Shanghai) |
| PORTAL_BUILD_STAGES | scheduled,body,paint,assembly,inspection,completed | factory stages in order (§4) |
| PORTAL_VIN_WMI | LDP | World Manufacturer Identifier: the first 3 characters of every VIN |
| PORTAL_ETA_WINDOW_DAYS | 90 | stage transitions completed within this many days feed the ETA medians |
| PORTAL_ETA_SAMPLE | 500 | at most this many recent transitions per stage pair feed a median |
| PORTAL_ETA_DEFAULT_STAGE_HOURS | 24 | hours per stage when neither history nor the product's lead time says more |
| PORTAL_ETA_CACHE_SECONDS | 300 | how long a process keeps the ETA medians before computing them again |
| PORTAL_STATEMENT_RUN_CRON | 0 0 1 * * | monthly statement run of last month (cron, UTC; 08:00 Shanghai on the 1st) |
| PORTAL_PDF_FONT | the Debian WenQuanYi Micro Hei file | CJK TrueType font embedded in PDFs (`make fonts`) |
| PORTAL_COMPANY_NAME, _ADDRESS, _PHONE, _BANK | the demo manufacturer | the issuer block printed on statements |
| PORTAL_STOCK_LIMITED_BELOW | 10 | dealers see "limited" when HQ has fewer available than this, else "in stock" |
| PORTAL_SCORECARD_WEIGHTS | achievement=30,dso=15, | the scorecard's components (§15) and their weights: whole |
|  | overdue_share=15, | numbers ≥ 0; a component unlisted or at 0 is left out; |
|  | sell_through_rate=15, | checked at start-up |
|  | days_of_inventory=15,below_floor=10 |  |
| PORTAL_SCORECARD_BOUNDS | see DEFAULT_SCORECARD_BOUNDS | `name=best:worst`: the values scoring 100 and 0 points |
|  |  | (linear between); the ones listed replace the defaults |
| PORTAL_SCORECARD_CACHE_SECONDS | 300 | how long a process keeps a month's ranking (every dealer's scorecard) |
|  |  | and the home pages' report cards (targets, channel flow, rebates: portal/home/cache.py) |
| PORTAL_REPLICA_DATABASE_URL | unset | a PostgreSQL streaming replica the reports read (docs/REPLICA.md); |
|  |  | unset: everything on the primary |
| PORTAL_REPLICA_MAX_LAG_S | 30 | seconds behind the primary beyond which reports read the primary |
|  |  | (a number ≥ 0; checked at start-up) |
| PORTAL_WORKER_NICE | 10 | the CPU priority `flask worker` lowers itself by (0–19; 0: unchanged) |
|  |  | so batch jobs yield the CPU to web requests on a shared machine |
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class ConfigError(RuntimeError):
    """A setting that production cannot run without."""


# ---------------------------------------------------------------- scorecards (PRODUCT.md §15)

SCORECARD_COMPONENTS = (
    "achievement",
    "dso",
    "overdue_share",
    "sell_through_rate",
    "days_of_inventory",
    "below_floor",
)
DEFAULT_SCORECARD_WEIGHTS = (
    "achievement=30,dso=15,overdue_share=15,sell_through_rate=15,days_of_inventory=15,below_floor=10"
)
# value scoring 100 points : value scoring 0 points (linear between, clamped): a ratio is a fraction (0.5 = 50 %)
DEFAULT_SCORECARD_BOUNDS = (
    "achievement=1:0,dso=30:120,overdue_share=0:0.5,sell_through_rate=0.5:0,days_of_inventory=30:180,below_floor=0:0.2"
)


def _pairs(name: str, text: str, example: str) -> list[tuple[str, str]]:
    """`"a=1,b=2"` → [("a", "1"), ("b", "2")]; ConfigError on a part that is no `name=value` of a known component,
    or a component named twice."""
    out: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in SCORECARD_COMPONENTS:
            raise ConfigError(
                f"{name}: {part!r} is not 'component=value' with a component of {', '.join(SCORECARD_COMPONENTS)} "
                f"(e.g. {example})"
            )
        if key in dict(out):
            raise ConfigError(f"{name}: {key} is given twice")
        out.append((key, value.strip()))
    return out


def scorecard_weights(value: str | Mapping | None = None) -> dict[str, int]:
    """The weight of every component (0: left out) from `PORTAL_SCORECARD_WEIGHTS` (text, or a mapping as tests may
    pass); a component not listed weighs 0. ConfigError for an unknown name, a weight that is not a whole number
    ≥ 0, or all weights 0."""
    name = "PORTAL_SCORECARD_WEIGHTS"
    if value is None or (isinstance(value, str) and not value.strip()):
        value = DEFAULT_SCORECARD_WEIGHTS
    pairs = _pairs(name, value, DEFAULT_SCORECARD_WEIGHTS) if isinstance(value, str) else list(value.items())
    weights = dict.fromkeys(SCORECARD_COMPONENTS, 0)
    for key, raw in pairs:
        if key not in SCORECARD_COMPONENTS:
            raise ConfigError(f"{name}: unknown component {key!r}; use {', '.join(SCORECARD_COMPONENTS)}")
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 6:
            raise ConfigError(f"{name}: the weight of {key} must be a whole number from 0 to 999999, not {text!r}")
        weights[key] = int(text)
    if not any(weights.values()):
        raise ConfigError(f"{name}: at least one component must weigh more than 0 (e.g. {DEFAULT_SCORECARD_WEIGHTS})")
    return weights


def scorecard_bounds(value: str | Mapping | None = None) -> dict[str, tuple[Decimal, Decimal]]:
    """(best, worst) of every component from `PORTAL_SCORECARD_BOUNDS` (`name=best:worst`, listed ones replace the
    defaults): the value at which it scores 100 points and 0. ConfigError when malformed or best = worst."""
    name = "PORTAL_SCORECARD_BOUNDS"
    example = "dso=30:120"
    bounds: dict[str, tuple[Decimal, Decimal]] = {}
    given = _pairs(name, value, example) if isinstance(value, str) else list((value or {}).items())
    for key, raw in [*_pairs(name, DEFAULT_SCORECARD_BOUNDS, example), *given]:
        if key not in SCORECARD_COMPONENTS:
            raise ConfigError(f"{name}: unknown component {key!r}; use {', '.join(SCORECARD_COMPONENTS)}")
        if isinstance(raw, str):
            best, sep, worst = raw.partition(":")
            if not sep:
                raise ConfigError(f"{name}: {key}={raw} is not best:worst (e.g. {example})")
        else:
            best, worst = raw
        try:
            pair = (Decimal(str(best).strip()), Decimal(str(worst).strip()))
        except InvalidOperation:
            raise ConfigError(f"{name}: {key}: {best}:{worst} are not two numbers (e.g. {example})") from None
        if not all(v.is_finite() for v in pair) or pair[0] == pair[1]:
            raise ConfigError(f"{name}: {key}: best and worst must be two different numbers (e.g. {example})")
        bounds[key] = pair
    return bounds


# ---------------------------------------------------------------- read replica (docs/REPLICA.md)

DEFAULT_REPLICA_MAX_LAG_S = 30.0


def replica_max_lag(value: str | float | int | None = None) -> float:
    """`PORTAL_REPLICA_MAX_LAG_S` as seconds (default 30); ConfigError for a non-number or a negative one."""
    name = "PORTAL_REPLICA_MAX_LAG_S"
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_REPLICA_MAX_LAG_S
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds ≥ 0 (e.g. 30), not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{name} must be a number of seconds ≥ 0 (e.g. 30), not {value!r}")
    return seconds


DEFAULT_WORKER_NICE = 10


def worker_nice(value: str | int | None = None) -> int:
    """`PORTAL_WORKER_NICE` as a niceness increment 0–19 (default 10); ConfigError otherwise."""
    name = "PORTAL_WORKER_NICE"
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_WORKER_NICE
    text = value.strip() if isinstance(value, str) else str(value)
    if isinstance(value, bool) or not text.isdigit() or not 0 <= int(text) <= 19:
        raise ConfigError(f"{name} must be a whole number from 0 to 19 (e.g. 10), not {value!r}")
    return int(text)


def replica_url(value: str | None) -> str | None:
    """`PORTAL_REPLICA_DATABASE_URL` read as psycopg 3; ConfigError when it is not PostgreSQL."""
    if not value or not value.strip():
        return None
    url = normalise_database_url(value.strip())
    if not url.startswith("postgresql"):
        raise ConfigError("PORTAL_REPLICA_DATABASE_URL must be a postgresql:// URL (a streaming replica)")
    return url


def _secret_key(instance_path: Path, env: dict[str, str], production: bool) -> str:
    key = env.get("SECRET_KEY")
    if production:
        # never a key from a file on the web server's disk, nor a generated one that each host would make anew
        if not key or len(key) < 32:
            raise ConfigError(
                "PORTAL_ENV=production needs SECRET_KEY from the environment, at least 32 characters "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        return key
    if key:
        return key
    keyfile = instance_path / "secret_key"
    if keyfile.exists():
        return keyfile.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    keyfile.write_text(key)
    keyfile.chmod(0o600)
    return key


class Config:
    """Built from the environment at app creation; tests pass overrides to create_app."""

    def __init__(self, instance_path: str, env: dict[str, str] | None = None):
        env = dict(os.environ if env is None else env)
        inst = Path(instance_path)
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or f"sqlite:///{inst / 'portal.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        # PgBouncer in transaction pooling (deploy/pgbouncer/, docs/DEPLOYMENT.md): a transaction may run on any server
        # connection, so psycopg must prepare nothing on the server (PostgreSQL URLs only: sqlite3 refuses the argument)
        self.PORTAL_DB_PGBOUNCER = _bool(env.get("PORTAL_DB_PGBOUNCER"))
        if self.PORTAL_DB_PGBOUNCER:
            self.SQLALCHEMY_ENGINE_OPTIONS["connect_args"] = {"prepare_threshold": None}
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.PORTAL_ENV = (env.get("PORTAL_ENV") or "development").strip().lower()
        production = self.PORTAL_ENV == "production"
        self.SECRET_KEY = _secret_key(inst, env, production)
        self.PORTAL_TIMEZONE = env.get("PORTAL_TIMEZONE", "Asia/Shanghai")
        self.PORTAL_STORAGE = env.get("PORTAL_STORAGE") or str(inst / "storage")
        self.PORTAL_TOKEN_HOURS = int(env.get("PORTAL_TOKEN_HOURS", "12"))
        self.PORTAL_LOGIN_MAX_FAILURES = int(env.get("PORTAL_LOGIN_MAX_FAILURES", "5"))
        self.PORTAL_LOGIN_LOCK_MINUTES = int(env.get("PORTAL_LOGIN_LOCK_MINUTES", "15"))
        self.PORTAL_BENCH_ENDPOINTS = _bool(env.get("PORTAL_BENCH_ENDPOINTS"))  # bench/ only, never in production
        self.PORTAL_OVERDUE_HOLD_DAYS = int(env.get("PORTAL_OVERDUE_HOLD_DAYS", "90"))
        # §13: a dealer may ask to return goods within this many days of receiving them
        self.PORTAL_RETURN_DAYS = int(env.get("PORTAL_RETURN_DAYS", "90"))
        # the dunning policy (PRODUCT.md §14, portal/collections/services.py); unset: the default, its hold level at
        # PORTAL_OVERDUE_HOLD_DAYS; parsed and checked when the app starts
        self.PORTAL_DUNNING_LEVELS = env.get("PORTAL_DUNNING_LEVELS") or None
        # the daily overdue scan, as a cron line in UTC: 18:00 UTC is 02:00 in Asia/Shanghai
        self.PORTAL_OVERDUE_SCAN_CRON = env.get("PORTAL_OVERDUE_SCAN_CRON", "0 18 * * *")
        # more bank statement layouts (portal/banking/layouts.py), read when a statement is imported
        self.PORTAL_BANK_LAYOUTS = env.get("PORTAL_BANK_LAYOUTS", "")
        self.PASSWORD_HASH_METHOD = env.get("PORTAL_PASSWORD_HASH", "scrypt")
        secure = _bool(env.get("PORTAL_SECURE_COOKIES"), default=production)
        self.PORTAL_TRUSTED_PROXIES = int(env.get("PORTAL_TRUSTED_PROXIES", "0"))
        self.PORTAL_SECURE_COOKIES = secure
        self.SESSION_COOKIE_SECURE = secure
        self.REMEMBER_COOKIE_SECURE = secure
        self.SESSION_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"  # Lax, not Strict: a link from an e-mail still opens the page signed in
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "drp_session"
        session_hours = int(env.get("PORTAL_SESSION_HOURS", "12"))
        # Flask checks the signed cookie's age against this on every request, permanent session or not
        self.PERMANENT_SESSION_LIFETIME = 60 * 60 * session_hours
        self.WTF_CSRF_TIME_LIMIT = 60 * 60 * session_hours
        self.MAX_CONTENT_LENGTH = int(env.get("PORTAL_MAX_UPLOAD_MB", "16")) * 1024 * 1024
        self.BABEL_DEFAULT_LOCALE = env.get("PORTAL_DEFAULT_LOCALE", "zh_CN")
        self.BABEL_DEFAULT_TIMEZONE = self.PORTAL_TIMEZONE
        self.BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")
        self.LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
        self.BOOTSTRAP_SERVE_LOCAL = True
        # e-mail (docs/MAIL.md): delivered by the worker from the outbox table
        self.MAIL_SERVER = env.get("MAIL_SERVER") or None
        self.MAIL_USE_TLS = _bool(env.get("MAIL_USE_TLS"))
        self.MAIL_USE_SSL = _bool(env.get("MAIL_USE_SSL"))
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            raise ConfigError("MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (TLS from the start) exclude each other")
        self.MAIL_PORT = int(env.get("MAIL_PORT") or (465 if self.MAIL_USE_SSL else 25))
        self.MAIL_FROM = env.get("MAIL_FROM", "portal@localhost")
        self.MAIL_USERNAME = env.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD") or None
        self.MAIL_TLS_CA_FILE = env.get("MAIL_TLS_CA_FILE") or None
        self.MAIL_TIMEOUT = float(env.get("MAIL_TIMEOUT", "30"))
        self.MAIL_MAX_ATTEMPTS = int(env.get("MAIL_MAX_ATTEMPTS", "6"))
        self.MAIL_RETRY_SECONDS = float(env.get("MAIL_RETRY_SECONDS", "60"))
        self.PORTAL_MAIL_SWEEP_CRON = env.get("PORTAL_MAIL_SWEEP_CRON", "* * * * *")
        # build-line tracking (PRODUCT.md §4)
        self.PORTAL_BUILD_STAGES = env.get("PORTAL_BUILD_STAGES", "scheduled,body,paint,assembly,inspection,completed")
        self.PORTAL_VIN_WMI = env.get("PORTAL_VIN_WMI", "LDP")
        self.PORTAL_ETA_WINDOW_DAYS = int(env.get("PORTAL_ETA_WINDOW_DAYS", "90"))
        self.PORTAL_ETA_SAMPLE = int(env.get("PORTAL_ETA_SAMPLE", "500"))
        self.PORTAL_ETA_DEFAULT_STAGE_HOURS = int(env.get("PORTAL_ETA_DEFAULT_STAGE_HOURS", "24"))
        self.PORTAL_ETA_CACHE_SECONDS = int(env.get("PORTAL_ETA_CACHE_SECONDS", "300"))
        # statements (PRODUCT.md §6)
        self.PORTAL_STATEMENT_RUN_CRON = env.get("PORTAL_STATEMENT_RUN_CRON", "0 0 1 * *")
        # jobs whose worker died or that the queue lost are reported failed (jobs.interruption)
        self.PORTAL_WORKER_HEARTBEAT_SECONDS = float(env.get("PORTAL_WORKER_HEARTBEAT_SECONDS", "10"))
        self.PORTAL_WORKER_NICE = worker_nice(env.get("PORTAL_WORKER_NICE"))
        self.PORTAL_JOB_LOST_GRACE_SECONDS = float(env.get("PORTAL_JOB_LOST_GRACE_SECONDS", "60"))
        self.PORTAL_JOB_CHECK_CRON = env.get("PORTAL_JOB_CHECK_CRON", "*/10 * * * *")
        self.PORTAL_UPLOAD_RETENTION_DAYS = int(env.get("PORTAL_UPLOAD_RETENTION_DAYS", "90"))
        self.PORTAL_UPLOAD_PURGE_CRON = env.get("PORTAL_UPLOAD_PURGE_CRON", "30 19 * * *")
        self.PORTAL_PDF_FONT = env.get("PORTAL_PDF_FONT") or None
        self.PORTAL_COMPANY_NAME = env.get("PORTAL_COMPANY_NAME", "DRP Motors Co., Ltd. 德锐普汽车有限公司")
        self.PORTAL_COMPANY_ADDRESS = env.get(
            "PORTAL_COMPANY_ADDRESS", "88 Jinqiao Road, Pudong, Shanghai 上海市浦东新区金桥路88号"
        )
        self.PORTAL_COMPANY_PHONE = env.get("PORTAL_COMPANY_PHONE", "+86 21 5000 8888")
        self.PORTAL_COMPANY_BANK = env.get("PORTAL_COMPANY_BANK", "ICBC Shanghai Jinqiao 1001 2345 6789 0123 456")
        # HQ stock (PRODUCT.md §7): availability bands shown to dealers
        self.PORTAL_STOCK_LIMITED_BELOW = int(env.get("PORTAL_STOCK_LIMITED_BELOW", "10"))
        # scorecards (PRODUCT.md §15): the components' weights and bounds, checked here (a bad value stops the start)
        # and again when the app is made, with its overrides (portal/targets/scorecard_views.py)
        self.PORTAL_SCORECARD_WEIGHTS = env.get("PORTAL_SCORECARD_WEIGHTS") or DEFAULT_SCORECARD_WEIGHTS
        self.PORTAL_SCORECARD_BOUNDS = env.get("PORTAL_SCORECARD_BOUNDS") or ""
        self.PORTAL_SCORECARD_CACHE_SECONDS = int(env.get("PORTAL_SCORECARD_CACHE_SECONDS", "300"))
        scorecard_weights(self.PORTAL_SCORECARD_WEIGHTS)
        scorecard_bounds(self.PORTAL_SCORECARD_BOUNDS)
        # the read replica of the reports (portal/platform/replica.py); checked here and again when the app is made
        self.PORTAL_REPLICA_DATABASE_URL = replica_url(env.get("PORTAL_REPLICA_DATABASE_URL"))
        self.PORTAL_REPLICA_MAX_LAG_S = replica_max_lag(env.get("PORTAL_REPLICA_MAX_LAG_S"))
        # flask-smorest / OpenAPI
        self.API_TITLE = "DRP Portal API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
