"""device platform and OS version (device profiles), and a profile staff may set on a device

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('os_version', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('profile_override', sa.String(length=32), nullable=True))
    with op.batch_alter_table('device_authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('os_version', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device_authorizations', schema=None) as batch_op:
        batch_op.drop_column('os_version')
        batch_op.drop_column('platform')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('profile_override')
        batch_op.drop_column('os_version')
        batch_op.drop_column('platform')
