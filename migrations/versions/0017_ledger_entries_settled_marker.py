"""ledger entries: the settled marker (open items read through a partial index, not the whole history); payments
by number; a dealer's applications by date

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 07:07:13.911704

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# settled = the applications (whatever their date) take the whole amount; the same statement as
# portal.credit.services.refresh_settled, written out here so the migration does not depend on the code of the day
BACKFILL = """
UPDATE ledger_entries SET settled = (
    ROUND(amount - COALESCE((
        SELECT SUM(a.amount) FROM applications a
        WHERE (ledger_entries.type = 'invoice' AND a.invoice_id = ledger_entries.id)
           OR (ledger_entries.type <> 'invoice' AND a.credit_id = ledger_entries.id)
    ), 0), 2) = 0
)
"""


def upgrade():
    # a plain ADD COLUMN (no table copy on SQLite: other tables reference ledger_entries)
    op.add_column("ledger_entries", sa.Column("settled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(BACKFILL)
    op.create_index(
        "ix_ledger_entries_open",
        "ledger_entries",
        ["dealer_id", "type"],
        unique=False,
        postgresql_where=sa.text("NOT settled"),
        sqlite_where=sa.text("settled = 0"),
    )
    # a bank statement's serials are looked up whatever the dealer: by number, not through the whole table
    op.create_index("ix_ledger_entries_type_number", "ledger_entries", ["type", "number"], unique=False)
    # a dealer's applications dated after a day: (dealer_id, applied_on) instead of (dealer_id)
    op.create_index("ix_applications_dealer_date", "applications", ["dealer_id", "applied_on"], unique=False)
    op.drop_index("ix_applications_dealer_id", table_name="applications")


def downgrade():
    op.create_index("ix_applications_dealer_id", "applications", ["dealer_id"], unique=False)
    op.drop_index("ix_applications_dealer_date", table_name="applications")
    op.drop_index("ix_ledger_entries_type_number", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_open", table_name="ledger_entries")
    op.drop_column("ledger_entries", "settled")
