"""idea reactions: the 👍 of each person on each of an idea's messages

Revision ID: 0031_idea_reactions
Revises: 0030_idea_threads
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0031_idea_reactions'
down_revision = '0030_idea_threads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idea_reaction',
    sa.Column('idea_id', sa.Integer(), nullable=False),
    sa.Column('person_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['idea_id'], ['idea.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('idea_id', 'person_key', 'message_id')
    )


def downgrade() -> None:
    op.drop_table('idea_reaction')
