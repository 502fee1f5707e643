"""Mixed-load benchmark (issue 9): the whole portal under a realistic mix, on loopback.

gunicorn with the worker count docs/DEPLOYMENT.md recommends (2 × cores, `deploy/gunicorn.conf.py`), PostgreSQL,
Redis (a numbered database, flushed), 2 RQ workers (`flask --app portal worker --no-cron`), and simulated users,
one thread each (`requests.Session`: keep-alive and cookies):

- dealer users (default 500) log in once through the login form, then loop: home page, their price list page,
  a price preview (`POST /api/v1/orders/quote`), an order (`POST /api/v1/orders` with an Idempotency-Key), and
  tracking it (`GET /api/v1/orders/{number}`, `GET /api/v1/track/{number}`); a think time between actions;
- HQ users (default 20, hq_admin) log in once, then loop: home dashboard, receivables ageing, channel flow;
- the MES (an integration token, scope production) posts stage events in batches for the units of approved orders
  (the units made when the dealers' orders are approved), one stage further each time;
- at half time, finance starts the statement run for last month (`POST /api/v1/statements/runs`) and its
  completion is followed on `GET /api/v1/jobs/{id}`.

Data: the orders benchmark's channel (bench/orders.py `build_data`: regions, dealers with 3 users and a token each,
200 products, price lists of every scope, two years of invoices and payments, 40 past orders per dealer) with as
many dealers as dealer users, plus HQ users, a finance user with a token and a production integration token.

Measured per action: count, errors (any status other than the expected one, or no answer), throughput, p50/p95/p99;
and the CPU seconds of gunicorn's workers, PostgreSQL's backends (and all postgres processes of the machine, which
includes autovacuum and the WAL writer), the RQ workers and the load driver itself, from /proc.

Issue 24: `--replica` makes a primary and a hot standby of its own (bench/pgpair.py; the machine's server settings,
fsync on) and runs the load twice on the same data: A without, B with `PORTAL_REPLICA_DATABASE_URL`; CPU per server
(each postmaster's tree) and the share of HQ reports answered `X-Portal-Data-Source: replica`. `--pgbouncer` runs
gunicorn and the workers through a PgBouncer of its own (scripts/pgbouncer_local.sh, transaction pooling,
`PORTAL_DB_PGBOUNCER=1`). Plain and PgBouncer runs also count the CPU of the run's own database's backends (the
shared server's other work left out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import orders
from bench.common import (
    connect,
    database_url,
    ensure_database,
    load,
    make_app,
    percentile,
    python_version,
    say,
    server_settings,
    table,
)
from bench.pgpair import StreamingPair

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"
MES_STAGES = ("body", "paint", "assembly", "inspection", "completed")
THINK = (2.0, 8.0)  # seconds between two actions of one user (uniform)
SPAWN_RATE = 10  # dealer users started per second (as locust's -r), each with a jitter of up to THINK[1]
MES_EVERY = 5.0  # seconds between two MES batches
MES_BATCH = 200
TIMEOUT = 60
WARMUP = 0.0  # seconds of load before the measured minutes (--warmup): the ramp-up excluded, as locust --reset-stats


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS


def recommended_workers() -> int:
    """What deploy/gunicorn.conf.py (and docs/DEPLOYMENT.md) recommend: 2 × cores."""
    return 2 * os.cpu_count()


# ---------------------------------------------------------------- data


def build(app, url: str, n_dealers: int, timings: dict) -> dict:
    from werkzeug.security import generate_password_hash

    orders.DEALERS = n_dealers
    data = orders.build_data(app, url, dt.date.today(), timings)
    password_hash = generate_password_hash(orders.PASSWORD, method="pbkdf2:sha256:1000")
    now = dt.datetime.now(dt.UTC).isoformat()
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    finance_token = "drp_u_" + secrets.token_urlsafe(32)
    mes_token = "drp_i_" + secrets.token_urlsafe(32)
    with connect(url) as conn:
        uid = conn.execute("SELECT max(id) FROM users").fetchone()[0]
        hq_names = []
        for k in range(1, 101):
            uid += 1
            hq_names.append(f"hq.bench{k}")
            conn.execute(
                "INSERT INTO users (id, username, display_name, email, password_hash, role, locale, active,"
                " created_at, password_changed_at, session_key)"
                " VALUES (%s, %s, %s, %s, %s, 'hq_admin', 'zh_CN', true, %s, %s, %s)",
                (uid, hq_names[-1], f"总部 {k}", f"{hq_names[-1]}@example.cn", password_hash, now, now,
                 secrets.token_hex(16)),
            )  # fmt: skip
        uid += 1
        conn.execute(
            "INSERT INTO users (id, username, display_name, email, password_hash, role, locale, active,"
            " created_at, password_changed_at, session_key)"
            " VALUES (%s, 'finance.bench', '财务', 'finance.bench@example.cn', %s, 'finance', 'zh_CN', true,"
            " %s, %s, %s)",
            (uid, password_hash, now, now, secrets.token_hex(16)),
        )
        tid = conn.execute("SELECT max(id) FROM api_tokens").fetchone()[0]
        conn.execute(
            "INSERT INTO api_tokens (id, kind, name, token_hash, user_id, scope, created_at, expires_at)"
            " VALUES (%s, 'personal', 'api:finance.bench', %s, %s, NULL, %s, %s),"
            " (%s, 'integration', 'mes-bench', %s, NULL, 'production', %s, NULL)",
            (tid + 1, hashlib.sha256(finance_token.encode()).hexdigest(), uid, now, expires,
             tid + 2, hashlib.sha256(mes_token.encode()).hexdigest(), now),
        )  # fmt: skip
        for t in ("users", "api_tokens"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")  # noqa: S608
        conn.commit()
    return {"data": data, "hq": hq_names, "finance": finance_token, "mes": mes_token}


# ---------------------------------------------------------------- processes


def tree_ticks(pids) -> int:
    """CPU ticks (user + system) of these processes and of every child they have reaped (cutime + cstime).

    A gunicorn worker recycled by `max_requests`, a PostgreSQL backend that ended with its connection and an RQ
    work-horse (one fork per job) are gone from /proc at the end of the run, but their CPU is in their parent's
    reaped-children time; so the CPU a set of processes used over the run is Σ over the set at the end minus Σ over
    the set at the start, as long as the parents (gunicorn's arbiter, the postmaster, the RQ workers) are in the set.
    """
    total = 0
    for pid in set(pids):
        with suppress(OSError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])
    return total


def postgres_pids() -> list[int]:
    """Every postgres process of the machine (backends, autovacuum, WAL writer, checkpointer)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError), open(f"/proc/{entry}/comm") as f:
                if f.read().strip() in ("postgres", "postmaster"):
                    found.append(int(entry))
    return found


