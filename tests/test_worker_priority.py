"""Job workers yield the CPU to the web (issue 24): `flask worker` lowers its own priority by PORTAL_WORKER_NICE
(default 10, 0–19, checked at start-up), so a statement run's PDFs do not make every page wait on a shared machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import ConfigError, worker_nice

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("value", "nice"), [(None, 10), ("", 10), (" 7 ", 7), ("0", 0), ("19", 19), (3, 3)])
def test_the_setting_is_a_niceness_from_0_to_19(value, nice):
    assert worker_nice(value) == nice


@pytest.mark.parametrize("value", ["-1", "20", "ten", "1.5", True])
def test_anything_else_is_refused_at_start_up(value):
    with pytest.raises(ConfigError, match="PORTAL_WORKER_NICE"):
        worker_nice(value)


@pytest.mark.parametrize(("setting", "expected"), [("6", 6), ("0", 0), (None, 10)])
def test_a_worker_process_lowers_its_priority_by_the_setting(tmp_path, setting, expected):
    """In a process of its own (a niceness is never raised back): what `flask worker` calls before its first job."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "nice-test"}
    env.pop("PORTAL_WORKER_NICE", None)
    if setting is not None:
        env["PORTAL_WORKER_NICE"] = setting
    code = (
        "import os; from portal import create_app; from portal.cli import lower_priority; "
        "app = create_app(); before = os.nice(0); "
        "print(lower_priority(app.config['PORTAL_WORKER_NICE']) - before)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) == expected
