"""ingest tracks remember the timing their encoder's last playlist announced

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_tracks") as batch:
        batch.add_column(sa.Column("announced", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("ingest_tracks") as batch:
        batch.drop_column("announced")
