"""guide sources, imports, staged and imported programmes; channel archive; timeline pins;
the channel and window of playback sessions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:16:56.956884
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('epg_sources',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('refresh_every_s', sa.Integer(), nullable=True),
    sa.Column('channel_map', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_import_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epg_sources'))
    )
    op.create_table('epg_imports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('object_key', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['epg_sources.id'], name=op.f('fk_epg_imports_source_id_epg_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epg_imports'))
    )
    with op.batch_alter_table('epg_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_epg_imports_source_id'), ['source_id'], unique=False)

    op.create_table('programmes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('titles', sa.JSON(), nullable=False),
    sa.Column('sub_titles', sa.JSON(), nullable=False),
    sa.Column('descriptions', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('series_id', sa.String(length=200), nullable=True),
    sa.Column('season', sa.Integer(), nullable=True),
    sa.Column('episode', sa.Integer(), nullable=True),
    sa.Column('episode_label', sa.String(length=40), nullable=True),
    sa.Column('source_programme_id', sa.String(length=64), nullable=True),
    sa.Column('age_rating', sa.String(length=4), nullable=True),
    sa.Column('feed_rights', sa.JSON(), nullable=False),
    sa.Column('staff_rights', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_programmes_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['epg_sources.id'], name=op.f('fk_programmes_source_id_epg_sources'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes'))
    )
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.create_index('ix_programmes_channel_start', ['channel_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_programmes_series_id'), ['series_id'], unique=False)

    op.create_table('timeline_pins',
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('start_us', sa.BigInteger(), nullable=False),
    sa.Column('end_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_timeline_pins_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('owner', 'channel_id', name=op.f('pk_timeline_pins'))
    )
    with op.batch_alter_table('timeline_pins', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_pins_channel', ['channel_id', 'start_us'], unique=False)

    op.create_table('epg_staged',
    sa.Column('import_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['epg_imports.id'], name=op.f('fk_epg_staged_import_id_epg_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'position', name=op.f('pk_epg_staged'))
    )
    with op.batch_alter_table('epg_staged', schema=None) as batch_op:
        batch_op.create_index('ix_epg_staged_channel', ['import_id', 'channel_id', 'start_at'], unique=False)

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archive_days', sa.Integer(), server_default='7', nullable=False))

    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('window_start', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('window_end', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_playback_sessions_channel_id'), ['channel_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_playback_sessions_channel_id'))
        batch_op.drop_column('window_end')
        batch_op.drop_column('window_start')
        batch_op.drop_column('channel_id')

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('archive_days')

    with op.batch_alter_table('epg_staged', schema=None) as batch_op:
        batch_op.drop_index('ix_epg_staged_channel')

    op.drop_table('epg_staged')
    with op.batch_alter_table('timeline_pins', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_pins_channel')

    op.drop_table('timeline_pins')
    with op.batch_alter_table('programmes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programmes_series_id'))
        batch_op.drop_index('ix_programmes_channel_start')

    op.drop_table('programmes')
    with op.batch_alter_table('epg_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_epg_imports_source_id'))

    op.drop_table('epg_imports')
    op.drop_table('epg_sources')
