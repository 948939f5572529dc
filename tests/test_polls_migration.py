"""The polls migration branch: the migrated schema equals the models, and it goes down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.db import Database
from storage.migrate import alembic_config, downgrade, load_models, upgrade

TABLES = {"poll", "pollvote"}


def _table_of(diff) -> str | None:
    if isinstance(diff, list):  # modify_* come as lists of tuples
        diff = diff[0]
        return diff[2]
    obj = diff[1]
    table = getattr(obj, "table", None)
    return table.name if table is not None else getattr(obj, "name", None)


async def _polls_diffs(db: Database) -> list:
    load_models()

    def run(conn):
        return [d for d in compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
                if _table_of(d) in TABLES]

    async with db.engine.connect() as conn:
        return await conn.run_sync(run)


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _check(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        assert TABLES <= await _tables(db)
        assert await _polls_diffs(db) == []
        steps = len(list(ScriptDirectory.from_config(alembic_config()).iterate_revisions("polls@head", "0002_ideas")))
        await downgrade(db, f"polls@-{steps}")  # the whole branch, down to 0002_ideas
        assert not TABLES & await _tables(db)
        assert "idea" in await _tables(db)  # the branch point stays
        await upgrade(db)
        assert await _polls_diffs(db) == []
    finally:
        await db.close()


async def test_polls_migration_sqlite(tmp_path):
    await _check(f"sqlite+aiosqlite:///{tmp_path}/m.sqlite3")


@pytest.mark.postgres
async def test_polls_migration_postgres(pg_url):
    await _check(pg_url)
