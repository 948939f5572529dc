"""polls: area polls, posted in every chat of an area with one tally

Revision ID: 0017_polls_area
Revises: 0012_polls_vote_events

An area poll is one poll row (``area`` set) with a ``poll_copy`` per chat: its message, its native
poll, its last live-count edit, whether its result is there. ``pollvote.voted_at``: of a linked
person's votes the latest counts.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0017_polls_area'
down_revision = '0012_polls_vote_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('poll') as batch:
        batch.add_column(sa.Column('area', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch.create_index(batch.f('ix_poll_area'), ['area'], unique=False)
    with op.batch_alter_table('pollvote') as batch:
        batch.add_column(sa.Column('voted_at', UTCDateTime(), nullable=True))
    op.create_table('poll_copy',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('chat_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('native_ref', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('edited_at', UTCDateTime(), nullable=True),
    sa.Column('result_posted_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'chat_key')
    )
    op.create_index(op.f('ix_poll_copy_native_ref'), 'poll_copy', ['native_ref'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_poll_copy_native_ref'), table_name='poll_copy')
    op.drop_table('poll_copy')
    with op.batch_alter_table('pollvote') as batch:
        batch.drop_column('voted_at')
    with op.batch_alter_table('poll') as batch:
        batch.drop_index(batch.f('ix_poll_area'))
        batch.drop_column('area')
