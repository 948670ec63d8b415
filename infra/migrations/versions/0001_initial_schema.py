"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 09:12:23.607039
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channels',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('logo_url', sa.String(length=1000), nullable=True),
    sa.Column('segment_duration_ms', sa.Integer(), nullable=False),
    sa.Column('target_duration_s', sa.Integer(), nullable=False),
    sa.Column('timeshift_window_s', sa.Integer(), nullable=False),
    sa.Column('segment_sets', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('ingest_key_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('number', name=op.f('uq_channels_number'))
    )
    op.create_table('staff_api_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_api_keys')),
    sa.UniqueConstraint('key_sha256', name=op.f('uq_staff_api_keys_key_sha256'))
    )
    op.create_table('channel_timeline_state',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('last_session', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('last_publish_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_timeline_state_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', name=op.f('pk_channel_timeline_state'))
    )
    op.create_table('ingest_tracks',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('track', sa.String(length=48), nullable=False),
    sa.Column('session', sa.Integer(), nullable=False),
    sa.Column('last_encseq', sa.BigInteger(), nullable=False),
    sa.Column('init_hash', sa.String(length=32), nullable=True),
    sa.Column('init_since_segment', sa.Boolean(), nullable=False),
    sa.Column('peak_bps', sa.Integer(), nullable=False),
    sa.Column('avg_bps', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_ingest_tracks_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'track', name=op.f('pk_ingest_tracks'))
    )
    op.create_table('pending_segments',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('session', sa.Integer(), nullable=False),
    sa.Column('encseq', sa.BigInteger(), nullable=False),
    sa.Column('track', sa.String(length=48), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('init_hash', sa.String(length=32), nullable=True),
    sa.Column('received_us', sa.BigInteger(), nullable=False),
    sa.Column('duration_us', sa.Integer(), nullable=True),
    sa.Column('pdt_us', sa.BigInteger(), nullable=True),
    sa.Column('discontinuity', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_pending_segments_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'session', 'encseq', 'track', name=op.f('pk_pending_segments'))
    )
    op.create_table('renditions',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('video_bitrate_kbps', sa.Integer(), nullable=False),
    sa.Column('audio_bitrate_kbps', sa.Integer(), nullable=False),
    sa.Column('frame_rate', sa.Float(), nullable=False),
    sa.Column('codecs', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_renditions_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'name', name=op.f('pk_renditions'))
    )
    op.create_table('segment_holes',
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('track', sa.String(length=48), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_segment_holes_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'seq', 'track', name=op.f('pk_segment_holes'))
    )
    op.create_table('segment_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('first_seq', sa.BigInteger(), nullable=False),
    sa.Column('start_us', sa.BigInteger(), nullable=False),
    sa.Column('end_us', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('duration_us', sa.Integer(), nullable=True),
    sa.Column('durations', sa.LargeBinary(), nullable=True),
    sa.Column('discontinuity', sa.Boolean(), nullable=False),
    sa.Column('disc_count', sa.Integer(), nullable=False),
    sa.Column('gap', sa.Boolean(), nullable=False),
    sa.Column('session', sa.Integer(), nullable=False),
    sa.Column('enc_offset', sa.BigInteger(), nullable=False),
    sa.Column('inits', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_segment_runs_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_runs'))
    )
    with op.batch_alter_table('segment_runs', schema=None) as batch_op:
        batch_op.create_index('ix_segment_runs_channel_seq', ['channel_id', 'first_seq'], unique=True)
        batch_op.create_index('ix_segment_runs_channel_start', ['channel_id', 'start_us'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('segment_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_runs_channel_start')
        batch_op.drop_index('ix_segment_runs_channel_seq')

    op.drop_table('segment_runs')
    op.drop_table('segment_holes')
    op.drop_table('renditions')
    op.drop_table('pending_segments')
    op.drop_table('ingest_tracks')
    op.drop_table('channel_timeline_state')
    op.drop_table('staff_api_keys')
    op.drop_table('channels')
