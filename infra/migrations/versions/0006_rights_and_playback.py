"""rights, profiles, playback sessions and decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:11:49.040633
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('geo_ranges',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('network', sa.String(length=49), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geo_ranges'))
    )
    op.create_table('playback_decisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=True),
    sa.Column('content', sa.String(length=140), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playback_decisions'))
    )
    with op.batch_alter_table('playback_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playback_decisions_at'), ['at'], unique=False)
        batch_op.create_index('ix_playback_decisions_subscriber_at', ['subscriber_id', 'at'], unique=False)

    op.create_table('channel_rights',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.Column('timeshift', sa.Boolean(), nullable=False),
    sa.Column('timeshift_window_s', sa.Integer(), nullable=True),
    sa.Column('startover', sa.Boolean(), nullable=False),
    sa.Column('catchup', sa.Boolean(), nullable=False),
    sa.Column('catchup_days', sa.Integer(), nullable=False),
    sa.Column('recording', sa.Boolean(), nullable=False),
    sa.Column('device_types', sa.JSON(), nullable=True),
    sa.Column('countries', sa.JSON(), nullable=True),
    sa.Column('age_rating', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_rights_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_channel_rights'))
    )
    op.create_table('playback_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('profile_id', sa.String(length=32), nullable=True),
    sa.Column('content', sa.String(length=140), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_playback_sessions_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_playback_sessions'))
    )
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_playback_sessions_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_playback_sessions_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_playback_sessions_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('profiles',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parental_threshold', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_profiles_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profiles'))
    )
    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profiles_subscriber_id'), ['subscriber_id'], unique=False)

    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parental_pin_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('parental_pin_hash')

    with op.batch_alter_table('profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profiles_subscriber_id'))

    op.drop_table('profiles')
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playback_sessions_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_playback_sessions_ended_at'))
        batch_op.drop_index(batch_op.f('ix_playback_sessions_device_id'))

    op.drop_table('playback_sessions')
    op.drop_table('channel_rights')
    with op.batch_alter_table('playback_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_playback_decisions_subscriber_at')
        batch_op.drop_index(batch_op.f('ix_playback_decisions_at'))

    op.drop_table('playback_decisions')
    op.drop_table('geo_ranges')
    
