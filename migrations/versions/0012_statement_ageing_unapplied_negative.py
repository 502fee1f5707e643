"""statements: the stored month-end ageing carries unapplied cash negative, as every ageing now answers it

Before, `statements.ageing["unapplied"]` held the unapplied cash as a positive amount and each consumer decided on
its own whether to show it negative (the page did, the PDF and the API did not). The amounts are the same; only the
sign of this one stored figure flips. The content hash reads unapplied cash as a magnitude, so statements issued
before this change keep their hash and a re-run does not issue them again. PDFs already rendered are not touched.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:00:00.000000

"""
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

statements = sa.table('statements', sa.column('id', sa.Integer), sa.column('ageing', sa.JSON))


def _flip(sign: int) -> None:
    """Make every stored unapplied figure carry `sign` (-1: negative, as now; +1: positive, as before)."""
    conn = op.get_bind()
    for row_id, ageing in conn.execute(sa.select(statements.c.id, statements.c.ageing)).all():
        if not ageing or "unapplied" not in ageing:
            continue
        amount = abs(Decimal(ageing["unapplied"])) * sign + 0  # + 0: never "-0.00"
        if str(amount) == ageing["unapplied"]:
            continue
        conn.execute(
            statements.update().where(statements.c.id == row_id).values(ageing={**ageing, "unapplied": str(amount)})
        )


def upgrade():
    _flip(-1)


def downgrade():
    _flip(+1)
