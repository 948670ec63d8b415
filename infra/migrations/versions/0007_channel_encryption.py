"""channel encryption and content keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:10:06.970117
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('content_keys',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('period', sa.BigInteger(), nullable=False),
    sa.Column('wrapped', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_content_keys_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'period', name=op.f('pk_content_keys'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('encryption', sa.String(length=16), server_default='none', nullable=False))
        batch_op.add_column(sa.Column('key_rotation_s', sa.Integer(), server_default='600', nullable=False))


def downgrade() -> None:
    
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('key_rotation_s')
        batch_op.drop_column('encryption')

    op.drop_table('content_keys')
    
