"""Alembic migrations, run programmatically on the async engine.

Each feature owns its migration branch off the core revision; ``upgrade`` goes to all heads.
Alembic (with Mako and Pygments, a hundred modules) is imported only when it is needed: a start on
an up-to-date store compares ``alembic_version`` with :func:`file_heads` and never loads it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

import storage

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")

#: store objects the models cannot describe, made and dropped by their migrations only: the ideas'
#: full-text search (0015_ideas_search: SQLite's FTS5 table and its shadow tables, PostgreSQL's
#: expression indexes). Autogenerate and the schema comparison leave them alone.
UNMODELLED = ("idea_fts", "ix_idea_fts_")


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's ``include_name`` hook: False for the objects in ``UNMODELLED``."""
    return not (name or "").startswith(UNMODELLED)


def load_models() -> None:
    """Import every table module so SQLModel.metadata knows all tables."""
    for mod in pkgutil.iter_modules(storage.__path__):
        if mod.name not in {"migrate", "db", "types", "migrations"}:
            importlib.import_module(f"storage.{mod.name}")


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


def file_heads() -> set[str]:
    """The heads, read from the revision files' ``revision`` and ``down_revision`` lines without
    importing them (Alembic's ScriptDirectory imports every migration: a fifth of a second at
    each start). ``tests/test_migrations.py`` checks that this agrees with :func:`heads`."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_ASSIGNED.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found.get("down_revision", "None"))
        parents.update((down,) if isinstance(down, str) else down or ())
    return revisions - parents


#: several processes starting on one PostgreSQL database migrate one after the other
MIGRATION_LOCK = 0x6B656872_61626F74  # "kehrabot"


async def upgrade(db, target: str = "heads") -> None:
    if target == "heads" and await _up_to_date(db):
        return  # the usual start: nothing to migrate, and Alembic is not loaded
    from alembic import command

    cfg = alembic_config()

    def run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, target)

    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # held to the commit; SQLite's BEGIN locks the file
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(run)


async def _up_to_date(db) -> bool:
    try:
        async with db.engine.connect() as conn:
            stored = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception:  # no such table yet: a new store
        return False
    return bool(stored) and stored == file_heads()


async def downgrade(db, target: str) -> None:
    from alembic import command

    cfg = alembic_config()

    def run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, target)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def current(db) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    def run(sync_conn) -> set[str]:
        return set(MigrationContext.configure(sync_conn).get_current_heads())

    async with db.engine.connect() as conn:
        return await conn.run_sync(run)


async def autogenerate(db, message: str, rev_id: str, *, head: str = "heads", branch_label: str | None = None) -> None:
    """Write a new migration from the difference between the models and ``db`` (developer tool).
    A new feature starts its own branch: head="0001_core", branch_label="<feature>"."""
    from alembic import command

    cfg = alembic_config()

    def run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.revision(
            cfg, message=message, autogenerate=True, rev_id=rev_id, head=head,
            branch_label=branch_label, splice=head != "heads" and branch_label is not None,
        )

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
