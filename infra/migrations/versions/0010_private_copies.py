"""private recording copies: the channel right that asks for them, and what a copy holds

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 03:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_rights', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recording_copy', sa.String(length=8), nullable=False,
                                      server_default='shared'))
    with op.batch_alter_table('stored_copies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('copied_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stored_copies', schema=None) as batch_op:
        batch_op.drop_column('released_at')
        batch_op.drop_column('bytes')
        batch_op.drop_column('copied_at')
    with op.batch_alter_table('channel_rights', schema=None) as batch_op:
        batch_op.drop_column('recording_copy')
