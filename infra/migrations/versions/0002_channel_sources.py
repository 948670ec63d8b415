"""channel sources, packaging mode, audio tracks and packager status

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("source_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("backup_source_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("packaging", sa.String(length=16), nullable=False,
                                   server_default="ladder"))
        batch.add_column(sa.Column("audio_tracks", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))
    op.create_table(
        "channel_status",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("current_source", sa.String(length=16), nullable=True),
        sa.Column("node", sa.String(length=100), nullable=True),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"],
                                name=op.f("fk_channel_status_channel_id_channels"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_status")),
    )


def downgrade() -> None:
    op.drop_table("channel_status")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("audio_tracks")
        batch.drop_column("packaging")
        batch.drop_column("backup_source_url")
        batch.drop_column("source_url")
