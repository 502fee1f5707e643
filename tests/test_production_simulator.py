"""The line simulator plays stage events through the real HTTP API of a running portal (a loopback server here)."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.orders.models import Order
from portal.production.models import StageEvent, Unit
from portal.production.simulator import due_events
from tests.conftest import serving


@pytest.fixture
def server(app):
    with serving(app) as url:
        yield url


@pytest.fixture
def line(world):
    world.region("EAST")
    world.dealer("SH-1", "EAST")
    world.product("CAR-1", list_price="1000.00", build_to_order=True)
    world.credit_limit("SH-1", "1000000")
    order = world.order("SH-1", [("CAR-1", 3)])
    return {"order": order, "serials": world.serials(order), "token": world.integration_token("production")}


def test_each_pass_moves_every_due_unit_one_stage(app, world, server, line):
    runner = app.test_cli_runner()
    args = ["simulate-line", "--url", server, "--token", line["token"], "--speed", "100000000", "--once"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "3 events - 3 accepted, 0 duplicate, 0 rejected" in result.output
    assert {world.get(Unit, serial=s)["stage"] for s in line["serials"]} == {"body"}
    assert world.get(Order, number=line["order"])["status"] == "in_production"
    for _ in range(4):
        assert runner.invoke(args=args).exit_code == 0
    assert {world.get(Unit, serial=s)["stage"] for s in line["serials"]} == {"completed"}
    assert world.get(Order, number=line["order"])["status"] == "built"
    assert world.count(StageEvent) == 15
    units = [world.get(Unit, serial=s) for s in line["serials"]]
    assert all(u["line"] in ("L1", "L2", "L3") for u in units)
    result = runner.invoke(args=args)  # nothing open any more
    assert "0 open units, none due" in result.output


def test_at_real_speed_nothing_is_due_yet(app, world, server, line):
    result = app.test_cli_runner().invoke(
        args=["simulate-line", "--url", server, "--token", line["token"], "--speed", "1", "--once"]
    )
    assert result.exit_code == 0 and "3 open units, none due" in result.output
    assert world.count(StageEvent) == 0


def test_a_wrong_token_is_reported(app, world, server, line):
    result = app.test_cli_runner().invoke(args=["simulate-line", "--url", server, "--token", "drp_i_wrong", "--once"])
    assert result.exit_code != 0 and "401" in result.output


def test_due_events_follow_the_plan():
    now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    stages = ("scheduled", "body", "paint", "assembly", "inspection", "completed")
    units = [
        {"serial": "A", "stage": "paint", "stage_at": (now - dt.timedelta(hours=10)).isoformat(), "line": "L2"},
        {"serial": "B", "stage": "paint", "stage_at": (now - dt.timedelta(hours=1)).isoformat(), "line": None},
        {"serial": "C", "stage": "completed", "stage_at": (now - dt.timedelta(days=9)).isoformat(), "line": "L1"},
    ]
    events = due_events(units, stages, 1, now)  # paint is planned 5 h ± 30 %
    assert [(e["serial"], e["stage"], e["line"], e["event_id"]) for e in events] == [
        ("A", "assembly", "L2", "sim:A:assembly")
    ]
    assert events[0]["occurred_at"] == now.isoformat() and events[0]["station"].startswith("L2-AS-")
    assert {e["serial"] for e in due_events(units, stages, 10, now)} == {"A", "B"}
