"""partial indexes for the recordings reconcile pass (unfinished and scheduled recordings)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 05:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index('ix_recordings_unfinished', ['end_at'], unique=False,
                              postgresql_where=sa.text("state IN ('scheduled', 'recording')"),
                              sqlite_where=sa.text("state IN ('scheduled', 'recording')"))
        batch_op.create_index('ix_recordings_scheduled_start', ['start_at'], unique=False,
                              postgresql_where=sa.text("state = 'scheduled'"),
                              sqlite_where=sa.text("state = 'scheduled'"))


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_scheduled_start')
        batch_op.drop_index('ix_recordings_unfinished')
