"""core tables: chat, person, job, processedevent, transportstate

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat",
        sa.Column("key", sqlmodel.AutoString(length=255), primary_key=True),
        sa.Column("platform", sqlmodel.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.AutoString(length=255), nullable=False),
        sa.Column("language", sqlmodel.AutoString(length=8), nullable=True),
        sa.Column("area", sqlmodel.AutoString(length=100), nullable=True),
        sa.Column("settings", sqlmodel.AutoString(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_chat_area", "chat", ["area"])
    op.create_table(
        "person",
        sa.Column("key", sqlmodel.AutoString(length=255), primary_key=True),
        sa.Column("name", sqlmodel.AutoString(length=255), nullable=False),
        sa.Column("language", sqlmodel.AutoString(length=8), nullable=True),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sqlmodel.AutoString(length=64), nullable=False),
        sa.Column("dedup_key", sqlmodel.AutoString(length=255), nullable=True),
        sa.Column("chat_key", sqlmodel.AutoString(length=255), nullable=True),
        sa.Column("payload", sqlmodel.AutoString(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.AutoString(length=500), nullable=True),
        sa.UniqueConstraint("dedup_key", name="uq_job_dedup_key"),
    )
    op.create_index("ix_job_kind", "job", ["kind"])
    op.create_index("ix_job_due_at", "job", ["due_at"])
    op.create_table(
        "processedevent",
        sa.Column("platform", sqlmodel.AutoString(length=32), primary_key=True),
        sa.Column("event_id", sqlmodel.AutoString(length=255), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "transportstate",
        sa.Column("platform", sqlmodel.AutoString(length=32), primary_key=True),
        sa.Column("name", sqlmodel.AutoString(length=64), primary_key=True),
        sa.Column("value", sqlmodel.AutoString(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("transportstate")
    op.drop_table("processedevent")
    op.drop_index("ix_job_due_at", "job")
    op.drop_index("ix_job_kind", "job")
    op.drop_table("job")
    op.drop_table("person")
    op.drop_index("ix_chat_area", "chat")
    op.drop_table("chat")
