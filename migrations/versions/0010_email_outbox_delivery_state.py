"""e-mail outbox: delivery state (status, attempts, next attempt, claim lease, Message-ID, last error)

Existing rows: those sent stay sent; those with an error become failed (one attempt made), so HQ can resend
them from the outbox page; the others are pending, due at once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

STATUSES = "status IN ('pending', 'sent', 'failed', 'suppressed')"


def upgrade():
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.String(length=250), nullable=True))
        batch_op.alter_column('error', new_column_name='last_error', existing_type=sa.String(length=500))

    op.execute("UPDATE email_outbox SET status = 'sent', attempts = 1 WHERE sent_at IS NOT NULL")
    op.execute(
        "UPDATE email_outbox SET status = 'failed', attempts = 1 WHERE sent_at IS NULL AND last_error IS NOT NULL"
    )
    op.execute("UPDATE email_outbox SET next_attempt_at = created_at")

    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None, existing_type=sa.String(length=16))
        batch_op.alter_column('attempts', server_default=None, existing_type=sa.Integer())
        batch_op.alter_column('next_attempt_at', nullable=False, existing_type=sa.DateTime(timezone=True))
        batch_op.create_check_constraint(op.f('ck_email_outbox_status_valid'), STATUSES)
        batch_op.create_index('ix_email_outbox_due', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    # the older code sends rows without sent_at and error: keep it from sending the demo's suppressed e-mails,
    # and let it try the pending ones again whatever their last attempt said
    op.execute("UPDATE email_outbox SET last_error = 'not sent (suppressed)' WHERE status = 'suppressed'")
    op.execute("UPDATE email_outbox SET last_error = NULL WHERE status = 'pending'")
    with op.batch_alter_table('email_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_email_outbox_due')
        batch_op.drop_constraint(op.f('ck_email_outbox_status_valid'), type_='check')
        batch_op.alter_column('last_error', new_column_name='error', existing_type=sa.String(length=500))
        batch_op.drop_column('message_id')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('status')
