"""A throw-away PostgreSQL primary and its streaming hot standby, for the read-replica tests and benchmarks.

A primary cluster (`initdb`) in a temp folder of its own, listening on a free loopback port, and a hot standby made
from it with `pg_basebackup -R` on another free port: never a base backup of the shared server. PostgreSQL refuses
to run as root, so as root the binaries run as the `postgres` user (`runuser -u postgres --`) on folders it owns.

Used by tests/replica.py (tests/test_replica_routing.py: a small primary, fsync off) and by bench/mixed.py's
`--replica` run (the stock server settings). The caller chooses the primary's settings (`primary_conf`, appended to
its postgresql.conf before it starts; the standby inherits them through the base backup) and the standby's own
(`standby_conf`, appended to the standby's copy before it starts).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_BIN = Path(os.environ.get("PORTAL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
NEEDED = ("initdb", "pg_ctl", "pg_basebackup")
TIMEOUT_S = 60

# what a streaming pair needs whatever else is chosen
REPLICATION_CONF = """
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 4
hot_standby = on
"""

HBA = """
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""


def missing_binaries() -> list[str]:
    """The PostgreSQL programs the pair needs and this machine lacks."""
    return [name for name in NEEDED if not (PG_BIN / name).exists() and not shutil.which(name)]


def _binary(name: str) -> str:
    path = PG_BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamingPair:
    """initdb → start the primary → pg_basebackup -R → start the replica; `stop()` stops both and removes the folder."""

    def __init__(self, database: str = "portal", primary_conf: str = "", standby_conf: str = "",
                 prefix: str = "portal-replica-"):  # fmt: skip
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.sockets = self.root / "sock"
        self.dirs = {"primary": self.root / "primary", "replica": self.root / "replica"}
        self.ports = {"primary": free_port(), "replica": free_port()}
        self.database = database
        self.primary_conf = primary_conf
        self.standby_conf = standby_conf
        self.as_root = os.geteuid() == 0

    # -- commands

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [_binary(args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done

    def _pg_ctl_start(self, which: str) -> None:
        options = f"-p {self.ports[which]} -k {self.sockets}"
        self._run("pg_ctl", "-D", str(self.dirs[which]), "-l", str(self.root / f"{which}.log"), "-o", options, "-w",
                  "-t", str(TIMEOUT_S), "start")  # fmt: skip

    def start(self) -> StreamingPair:
        self.sockets.mkdir()
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        primary = self.dirs["primary"]
        self._run("initdb", "-D", str(primary), "-U", "postgres", "-E", "UTF8", "--locale=C", "--auth=trust")
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(REPLICATION_CONF + self.primary_conf)
        (primary / "pg_hba.conf").write_text(HBA)
        self._pg_ctl_start("primary")
        with self.connect("primary", "postgres") as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U", "postgres",
                  "-D", str(self.dirs["replica"]), "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        if self.standby_conf:
            with (self.dirs["replica"] / "postgresql.conf").open("a") as conf:
                conf.write(self.standby_conf)
        self.start_replica()
        return self

    def start_replica(self) -> None:
        self._pg_ctl_start("replica")
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # hot standby accepts connections once it has reached a consistent state
            try:
                with self.connect("replica") as conn:
                    if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def stop_replica(self) -> None:
        self._run("pg_ctl", "-D", str(self.dirs["replica"]), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        for which in ("replica", "primary"):
            if (self.dirs[which] / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError):  # already stopped
                    self._run("pg_ctl", "-D", str(self.dirs[which]), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def postmaster_pid(self, which: str) -> int:
        """The postmaster's pid (the first line of `<datadir>/postmaster.pid`): the root of that server's processes."""
        return int((self.dirs[which] / "postmaster.pid").read_text().split("\n", 1)[0])

    # -- talking to them

    def url(self, which: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.ports[which]}/{self.database}"

    def libpq_url(self, which: str) -> str:
        """The same as `url` for psycopg itself (postgresql://)."""
        return f"postgresql://postgres@127.0.0.1:{self.ports[which]}/{self.database}"

    def connect(self, which: str, database: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.ports[which], user="postgres", dbname=database or self.database,
            autocommit=True, connect_timeout=5,
        )  # fmt: skip

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with self.connect("primary") as primary:
            position = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.connect("replica") as replica:
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s", (position,)).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the replica has not replayed {position} within {timeout} s")
                time.sleep(0.05)

    def pause_replay(self) -> None:
        with self.connect("replica") as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.connect("replica") as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
