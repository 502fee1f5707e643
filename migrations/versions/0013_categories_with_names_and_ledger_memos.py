"""categories with their Chinese and English names; ledger entries' memo as a code and parameters

`categories` names the category codes products and price rules carry (`products.category` stays the code: the API
is unchanged). One row is seeded per code in use, named after the code, except the demo catalogue's codes, which get
their real names; HQ renames them on the categories page.

`ledger_entries.memo`: what the portal itself writes on an entry (a rebate's credit note) as a code with its
parameters, rendered in the reader's language; `reason` keeps the text as stored (existing rows show it as before).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# the demo catalogue's codes (portal/catalog/demo.py) and the generic ones, as of this revision
KNOWN = {
    'sedan': ('轿车', 'Sedan'),
    'suv': ('SUV', 'SUV'),
    'ev': ('新能源车', 'Electric vehicle'),
    'mpv': ('MPV', 'MPV'),
    'vehicles': ('整车', 'Vehicles'),
    'parts': ('配件', 'Parts'),
    'oil': ('油品', 'Oil'),
    'filters': ('滤清器', 'Filters'),
    'brakes': ('制动件', 'Brakes'),
    'accessories': ('精品附件', 'Accessories'),
    'electrical': ('电器件', 'Electrical'),
    'tyres': ('轮胎', 'Tyres'),
}


def upgrade():
    categories = op.create_table(
        'categories',
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('name_en', sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_categories')),
    )
    # a plain ALTER TABLE (no batch copy of the table: other tables reference ledger_entries)
    op.add_column('ledger_entries', sa.Column('memo', sa.JSON(), nullable=True))

    conn = op.get_bind()
    codes = set()
    for table in ('products', 'price_rules'):
        codes |= {c for (c,) in conn.execute(sa.text(f'SELECT DISTINCT category FROM {table}')) if c}  # noqa: S608
    rows = [
        {'code': c, 'name': KNOWN.get(c, (c, c))[0][:120], 'name_en': KNOWN.get(c, (c, c))[1][:120]}
        for c in sorted(codes)
    ]
    if rows:
        op.bulk_insert(categories, rows)


def downgrade():
    op.drop_column('ledger_entries', 'memo')  # SQLite 3.35+ drops a plain column in place
    op.drop_table('categories')
