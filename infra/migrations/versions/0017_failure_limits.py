"""work that can never succeed ends failed: ingest and guide import tries, a channel's slate failure;
a guide's reconcile decisions kept on its staged rows

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('epg_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slate_error', sa.String(length=2000), nullable=True))
    with op.batch_alter_table('epg_staged', schema=None) as batch_op:
        batch_op.add_column(sa.Column('programme_id', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_epg_staged_programme', ['import_id', 'programme_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('epg_staged', schema=None) as batch_op:
        batch_op.drop_index('ix_epg_staged_programme')
        batch_op.drop_column('programme_id')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('slate_error')
    with op.batch_alter_table('epg_imports', schema=None) as batch_op:
        batch_op.drop_column('tries')
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('tries')
