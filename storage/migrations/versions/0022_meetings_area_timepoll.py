"""meetings: area time polls, posted in every chat of an area, a meeting in each at the close

Revision ID: 0022_meetings_area_timepoll
Revises: 0020_meetings_timepoll_feed

``timepoll.area`` marks a time poll of a whole area; ``timepoll_copy`` is its message in each chat,
the meeting made there at the close and whether the close was announced there.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0022_meetings_area_timepoll'
down_revision = '0020_meetings_timepoll_feed'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timepoll') as batch:
        batch.add_column(sa.Column('area', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch.create_index(batch.f('ix_timepoll_area'), ['area'], unique=False)
    op.create_table('timepoll_copy',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('chat_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('meeting_id', sa.Integer(), nullable=True),
    sa.Column('announced', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['timepoll.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('poll_id', 'chat_key')
    )


def downgrade() -> None:
    op.drop_table('timepoll_copy')
    with op.batch_alter_table('timepoll') as batch:
        batch.drop_index(batch.f('ix_timepoll_area'))
        batch.drop_column('area')
