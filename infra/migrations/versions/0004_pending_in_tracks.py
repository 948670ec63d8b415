"""segments waiting to publish live in their track's row, not a table of their own

Ingest reads and writes a channel's tracks on every push anyway; keeping the few pending
segments there makes a push one read and one write instead of a row per segment. Tracks
also keep the timing facts of their init segment, to time CMAF segments on arrival.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_tracks") as batch:
        batch.add_column(sa.Column("pending", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("pending_n", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("init_timing", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.create_index(batch.f("ix_ingest_tracks_pending_n"), ["pending_n"])
    # Segments pending at upgrade time are dropped (their encoders resend within seconds).
    op.drop_table("pending_segments")


def downgrade() -> None:
    op.create_table(
        "pending_segments",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("encseq", sa.BigInteger(), nullable=False),
        sa.Column("track", sa.String(length=48), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("init_hash", sa.String(length=32), nullable=True),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.Column("duration_us", sa.Integer(), nullable=True),
        sa.Column("pdt_us", sa.BigInteger(), nullable=True),
        sa.Column("discontinuity", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"],
                                name=op.f("fk_pending_segments_channel_id_channels"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id", "session", "encseq", "track", name=op.f("pk_pending_segments")),
    )
    with op.batch_alter_table("ingest_tracks") as batch:
        batch.drop_index(batch.f("ix_ingest_tracks_pending_n"))
        batch.drop_column("init_timing")
        batch.drop_column("pending_n")
        batch.drop_column("pending")
