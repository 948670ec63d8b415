"""multipart uploads of VOD mezzanines (the upload under way); search reads title words by field

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 01:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_id', sa.String(length=200), nullable=True))
    with op.batch_alter_table('vod_title_words', schema=None) as batch_op:
        batch_op.create_index('ix_vod_title_words_field', ['weight', 'word', 'title_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vod_title_words', schema=None) as batch_op:
        batch_op.drop_index('ix_vod_title_words_field')
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('upload_id')
