"""The ETA rule (portal/production/eta.py): the time a unit entered its stage + the median duration of each remaining
transition over recent completed transitions; the product's lead time where there is no history. The same answer
on PostgreSQL (percentile_cont) and SQLite (Python over the same bounded sample)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.platform.timeutil import freeze
from portal.production import eta
from portal.production.models import Unit

T0 = dt.datetime(2026, 9, 1, 0, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def ch(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="100000.00", category="vehicles", build_to_order=True)  # lead time 30 days
    world.credit_limit("SH-1", "100000000")
    with freeze(T0):
        done = world.order("SH-1", [("CAR-1", 4)])
    with freeze(T0 + 3 * DAY):
        fresh = world.order("SH-1", [("CAR-1", 2)])
    return {
        "done": world.serials(done),
        "done_order": done,
        "fresh": world.serials(fresh),
        "fresh_order": fresh,
        "hq": world.auth(world.user("channel_manager")),
    }


def _history(world, serials):
    """scheduled → body: 1, 2, 4, 10 hours (median 3 h); body → paint: 5, 6, 9 hours (median 6 h)."""
    events = []
    for n, (serial, to_body, to_paint) in enumerate(zip(serials, (1, 2, 4, 10), (5, 6, 9, None), strict=True)):
        events.append({"event_id": f"b{n}", "serial": serial, "stage": "body", "occurred_at": T0 + to_body * H})
        if to_paint:
            events.append(
                {"event_id": f"p{n}", "serial": serial, "stage": "paint", "occurred_at": T0 + (to_body + to_paint) * H}
            )
    world.mes_events(events, at=T0 + DAY)


def medians(world, now):
    def read():
        with freeze(now):
            return eta.compute_medians()

    return world.run(read)


def test_medians_of_each_transition(world, ch):
    _history(world, ch["done"])
    got = medians(world, T0 + 3 * DAY)
    assert got == {
        ("scheduled", "body"): 3 * 3600,  # 1, 2, 4, 10: the mean of the middle two
        ("body", "paint"): 6 * 3600,
        ("paint", "assembly"): None,
        ("assembly", "inspection"): None,
        ("inspection", "completed"): None,
    }


def test_only_recent_transitions_and_a_bounded_sample_count(world, ch):
    _history(world, ch["done"])
    # 91 days later the transitions are out of the 90-day window
    assert set(medians(world, T0 + 91 * DAY).values()) == {None}
    world.app.config["PORTAL_ETA_SAMPLE"] = 2
    try:
        got = medians(world, T0 + 3 * DAY)
    finally:
        world.app.config["PORTAL_ETA_SAMPLE"] = 500
    assert got[("scheduled", "body")] == 7 * 3600  # the two most recent: 4 and 10 hours
    assert got[("body", "paint")] == int(7.5 * 3600)  # 6 and 9


def test_negative_durations_are_left_out(world, ch):
    a = ch["done"][0]
    world.mes_events(
        [
            {"event_id": "p", "serial": a, "stage": "paint", "occurred_at": T0 + 2 * H},
            {"event_id": "b", "serial": a, "stage": "body", "occurred_at": T0 + 5 * H},
        ],
        at=T0 + DAY,
    )
    assert medians(world, T0 + DAY)[("body", "paint")] is None


def test_the_eta_adds_the_medians_of_the_remaining_transitions(client, world, ch):
    _history(world, ch["done"])
    x, y = ch["fresh"]
    # x enters body after 3 hours: the scheduled → body sample becomes 1, 2, 3, 4, 10 hours, its median stays 3 h
    world.mes_events(
        [{"event_id": "x1", "serial": x, "stage": "body", "occurred_at": T0 + 3 * DAY + 3 * H}], at=T0 + 3 * DAY + 3 * H
    )
    with freeze(T0 + 3 * DAY + 4 * H):
        units = {
            u["serial"]: u
            for u in client.get(f"/api/v1/track/{ch['fresh_order']}", headers=ch["hq"]).get_json()["units"]
        }
    fallback = 6 * DAY  # 30 days of lead time over 5 transitions, for the 3 transitions without history
    assert units[y]["eta"] == (T0 + 3 * DAY + 3 * H + 6 * H + 3 * fallback).isoformat()  # scheduled at T0 + 3 days
    assert units[x]["eta"] == (T0 + 3 * DAY + 3 * H + 6 * H + 3 * fallback).isoformat()  # entered body at +3 h
    assert units[x]["late"] is False


def test_without_lead_time_the_configured_default_is_used(app, world, ch):
    world.product("CAR-0", list_price="1000.00", build_to_order=True)

    def set_lead_time():
        from portal.catalog.models import Product
        from portal.extensions import db

        db.session.query(Product).filter_by(sku="CAR-0").update({"lead_time_days": 0})

    world.run(set_lead_time)
    number = world.order("SH-1", [("CAR-0", 1)])
    serial = world.serials(number)[0]

    def read():
        unit = __import__("portal.extensions", fromlist=["db"]).db.session.query(Unit).filter_by(serial=serial).one()
        return unit.stage_at, eta.eta(unit.stage, unit.stage_at, 0)

    stage_at, expected = world.run(read)
    assert expected == stage_at + 5 * 24 * H  # PORTAL_ETA_DEFAULT_STAGE_HOURS (24) per transition


def test_late_units_are_those_past_their_eta(client, world, ch):
    """The production view's SQL condition agrees with the ETA computed unit by unit."""
    _history(world, ch["done"])
    u0, u1, u2, u3 = ch["done"]  # at paint since T0 + 6, 8, 13 hours; u3 at body since T0 + 10 hours
    x, y = ch["fresh"]  # x at body since T0 + 3 days 3 hours, y scheduled at T0 + 3 days
    world.mes_events(
        [{"event_id": "x1", "serial": x, "stage": "body", "occurred_at": T0 + 3 * DAY + 3 * H}], at=T0 + 3 * DAY + 3 * H
    )
    # ETAs: u0 18 d 6 h, u1 18 d 8 h, u2 18 d 13 h, u3 18 d 16 h, x and y 21 d 9 h after T0
    for now, expected in (
        (T0 + 13 * DAY, set()),
        (T0 + 18 * DAY + 10 * H, {u0, u1}),
        (T0 + 21 * DAY + 8 * H + 30 * dt.timedelta(minutes=1), {u0, u1, u2, u3}),
        (T0 + 21 * DAY + 9 * H + dt.timedelta(seconds=1), {u0, u1, u2, u3, x, y}),
    ):
        with freeze(now):
            eta.clear_cache()
            summary = client.get("/api/v1/production/summary", headers=ch["hq"]).get_json()
            tracked = [
                u
                for number in (ch["done_order"], ch["fresh_order"])
                for u in client.get(f"/api/v1/track/{number}", headers=ch["hq"]).get_json()["units"]
            ]
        assert {u["serial"] for u in summary["late"]["items"]} == expected, now
        assert summary["late"]["total"] == len(expected)
        assert {u["serial"] for u in tracked if u["late"]} == expected
    # the longest in their stage first
    assert [u["serial"] for u in summary["late"]["items"]][:4] == [u0, u1, u3, u2]