def postmaster_tree(postmaster: int) -> list[int]:
    """A PostgreSQL server's processes: its postmaster and the postmaster's children (backends, WAL sender or
    receiver, startup process, checkpointer…); ended backends are in the postmaster's reaped-children time."""
    return [postmaster, *orders.children(postmaster)]


class DatabaseBackends:
    """The CPU of the backends connected to one database of a server other people use too, where the postmaster's
    tree would count their work: pg_stat_activity's backends of this database, their /proc ticks sampled (`sample()`,
    once a second during the run). A backend there at the first sample counts from then; one that appears later
    counts from 0; one that ends between two samples loses its last second. The web and worker processes keep their
    connections (SQLAlchemy's pool, PgBouncer's server connections), so little is lost."""

    def __init__(self, url: str):
        self.conn = connect(url, autocommit=True)
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.started = False

    def sample(self) -> None:
        pids = [pid for (pid,) in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )]  # fmt: skip
        for pid, ticks in orders.cpu_ticks(pids).items():
            self.first.setdefault(pid, ticks if not self.started else 0)
            self.last[pid] = ticks
        self.started = True

    def ticks(self) -> int:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def environ(**values: str | None):
    """os.environ with these values (None: removed) inside the block: what the RQ workers
    (bench.statements.workers) inherit."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# settings the run's gunicorn and workers choose themselves (stripped from the inherited environment)
RUN_SETTINGS = ("REDIS_URL", "DATABASE_URL", "MAIL_SERVER", "PORTAL_REPLICA_DATABASE_URL", "PORTAL_DB_PGBOUNCER")


@contextmanager
def gunicorn(url: str, redis: str, storage: Path, workers: int, log_name: str = "mixed-gunicorn.log", **extra: str):
    """gunicorn with the deployment's own config file (deploy/gunicorn.conf.py), on a free port; `extra`: more
    environment (PORTAL_REPLICA_DATABASE_URL, PORTAL_DB_PGBOUNCER)."""
    OUT.mkdir(exist_ok=True)
    port = orders.free_port()
    env = {k: v for k, v in os.environ.items() if k not in RUN_SETTINGS}
    env.update(
        DATABASE_URL=url, REDIS_URL=redis, PORTAL_STORAGE=str(storage), SECRET_KEY=secrets.token_hex(32),
        GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers), GUNICORN_LOGLEVEL="warning", **extra,
    )  # fmt: skip
    log_path = OUT / log_name
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--no-control-socket",
               "portal:create_app()"]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            if len(orders.children(proc.pid)) >= workers:
                with suppress(requests.RequestException):
                    if requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10).ok:
                        break
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield port, proc.pid
    finally:
        orders.stop(proc)


# ---------------------------------------------------------------- the simulated users


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.samples: dict[str, str] = {}
        self.sources: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.measuring = False

    def call(self, session: requests.Session, action: str, method: str, url: str, expect=(200,), **kw):
        start = time.perf_counter()
        try:
            r = session.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kw)
            status, text = r.status_code, None
        except requests.RequestException as exc:
            r, status, text = None, 0, repr(exc)
        elapsed = time.perf_counter() - start
        if self.measuring:
            with self.lock:
                self.times[action].append(elapsed)
                if status not in expect:
                    self.errors[action] += 1
                    self.samples.setdefault(action, f"{status} {text or r.text[:200]}")
                elif source := r.headers.get("X-Portal-Data-Source"):  # a report, with a replica configured
                    self.sources[action][source] += 1
        return r if status in expect else None


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def login(rec: Recorder, s: requests.Session, base: str, username: str) -> bool:
    page = rec.call(s, "login", "GET", f"{base}/login")
    if page is None:
        return False
    m = CSRF.search(page.text)
    form = {"csrf_token": m.group(1) if m else "", "username": username, "password": orders.PASSWORD}
    return rec.call(s, "login", "POST", f"{base}/login", expect=(302, 303), data=form) is not None


def dealer_user(rec: Recorder, base: str, stop: threading.Event, dealer, k: int, skus: list[str], n: int) -> None:
    rng = random.Random(9_000_000 + n)
    s = requests.Session()
    if stop.wait(n / SPAWN_RATE + rng.uniform(0, THINK[1])):  # ramp-up: SPAWN_RATE users a second, and a jitter
        return
    if not login(rec, s, base, f"{dealer.code.lower()}.staff{k + 1}"):
        return
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {dealer.tokens[k]}"
    i = 0
    while not stop.is_set():
        lines = [{"sku": sku, "quantity": rng.randint(1, 20)} for sku in rng.sample(skus, orders.LINES_PER_ORDER)]
        pages = (
            (s, "dealer: home", "GET", f"{base}/home", None),
            (s, "dealer: price list page", "GET", f"{base}/dealers/{dealer.code}/prices", None),
            (api, "dealer: price preview (API)", "POST", f"{base}/api/v1/orders/quote", {"lines": lines}),
        )
        for session, action, method, target, body in pages:
            rec.call(session, action, method, target, json=body)
            if stop.wait(rng.uniform(*THINK)):
                return
        i += 1
        key = f"mixed-{n}-{i}-{secrets.token_hex(4)}"
        r = rec.call(api, "dealer: place order (API)", "POST", f"{base}/api/v1/orders", expect=(201,),
                     json={"lines": lines, "note": f"mixed {n} #{i}"}, headers={"Idempotency-Key": key})  # fmt: skip
        if stop.wait(rng.uniform(*THINK)):
            return
        if r is not None:
            number = r.json()["number"]
            rec.call(api, "dealer: order detail (API)", "GET", f"{base}/api/v1/orders/{number}")
            if stop.wait(rng.uniform(*THINK)):
                return
            rec.call(api, "dealer: track order (API)", "GET", f"{base}/api/v1/track/{number}")
            if stop.wait(rng.uniform(*THINK)):
                return


def hq_user(rec: Recorder, base: str, stop: threading.Event, username: str, n: int) -> None:
    rng = random.Random(8_000_000 + n)
    s = requests.Session()
    if stop.wait(rng.uniform(0, THINK[1])):
        return
    if not login(rec, s, base, username):
        return
    pages = (("HQ: home dashboard", "/home"), ("HQ: receivables ageing", "/receivables"),
             ("HQ: channel flow", "/analytics/channel-flow"))  # fmt: skip
    while not stop.is_set():
        for action, path in pages:
            rec.call(s, action, "GET", f"{base}{path}")
            if stop.wait(rng.uniform(*THINK)):
                return


def mes(rec: Recorder, base: str, stop: threading.Event, url: str, token: str) -> None:
    """Every MES_EVERY seconds: the next stage of up to MES_BATCH units not yet completed (oldest first)."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    order = {s: i for i, s in enumerate(("scheduled", *MES_STAGES))}
    batch_no = 0
    with connect(url, autocommit=True) as conn:
        while not stop.wait(MES_EVERY):
            units = conn.execute(
                "SELECT serial, stage FROM units WHERE stage = ANY(%s) ORDER BY stage_at, id LIMIT %s",
                (["scheduled", *MES_STAGES[:-1]], MES_BATCH),
            ).fetchall()
            if not units:
                continue
            batch_no += 1
            at = dt.datetime.now(dt.UTC).isoformat()
            events = [
                {"event_id": f"mes-{batch_no}-{serial}", "serial": serial, "stage": MES_STAGES[order[stage]],
                 "occurred_at": at, "line": "L1", "station": "bench"}
                for serial, stage in units
            ]  # fmt: skip
            rec.call(api, "MES: post stage events (batch)", "POST", f"{base}/api/v1/production/events",
                     json={"events": events})  # fmt: skip


