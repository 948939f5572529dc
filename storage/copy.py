"""Copy a whole store into another, empty one (``kehrabot db copy``, e.g. SQLite to PostgreSQL).

The target is migrated to this version's heads, filled table by table in dependency order and
verified (row counts and a checksum per table, computed the same way on both sides) in one
transaction: it is committed only when every table matches, so a failure leaves it as it was.
Rows are streamed in batches and go through the SQLAlchemy column types both ways, so what SQLite
stores as text (datetimes) or integers (booleans) arrives as PostgreSQL's own types. Primary keys
are kept; PostgreSQL's sequences are then set past them.

The source must not be in use: a bot writing to it meanwhile makes the verification fail.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from alembic import command
from sqlalchemy import Integer, Table, func, inspect, literal, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from storage.db import Database
from storage.migrate import alembic_config, current, heads, load_models

#: rows per batch read from the source and inserted into the target
BATCH = 1000
#: a progress line within a table every this many rows
PROGRESS_EVERY = 50_000

Progress = Callable[[str], None]


class CopyRefused(Exception):
    """The copy was not started: nothing was written anywhere (a one-line reason)."""


class CopyMismatch(Exception):
    """The copy did not verify; the target's transaction was rolled back."""

    def __init__(self, tables: list[TableCheck]) -> None:
        super().__init__("verification failed for " + ", ".join(t.name for t in tables if not t.ok))
        self.tables = tables


@dataclass(frozen=True)
class TableCheck:
    name: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


def tables() -> list[Table]:
    """Every table of the models, parents before the tables that refer to them."""
    load_models()
    return list(SQLModel.metadata.sorted_tables)


def describe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def check_source(url: str) -> None:
    """Refuse a SQLite source that does not exist (opening it would create an empty store)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            raise CopyRefused(f"no SQLite store at {database or '(memory)'}")


async def copy_store(source_url: str, target_url: str, *, progress: Progress = lambda _line: None,
                     batch: int = BATCH) -> list[TableCheck]:
    """Copy the store at ``source_url`` into the empty store at ``target_url`` and verify it.
    Raises ``CopyRefused`` before anything is written, ``CopyMismatch`` when the copy did not
    verify (rolled back); returns the per-table checks of a committed copy."""
    check_source(source_url)
    if make_url(source_url) == make_url(target_url):
        raise CopyRefused("the source and the target are the same store")
    source, target = Database(source_url), Database(target_url)
    try:
        revs = await current(source)
        if revs != heads():
            missing = ", ".join(sorted(heads() - revs)) or "none"
            raise CopyRefused(f"the source's schema is not this version's (missing {missing}): "
                              "run `kehrabot db upgrade` on it first")
        async with target.engine.connect() as tconn:
            if target.is_sqlite:
                await tconn.execute(text("BEGIN IMMEDIATE"))
            else:
                await tconn.begin()
            try:
                busy = await tconn.run_sync(_tables_with_rows)
                if busy:
                    named = ", ".join(busy[:5]) + (f" and {len(busy) - 5} more" if len(busy) > 5 else "")
                    raise CopyRefused(f"the target is not empty (rows in {named}): copy only into an empty database")
                await tconn.run_sync(_upgrade)
                await _copy_rows(source, tconn, progress, batch)
                if not target.is_sqlite:
                    await tconn.run_sync(_reset_sequences)
                progress("verifying…")
                checks = await _verify(source, tconn)
                if not all(check.ok for check in checks):
                    raise CopyMismatch(checks)
                await tconn.commit()
            except BaseException:
                await tconn.rollback()
                raise
        return checks
    finally:
        await source.close()
        await target.close()


def _plain_tables(conn: Connection) -> list[str]:
    """The tables of a store, not only the models'; on SQLite without virtual tables (full-text
    search) and their shadow tables, whose rows follow the real tables'."""
    if conn.dialect.name == "sqlite":
        listed = conn.exec_driver_sql("PRAGMA main.table_list").all()  # schema, name, type, …
        return sorted(row[1] for row in listed if row[2] == "table" and not row[1].startswith("sqlite_"))
    return sorted(inspect(conn).get_table_names())


def _tables_with_rows(conn: Connection) -> list[str]:
    """Tables of the target that hold a row, but alembic_version."""
    busy = []
    for name in _plain_tables(conn):
        if name == "alembic_version":
            continue
        if conn.execute(select(literal(1)).select_from(table_clause(name)).limit(1)).first() is not None:
            busy.append(name)
    return busy


