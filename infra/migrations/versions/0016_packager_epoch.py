"""a packager epoch per channel: ingest refuses pushes from a node that lost the channel

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 02:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_timeline_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packager_epoch', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('channel_timeline_state', schema=None) as batch_op:
        batch_op.drop_column('packager_epoch')
