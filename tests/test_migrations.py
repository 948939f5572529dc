"""Migrations and models agree, and an upgraded database ends with the fresh schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from storage.db import Database
from storage.migrate import current, downgrade, heads, include_name, load_models, upgrade


def _schema(sync_conn):
    insp = inspect(sync_conn)
    out = {}
    for table in sorted(insp.get_table_names()):
        cols = tuple(sorted((c["name"], str(c["type"]).split("(")[0], c["nullable"]) for c in insp.get_columns(table)))
        idx = tuple(sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(table)))
        out[table] = (cols, idx, tuple(insp.get_pk_constraint(table)["constrained_columns"]))
    return out


def _diff(sync_conn):
    load_models()
    return compare_metadata(MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_name": include_name}), SQLModel.metadata)


async def _check(url_fresh, url_old):
    fresh = Database(url_fresh)
    await fresh.upgrade()
    assert await current(fresh) == heads()
    async with fresh.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []  # the migrations build exactly the models
        fresh_schema = await conn.run_sync(_schema)
    await fresh.close()

    old = Database(url_old)
    await upgrade(old, "0001_core")  # a database from the first release
    async with old.engine.begin() as conn:
        await conn.execute(text("INSERT INTO chat (key, platform, title, settings, created_at) "
                                "VALUES ('t:1', 't', 'Maunula', '{}', '2026-01-01 10:00:00')"))
    await old.upgrade()
    async with old.engine.connect() as conn:
        assert await conn.run_sync(_schema) == fresh_schema
        assert (await conn.execute(text("SELECT title FROM chat"))).scalar_one() == "Maunula"
    # and all the way down and up again
    await downgrade(old, "base")
    await old.upgrade()
    assert await current(old) == heads()
    await old.close()


async def test_sqlite_fresh_and_upgraded_schema_match(tmp_path):
    await _check(f"sqlite+aiosqlite:///{tmp_path}/fresh.db", f"sqlite+aiosqlite:///{tmp_path}/old.db")


@pytest.mark.postgres
async def test_postgres_fresh_and_upgraded_schema_match(pg_url, pg_url_factory):
    await _check(pg_url, await pg_url_factory())


async def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    await db.close()


def test_heads_read_from_the_files_are_alembics():
    """The start skips Alembic on an up-to-date store by comparing with heads read from the
    revision files (storage.migrate.file_heads): they must be Alembic's own."""
    from storage.migrate import file_heads, heads

    assert file_heads() == heads()


async def test_an_up_to_date_store_is_not_migrated_again(tmp_path, monkeypatch):
    from alembic import command

    from storage.db import Database

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'k.sqlite3'}")
    await db.upgrade()
    ran = []
    monkeypatch.setattr(command, "upgrade", lambda *a, **k: ran.append(a))
    await db.upgrade()
    await db.close()
    assert ran == []