def _upgrade(conn: Connection) -> None:
    """Alembic to the heads inside the caller's transaction (it commits nothing itself then)."""
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "heads")


def _ordered(table: Table, dialect_name: str):
    """SELECT every column ordered by the primary key, the same order on every backend: text
    keys in code point order (SQLite's binary collation; "C" on PostgreSQL)."""
    keys = []
    for column in table.primary_key.columns:
        if dialect_name == "postgresql" and _is_text(column):
            keys.append(column.collate("C"))
        else:
            keys.append(column)
    return select(*table.columns).order_by(*keys)


def _is_text(column) -> bool:
    try:
        return column.type.python_type is str
    except NotImplementedError:
        return False


async def _source_read(conn: AsyncConnection, db: Database) -> None:
    """One read snapshot over all tables."""
    if db.is_sqlite:
        await conn.execute(text("BEGIN"))
    else:
        await conn.begin()
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))


async def _copy_rows(source: Database, tconn: AsyncConnection, progress: Progress, batch: int) -> None:
    all_tables = tables()
    async with source.engine.connect() as sconn:
        await _source_read(sconn, source)
        try:
            for i, table in enumerate(all_tables, 1):
                started = time.monotonic()
                rows = 0
                result = await sconn.stream(_ordered(table, source.engine.dialect.name))
                async for part in result.partitions(batch):
                    await tconn.execute(table.insert(), [dict(row._mapping) for row in part])
                    before, rows = rows, rows + len(part)
                    if rows // PROGRESS_EVERY > before // PROGRESS_EVERY:
                        progress(f"  {table.name}: {rows:,} rows…")
                progress(f"[{i}/{len(all_tables)}] {table.name}: {rows:,} row{'' if rows == 1 else 's'} "
                         f"({time.monotonic() - started:.1f} s)")
        finally:
            await sconn.rollback()


def _reset_sequences(conn: Connection) -> None:
    """Set each serial key's sequence to the largest copied key, so new rows get the next one."""
    preparer = conn.dialect.identifier_preparer
    for table in tables():
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        key = keys[0]
        seq = conn.execute(select(func.pg_get_serial_sequence(preparer.format_table(table), key.name))).scalar()
        if seq is None:
            continue
        top = conn.execute(select(func.max(key))).scalar()
        conn.execute(select(func.setval(seq, top if top is not None else 1, top is not None)))


def _norm(value):
    """A column value as plain JSON, the same whichever backend it came from."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return repr(value)


async def table_check(conn: AsyncConnection, table: Table) -> tuple[int, str]:
    """Row count and a sha256 over the rows in primary-key order, their values as the column
    types return them."""
    digest = hashlib.sha256(json.dumps([table.name, [c.name for c in table.columns]]).encode())
    rows = 0
    result = await conn.stream(_ordered(table, conn.dialect.name))
    async for part in result.partitions(BATCH):
        for row in part:
            digest.update(b"\n")
            digest.update(json.dumps([_norm(v) for v in row], ensure_ascii=False,
                                     separators=(",", ":")).encode())
        rows += len(part)
    return rows, digest.hexdigest()


async def _verify(source: Database, tconn: AsyncConnection) -> list[TableCheck]:
    """Each table read again from both sides (the source in a new snapshot: a bot that wrote to
    it meanwhile shows as a mismatch)."""
    checks = []
    async with source.engine.connect() as sconn:
        await _source_read(sconn, source)
        try:
            for table in tables():
                source_rows, source_sum = await table_check(sconn, table)
                target_rows, target_sum = await table_check(tconn, table)
                checks.append(TableCheck(table.name, source_rows, target_rows, source_sum, target_sum))
        finally:
            await sconn.rollback()
    return checks


def report(checks: list[TableCheck]) -> str:
    """The per-table counts as a plain text table."""
    width = max([len("table")] + [len(c.name) for c in checks])
    lines = [f"{'table':<{width}}  {'source':>9}  {'target':>9}  checksum",
             f"{'-' * width}  {'-' * 9}  {'-' * 9}  --------"]
    for c in checks:
        state = "ok" if c.ok else ("MISMATCH" if c.source_rows == c.target_rows else "COUNT MISMATCH")
        lines.append(f"{c.name:<{width}}  {c.source_rows:>9,}  {c.target_rows:>9,}  {state}")
    return "\n".join(lines)
