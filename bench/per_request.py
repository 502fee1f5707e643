"""What one request of each of the mixed run's routes costs (issue 24, "Cost per request"): CPU, SQL statements and
Python function calls, in process, for this checkout and — `--against REV` — for another commit of the repository,
measured alternately on the same data, so the two can be compared in one run.

    python -m bench --requests-only                          # this checkout only
    python -m bench --requests-only --against 571894c        # and the commit before issue 24, alternately
    python -m bench --requests-only --no-build --rounds 5    # on the data left by the last run, 5 rounds

The data: the mixed benchmark's (bench/mixed.py `prepare`: 50 dealers with users and tokens, 200 products, 65 price
lists with ~620 rules, two years of invoices and payments, 2,000 past orders, 100 HQ users), built into
`BENCH_DATABASE_URL` unless `--no-build`. Each checkout is measured by a child process that imports that checkout's
`portal` (the other commit from a `git worktree` in a temporary folder, removed at the end) and calls each route
through Flask's test client as the mixed run's users do — a dealer's staff (session cookie) for the pages, its bearer
token for the API, an hq_admin for HQ's pages — twice to warm up, then `--n` times: the median of `time.process_time()`
around each call (the request's whole CPU in this process: routing, session, login, SQL building and the driver,
ORM, templates, JSON), the statements sent to the database (transaction bookkeeping left out) and the Python function
calls of one request (cProfile: a count that does not move with the machine's load, unlike CPU time). Jobs are
queued to `BENCH_REDIS_URL` (database 6 by default, flushed), not run: as in the deployment, they are the RQ workers'
CPU, not the web's. Placing orders adds orders to the dealer, so each child places as many as the others.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUTES = (
    "dealer: home",
    "dealer: price list page",
    "dealer: price preview (API)",
    "dealer: place order (API)",
    "dealer: order detail (API)",
    "dealer: track order (API)",
    "HQ: home dashboard",
    "HQ: receivables ageing",
    "HQ: channel flow",
    "login page (anonymous)",
)


# ---------------------------------------------------------------- the child: one checkout's figures


def child(repo: str, url: str, redis: str, n: int) -> dict:
    import logging
    import random
    import re
    import uuid

    sys.path.insert(0, repo)
    logging.disable(logging.WARNING)
    os.environ.update(DATABASE_URL=url, REDIS_URL=redis)
    import cProfile
    import pstats

    from sqlalchemy import event, text

    from portal import create_app

    app = create_app()
    from portal.dealers.models import User
    from portal.extensions import db
    from portal.platform.auth import issue_personal_token

    with app.app_context():
        username, code = db.session.execute(
            text(
                "SELECT u.username, d.code FROM users u JOIN dealers d ON d.id = u.dealer_id"
                " WHERE u.role = 'dealer_staff' ORDER BY u.id LIMIT 1"
            )
        ).one()
        hq = db.session.execute(text("SELECT username FROM users WHERE role = 'hq_admin' ORDER BY id LIMIT 1")).scalar()
        skus = [r[0] for r in db.session.execute(text("SELECT sku FROM products WHERE active ORDER BY sku LIMIT 200"))]
        raw, _expires = issue_personal_token(db.session.execute(db.select(User).filter_by(username=username)).scalar())
        db.session.commit()
        engine = db.engine
    bearer = {"Authorization": f"Bearer {raw}"}

    def login(name):
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        form = {"csrf_token": token.group(1) if token else "", "username": name, "password": "bench-pass-2026"}
        assert client.post("/login", data=form).status_code in (302, 303), name
        return client

    dealer, boss, api = login(username), login(hq), app.test_client()
    rnd = random.Random(7)
    placed: list[str] = []

    def lines():
        return {"lines": [{"sku": s, "quantity": rnd.randint(1, 3)} for s in rnd.sample(skus, 5)]}

    def place():
        resp = api.post("/api/v1/orders", json=lines(), headers={**bearer, "Idempotency-Key": str(uuid.uuid4())})
        placed.append(resp.get_json()["number"])
        return resp

    calls = {
        "dealer: home": lambda: dealer.get("/home"),
        "dealer: price list page": lambda: dealer.get(f"/dealers/{code}/prices"),
        "dealer: price preview (API)": lambda: api.post("/api/v1/orders/quote", json=lines(), headers=bearer),
        "dealer: place order (API)": place,
        "dealer: order detail (API)": lambda: api.get(f"/api/v1/orders/{placed[-1]}", headers=bearer),
        "dealer: track order (API)": lambda: api.get(f"/api/v1/track/{placed[-1]}", headers=bearer),
        "HQ: home dashboard": lambda: boss.get("/home"),
        "HQ: receivables ageing": lambda: boss.get("/receivables"),
        "HQ: channel flow": lambda: boss.get("/analytics/channel-flow"),
        "login page (anonymous)": lambda: app.test_client().get("/login"),
    }
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ")):
            sent.append(statement)

    out = {}
    for name, call in calls.items():
        for _ in range(2):
            status = call().status_code
            assert status in (200, 201), (name, status)
        sent.clear()
        event.listen(engine, "before_cursor_execute", count)
        call()
        event.remove(engine, "before_cursor_execute", count)
        profile = cProfile.Profile()
        profile.enable()
        call()
        profile.disable()
        cpu = []
        for _ in range(n):
            started = time.process_time()
            call()
            cpu.append((time.process_time() - started) * 1000)
        out[name] = {"cpu_ms": statistics.median(cpu), "statements": len(sent),
                     "calls": pstats.Stats(profile).total_calls}  # fmt: skip
    return out


# ---------------------------------------------------------------- the parent


def measure(repo: Path, url: str, redis: str, n: int) -> dict:
    """One child process on `repo`'s code: its figures."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PORTAL_REPLICA_DATABASE_URL")}
    env["PYTHONPATH"] = str(repo)
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "--child", str(repo), "--url", url, "--redis", redis,
         "--n", str(n)],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"measuring {repo} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worktree(rev: str):
    folder = Path(tempfile.mkdtemp(prefix="bench-requests-"))
    command = ["git", "worktree", "add", "--detach", str(folder), rev]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # noqa: S603, S607 (a commit the user names)
    return folder


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench --requests-only", description=__doc__.split("\n\n")[0])
    p.add_argument("--against", help="another commit to measure alternately with this checkout")
    p.add_argument("--rounds", type=int, default=3, help="alternations (medians over the rounds; default 3)")
    p.add_argument("--n", type=int, default=25, help="calls measured per route and round (default 25)")
    p.add_argument("--no-build", action="store_true", help="measure on the data left by the last run")
    p.add_argument("--quick", action="store_true", help="1 round of 10 calls")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--redis", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url, args.redis, args.n)))
        return

    from redis import Redis

    from bench import mixed
    from bench.common import database_url, ensure_database, say

    url = database_url()
    ensure_database(url)
    redis = mixed.redis_url()
    rounds, n = (1, 10) if args.quick else (args.rounds, args.n)
    if not args.no_build:
        timings: dict = {}
        mixed.prepare(url, 50, redis, timings)
    load = os.getloadavg()[0]
    say(f"# cost per request (bench/per_request.py): {rounds} round(s) × {n} calls per route, load {load:.1f}")
    base = worktree(args.against) if args.against else None
    runs: dict[str, list[dict]] = {"this": [], "base": []}
    try:
        for _ in range(rounds):
            if base is not None:
                runs["base"].append(measure(base, url, redis, n))
            runs["this"].append(measure(ROOT, url, redis, n))
    finally:
        Redis.from_url(redis).flushdb()
        if base is not None:
            command = ["git", "worktree", "remove", "--force", str(base)]
            subprocess.run(command, cwd=ROOT, check=False)  # noqa: S603, S607 (the folder made above)
    report(runs, args.against)


def _median(runs: list[dict], route: str, key: str) -> float:
    return statistics.median(r[route][key] for r in runs)


def report(runs: dict, against: str | None) -> None:
    from bench.common import say

    head = ["route", "CPU ms", "statements", "Python calls"]
    if against:
        head = ["route", f"CPU ms {against}", "CPU ms now", "ratio", "statements then → now", "calls then → now"]
    say("| " + " | ".join(head) + " |")
    say("| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |")
    for route in ROUTES:
        now = [_median(runs["this"], route, k) for k in ("cpu_ms", "statements", "calls")]
        if against:
            then = [_median(runs["base"], route, k) for k in ("cpu_ms", "statements", "calls")]
            say(f"| {route} | {then[0]:.1f} | {now[0]:.1f} | {now[0] / then[0]:.2f}× | {then[1]:.0f} → {now[1]:.0f} |"
                f" {then[2]:,.0f} → {now[2]:,.0f} |")  # fmt: skip
        else:
            say(f"| {route} | {now[0]:.1f} | {now[1]:.0f} | {now[2]:,.0f} |")
    say(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
