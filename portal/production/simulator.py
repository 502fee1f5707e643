"""A build line for the demo and for load: plays realistic stage events for the open units through the real HTTP API.

    flask --app portal simulate-line --url http://127.0.0.1:5000 --token <production token> [--speed N] [--once]

Every tick it reads the open units (`GET /api/v1/production/units?open=true`, paged) and, for each unit that has
spent its planned time in its stage, posts the next stage (`POST /api/v1/production/events`, batches of up to
1,000) with the time it happened (now), its line and a station. `--speed N` runs the factory N times faster than
real time (default 3600: an hour of the plan per second). Plans: scheduled 24 h (the queue before the body shop),
body 6 h, paint 5 h, assembly 8 h, inspection 3 h, each ±30 % per unit. Event ids are `sim:<serial>:<stage>`, so a
replayed or overlapping run answers `duplicate` and changes nothing. It never touches the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import time
from urllib.parse import urlencode, urlsplit

PLAN_HOURS = {"scheduled": 24.0, "body": 6.0, "paint": 5.0, "assembly": 8.0, "inspection": 3.0}
DEFAULT_HOURS = 6.0
LINES = ("L1", "L2", "L3")
STATIONS = {"body": "BW", "paint": "PT", "assembly": "AS", "inspection": "QA", "completed": "EOL"}


class ApiError(RuntimeError):
    pass


class Portal:
    """A small JSON client over http.client (one connection, kept alive)."""

    def __init__(self, url: str, token: str, timeout: float = 60):
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("--url must be http(s)://host[:port]")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(parts.hostname, parts.port, timeout=timeout)
        self.prefix = parts.path
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def request(self, method: str, path: str, body=None) -> dict:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnect on the next request
            raise
        answer = json.loads(payload or b"{}")
        if resp.status >= 400:
            error = answer.get("error", {})
            raise ApiError(f"{method} {path}: {resp.status} {error.get('code')} {error.get('message')}")
        return answer

    def open_units(self, per_page: int = 1000) -> list[dict]:
        units, page = [], 1
        while True:
            query = urlencode({"open": "true", "page": page, "per_page": per_page})
            answer = self.request("GET", f"/api/v1/production/units?{query}")
            units.extend(answer["items"])
            if page * per_page >= answer["total"] or not answer["items"]:
                return units
            page += 1


def _jitter(serial: str, stage: str) -> float:
    """0.7 … 1.3, fixed per unit and stage."""
    digest = hashlib.sha256(f"{serial}:{stage}".encode()).digest()
    return 0.7 + 0.6 * int.from_bytes(digest[:4], "big") / 0xFFFFFFFF


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def due_events(units: list[dict], stages: tuple[str, ...], speed: float, now: dt.datetime) -> list[dict]:
    """The next stage of every unit that has spent its planned time (divided by speed) in its stage."""
    events = []
    for unit in units:
        stage = unit["stage"]
        if stage not in stages[:-1]:
            continue
        planned = PLAN_HOURS.get(stage, DEFAULT_HOURS) * 3600 * _jitter(unit["serial"], stage) / speed
        if (now - _parse(unit["stage_at"])).total_seconds() < planned:
            continue
        nxt = stages[stages.index(stage) + 1]
        line = unit.get("line") or LINES[int(hashlib.sha256(unit["serial"].encode()).hexdigest(), 16) % len(LINES)]
        station = f"{STATIONS.get(nxt, nxt[:2].upper())}-{1 + int(_jitter(unit['serial'], nxt) * 10) % 8:02d}"
        events.append(
            {
                "event_id": f"sim:{unit['serial']}:{nxt}",
                "serial": unit["serial"],
                "stage": nxt,
                "occurred_at": now.isoformat(),
                "line": line,
                "station": f"{line}-{station}",
            }
        )
    return events


def run(
    url: str,
    token: str,
    stages: tuple[str, ...],
    speed: float = 3600,
    once: bool = False,
    tick: float = 2.0,
    batch_size: int = 1000,
    echo=print,
    max_ticks: int | None = None,
) -> dict:
    """Play the line; answers the totals of each outcome."""
    portal = Portal(url, token)
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0, "batches": 0}
    ticks = 0
    while True:
        ticks += 1
        units = portal.open_units()
        events = due_events(units, stages, speed, dt.datetime.now(dt.UTC))
        if not events:
            echo(f"tick {ticks}: {len(units)} open units, none due")
        for i in range(0, len(events), batch_size):
            batch = events[i : i + batch_size]
            started = time.perf_counter()
            results = portal.request("POST", "/api/v1/production/events", {"events": batch})["results"]
            ms = (time.perf_counter() - started) * 1000
            counts = {k: sum(1 for r in results if r["status"] == k) for k in ("accepted", "duplicate", "rejected")}
            for k, n in counts.items():
                totals[k] += n
            totals["batches"] += 1
            echo(
                f"tick {ticks} batch {i // batch_size + 1}: {len(batch)} events - {counts['accepted']} accepted, "
                f"{counts['duplicate']} duplicate, {counts['rejected']} rejected ({ms:.0f} ms, "
                f"{len(batch) / max(ms, 0.001) * 1000:.0f} events/s)"
            )
            for r in results:
                if r["status"] == "rejected":
                    echo(f"  rejected {r['event_id']}: {r.get('reason')} {r.get('message', '')}")
        if once or (max_ticks is not None and ticks >= max_ticks):
            return totals
        time.sleep(tick)
