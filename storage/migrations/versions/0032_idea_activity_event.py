"""idea activity: the event key of each counted message (counted once)

Revision ID: 0032_idea_activity_event
Revises: 0031_idea_reactions
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0032_idea_activity_event'
down_revision = '0031_idea_reactions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idea_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_index('uq_idea_activity_event', ['idea_id', 'event'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('idea_activity', schema=None) as batch_op:
        batch_op.drop_index('uq_idea_activity_event')
        batch_op.drop_column('event')
