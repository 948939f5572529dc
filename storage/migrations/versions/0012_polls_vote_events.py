"""polls: the button presses already counted

Revision ID: 0012_polls_vote_events
Revises: 0005_polls_edited_at

A press handled again after a restart (its event claimed, never finished) is found here and not
counted twice. Only the poll and the event's key, no voter; emptied when the poll closes.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_polls_vote_events'
down_revision = '0005_polls_edited_at'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pollvoteevent',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'event_key')
    )


def downgrade() -> None:
    op.drop_table('pollvoteevent')
