"""ideas: the language of an idea's card

Revision ID: 0013_ideas_card_language
Revises: 0012_ideas_source_event

The bot's message about an idea (its card, with the 👍 button) is refreshed when someone supports
it, or when the idea is edited or withdrawn; it keeps the language it was first written in,
whoever acted last. Existing ideas get NULL (their cards are refreshed in the chat's language).
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013_ideas_card_language'
down_revision = '0012_ideas_source_event'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idea', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idea', schema=None) as batch_op:
        batch_op.drop_column('card_language')
