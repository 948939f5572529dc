"""ideas: full-text search

Revision ID: 0015_ideas_search
Revises: 0013_ideas_card_language

`/ideat <words>` searched with LIKE '%word%' over ``idea.search`` (the casefolded text, tags and
theme labels): a scan of the chat's ideas, and no inflected forms. This adds a full-text index
over the same column (docs/search.md says what each store finds):

- PostgreSQL: one GIN expression index per text-search configuration,
  ``to_tsvector('finnish'|'swedish'|'english', search)``. The query picks the chat's language (and
  the reader's) at run time, so a chat that changes its language needs no rewrite; the
  configuration is a constant in each index, as an expression index requires.
- SQLite (no stemmer): an external-content FTS5 table over ``idea.search`` with the tokenizer
  ``unicode61 remove_diacritics 2`` and prefix indexes, kept in step by triggers. The query
  stems its words in Python and matches the stems as prefixes.

Neither object is in the models (SQLModel cannot describe them); ``storage.migrate.include_name``
keeps autogenerate and the schema test off them. A later SQLite migration that rebuilds the idea
table (batch mode with recreate) drops these triggers with it and must create them again.
"""

from alembic import op

revision = '0015_ideas_search'
down_revision = '0013_ideas_card_language'
branch_labels = None
depends_on = None

PG_CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}

SQLITE_UP = [
    "CREATE VIRTUAL TABLE idea_fts USING fts5(search, content='idea', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='3 4 5')",
    "CREATE TRIGGER idea_fts_insert AFTER INSERT ON idea BEGIN "
    "INSERT INTO idea_fts (rowid, search) VALUES (new.id, new.search); END",
    "CREATE TRIGGER idea_fts_delete AFTER DELETE ON idea BEGIN "
    "INSERT INTO idea_fts (idea_fts, rowid, search) VALUES ('delete', old.id, old.search); END",
    # only when the text changes: a support or a status leaves the index alone
    "CREATE TRIGGER idea_fts_update AFTER UPDATE OF search ON idea BEGIN "
    "INSERT INTO idea_fts (idea_fts, rowid, search) VALUES ('delete', old.id, old.search); "
    "INSERT INTO idea_fts (rowid, search) VALUES (new.id, new.search); END",
    "INSERT INTO idea_fts (idea_fts) VALUES ('rebuild')",  # the ideas there already
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS idea_fts_update",
    "DROP TRIGGER IF EXISTS idea_fts_delete",
    "DROP TRIGGER IF EXISTS idea_fts_insert",
    "DROP TABLE IF EXISTS idea_fts",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for lang, config in PG_CONFIGS.items():
            # fastupdate off: a new idea goes into the index at once, instead of into a pending list
            # that every search scans until the next vacuum (13 ms a search with 4 MB of it)
            op.execute(f"CREATE INDEX ix_idea_fts_{lang} ON idea USING gin (to_tsvector('{config}'::regconfig, search)) "
                       "WITH (fastupdate = off)")
    else:
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for lang in PG_CONFIGS:
            op.execute(f"DROP INDEX IF EXISTS ix_idea_fts_{lang}")
    else:
        for statement in SQLITE_DOWN:
            op.execute(statement)
