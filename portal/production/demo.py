"""Demo build line: the stage events of every unit of the demo's approved orders, from the order's approval on.

When an order is approved its units are scheduled (the production service creates them); each then waits its turn
in the queue and passes body, paint, assembly and inspection to completion, a few of them held up at assembly
waiting for parts (the late units of the production view). The MES sends what happened once a day, late in the
evening (a week's at once until six weeks ago; what happened today just before the demo ends), through the ingest
service, so the orders' statuses (in production, built) and their history follow from the events, and the ETA
medians have a year of history. Nothing is reported before it happened: a stage that would be reached after now is
not reached yet."""

from __future__ import annotations

import datetime as dt
import os
import random

from portal.platform.auth import IntegrationPrincipal, issue_integration_token
from portal.production import services
from portal.production import stages as st

# hours in each stage before the next: (low, high); the first is the queue before the body shop
PLAN = {"scheduled": (96, 300), "body": (16, 40), "paint": (16, 36), "assembly": (30, 80), "inspection": (10, 30)}
# the headline demo dealer (sh001.admin, dealer.en) orders a few vehicles of its own besides its monthly orders,
# the last one for a fleet customer, beyond its available credit: (days ago, sku, quantity)
OWN_ORDERS = [(40, "V-SUV-X5", 2), (17, "V-EV-E3", 3), (12, "V-SEDAN-L", 2), (8, "V-SUV-X7", 2), (2, "V-EV-E5", 1)]
LINES = {"sedan": "L1", "ev": "L1", "suv": "L2", "mpv": "L3"}
STATIONS = {"body": "BW", "paint": "PT", "assembly": "AS", "inspection": "QA", "completed": "EOL"}


def mes_principal() -> IntegrationPrincipal:
    return IntegrationPrincipal(type("Token", (), {"scope": "production", "name": "mes-demo"})())


def stage_events(rng: random.Random, serial: str, scheduled_at: dt.datetime, category: str | None,
                 until: dt.datetime) -> list[dict]:  # fmt: skip
    """The MES events of one unit scheduled at `scheduled_at`, up to `until` (later stages are not reached yet)."""
    build = st.build_stages()
    line = LINES.get(category, "L2")
    slow = rng.random() < 0.05  # waits for parts at assembly
    at, events = scheduled_at, []
    for stage, nxt in zip(build, build[1:], strict=False):
        low, high = PLAN.get(stage, (4, 12))
        held_up = rng.uniform(6, 10) if slow and stage == "assembly" else 1
        at = at + dt.timedelta(hours=rng.uniform(low, high) * held_up)
        if at > until:
            break
        station = f"{line}-{STATIONS.get(nxt, nxt[:2].upper())}-{rng.randint(1, 8):02d}"
        events.append({"event_id": f"mes-demo:{serial}:{nxt}", "serial": serial, "stage": nxt, "occurred_at": at,
                       "line": line, "station": station})  # fmt: skip
    return events


def send(mes, events: list[dict], rng: random.Random) -> int:
    """One MES delivery (now and then a little out of order); answers the events accepted."""
    rng.shuffle(events)
    accepted = 0
    for i in range(0, len(events), services.MAX_BATCH):
        results = services.ingest(mes, events[i : i + services.MAX_BATCH])
        accepted += sum(1 for r in results if r["status"] == "accepted")
    return accepted


def token_hint(echo) -> None:
    token = issue_integration_token("mes-demo", "production")
    port = os.environ.get("PORT", "5000")
    echo(
        "Production token (MES, line simulator): "
        f"{token}\n  flask --app portal simulate-line --url http://127.0.0.1:{port} --token {token} --speed 3600"
    )