def statement_run(rec: Recorder, base: str, token: str, period: str, result: dict) -> None:
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    start = time.perf_counter()
    r = rec.call(api, "finance: start statement run", "POST", f"{base}/api/v1/statements/runs", expect=(202,),
                 json={"period": period})  # fmt: skip
    if r is None:
        result["error"] = rec.samples.get("finance: start statement run", "?")
        return
    job = r.json()["job_id"]
    while True:
        time.sleep(1)
        try:
            state = api.get(f"{base}/api/v1/jobs/{job}", timeout=TIMEOUT).json()
        except (requests.RequestException, ValueError):  # a saturated web tier: ask again
            continue
        if state.get("status") in ("finished", "failed"):
            result.update(status=state["status"], seconds=time.perf_counter() - start,
                          progress=state.get("progress"), result=state.get("result"))  # fmt: skip
            return


# ---------------------------------------------------------------- the run

# --replica: the run's primary has this machine's PostgreSQL 15 server settings (stock: durable, 128 MB of shared
# buffers, JIT on), not the tests' fsync=off; the standby inherits them through the base backup
PRIMARY_CONF = """
# bench/mixed.py --replica: the run's primary, with the settings of the machine's PostgreSQL server
max_connections = 100
shared_buffers = 128MB
fsync = on
full_page_writes = on
synchronous_commit = on
max_wal_size = 1GB
"""
# docs/REPLICA.md's standby settings: replay does not cancel a report; the primary's vacuum keeps what it reads
STANDBY_CONF = """
max_standby_streaming_delay = 60s
hot_standby_feedback = on
"""
PAIR_DATABASE = "bench_mixed"


