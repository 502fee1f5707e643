"""The scorecard's weights and bounds are configuration (PRODUCT.md §15): read from the environment like every
PORTAL_ setting, and a bad value stops the portal at start-up with a message naming the setting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.config import (
    DEFAULT_SCORECARD_WEIGHTS,
    SCORECARD_COMPONENTS,
    Config,
    ConfigError,
    scorecard_bounds,
    scorecard_weights,
)
from tests.conftest import make_app


def test_the_default_weights():
    assert DEFAULT_SCORECARD_WEIGHTS.count("=") == len(SCORECARD_COMPONENTS)
    assert scorecard_weights(None) == {"achievement": 30, "dso": 15, "overdue_share": 15, "sell_through_rate": 15,
                                       "days_of_inventory": 15, "below_floor": 10}  # fmt: skip
    assert scorecard_weights("") == scorecard_weights(None)


def test_weights_from_the_environment(tmp_path):
    config = Config(str(tmp_path), {"PORTAL_SCORECARD_WEIGHTS": " dso = 2 , achievement=1 "})
    assert scorecard_weights(config.PORTAL_SCORECARD_WEIGHTS) == {"achievement": 1, "dso": 2, "overdue_share": 0,
        "sell_through_rate": 0, "days_of_inventory": 0, "below_floor": 0}  # fmt: skip
    assert Config(str(tmp_path), {}).PORTAL_SCORECARD_WEIGHTS == DEFAULT_SCORECARD_WEIGHTS


def test_the_weights_in_use_leave_out_the_zeros(app, monkeypatch):
    from portal.targets.scorecards import weights

    monkeypatch.setitem(app.config, "PORTAL_SCORECARD_WEIGHTS", "dso=0,below_floor=5,achievement=2")
    with app.app_context():
        assert weights() == {"achievement": 2, "below_floor": 5}  # in the components' order


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("speed=10", "speed"),  # unknown component
        ("dso=-5", "dso"),  # negative
        ("dso=1.5", "whole number"),
        ("dso=abc", "whole number"),
        ("dso=²", "whole number"),
        ("dso", "component=value"),
        ("dso=1,dso=2", "twice"),
        ("dso=0,achievement=0", "more than 0"),  # all zero
        ("achievement=0", "more than 0"),
        (",", "more than 0"),
    ],
)
def test_bad_weights_are_refused(value, message, tmp_path):
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_WEIGHTS") as exc:
        scorecard_weights(value)
    assert message in str(exc.value)
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_WEIGHTS"):
        Config(str(tmp_path), {"PORTAL_SCORECARD_WEIGHTS": value})


def test_a_mapping_is_checked_alike():
    assert scorecard_weights({"dso": 3})["dso"] == 3
    for bad in ({"speed": 1}, {"dso": -1}, {"dso": 0}):
        with pytest.raises(ConfigError):
            scorecard_weights(bad)


def test_bounds_replace_the_defaults_one_by_one():
    bounds = scorecard_bounds("dso=10:90, below_floor=0:0.1")
    assert bounds["dso"] == (Decimal(10), Decimal(90)) and bounds["below_floor"] == (Decimal(0), Decimal("0.1"))
    assert bounds["days_of_inventory"] == (Decimal(30), Decimal(180))
    for bad in ("dso=30", "dso=30:30", "dso=a:b", "speed=1:2", "dso=1:inf"):
        with pytest.raises(ConfigError, match="PORTAL_SCORECARD_BOUNDS"):
            scorecard_bounds(bad)


def test_bad_configuration_stops_the_start(database_url):
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_WEIGHTS"):
        make_app(database_url, PORTAL_SCORECARD_WEIGHTS="achievement=30,luck=70")
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_WEIGHTS"):
        make_app(database_url, PORTAL_SCORECARD_WEIGHTS="dso=-15")
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_BOUNDS"):
        make_app(database_url, PORTAL_SCORECARD_BOUNDS="dso=120:120")
    app = make_app(database_url, PORTAL_SCORECARD_WEIGHTS="dso=1")
    assert app.config["PORTAL_SCORECARD_WEIGHTS"] == "dso=1"


def test_the_weights_are_read_from_the_environment_at_start(database_url, monkeypatch):
    monkeypatch.setenv("PORTAL_SCORECARD_WEIGHTS", "achievement=0")
    with pytest.raises(ConfigError, match="PORTAL_SCORECARD_WEIGHTS"):
        make_app(database_url)
