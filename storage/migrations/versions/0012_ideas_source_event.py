"""ideas: one idea per posting event

Revision ID: 0012_ideas_source_event
Revises: 0002_ideas

The event that posted an idea (the transport's idempotency key), unique within a chat: an event
handled again after a restart finds its idea instead of making a second one. Existing ideas get
NULL (they were made under the old at-most-once rule), so no existing row can clash; message ids
alone are not unique (the console numbers its messages from 1 at every start).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_ideas_source_event'
down_revision = '0002_ideas'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idea', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_event', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
    op.create_index('uq_idea_chat_source_event', 'idea', ['chat_key', 'source_event'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_idea_chat_source_event', table_name='idea')
    with op.batch_alter_table('idea', schema=None) as batch_op:
        batch_op.drop_column('source_event')
