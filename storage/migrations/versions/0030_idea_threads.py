"""idea threads: an idea's own thread (forum topic, Matrix thread) and the messages in it

Revision ID: 0030_idea_threads
Revises: 0001_core
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0030_idea_threads'
down_revision = '0001_core'
branch_labels = ('idea_threads',)
depends_on = '0002_ideas'


def upgrade() -> None:
    op.create_table('idea_thread',
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('chat_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('thread_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['idea_id'], ['idea.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('idea_id')
    )
    op.create_index('uq_idea_thread_chat_thread', 'idea_thread', ['chat_key', 'thread_id'], unique=True)
    op.create_table('idea_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['idea_id'], ['idea.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_idea_activity_at'), 'idea_activity', ['at'], unique=False)
    op.create_index(op.f('ix_idea_activity_idea_id'), 'idea_activity', ['idea_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_idea_activity_idea_id'), table_name='idea_activity')
    op.drop_index(op.f('ix_idea_activity_at'), table_name='idea_activity')
    op.drop_table('idea_activity')
    op.drop_index('uq_idea_thread_chat_thread', table_name='idea_thread')
    op.drop_table('idea_thread')
