"""MES ingest (PRODUCT.md §4, §9.1): idempotent by event_id, out-of-order tolerant, per-event outcomes, the order's
status derived from its units."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.orders.models import Order, OrderEvent
from portal.platform.timeutil import freeze
from portal.production.models import StageEvent, Unit

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def line(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)
    world.product("OIL-1", list_price="100.00")
    world.credit_limit("SH-1", "10000000")
    with freeze(T0):
        order = world.order("SH-1", [("CAR-1", 3), ("OIL-1", 5)])
    return {
        "order": order,
        "serials": world.serials(order),
        "mes": {"Authorization": f"Bearer {world.integration_token('production')}"},
    }


def ev(event_id, serial, stage, hours, **extra):
    return {
        "event_id": event_id,
        "serial": serial,
        "stage": stage,
        "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat(),
        **extra,
    }


def post(client, line, events):
    return client.post("/api/v1/production/events", json={"events": events}, headers=line["mes"])


def unit(world, serial):
    return world.get(Unit, serial=serial)


def test_a_batch_is_stored_and_moves_its_units(client, world, line):
    a, b, c = line["serials"]
    resp = post(
        client,
        line,
        [
            ev("e1", a, "body", 1, line="L1", station="BW-01"),
            ev("e2", a, "paint", 5),
            ev("e3", b, "body", 2, line="L2"),
        ],
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"results": [{"event_id": e, "status": "accepted"} for e in ("e1", "e2", "e3")]}
    assert (unit(world, a)["stage"], unit(world, a)["line"]) == ("paint", "L1")  # line kept from the last report
    assert unit(world, a)["stage_at"] == T0 + dt.timedelta(hours=5)
    assert (unit(world, b)["stage"], unit(world, b)["line"]) == ("body", "L2")
    assert unit(world, c)["stage"] == "scheduled"
    assert world.count(StageEvent) == 3


def test_replaying_a_whole_batch_changes_nothing(client, world, line):
    a, b, _c = line["serials"]
    batch = [ev("e1", a, "body", 1), ev("e2", b, "body", 2), ev("e3", a, "paint", 3), ev("bad", "NOPE", "body", 1)]
    first = post(client, line, batch).get_json()["results"]
    assert [r["status"] for r in first] == ["accepted", "accepted", "accepted", "rejected"]
    before = world.snapshot()
    again = post(client, line, batch)
    assert again.status_code == 200
    assert [r["status"] for r in again.get_json()["results"]] == ["duplicate", "duplicate", "duplicate", "rejected"]
    assert world.snapshot() == before  # not one row more or changed: events, units, orders, audit


def test_duplicates_inside_one_batch_are_stored_once(client, world, line):
    a, _b, _c = line["serials"]
    results = post(
        client, line, [ev("e1", a, "body", 1), ev("e1", a, "body", 1), ev("e2", a, "paint", 2), ev("e1", a, "paint", 9)]
    ).get_json()["results"]
    assert [(r["event_id"], r["status"]) for r in results] == [
        ("e1", "accepted"),
        ("e1", "duplicate"),
        ("e2", "accepted"),
        ("e1", "duplicate"),
    ]
    assert world.count(StageEvent) == 2
    assert unit(world, a)["stage"] == "paint" and unit(world, a)["stage_at"] == T0 + dt.timedelta(hours=2)


def test_a_late_event_fills_the_timeline_but_never_moves_a_unit_backwards(client, world, line):
    a, b, _c = line["serials"]
    post(client, line, [ev("e3", a, "assembly", 30)])
    assert unit(world, a)["stage"] == "assembly"
    # the body and paint events arrive afterwards (and in one batch, in reverse order)
    results = post(client, line, [ev("e2", a, "paint", 20), ev("e1", a, "body", 10)]).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert unit(world, a)["stage"] == "assembly" and unit(world, a)["stage_at"] == T0 + dt.timedelta(hours=30)
    assert [s for s, _at in world.stage_events(a)] == ["body", "paint", "assembly"]
    # within one batch the furthest stage wins whatever the order of the events
    post(client, line, [ev("f2", b, "inspection", 8), ev("f1", b, "body", 9)])
    assert unit(world, b)["stage"] == "inspection"
    # the same stage reported again later (rework): the later time wins; an earlier time does not
    post(client, line, [ev("e4", a, "assembly", 40)])
    assert unit(world, a)["stage_at"] == T0 + dt.timedelta(hours=40)
    post(client, line, [ev("e5", a, "assembly", 35)])
    assert unit(world, a)["stage_at"] == T0 + dt.timedelta(hours=40)


def test_unknown_serials_and_stages_are_rejected_one_by_one(client, world, line):
    a, b, _c = line["serials"]
    results = post(
        client,
        line,
        [
            ev("e1", a, "body", 1),
            ev("e2", "LDP00000000000000", "body", 1),
            ev("e3", b, "welding", 1),
            ev("e4", b, "shipped", 1),
            ev("e5", b.lower(), "body", 2),  # serials are matched in capitals
            {**ev("e6", b, "paint", 1), "occurred_at": "2099-01-01T00:00:00+00:00"},
        ],
    ).get_json()["results"]
    assert [(r["event_id"], r["status"], r.get("reason")) for r in results] == [
        ("e1", "accepted", None),
        ("e2", "rejected", "unknown_serial"),
        ("e3", "rejected", "unknown_stage"),
        ("e4", "rejected", "not_a_production_stage"),
        ("e5", "accepted", None),
        ("e6", "rejected", "future_timestamp"),
    ]
    assert all(r["message"] for r in results if r["status"] == "rejected")
    assert world.count(StageEvent) == 2
    assert unit(world, b)["stage"] == "body"


def test_more_than_1000_events_are_refused_whole(client, world, line):
    a = line["serials"][0]
    resp = post(client, line, [ev(f"e{i}", a, "body", 1) for i in range(1001)])
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "validation_error"
    assert "events" in resp.get_json()["error"]["fields"]
    assert world.count(StageEvent) == 0
    assert post(client, line, [ev(f"e{i}", a, "body", 1) for i in range(1000)]).status_code == 200
    assert world.count(StageEvent) == 1000


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [{"event_id": "e1", "serial": "X", "stage": "body"}]},  # no time
        {"events": [{"event_id": "e1", "serial": "X", "stage": "body", "occurred_at": "2026-11-02T10:00:00"}]},  # naive
        {"events": [{"event_id": "", "serial": "X", "stage": "body", "occurred_at": "2026-11-02T10:00:00Z"}]},
        {
            "events": [
                {
                    "event_id": "e1",
                    "serial": "X",
                    "stage": "body",
                    "occurred_at": "2026-11-02T10:00:00Z",
                    "colour": "red",
                }
            ]
        },
    ],
)
def test_malformed_batches_are_refused_whole(client, world, line, body):
    resp = client.post("/api/v1/production/events", json=body, headers=line["mes"])
    assert resp.status_code == 422
    assert world.count(StageEvent) == 0


def test_only_a_production_token_may_post_events(client, world, line):
    a = line["serials"][0]
    body = {"events": [ev("e1", a, "body", 1)]}
    erp = {"Authorization": f"Bearer {world.integration_token('erp', name='erp')}"}
    hq = world.auth(world.user("hq_admin"))
    dealer = world.auth(world.user("dealer_admin", dealer="SH-1"))
    for headers in (erp, hq, dealer):
        resp = client.post("/api/v1/production/events", json=body, headers=headers)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/production/events", json=body).status_code == 401
    assert world.count(StageEvent) == 0


def _statuses(world, number):
    order_id = world.get(Order, number=number)["id"]
    with world.app.app_context():
        from portal.extensions import db

        rows = (
            db.session.query(OrderEvent.from_status, OrderEvent.to_status, OrderEvent.actor)
            .filter_by(order_id=order_id)
            .order_by(OrderEvent.id)
            .all()
        )
        db.session.remove()
    return [tuple(r) for r in rows]


def test_the_order_follows_its_units(client, world, line):
    a, b, c = line["serials"]
    number = line["order"]
    post(client, line, [ev("s1", a, "scheduled", 0.5)])  # the first stage: not yet on the line
    assert world.get(Order, number=number)["status"] == "approved"
    post(client, line, [ev("e1", a, "body", 1)])
    assert world.get(Order, number=number)["status"] == "in_production"
    post(client, line, [ev("e2", a, "completed", 10), ev("e3", b, "completed", 11)])
    assert world.get(Order, number=number)["status"] == "in_production"  # one unit is still scheduled
    post(client, line, [ev("e4", c, "completed", 12)])
    assert world.get(Order, number=number)["status"] == "built"
    post(client, line, [ev("e5", c, "inspection", 13)])  # late, for an earlier stage: changes no status
    assert world.get(Order, number=number)["status"] == "built"
    assert _statuses(world, number)[-2:] == [
        ("approved", "in_production", "token:mes"),
        ("in_production", "built", "token:mes"),
    ]


def test_a_batch_that_completes_every_unit_at_once_goes_through_in_production(client, world, line):
    number = line["order"]
    post(client, line, [ev(f"e{i}", s, "completed", 5) for i, s in enumerate(line["serials"])])
    assert world.get(Order, number=number)["status"] == "built"
    assert [(f, t) for f, t, _a in _statuses(world, number)][-2:] == [
        ("approved", "in_production"),
        ("in_production", "built"),
    ]


def test_a_cancelled_order_keeps_its_status(client, world, line):
    a = line["serials"][0]
    world.cancel(line["order"], world.user("channel_manager"))
    results = post(client, line, [ev("e1", a, "body", 1)]).get_json()["results"]
    assert results[0]["status"] == "accepted" and unit(world, a)["stage"] == "body"
    assert world.get(Order, number=line["order"])["status"] == "cancelled"
