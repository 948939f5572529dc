"""The async engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.writes import WRITER_MEMO, BatchOp, SQLiteWriter, _SoonWrites, _sqlite_pragmas

log = logging.getLogger(__name__)

__all__ = ["WRITER_MEMO", "BatchOp", "Database", "SQLiteWriter", "store_unavailable"]


def store_unavailable(err: BaseException) -> bool:
    """The store could not be reached (a lost connection, a refused one, no free connection in
    the pool in time, SQLite locked past its busy timeout): nothing of the unit of work was
    committed, and it may be done again."""
    return isinstance(err, (OperationalError, InterfaceError, PoolTimeout)) or (
        isinstance(err, DBAPIError) and err.connection_invalidated)


#: PostgreSQL connections kept per process: durable writes and sessions, and commits that do not
#: wait for the disk (``durable=False``, write_soon)
POOL_SIZE, LAZY_POOL_SIZE = 20, 10
POOL_CONNECTIONS = POOL_SIZE + LAZY_POOL_SIZE

#: a pooled PostgreSQL connection unused for longer is pinged before it is handed out
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` costs a round trip per checkout, several per idea. Under
    load a connection comes back within milliseconds; one that sat idle (a server restart is
    noticed then) is pinged, and replaced when the server has closed it. A connection lost
    between two quick uses fails its statement: a write is made again if that happened before
    its commit (``Database.write``)."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_conn, record) -> None:
        record.info["kehrabot.idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _handed_out(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("kehrabot.idle_since")
        if since is not None and time.monotonic() - since > IDLE_PING_SECONDS:
            try:
                dbapi_conn.ping()
            except Exception as err:  # the pool drops it and hands out a new one
                raise DisconnectionError() from err


_BEGIN_IMMEDIATE = text("BEGIN IMMEDIATE")
_WROTE = "kehrabot.wrote"  # Session.info: a write since the last commit


class _Session(Session):
    """Knows whether it wrote since its last commit (a reading session must not)."""


@event.listens_for(_Session, "do_orm_execute")
def _note_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(_Session, "after_flush")
def _note_flush(session, _context) -> None:
    session.info[_WROTE] = True


@event.listens_for(_Session, "after_commit")
@event.listens_for(_Session, "after_rollback")
def _forget_writes(session) -> None:
    session.info.pop(_WROTE, None)


#: sessions open in the current task (see ``Database.in_transaction``)
_open_sessions: ContextVar[int] = ContextVar("kehrabot_open_sessions", default=0)
#: whether one of them is a ``transaction()`` (it may hold SQLite's write lock)
_in_unit_of_work: ContextVar[bool] = ContextVar("kehrabot_in_unit_of_work", default=False)


class Database:
    """Owns the engine; hands out sessions. Built once by the composition root."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        # an error's message and the log carry no SQL parameter values (a message's text, a name)
        kwargs: dict = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Sessions end their own transactions; the pool's extra ROLLBACK on return is a wasted
            # round trip to the driver thread per session.
            kwargs["pool_reset_on_return"] = None
        else:
            # no overflow: a burst busier than the pool waits for a connection rather than opening
            # one that is closed again at its return (a new PostgreSQL connection costs a few ms of
            # CPU on each side; under a webhook burst that was one per update); at most
            # POOL_CONNECTIONS per process, so several processes fit in PostgreSQL's default 100
            kwargs.update(pool_size=POOL_SIZE, max_overflow=0)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        #: PostgreSQL: connections whose commits do not wait for the disk (``durable=False``)
        self._lazy_engine: AsyncEngine | None = None
        if not self.is_sqlite:
            self._lazy_engine = create_async_engine(
                self.url, echo=echo, pool_size=LAZY_POOL_SIZE, max_overflow=0,
                connect_args={"server_settings": {"synchronous_commit": "off"}})
            for engine in (self.engine, self._lazy_engine):
                _ping_when_idle(engine)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, sync_session_class=_Session,
                                            expire_on_commit=False)
        self._writer: SQLiteWriter | None = None
        self._use_writer = self._file_backed()
        self.strict = False  # see _check_not_in_unit_of_work
        self._soon = _SoonWrites(self._lazy_engine) if self._lazy_engine is not None else None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; what it writes is rolled back at the end (writes go in
        ``transaction()``)."""
        async with self._open(commit=False) as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: committed when the block ends, rolled back if it raises. Storage
        functions never commit; close the block before any platform call."""
        async with self._open(commit=True) as session:
            yield session

    @asynccontextmanager
    async def _open(self, *, commit: bool) -> AsyncIterator[AsyncSession]:
        self._check_not_in_unit_of_work("a session")
        if self._writer is not None:
            await self._writer.barrier()
        elif self._soon is not None:
            await self._soon.barrier()
        token = _open_sessions.set(_open_sessions.get() + 1)
        unit = _in_unit_of_work.set(_in_unit_of_work.get() or commit)
        try:
            async with self._sessions() as session:
                try:
                    if commit and self.is_sqlite:
                        # the write lock for the whole unit of work: no upgrade from a read
                        # snapshot that a concurrent commit made stale (SQLITE_BUSY_SNAPSHOT),
                        # and SAVEPOINTs work inside (storage.core.add_unique)
                        await session.execute(_BEGIN_IMMEDIATE)
                    yield session
                    if commit:
                        await session.commit()
                    elif session.in_transaction() and (session.sync_session.info.get(_WROTE)
                                                       or session.new or session.dirty or session.deleted):
                        raise RuntimeError("a reading session was given writes: use db.transaction()")
                except BaseException:
                    await session.rollback()
                    raise
        finally:
            _in_unit_of_work.reset(unit)
            _open_sessions.reset(token)

    @staticmethod
    def in_transaction() -> bool:
        """True inside ``session()`` in this task: no platform call belongs there (a slow
        platform would hold the transaction and its connection, and a failed call would undo
        or half-do the unit of work)."""
        return _open_sessions.get() > 0

    def _check_not_in_unit_of_work(self, what: str) -> None:
        """``strict`` (the tests): nothing that waits for the SQLite writer or another
        connection may start inside a transaction, which may hold the write lock they need (a
        stall of ``busy_timeout`` that fails everybody's batch)."""
        if self.strict and _in_unit_of_work.get():
            raise RuntimeError(f"{what} inside an open transaction: finish the unit of work first")

    def _file_backed(self) -> bool:
        database = self.url.database or ""
        return self.is_sqlite and database not in ("", ":memory:") and "mode=memory" not in str(self.url)

    async def write(self, op: BatchOp, item: Any, *, durable: bool = True) -> Any:
        """Write ``item`` with the batch op ``op`` and commit; returns the op's result for it, or
        raises what the op raised, with nothing of it stored. For the hot writes: on SQLite on the
        single writer thread with group commit, elsewhere a transaction on the async engine.
        ``durable=False`` (PostgreSQL) commits without waiting for the disk: for what a crash
        of the database server may lose because it can be done again (marking an event begun)."""
        self._check_not_in_unit_of_work("a hot write")
        if self._use_writer:
            return await self._ensure_writer().run(op, item)
        if self._soon is not None:
            await self._soon.barrier()  # in order after the writes queued before it
        engine = self.engine if durable or self._lazy_engine is None else self._lazy_engine
        for attempt in range(2):
            async with engine.connect() as conn:
                try:
                    await conn.begin()
                    result = (await conn.run_sync(op, [item]))[0]
                except DBAPIError as err:
                    # a connection the server closed meanwhile (a restart between two quick
                    # uses, see _ping_when_idle): nothing was written, so once more on a new one
                    if attempt == 0 and err.connection_invalidated:
                        log.info("a store connection was gone (%s); writing again", type(err.orig).__name__)
                        continue
                    raise
                await conn.commit()
                return result
        raise AssertionError("unreachable")

    async def write_soon(self, op: BatchOp, item: Any) -> None:
        """Like ``write``, for what may be committed a moment after the caller goes on (a failure
        is logged, not raised): on SQLite it is queued, and every session opened later waits for
        it, so later reads see it. Not for anything a person was told is saved."""
        if self._use_writer:
            self._ensure_writer().run_soon(op, item)
        elif self._soon is not None:
            self._soon.add(op, item)
        else:
            await self.write(op, item)

    def _ensure_writer(self) -> SQLiteWriter:
        if self._writer is None:
            self._writer = SQLiteWriter(self.url)
        return self._writer

    async def upgrade(self) -> None:
        from storage.migrate import upgrade

        await upgrade(self)

    async def close(self) -> None:
        if self._soon is not None:
            await self._soon.barrier()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
            await asyncio.to_thread(writer.join)
        await self.engine.dispose()
        if self._lazy_engine is not None:
            await self._lazy_engine.dispose()
