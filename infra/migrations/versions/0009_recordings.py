"""recordings, series rules and stored copies (cloud DVR)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:19:12.973517
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('series_rules',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('series_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('keep_at_most', sa.Integer(), nullable=True),
    sa.Column('pad_before_s', sa.Integer(), nullable=False),
    sa.Column('pad_after_s', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_series_rules_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_series_rules_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series_rules'))
    )
    with op.batch_alter_table('series_rules', schema=None) as batch_op:
        batch_op.create_index('ux_series_rules', ['subscriber_id', 'channel_id', 'series_id'], unique=True)

    op.create_table('stored_copies',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('start_us', sa.BigInteger(), nullable=False),
    sa.Column('end_us', sa.BigInteger(), nullable=False),
    sa.Column('private_for', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_stored_copies_channel_id_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stored_copies'))
    )
    with op.batch_alter_table('stored_copies', schema=None) as batch_op:
        batch_op.create_index('ux_stored_copies_shared', ['channel_id', 'start_us', 'end_us'], unique=True, postgresql_where=sa.text('private_for IS NULL'), sqlite_where=sa.text('private_for IS NULL'))

    op.create_table('recordings',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('programme_id', sa.String(length=32), nullable=True),
    sa.Column('series_rule_id', sa.String(length=32), nullable=True),
    sa.Column('series_id', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pad_before_s', sa.Integer(), nullable=False),
    sa.Column('pad_after_s', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.String(length=200), nullable=True),
    sa.Column('gaps', sa.JSON(), nullable=False),
    sa.Column('copy_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_recordings_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['copy_id'], ['stored_copies.id'], name=op.f('fk_recordings_copy_id_stored_copies'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_recordings_programme_id_programmes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_recordings_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_copy_id'), ['copy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_series_rule_id'), ['series_rule_id'], unique=False)
        batch_op.create_index('ix_recordings_subscriber_state', ['subscriber_id', 'state', 'start_at'], unique=False)
        batch_op.create_index('ux_recordings_programme', ['subscriber_id', 'programme_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND programme_id IS NOT NULL'), sqlite_where=sa.text('deleted_at IS NULL AND programme_id IS NOT NULL'))
        batch_op.create_index('ux_recordings_range', ['subscriber_id', 'channel_id', 'start_at', 'end_at'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND programme_id IS NULL'), sqlite_where=sa.text('deleted_at IS NULL AND programme_id IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ux_recordings_range', postgresql_where=sa.text('deleted_at IS NULL AND programme_id IS NULL'), sqlite_where=sa.text('deleted_at IS NULL AND programme_id IS NULL'))
        batch_op.drop_index('ux_recordings_programme', postgresql_where=sa.text('deleted_at IS NULL AND programme_id IS NOT NULL'), sqlite_where=sa.text('deleted_at IS NULL AND programme_id IS NOT NULL'))
        batch_op.drop_index('ix_recordings_subscriber_state')
        batch_op.drop_index(batch_op.f('ix_recordings_series_rule_id'))
        batch_op.drop_index(batch_op.f('ix_recordings_copy_id'))

    op.drop_table('recordings')
    with op.batch_alter_table('stored_copies', schema=None) as batch_op:
        batch_op.drop_index('ux_stored_copies_shared', postgresql_where=sa.text('private_for IS NULL'), sqlite_where=sa.text('private_for IS NULL'))

    op.drop_table('stored_copies')
    with op.batch_alter_table('series_rules', schema=None) as batch_op:
        batch_op.drop_index('ux_series_rules')

    op.drop_table('series_rules')
