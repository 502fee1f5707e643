"""A real PostgreSQL streaming pair for the read-replica tests (tests/test_replica_routing.py).

The pair itself (initdb primary on a free loopback port, `pg_basebackup -R` standby on another, as the `postgres`
user when root, never a base backup of the shared server) is bench/pgpair.py, which bench/mixed.py's `--replica` run
uses too; here it gets the tests' settings: a small primary that does not sync to disk.
"""

from __future__ import annotations

from bench.pgpair import PG_BIN, free_port, missing_binaries
from bench.pgpair import StreamingPair as _StreamingPair

__all__ = ["PG_BIN", "PRIMARY_CONF", "StreamingPair", "free_port", "missing_binaries"]

PRIMARY_CONF = """
# tests/replica.py: a throw-away primary for the read-replica tests
max_connections = 40
shared_buffers = 16MB
fsync = off
full_page_writes = off
synchronous_commit = on
"""


class StreamingPair(_StreamingPair):
    """bench.pgpair.StreamingPair with the tests' settings."""

    def __init__(self, database: str = "portal"):
        super().__init__(database, primary_conf=PRIMARY_CONF)
