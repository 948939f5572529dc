"""checklist: the event that gave an answer

Revision ID: 0012_checklist_answer_event
Revises: 0003_checklist

An answer remembers the event that gave it, so the same event handled again after a restart
does not move the conversation on twice. Existing answers get NULL.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_checklist_answer_event'
down_revision = '0003_checklist'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checklistanswer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('checklistanswer', schema=None) as batch_op:
        batch_op.drop_column('event_key')
