"""subscribers, devices, sign-ins, packages, billing

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:42:24.957561
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('account_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_changes'))
    )
    with op.batch_alter_table('account_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_changes_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('billing_requests',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_billing_requests'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    op.create_table('packages',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('max_devices', sa.Integer(), nullable=True),
    sa.Column('max_streams', sa.Integer(), nullable=True),
    sa.Column('recording_hours', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_packages'))
    )
    op.create_table('subscribers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('customer_number', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=True),
    sa.Column('device_limit', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers')),
    sa.UniqueConstraint('customer_number', name=op.f('uq_subscribers_customer_number')),
    sa.UniqueConstraint('email', name=op.f('uq_subscribers_email'))
    )
    op.create_table('device_authorizations',
    sa.Column('device_code_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_code', sa.String(length=16), nullable=False),
    sa.Column('device_type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=True),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_device_authorizations_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_code_sha256', name=op.f('pk_device_authorizations')),
    sa.UniqueConstraint('user_code', name=op.f('uq_device_authorizations_user_code'))
    )
    op.create_table('devices',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('device_type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_devices_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('package_channels',
    sa.Column('package_code', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_package_channels_channel_id_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['package_code'], ['packages.code'], name=op.f('fk_package_channels_package_code_packages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_code', 'channel_id', name=op.f('pk_package_channels'))
    )
    with op.batch_alter_table('package_channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_package_channels_channel_id'), ['channel_id'], unique=False)

    op.create_table('password_resets',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_password_resets_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_password_resets'))
    )
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_resets_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('subscriber_packages',
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('package_code', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['package_code'], ['packages.code'], name=op.f('fk_subscriber_packages_package_code_packages'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriber_packages_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'package_code', name=op.f('pk_subscriber_packages'))
    )
    with op.batch_alter_table('subscriber_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriber_packages_package_code'), ['package_code'], unique=False)

    op.create_table('auth_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('subscriber_id', sa.String(length=32), nullable=False),
    sa.Column('device_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_auth_sessions_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_auth_sessions_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_sessions_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('refresh_tokens',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=32), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['auth_sessions.id'], name=op.f('fk_refresh_tokens_session_id_auth_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_refresh_tokens'))
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_session_id'))

    op.drop_table('refresh_tokens')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_auth_sessions_device_id'))

    op.drop_table('auth_sessions')
    with op.batch_alter_table('subscriber_packages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriber_packages_package_code'))

    op.drop_table('subscriber_packages')
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_subscriber_id'))

    op.drop_table('password_resets')
    with op.batch_alter_table('package_channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_package_channels_channel_id'))

    op.drop_table('package_channels')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_subscriber_id'))

    op.drop_table('devices')
    op.drop_table('device_authorizations')
    op.drop_table('subscribers')
    op.drop_table('packages')
    op.drop_table('outbox_messages')
    op.drop_table('billing_requests')
    with op.batch_alter_table('account_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_changes_subscriber_id'))

    op.drop_table('account_changes')
    
