"""core: job leases, events finished, the delivery log, what events made

Revision ID: 0011_core_durability
Revises: 0001_core
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = "0011_core_durability"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sqlmodel.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("planned_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE job SET planned_at = due_at")
    # Claims made before leases existed never expired. Those of the last hour get a lease that has
    # run out (they are taken over at the next start); older ones are stale (a reminder months late
    # helps nobody, and may have gone out before the crash): given up, with the reason.
    cut = sa.bindparam("cut", (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None), type_=sa.DateTime())
    op.execute(sa.text("UPDATE job SET lease_until = claimed_at WHERE claimed_at IS NOT NULL AND done_at IS NULL "
                       "AND claimed_at >= :cut").bindparams(cut))
    op.execute(sa.text("UPDATE job SET done_at = claimed_at, cancelled = :yes, "
                       "last_error = 'claimed before leases existed and never finished' "
                       "WHERE claimed_at IS NOT NULL AND done_at IS NULL AND claimed_at < :cut")
               .bindparams(cut, sa.bindparam("yes", True, type_=sa.Boolean())))
    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_at", UTCDateTime(), nullable=True))
    # events recorded before: they were handled (or lost) under the old at-most-once rule
    op.execute("UPDATE processedevent SET done_at = at")
    op.create_table(
        "delivery",
        sa.Column("key", sqlmodel.AutoString(length=255), primary_key=True),
        sa.Column("chat_key", sqlmodel.AutoString(length=255), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=16), nullable=False),
        sa.Column("message_id", sqlmodel.AutoString(length=255), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("error", sqlmodel.AutoString(length=500), nullable=True),
    )
    op.create_index("ix_delivery_chat_key", "delivery", ["chat_key"])
    op.create_index("ix_delivery_at", "delivery", ["at"])
    op.create_table(
        "event_effect",
        sa.Column("event_key", sqlmodel.AutoString(length=255), primary_key=True),
        sa.Column("kind", sqlmodel.AutoString(length=64), primary_key=True),
        sa.Column("ref", sqlmodel.AutoString(length=255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_effect")
    op.drop_index("ix_delivery_at", "delivery")
    op.drop_index("ix_delivery_chat_key", "delivery")
    op.drop_table("delivery")
    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        batch_op.drop_column("done_at")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("planned_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
