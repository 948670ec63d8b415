"""vod titles, media assets and watch positions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 01:20:28.094219
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_assets',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('source_key', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('segment_sets', sa.JSON(), nullable=False),
    sa.Column('audio_labels', sa.JSON(), nullable=False),
    sa.Column('subtitles', sa.JSON(), nullable=False),
    sa.Column('probe', sa.JSON(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_assets')),
    sa.UniqueConstraint('sha256', name=op.f('uq_media_assets_sha256'))
    )
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.create_index('ix_media_assets_state', ['state', 'heartbeat_at'], unique=False)

    op.create_table('vod_title_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_title_changes'))
    )
    with op.batch_alter_table('vod_title_changes', schema=None) as batch_op:
        batch_op.create_index('ix_vod_title_changes_title', ['title_id', 'id'], unique=False)

    op.create_table('vod_titles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('original_title', sa.String(length=400), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('genres', sa.JSON(), nullable=False),
    sa.Column('credits', sa.JSON(), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=True),
    sa.Column('age_rating', sa.String(length=4), nullable=True),
    sa.Column('available_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('available_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('device_types', sa.JSON(), nullable=True),
    sa.Column('download', sa.String(length=8), nullable=False),
    sa.Column('asset_id', sa.String(length=32), nullable=True),
    sa.Column('images', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['vod_titles.id'], name=op.f('fk_vod_titles_parent_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vod_titles'))
    )
    with op.batch_alter_table('vod_titles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_titles_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index('ix_vod_titles_browse', ['status', 'published_at'], unique=False)
        batch_op.create_index('ix_vod_titles_parent', ['parent_id', 'position'], unique=False)
        batch_op.create_index('ix_vod_titles_visible', ['status', 'kind', 'available_from', 'available_to'], unique=False)

    op.create_table('vod_positions',
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.Column('position_s', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=True),
    sa.Column('finished', sa.Boolean(), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_vod_positions_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['title_id'], ['vod_titles.id'], name=op.f('fk_vod_positions_title_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'title_id', name=op.f('pk_vod_positions'))
    )
    with op.batch_alter_table('vod_positions', schema=None) as batch_op:
        batch_op.create_index('ix_vod_positions_recent', ['subscriber_id', 'updated_at'], unique=False)

    op.create_table('vod_title_genres',
    sa.Column('genre', sa.String(length=40), nullable=False),
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['title_id'], ['vod_titles.id'], name=op.f('fk_vod_title_genres_title_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('genre', 'title_id', name=op.f('pk_vod_title_genres'))
    )
    with op.batch_alter_table('vod_title_genres', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_title_genres_title_id'), ['title_id'], unique=False)

    op.create_table('vod_title_packages',
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.Column('package_code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['package_code'], ['packages.code'], name=op.f('fk_vod_title_packages_package_code_packages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['title_id'], ['vod_titles.id'], name=op.f('fk_vod_title_packages_title_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('title_id', 'package_code', name=op.f('pk_vod_title_packages'))
    )
    with op.batch_alter_table('vod_title_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_title_packages_package_code'), ['package_code'], unique=False)

    op.create_table('vod_title_texts',
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=3), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('synopsis', sa.String(length=8000), nullable=True),
    sa.Column('short_synopsis', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['title_id'], ['vod_titles.id'], name=op.f('fk_vod_title_texts_title_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('title_id', 'language', name=op.f('pk_vod_title_texts'))
    )
    op.create_table('vod_title_words',
    sa.Column('word', sa.String(length=40).with_variant(sa.String(length=40, collation='C'), 'postgresql'), nullable=False),
    sa.Column('title_id', sa.String(length=64), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['title_id'], ['vod_titles.id'], name=op.f('fk_vod_title_words_title_id_vod_titles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('word', 'title_id', name=op.f('pk_vod_title_words'))
    )
    with op.batch_alter_table('vod_title_words', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vod_title_words_title_id'), ['title_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vod_title_words', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_title_words_title_id'))

    op.drop_table('vod_title_words')
    op.drop_table('vod_title_texts')
    with op.batch_alter_table('vod_title_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_title_packages_package_code'))

    op.drop_table('vod_title_packages')
    with op.batch_alter_table('vod_title_genres', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vod_title_genres_title_id'))

    op.drop_table('vod_title_genres')
    with op.batch_alter_table('vod_positions', schema=None) as batch_op:
        batch_op.drop_index('ix_vod_positions_recent')

    op.drop_table('vod_positions')
    with op.batch_alter_table('vod_titles', schema=None) as batch_op:
        batch_op.drop_index('ix_vod_titles_visible')
        batch_op.drop_index('ix_vod_titles_parent')
        batch_op.drop_index('ix_vod_titles_browse')
        batch_op.drop_index(batch_op.f('ix_vod_titles_asset_id'))

    op.drop_table('vod_titles')
    with op.batch_alter_table('vod_title_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_vod_title_changes_title')

    op.drop_table('vod_title_changes')
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_index('ix_media_assets_state')

    op.drop_table('media_assets')
