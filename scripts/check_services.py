"""Check that PostgreSQL and Redis answer; with --start, try once to start a stopped one (the machine's
documented start commands). Exit 1 when one is still unreachable and CI=true (or --strict)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

START = {
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -1) main start",
    "redis": "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no "
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log",
}


def postgres_ok(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return str(exc).strip().splitlines()[0]
    return None


def redis_ok(url: str) -> str | None:
    from redis import Redis

    try:
        Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", required=True)
    ap.add_argument("--redis", required=True)
    ap.add_argument("--start", action="store_true")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    strict = args.strict or os.environ.get("CI", "").lower() == "true"
    failed = False
    for name, check, url in (("postgresql", postgres_ok, args.database), ("redis", redis_ok, args.redis)):
        problem = check(url)
        if problem and args.start and shutil.which(START[name].split()[0]):
            print(f"{name} unreachable ({problem}); starting it")
            subprocess.run(START[name], shell=True, check=False)  # noqa: S602 (fixed, documented command)
            for _ in range(20):
                time.sleep(0.5)
                problem = check(url)
                if not problem:
                    break
        if problem:
            failed = True
            print(f"{name} UNREACHABLE at {url}: {problem}", file=sys.stderr)
        else:
            print(f"{name} reachable at {url}")
    return 1 if failed and strict else 0


if __name__ == "__main__":
    sys.exit(main())
