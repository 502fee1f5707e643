"""Demo build line: stage events for the units of the demo's approved orders, from their approval until now, so the
orders of the last weeks are at every stage, older ones are built, and the ETA medians have two months of history.

The events go through the ingest service in time order (a day at a time, the clock set to that day), exactly as the
MES would have sent them, so the orders' statuses (in_production, built) and their history follow from them."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from portal.extensions import db
from portal.orders.models import Order
from portal.platform.auth import IntegrationPrincipal, issue_integration_token
from portal.platform.timeutil import freeze, utcnow
from portal.production import services
from portal.production import stages as st
from portal.production.models import Unit

# hours in each stage before the next: (low, high); the first is the queue before the body shop
PLAN = {"scheduled": (96, 300), "body": (16, 40), "paint": (16, 36), "assembly": (30, 80), "inspection": (10, 30)}
# the headline demo dealer (sh001.admin, dealer.en) gets a few vehicle orders of its own: (days ago, sku, quantity)
OWN_ORDERS = [(40, "V-SUV-X5", 2), (17, "V-EV-E3", 3), (12, "V-SEDAN-L", 2), (8, "V-SUV-X7", 2), (2, "V-EV-E5", 1)]
LINES = {"sedan": "L1", "ev": "L1", "suv": "L2", "mpv": "L3"}
STATIONS = {"body": "BW", "paint": "PT", "assembly": "AS", "inspection": "QA", "completed": "EOL"}


def _own_orders(dealer, staff, now: dt.datetime, echo) -> None:
    from portal.orders import services as orders

    for days, sku, quantity in OWN_ORDERS:
        with freeze(now - dt.timedelta(days=days, hours=3)):
            try:
                order, _created = orders.place_order(staff, dealer, [{"sku": sku, "quantity": quantity}])
            except Exception as exc:  # noqa: BLE001 - a dealer on hold is refused, as in real life
                echo(f"  {dealer.code}: order of {sku} refused ({getattr(exc, 'code', exc)})")
                continue
            if order.status == "credit_review":
                echo(f"  {dealer.code}: {order.number} waits for credit review")


def load_production(rng: random.Random, dealer=None, staff=None, echo=print) -> dict:
    mes = IntegrationPrincipal(type("Token", (), {"scope": "production", "name": "mes-demo"})())
    now = utcnow()
    if dealer is not None and staff is not None:
        _own_orders(dealer, staff, now, echo)
    rows = db.session.execute(
        select(Unit.serial, Unit.created_at, Unit.product_id, Order.status)
        .join(Order, Order.id == Unit.order_id)
        .where(Order.status != "cancelled")
        .order_by(Unit.id)
    ).all()
    from portal.catalog.models import Product

    categories = dict(db.session.execute(select(Product.id, Product.category)).all())
    build = st.build_stages()
    events = []
    for serial, created_at, product_id, _status in rows:
        at = created_at
        line = LINES.get(categories.get(product_id), "L2")
        slow = rng.random() < 0.05  # a few units wait for parts: late ones for the production view
        for stage, nxt in zip(build, build[1:], strict=False):
            low, high = PLAN.get(stage, (4, 12))
            hours = rng.uniform(low, high) * (rng.uniform(6, 10) if slow and stage == "assembly" else 1)
            at = at + dt.timedelta(hours=hours)
            if at > now:
                break
            station = f"{line}-{STATIONS.get(nxt, nxt[:2].upper())}-{rng.randint(1, 8):02d}"
            events.append(
                {
                    "event_id": f"mes-demo:{serial}:{nxt}",
                    "serial": serial,
                    "stage": nxt,
                    "occurred_at": at,
                    "line": line,
                    "station": station,
                }
            )
    events.sort(key=lambda e: e["occurred_at"])
    # now and then the MES sends a batch late: shuffle a little within each day
    by_day: dict[dt.date, list[dict]] = {}
    for e in events:
        by_day.setdefault(e["occurred_at"].date(), []).append(e)
    stored = 0
    for _day, batch in sorted(by_day.items()):
        rng.shuffle(batch)
        for i in range(0, len(batch), services.MAX_BATCH):
            chunk = batch[i : i + services.MAX_BATCH]
            with freeze(min(now, max(e["occurred_at"] for e in chunk) + dt.timedelta(minutes=5))):
                results = services.ingest(mes, chunk)
            stored += sum(1 for r in results if r["status"] == "accepted")
    token = issue_integration_token("mes-demo", "production")
    echo(f"Build line: {len(rows)} units, {stored} stage events.")
    echo(
        "Production token (MES, line simulator): "
        f"{token}\n  flask --app portal simulate-line --url http://127.0.0.1:5000 --token {token} --speed 3600"
    )
    return {"units": len(rows), "events": stored, "token": token}
