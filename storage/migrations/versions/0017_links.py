"""links: one person's identities on several platforms, joined with a one-time code

Revision ID: 0017_links
Revises: 0001_core
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.types import UTCDateTime

revision = '0017_links'
down_revision = '0001_core'
branch_labels = ('links',)
depends_on = None


def upgrade() -> None:
    op.create_table('person_link',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('link', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('linked_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_person_link_link'), 'person_link', ['link'], unique=False)
    op.create_table('link_code',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('person_key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_index(op.f('ix_link_code_person_key'), 'link_code', ['person_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_link_code_person_key'), table_name='link_code')
    op.drop_table('link_code')
    op.drop_index(op.f('ix_person_link_link'), table_name='person_link')
    op.drop_table('person_link')
