"""targets and scorecards (§15): monthly targets per region or dealer, measure and category

Achievement is read from the channel roll-up and the ledger; only the targets themselves are stored.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:05:34.999129

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("dealer_id", sa.Integer(), nullable=True),
        sa.Column("measure", sa.String(length=30), nullable=False),
        sa.Column("category", sa.String(length=60), server_default="", nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "measure <> 'collections_amount' OR category = ''", name=op.f("ck_targets_collections_no_category")
        ),
        sa.CheckConstraint(
            "measure IN ('sell_in_amount', 'sell_through_units', 'collections_amount')",
            name=op.f("ck_targets_measure_valid"),
        ),
        sa.CheckConstraint("(region_id IS NULL) <> (dealer_id IS NULL)", name=op.f("ck_targets_one_scope")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_targets_amount_not_negative")),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"], name=op.f("fk_targets_dealer_id_dealers")),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_targets_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index("ix_targets_month", ["month"], unique=False)
        batch_op.create_index(
            "uq_targets_dealer",
            ["dealer_id", "month", "measure", "category"],
            unique=True,
            postgresql_where=sa.text("dealer_id IS NOT NULL"),
            sqlite_where=sa.text("dealer_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_targets_region",
            ["region_id", "month", "measure", "category"],
            unique=True,
            postgresql_where=sa.text("region_id IS NOT NULL"),
            sqlite_where=sa.text("region_id IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_targets_region",
            postgresql_where=sa.text("region_id IS NOT NULL"),
            sqlite_where=sa.text("region_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_targets_dealer",
            postgresql_where=sa.text("dealer_id IS NOT NULL"),
            sqlite_where=sa.text("dealer_id IS NOT NULL"),
        )
        batch_op.drop_index("ix_targets_month")

    op.drop_table("targets")
