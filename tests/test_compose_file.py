"""docker-compose.yml and the Dockerfile agree with the code they run (no Docker engine is needed, and none runs on
the CI machine: docs/DEPLOYMENT.md). What a `docker compose up` would trip over first is checked here: every command
exists, every mounted or referenced file is in the repository, the portal accepts the environment compose gives it
(a production configuration with the .env example's SECRET_KEY filled in), nginx's upstream is the web service's
port, and the web service runs what the image runs by default."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from portal.config import Config, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PORTAL_SERVICES = [name for name, svc in SERVICES.items() if svc.get("build") == "."]


def _interpolate(value: str) -> str:
    """Compose's ${VAR:?message} with a test password."""
    return re.sub(r"\$\{POSTGRES_PASSWORD[^}]*\}", "s3cret-db-password", str(value))


def _env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / "deploy" / "portal.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def test_the_portal_services_share_the_image_and_the_database():
    assert set(PORTAL_SERVICES) == {"migrate", "web", "worker", "worker-extra", "backup"}
    for name in PORTAL_SERVICES:
        env = SERVICES[name]["environment"]
        assert _interpolate(env["DATABASE_URL"]).endswith("@db:5432/portal"), name
        assert env["PORTAL_ENV"] == "production"
    db_env = SERVICES["db"]["environment"]
    assert (db_env["POSTGRES_USER"], db_env["POSTGRES_DB"]) == ("portal", "portal")


@pytest.mark.parametrize("name", PORTAL_SERVICES)
def test_each_command_exists(name):
    command = SERVICES[name]["command"]
    program = command[0]
    if program.startswith("deploy/"):
        assert (ROOT / program).is_file() and (ROOT / program).stat().st_mode & 0o111, program
    else:
        assert program in ("flask", "gunicorn") and shutil.which(program, path=str(ROOT / ".venv" / "bin")), program
    if program == "flask":
        from portal import create_app

        app = create_app({"TESTING": True})
        args = command[3:]  # after "--app portal"
        result = app.test_cli_runner().invoke(args=[*args, "--help"])
        assert result.exit_code == 0, (name, args, result.output)
    if program == "gunicorn":
        assert (ROOT / command[command.index("-c") + 1]).is_file()


def test_the_portal_accepts_composes_environment(tmp_path):
    env = {**_env_example(), **{k: _interpolate(v) for k, v in SERVICES["web"]["environment"].items()}}
    env["SECRET_KEY"] = "x" * 64  # the example leaves it to be set
    config = Config(str(tmp_path), env)
    assert config.PORTAL_ENV == "production"
    assert normalise_database_url(env["DATABASE_URL"]) == config.SQLALCHEMY_DATABASE_URI
    assert config.REDIS_URL == "redis://redis:6379/0"
    assert config.PORTAL_TRUSTED_PROXIES == 1
    assert config.SESSION_COOKIE_SECURE is True


def test_mounted_files_and_the_proxy_upstream():
    for svc in SERVICES.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./deploy/"):
                assert (ROOT / source).is_file(), source
    nginx = (ROOT / "deploy" / "nginx-compose.conf").read_text()
    upstream = re.search(r"upstream drp_portal \{\s*server ([\w.-]+):(\d+)", nginx)
    assert upstream is not None
    assert upstream.group(1) in SERVICES and upstream.group(2) in SERVICES[upstream.group(1)]["expose"]
    assert "proxy_pass http://drp_portal" in nginx


def test_the_image_runs_what_the_web_service_runs():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd is not None and yaml.safe_load(cmd.group(1)) == SERVICES["web"]["command"]
    # the image's bind address is the port compose exposes, and the scheduler runs in exactly one service
    assert "GUNICORN_BIND=0.0.0.0:8000" in dockerfile
    with_schedule = [n for n in PORTAL_SERVICES if SERVICES[n]["command"][3:4] == ["worker"]
                     and "--no-cron" not in SERVICES[n]["command"]]  # fmt: skip
    assert with_schedule == ["worker"]
    for path in re.findall(r"COPY (\S+) ", dockerfile):
        assert (ROOT / path).exists()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "instance" in ignored
