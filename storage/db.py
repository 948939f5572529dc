"""The async engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL with WAL: a commit survives a crash of the bot; only a power cut may lose the last ones.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


#: A batch write: ``op(connection, items) -> results``, one result per item, in order. It must not
#: commit, and may be run again on a subset of the items if the batch fails.
BatchOp = Callable[[Connection, list], list]


class SQLiteWriter:
    """The one thread that writes the hot paths to SQLite, with group commit.

    Callers queue (op, item) and await a future. The thread takes everything that is waiting,
    runs each op once over all of its items inside one ``BEGIN IMMEDIATE`` transaction (so
    ``executemany`` and one COMMIT serve many concurrent writers) and only then resolves the
    futures: nothing is acknowledged before it is committed. If the batch fails, it is rolled back
    and every item is run again alone, so one bad item fails only its own caller. Compared with
    aiosqlite, which hops to its thread for every statement, this is one hop per write.
    """

    MAX_BATCH = 512

    def __init__(self, url: URL) -> None:
        self.engine = create_engine(url.set(drivername="sqlite"))
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        #: transactions committed and items written (for benchmarks and tests)
        self.commits = 0
        self.items = 0
        self._thread = threading.Thread(target=self._loop, name="kehrabot-sqlite-writer", daemon=True)
        self._thread.start()

    @staticmethod
    def _on_connect(dbapi_conn, record) -> None:
        _sqlite_pragmas(dbapi_conn, record)
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN IMMEDIATE

    async def run(self, op: BatchOp, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((op, item, loop, future))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _loop(self) -> None:
        conn = self.engine.connect()
        try:
            stop = False
            while not stop:
                entry = self._queue.get()
                if entry is None:
                    break
                batch = [entry]
                while len(batch) < self.MAX_BATCH:
                    try:
                        entry = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if entry is None:
                        stop = True
                        break
                    batch.append(entry)
                self._settle(self._write(conn, batch))
        finally:
            conn.close()
            self.engine.dispose()

    def _write(self, conn: Connection, batch: list) -> list:
        """(loop, future, ok, value) for every entry of the batch."""
        groups: dict[BatchOp, list] = {}
        for entry in batch:
            groups.setdefault(entry[0], []).append(entry)
        try:
            results = []
            with conn.begin():
                for op, entries in groups.items():
                    values = op(conn, [item for _op, item, _loop, _future in entries])
                    if len(values) != len(entries):
                        raise RuntimeError(f"{op.__qualname__} returned {len(values)} results for {len(entries)}")
                    results += [(loop, future, True, v) for (_op, _item, loop, future), v in zip(entries, values, strict=True)]
            self.commits += 1
            self.items += len(batch)
            return results
        except Exception as err:
            if len(batch) == 1:
                _op, _item, loop, future = batch[0]
                return [(loop, future, False, err)]
            log.info("a batch of %d writes failed (%s); writing them one by one", len(batch), err)
            return [result for entry in batch for result in self._write(conn, [entry])]

    @staticmethod
    def _settle(results: list) -> None:
        by_loop: dict = {}
        for loop, future, ok, value in results:
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                log.warning("a write finished after its event loop closed")


def _resolve(items: list) -> None:
    for future, ok, value in items:
        if future.done():  # the caller was cancelled; the write stands
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Database:
    """Owns the engine; hands out sessions. Built once by the composition root."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        kwargs: dict = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
            options = self.url.query.get("options")
            if isinstance(options, str) and self.url.get_driver_name() == "asyncpg":
                # asyncpg does not take libpq's "options=-csearch_path=…": pass them as server settings
                settings = dict(p[2:].split("=", 1) for p in options.split() if p.startswith("-c") and "=" in p)
                self.url = self.url.difference_update_query(["options"])
                kwargs["connect_args"] = {"server_settings": settings}
        if self.is_sqlite:
            # Sessions end their own transactions; the pool's extra ROLLBACK on return is a wasted
            # round trip to the driver thread per session.
            kwargs["pool_reset_on_return"] = None
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._writer: SQLiteWriter | None = None
        self._use_writer = self._file_backed()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; commit explicitly. Rolled back on error."""
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    def _file_backed(self) -> bool:
        database = self.url.database or ""
        return self.is_sqlite and database not in ("", ":memory:") and "mode=memory" not in str(self.url)

    async def write(self, op: BatchOp, item: Any) -> Any:
        """Write ``item`` with the batch op ``op`` and commit; returns the op's result for it, or
        raises what the op raised, with nothing of it stored. For the hot writes: on SQLite on the
        single writer thread with group commit, elsewhere a transaction on the async engine."""
        if self._use_writer:
            if self._writer is None:
                self._writer = SQLiteWriter(self.url)
            return await self._writer.run(op, item)
        async with self.engine.begin() as conn:
            return (await conn.run_sync(op, [item]))[0]

    async def upgrade(self) -> None:
        from storage.migrate import upgrade

        await upgrade(self)

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await asyncio.to_thread(writer.close)
        await self.engine.dispose()