@dataclass
class Setup:
    """One load run: where gunicorn and the workers connect, what they are told, and whose CPU is counted."""

    label: str
    data_url: str  # the server's own port: the data is built there, the MES driver reads it
    app_url: str  # gunicorn's and the RQ workers' DATABASE_URL (PgBouncer's port with --pgbouncer)
    extra: dict[str, str] = field(default_factory=dict)  # more environment for gunicorn and the workers
    web_only: dict[str, str] = field(default_factory=dict)  # more environment for gunicorn only
    cpu: dict[str, Callable[[], list[int]]] = field(default_factory=dict)  # process trees (tree_ticks)
    backends_of: str | None = None  # also count the backends of this database (DatabaseBackends)
    log_name: str = "mixed-gunicorn.log"


def prepare(url: str, n_users: int, redis: str, timings: dict) -> dict:
    from redis import Redis

    app = make_app(url)
    built = build(app, url, max(n_users, 50), timings)
    with app.app_context():
        from portal.extensions import db

        db.engine.dispose()
    Redis.from_url(redis).flushdb()  # only the benchmark's numbered database
    return built


def load_run(setup: Setup, built: dict, redis: str, n_users: int, n_hq: int, minutes: float, workers: int) -> dict:
    """One load of `minutes` on the data `built`: the users, the MES, the statement run at half time."""
    from bench.statements import workers as rq_workers

    first = dt.date.today().replace(day=1)
    period = f"{first - dt.timedelta(days=1):%Y-%m}"
    storage = Path(tempfile.mkdtemp(prefix="mixed-storage-"))
    rec = Recorder()
    stop = threading.Event()
    statement: dict = {}
    data = built["data"]
    say(f"## run {setup.label}: {load()}")
    backends = DatabaseBackends(setup.backends_of) if setup.backends_of else None
    try:
        with ExitStack() as stack:
            port, master = stack.enter_context(
                gunicorn(setup.app_url, redis, storage, workers, setup.log_name, **setup.extra, **setup.web_only)
            )
            with environ(**{k: setup.extra.get(k) for k in RUN_SETTINGS if k.startswith("PORTAL_")}):
                procs = stack.enter_context(rq_workers(setup.app_url, redis, storage, 2))
            base = f"http://127.0.0.1:{port}"
            threads = []
            for n in range(n_users):
                d = data.dealers[n % len(data.dealers)]
                threads.append(threading.Thread(
                    target=dealer_user, args=(rec, base, stop, d, (n // len(data.dealers)) % 3, data.catalogue.skus, n),
                    daemon=True))  # fmt: skip
            for n in range(n_hq):
                threads.append(threading.Thread(target=hq_user, args=(rec, base, stop, built["hq"][n], n), daemon=True))
            threads.append(
                threading.Thread(target=mes, args=(rec, base, stop, setup.data_url, built["mes"]), daemon=True)
            )
            rq = [p.pid for p in procs]
            groups = {
                "gunicorn (arbiter and workers, recycled ones included)": lambda: [master, *orders.children(master)],
                **setup.cpu,
                "RQ workers (and their work-horses)": lambda: rq + [c for p in rq for c in orders.children(p)],
            }
            for t in threads:
                t.start()
            if WARMUP:  # the users log in and start (SPAWN_RATE a second): the ramp left out of every figure
                say(f"  warm-up: {WARMUP:g} s not measured")
                time.sleep(WARMUP)
            start_ticks = {name: tree_ticks(pids()) for name, pids in groups.items()}
            c0 = time.process_time()
            if backends:
                backends.sample()
            load_start = load()
            rec.measuring = True
            t0 = time.perf_counter()
            half = threading.Timer(minutes * 30, statement_run, args=(rec, base, built["finance"], period, statement))
            half.daemon = True
            half.start()
            deadline = t0 + minutes * 60
            tick = 0
            while time.perf_counter() < deadline:
                time.sleep(1)
                tick += 1
                if backends:
                    backends.sample()
                if tick % 5 == 0:
                    say(
                        f"  {time.perf_counter() - t0:5.0f} s: {sum(len(v) for v in rec.times.values()):,} requests,"
                        f" {sum(rec.errors.values())} errors, {load()}"
                    )
            stop.set()
            rec.measuring = False
            elapsed = time.perf_counter() - t0
            hz = os.sysconf("SC_CLK_TCK")
            c1 = time.process_time()
            if backends:
                backends.sample()
            cpu = {name: (tree_ticks(pids()) - start_ticks[name]) / hz for name, pids in groups.items()}
            if backends:
                cpu["PostgreSQL: the run's database's backends (sampled each second)"] = backends.ticks() / hz
            cpu["load driver (this process)"] = c1 - c0
            half.join(timeout=600)
            for t in threads:
                t.join(timeout=TIMEOUT + 5)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        if backends:
            backends.close()
    sources = {action: dict(v) for action, v in rec.sources.items()}
    return dict(label=setup.label, elapsed=elapsed, times=dict(rec.times), errors=dict(rec.errors),
                samples=rec.samples, sources=sources, statement=statement, period=period, cpu=cpu,
                loadavg_start=load_start, loadavg=load(), log=OUT / setup.log_name)  # fmt: skip


@contextmanager
def pgbouncer(server_url: str):
    """A PgBouncer of the run's own (scripts/pgbouncer_local.sh: transaction pooling, deploy/pgbouncer/pgbouncer.ini's
    pools) on a free port in front of `server_url`'s server; yields (its URL for the run's database, its pid)."""
    from sqlalchemy.engine import make_url

    folder = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    port = orders.free_port()
    server = make_url(server_url)
    env = {**os.environ, "PGBOUNCER_DIR": str(folder), "PGBOUNCER_PORT": str(port),
           "PGBOUNCER_SERVER": f"{server.host or '127.0.0.1'}:{server.port or 5432}"}  # fmt: skip
    script = str(ROOT / "scripts" / "pgbouncer_local.sh")
    subprocess.run([script, "start"], env=env, check=True)  # noqa: S603
    try:
        pid = int((folder / "pgbouncer.pid").read_text().strip())
        yield server.set(port=port).render_as_string(hide_password=False), pid
        status = subprocess.run([script, "status"], env=env, capture_output=True, text=True, check=False)  # noqa: S603
        say(status.stdout.rstrip())
    finally:
        subprocess.run([script, "stop"], env=env, check=False)  # noqa: S603
        shutil.rmtree(folder, ignore_errors=True)


def stopped(signum, frame):
    raise SystemExit(f"signal {signum}")


def run(quick: bool, minutes: float | None, users: int | None, hq: int | None, replica: bool = False,
        pooler: bool = False) -> dict:  # fmt: skip
    redis = redis_url()
    minutes = minutes or (1.5 if quick else 10)
    n_users = users or (50 if quick else 500)
    n_hq = hq or (5 if quick else 20)
    workers = recommended_workers()
    mode = "replica" if replica else "pgbouncer" if pooler else "plain"
    results: dict = {"minutes": minutes, "users": n_users, "hq": n_hq, "workers": workers, "mode": mode,
                     "timings": {}, "runs": []}  # fmt: skip
    say(
        f"# mixed-load benchmark (issue 9): {n_users} dealer users, {n_hq} HQ users, the MES, a statement run;"
        f" {minutes:g} min; gunicorn -w {workers}; 2 RQ workers; {mode}; Python {python_version()}, {load()}"
    )
    args = (redis, n_users, n_hq, minutes, workers)
    if replica:
        pair = StreamingPair(PAIR_DATABASE, PRIMARY_CONF, STANDBY_CONF, prefix="bench-mixed-pair-")
        previous = signal.signal(signal.SIGTERM, stopped)  # a SIGTERM still stops the pair (the finally below)
        try:
            pair.start()
            url = pair.libpq_url("primary")
            say(f"  primary on port {pair.ports['primary']}, hot standby on {pair.ports['replica']} ({pair.root})")
            results["settings"] = server_settings(url)
            trees = {
                "PostgreSQL primary (postmaster tree)": lambda: postmaster_tree(pair.postmaster_pid("primary")),
                "PostgreSQL standby (postmaster tree)": lambda: postmaster_tree(pair.postmaster_pid("replica")),
            }
            runs = (("A: no replica", {}, "mixed-gunicorn-A.log"),
                    ("B: reports on the replica", {"PORTAL_REPLICA_DATABASE_URL": pair.libpq_url("replica")},
                     "mixed-gunicorn-B.log"))  # fmt: skip
            for label, web_only, log_name in runs:
                built = prepare(url, n_users, redis, results["timings"])  # the same data for both (seeded)
                pair.wait_replayed(timeout=900)
                for which in ("primary", "replica"):  # no checkpoint of the build's writes in the middle of a run
                    with pair.connect(which) as conn:
                        conn.execute("CHECKPOINT")
                setup = Setup(label, url, url, web_only=web_only, cpu=trees, log_name=log_name)
                results["runs"].append(load_run(setup, built, *args))
        finally:
            pair.stop()
            signal.signal(signal.SIGTERM, previous)
        return results
    url = database_url()
    ensure_database(url)
    results["settings"] = server_settings(url)
    built = prepare(url, n_users, redis, results["timings"])
    everything = {"PostgreSQL (all its processes on the machine)": postgres_pids}
    if pooler:
        with pgbouncer(url) as (pooled, pid):
            setup = Setup("through PgBouncer", url, pooled, extra={"PORTAL_DB_PGBOUNCER": "1"},
                          cpu={**everything, "PgBouncer": lambda: [pid]}, backends_of=url,
                          log_name="mixed-gunicorn-pgbouncer.log")  # fmt: skip
            results["runs"].append(load_run(setup, built, *args))
    else:
        setup = Setup("plain", url, url, cpu=everything, backends_of=url)
        results["runs"].append(load_run(setup, built, *args))
    return results


ACCESS_RE = re.compile(r'"(GET|POST) (\S+) HTTP/[^"]*" (\d{3}) \S+ (\d+)ms')
ROUTE_PARTS = ((re.compile(r"/dealers/[^/]+/"), "/dealers/{code}/"), (re.compile(r"/SO-\d+-\d+"), "/{number}"),
               (re.compile(r"/jobs/[^/]+"), "/jobs/{id}"))  # fmt: skip


def server_times(log_path: Path) -> list[list[str]]:
    """Time spent serving each route, from gunicorn's access log (deploy/gunicorn.conf.py logs it per request):
    what the web tier spends its time on, queueing left out; the route taking the largest share is the first
    bottleneck to look at."""
    spent: dict[str, list[int]] = defaultdict(list)
    with suppress(OSError), open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if m := ACCESS_RE.search(line):
                path = m.group(2).split("?", 1)[0]
                for pattern, name in ROUTE_PARTS:
                    path = pattern.sub(name, path)
                spent[f"{m.group(1)} {path}"].append(int(m.group(4)))
    whole = sum(sum(v) for v in spent.values()) or 1
    rows = []
    for route, ms in sorted(spent.items(), key=lambda kv: -sum(kv[1]))[:12]:
        rows.append([route, f"{len(ms):,}", f"{sum(ms) / 1000:,.1f}", f"{sum(ms) / whole * 100:.1f} %",
                     f"{percentile(ms, 50):.0f}", f"{percentile(ms, 95):.0f}"])  # fmt: skip
    return rows


def replica_share(run: dict, prefix: str = "HQ: ") -> tuple[int, int]:
    """(responses that said `X-Portal-Data-Source: replica`, all measured responses) of the actions whose name
    starts with `prefix` (HQ's three pages are reports)."""
    said = sum(v.get("replica", 0) for action, v in run["sources"].items() if action.startswith(prefix))
    every = sum(len(v) for action, v in run["times"].items() if action.startswith(prefix))
    return said, every


def summary_run(results: dict, run: dict) -> None:
    elapsed = run["elapsed"]
    rows = []
    total = errors = 0
    for action in sorted(run["times"]):
        v = run["times"][action]
        e = run["errors"].get(action, 0)
        total += len(v)
        errors += e
        sources = run["sources"].get(action, {})
        said = ", ".join(f"{k} {n:,}" for k, n in sorted(sources.items())) or "-"
        rows.append([action, f"{len(v):,}", str(e), f"{len(v) / elapsed:.2f}", f"{percentile(v, 50) * 1000:.0f}",
                     f"{percentile(v, 95) * 1000:.0f}", f"{percentile(v, 99) * 1000:.0f}", said])  # fmt: skip
    rows.append(["all", f"{total:,}", str(errors), f"{total / elapsed:.2f}", "", "", "", ""])
    say()
    say(
        f"## mixed load, {run['label']}: {results['users']} dealer users, {results['hq']} HQ users, MES, statement"
        f" run for {run['period']}; {elapsed:.0f} s; gunicorn -w {results['workers']}; {run['loadavg_start']} at the"
        f" start, {run['loadavg']} at the end"
    )
    say(table(["action", "count", "errors", "per s", "p50 ms", "p95 ms", "p99 ms", "X-Portal-Data-Source"], rows))
    for action, sample in run["samples"].items():
        say(f"  first error of {action}: {sample}")
    st = run["statement"]
    if st.get("seconds"):
        say(f"  statement run {run['period']}: {st['status']} in {st['seconds']:.1f} s, progress {st['progress']}")
    else:
        say(f"  statement run: {st or 'did not finish'}")
    said, every = replica_share(run)
    if every:
        say(f"  HQ report responses from the replica: {said:,} of {every:,} ({said / every * 100:.0f} %)")
    say("  CPU seconds over the run:")
    for k, v in run["cpu"].items():
        say(f"    {k}: {v:.1f} s ({v / elapsed * 100:.0f} % of a core, {v / max(total, 1) * 1000:.1f} ms per request)")
    say()
    say("  time spent serving each route (gunicorn's access log, whole run, logins included; queueing left out):")
    say(table(["route", "requests", "seconds", "share", "p50 ms", "p95 ms"], server_times(run["log"])))


def comparison(results: dict) -> None:
    """The runs side by side (--replica: A without the replica, B with it)."""
    runs = results["runs"]
    say()
    say("## " + " vs ".join(r["label"] for r in runs))
    counts = [sum(len(v) for v in r["times"].values()) for r in runs]
    rows = []
    for name in runs[0]["cpu"]:
        rows.append([name, *(f"{r['cpu'][name]:.1f} s ({r['cpu'][name] / max(n, 1) * 1000:.1f} ms/req)"
                             for r, n in zip(runs, counts, strict=True))])  # fmt: skip
    rows.append(["requests (per s)", *(f"{n:,} ({n / r['elapsed']:.1f})" for r, n in zip(runs, counts, strict=True))])
    rows.append(["errors", *(str(sum(r["errors"].values())) for r in runs)])
    shares = [replica_share(r) for r in runs]
    rows.append(
        ["HQ responses from the replica", *(f"{s:,} of {n:,} ({s / max(n, 1) * 100:.0f} %)" for s, n in shares)]
    )
    rows.append(["load average (start, end)", *(f"{r['loadavg_start']}, {r['loadavg']}" for r in runs)])
    for action in sorted(set().union(*(r["times"] for r in runs))):
        rows.append([f"{action} p50 / p95 ms", *(
            f"{percentile(r['times'][action], 50) * 1000:.0f} / {percentile(r['times'][action], 95) * 1000:.0f}"
            if r["times"].get(action) else "-" for r in runs)])  # fmt: skip
    say(table(["", *(r["label"] for r in runs)], rows))


def summary(results: dict) -> None:
    for run in results["runs"]:
        summary_run(results, run)
    if len(results["runs"]) > 1:
        comparison(results)
    built = results["timings"].get("data total", 0)
    say(f"  PostgreSQL {results['settings']['server_version']} (shared_buffers {results['settings']['shared_buffers']},"
        f" jit {results['settings']['jit']}), data built in {built:.0f} s (the last build)")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench --mixed-only")
    p.add_argument("--quick", action="store_true", help="1.5 minutes, 50 dealer users, 5 HQ users")
    p.add_argument("--minutes", type=float, help="length of the load (default 10; --quick 1.5)")
    p.add_argument("--users", type=int, help="dealer users (default 500; --quick 50)")
    p.add_argument("--hq-users", type=int, help="HQ users (default 20; --quick 5)")
    p.add_argument("--warmup", type=float, default=0.0,
                   help="seconds of load before the measured minutes, left out of every figure (the users' ramp-up"
                        " and logins); default 0")  # fmt: skip
    how = p.add_mutually_exclusive_group()
    how.add_argument("--replica", action="store_true",
                     help="a primary and a hot standby of the run's own; the load twice: without and with"
                          " PORTAL_REPLICA_DATABASE_URL (BENCH_DATABASE_URL is not used)")  # fmt: skip
    how.add_argument("--pgbouncer", action="store_true",
                     help="gunicorn and the workers through a PgBouncer of the run's own (transaction"
                          " pooling)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> None:
    global WARMUP
    args = parser().parse_args(argv)
    WARMUP = args.warmup
    summary(run(args.quick, args.minutes, args.users, args.hq_users, replica=args.replica, pooler=args.pgbouncer))


if __name__ == "__main__":
    main(sys.argv[1:])
