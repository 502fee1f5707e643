"""multi-level channel (§16): sub-dealers, sellers of orders and price lists, transfers

A dealer may belong to a distributor (`dealers.parent_id`); a sub-dealer's orders are sold by it (`orders.seller_id`),
its price lists are the distributor's (`price_lists.seller_id`, scope all or dealer), and the distributor ships them
out of its own stock (`shipments.seller_id`; a `transfer` stock movement).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 11:47:30.549756

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _case_blind_codes():
    """SQLite: a batch copy of `dealers` rebuilds its unique code index from reflection, without the COLLATE NOCASE
    that 0011 gave it: give it back."""
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS uq_dealers_code_ci")
        op.execute("CREATE UNIQUE INDEX uq_dealers_code_ci ON dealers (code COLLATE NOCASE)")


def upgrade():
    with op.batch_alter_table("dealers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_dealers_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_dealers_parent_id_dealers"), "dealers", ["parent_id"], ["id"])
        batch_op.create_check_constraint("parent_not_self", "parent_id IS NULL OR parent_id <> id")
    _case_blind_codes()

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_orders_seller_status", ["seller_id", "status"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_orders_seller_id_dealers"), "dealers", ["seller_id"], ["id"])

    with op.batch_alter_table("price_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_price_lists_seller_id"), ["seller_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_price_lists_seller_id_dealers"), "dealers", ["seller_id"], ["id"])
        batch_op.create_check_constraint("seller_scope_kind", "seller_id IS NULL OR scope_kind IN ('all', 'dealer')")

    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_shipments_seller_id"), ["seller_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_shipments_seller_id_dealers"), "dealers", ["seller_id"], ["id"])

    # the channel roll-up: what a sub-dealer's distributor shipped to it (its sell-in stays HQ's)
    op.add_column("channel_monthly", sa.Column("transfer_in_qty", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "channel_monthly",
        sa.Column("transfer_in_amount", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False),
    )

    # + transfer: out of a distributor's stock to one of its sub-dealers
    with op.batch_alter_table("dealer_stock_moves", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_dealer_stock_moves_kind_valid"), type_="check")
        batch_op.create_check_constraint(
            "kind_valid", "kind IN ('receipt', 'sale', 'adjustment', 'return', 'transfer')"
        )


def downgrade():
    with op.batch_alter_table("channel_monthly", schema=None) as batch_op:
        batch_op.drop_column("transfer_in_amount")
        batch_op.drop_column("transfer_in_qty")
    op.execute("DELETE FROM dealer_stock_moves WHERE kind = 'transfer'")
    with op.batch_alter_table("dealer_stock_moves", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_dealer_stock_moves_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", "kind IN ('receipt', 'sale', 'adjustment', 'return')")

    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_shipments_seller_id_dealers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_shipments_seller_id"))
        batch_op.drop_column("seller_id")

    with op.batch_alter_table("price_lists", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_price_lists_seller_scope_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_price_lists_seller_id_dealers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_price_lists_seller_id"))
        batch_op.drop_column("seller_id")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_seller_id_dealers"), type_="foreignkey")
        batch_op.drop_index("ix_orders_seller_status")
        batch_op.drop_column("seller_id")

    with op.batch_alter_table("dealers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_dealers_parent_not_self"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_dealers_parent_id_dealers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_dealers_parent_id"))
        batch_op.drop_column("parent_id")
    _case_blind_codes()
