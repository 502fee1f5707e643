"""region and dealer codes unique regardless of case

Codes stay as they were given; a second code that differs only in case (ok-002 beside OK-002) is refused from now on,
and lookups by code ignore case (portal/dealers/models.py, CodeComparator). Existing case variants stop the upgrade
with the list: they name different dealers (or regions), so which one gets another code is for people to decide.

PostgreSQL indexes lower(code); SQLite indexes (code COLLATE NOCASE), the same rule for the ASCII codes the portal
accepts, because SQLAlchemy cannot reflect an expression index on SQLite (the models declare lower(code)).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

TABLES = ('regions', 'dealers')


def upgrade():
    bind = op.get_bind()
    clashes = []
    for table in TABLES:
        rows = bind.execute(sa.text(
            f"SELECT code FROM {table} WHERE lower(code) IN "  # table names from TABLES
            f"(SELECT lower(code) FROM {table} GROUP BY lower(code) HAVING count(*) > 1) ORDER BY lower(code), code"
        )).scalars().all()
        if rows:
            clashes.append(f"{table}: {', '.join(rows)}")
    if clashes:
        raise RuntimeError(
            "Codes that differ only in case exist; give one of each group another code, then upgrade again. "
            + "; ".join(clashes)
        )
    for table in TABLES:
        if bind.dialect.name == 'sqlite':
            op.execute(f"CREATE UNIQUE INDEX uq_{table}_code_ci ON {table} (code COLLATE NOCASE)")
        else:
            op.create_index(f'uq_{table}_code_ci', table, [sa.text('lower(code)')], unique=True)


def downgrade():
    for table in TABLES:
        op.drop_index(f'uq_{table}_code_ci', table_name=table)
