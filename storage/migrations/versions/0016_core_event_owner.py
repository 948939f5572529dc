"""core: which process handles an event (several processes on one store)

Revision ID: 0016_core_event_owner
Revises: 0011_core_durability
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016_core_event_owner"
down_revision = "0011_core_durability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sqlmodel.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("processedevent", schema=None) as batch_op:
        batch_op.drop_column("owner")
