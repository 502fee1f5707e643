"""Targets under concurrency (PostgreSQL): two upserts of the same key at the same moment neither fail (no
IntegrityError, no 500) nor lose one — the first inserts, the other waits for its commit and updates the row, and
both changes are audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.audit.models import AuditEntry
from portal.dealers.models import User
from portal.extensions import db
from portal.targets import services
from portal.targets.models import Target
from tests.concurrency import together

pytestmark = pytest.mark.postgres


@pytest.fixture
def books(world, is_postgres):
    if not is_postgres:
        pytest.skip("concurrent transactions: PostgreSQL only (SQLite serialises writers with BEGIN IMMEDIATE)")
    world.region("HQ")
    world.region("EAST", parent="HQ")
    world.dealer("E-1", "EAST")
    world.user("channel_manager", username="cm")
    world.user("hq_admin", username="admin")


def _upsert(username: str, amount: str, scope: str = "dealer:E-1"):
    def run():
        actor = db.session.query(User).filter_by(username=username).one()
        items = [
            {"period": "2026-03", "scope": scope, "measure": "sell_in_amount", "amount": amount},
            {"period": "2026-04", "scope": scope, "measure": "sell_in_amount", "amount": amount},
        ]
        return services.upsert(actor, items)

    return run


@pytest.mark.parametrize("scope", ["dealer:E-1", "region:EAST"])
def test_two_upserts_of_the_same_keys_at_once_both_land(app, world, books, scope):
    for _round in range(3):
        world.run(lambda: db.session.query(AuditEntry).delete() and None)
        world.run(lambda: db.session.query(Target).delete() and None)
        results = together(app, [_upsert("cm", "100.00", scope), _upsert("admin", "200.00", scope)])
        assert not any(isinstance(r, Exception) for r in results), results
        assert sorted(r["created"] for r in results) == [0, 2]
        assert sorted(r["updated"] for r in results) == [0, 2]
        final = world.run(lambda: sorted((t.month.month, t.amount) for t in db.session.query(Target)))
        assert len(final) == 2 and final[0][1] == final[1][1] in (Decimal("100.00"), Decimal("200.00"))
        audit = world.run(lambda: sorted((e.object_key, str(e.before), str(e.after))
                                         for e in db.session.query(AuditEntry)))  # fmt: skip
        assert len(audit) == 4  # two creations, two updates: nothing lost


def test_many_writers_of_the_same_key_leave_one_row_and_a_full_audit_trail(app, world, books):
    results = together(app, [_upsert("cm" if i % 2 else "admin", f"{100 + i}.00") for i in range(6)])
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(r["created"] for r in results) == 2
    assert world.run(lambda: db.session.query(Target).count()) == 2
    changes = sum(r["created"] + r["updated"] for r in results)
    assert world.run(lambda: db.session.query(AuditEntry).filter_by(action="target.set").count()) == changes
