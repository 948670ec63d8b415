"""webhook deliveries of outbox messages: attempts, next attempt (or lease), outcome

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Messages written before this revision are not armed (webhook_next_at NULL): no replay.
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('webhook_next_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('webhook_delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('webhook_failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('webhook_error', sa.String(length=500), nullable=True))
        batch_op.create_index('ix_outbox_messages_webhook_due', ['webhook_next_at'], unique=False,
                              postgresql_where=sa.text('webhook_next_at IS NOT NULL'),
                              sqlite_where=sa.text('webhook_next_at IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_webhook_due')
        batch_op.drop_column('webhook_error')
        batch_op.drop_column('webhook_failed_at')
        batch_op.drop_column('webhook_delivered_at')
        batch_op.drop_column('webhook_next_at')
        batch_op.drop_column('webhook_attempts')
