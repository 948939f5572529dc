"""The hot write paths of the store (see ``Database.write`` and ``write_soon``): on SQLite one
writer thread with group commit; on PostgreSQL the queue of writes nobody waits for. Batch ops
run here: ``op(connection, items) -> results``."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("storage.db")

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
#: On the SQLite writer's connection, ``connection.info[WRITER_MEMO]`` is a dict the ops may keep
#: derived facts in (the writer is the only writer of what they cover); it is emptied whenever a
#: batch fails. Elsewhere it is absent.
WRITER_MEMO = "kehrabot.writer_memo"


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
    SOON = 0.05  # seconds a write nobody waits for may wait for the next one

    def __init__(self, url: URL) -> None:
        self.engine = create_engine(url.set(drivername="sqlite"))
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # lists of entries, None to stop
        self._pending: list = []  # entries of this turn of the event loop, not handed over yet
        self._pending_loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.Handle | None = None  # the scheduled hand-over
        self._handle_delayed = False
        self._unflushed = False  # run_soon() was called since the last barrier
        self._broken: Exception | None = None  # the store could not be opened
        self._closed = False
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
        if self._broken is not None:
            raise self._broken
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue_entry((op, item, loop, future), loop)
        return await future

    def _queue_entry(self, entry: tuple, loop: asyncio.AbstractEventLoop, *, delay: float = 0.0) -> None:
        """Hand over what this turn of the event loop produced in one go (one wake-up of the
        thread and larger batches instead of a ping-pong per item). A write nobody waits for
        (``delay``) waits up to that long for company: the next awaited write takes it along."""
        self._pending.append(entry)
        handle = self._handle
        if handle is not None and self._pending_loop is loop:
            if delay or not self._handle_delayed:
                return  # a hand-over at least as soon is already on its way
            handle.cancel()
        if delay:
            self._handle = loop.call_later(delay, self._hand_over)
        else:
            self._handle = loop.call_soon(self._hand_over)
        self._handle_delayed = bool(delay)
        self._pending_loop = loop

    def run_soon(self, op: BatchOp, item: Any) -> None:
        """Queue a write without waiting for it; a failure is logged. Sessions opened later wait
        for it (see ``barrier``)."""
        if self._closed:
            log.error("a write queued after the store was closed is dropped")
            return
        self._queue_entry((op, item, None, None), asyncio.get_running_loop(), delay=self.SOON)
        self._unflushed = True

    async def barrier(self) -> None:
        """Wait until every write queued with ``run_soon`` so far is committed."""
        if self._unflushed:
            self._unflushed = False
            await self.run(_nothing, None)

    def _hand_over(self) -> None:
        if self._handle is not None:
            self._handle.cancel()  # when called directly (close)
            self._handle = None
        if self._pending:
            batch, self._pending = self._pending, []
            self._queue.put(batch)

    def close(self) -> None:
        """Stop taking writes; what was queued is still written. Call it on the event loop's
        thread (the queue of this turn is handed over here), then ``join`` off it."""
        self._hand_over()
        self._closed = True
        self._queue.put(None)

    def join(self) -> None:
        self._thread.join()

    def _loop(self) -> None:
        try:
            conn = self.engine.connect()
        except Exception as err:  # e.g. the file cannot be opened: fail every write, never hang
            log.error("the SQLite writer cannot open the store: %s", err)
            self._broken = err
            while (batch := self._queue.get()) is not None:
                self._settle(_failed(batch, err))
            return
        conn.info[WRITER_MEMO] = {}
        try:
            stop = False
            while not stop:
                batch = self._queue.get()
                if batch is None:
                    break
                while len(batch) < self.MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch += more
                try:
                    results = self._write(conn, batch)
                except BaseException as err:  # a bug here must not leave callers waiting forever
                    self._settle(_failed(batch, err))
                    if not isinstance(err, Exception):
                        raise
                else:
                    self._settle(results)
        finally:
            conn.close()
            self.engine.dispose()
            self._fail_leftovers()

    def _fail_leftovers(self) -> None:
        """Nothing may wait forever: whatever reached the queue after the stop fails."""
        closed = RuntimeError("the store is closed")
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                return
            if batch:
                self._settle(_failed(batch, closed))

    def _write(self, conn: Connection, batch: list) -> list:
        """(loop, future, ok, value) for every entry of the batch."""
        groups: dict[BatchOp, list] = {}
        results = []
        for entry in batch:
            if entry[0] is _nothing:  # a barrier: done once what came before it is committed
                results.append((entry[2], entry[3], True, None))
            else:
                groups.setdefault(entry[0], []).append(entry)
        if not groups:
            return results
        try:
            with conn.begin():
                for op, entries in groups.items():
                    values = op(conn, [item for _op, item, _loop, _future in entries])
                    if len(values) != len(entries):
                        raise RuntimeError(f"{op.__qualname__} returned {len(values)} results for {len(entries)}")
                    results += [(loop, future, True, v) for (_op, _item, loop, future), v in zip(entries, values, strict=True)]
            self.commits += 1
            self.items += sum(len(entries) for entries in groups.values())
            return results
        except Exception as err:  # nothing of the batch is stored
            conn.info[WRITER_MEMO] = {}  # what the ops remembered may have been rolled back
            if len(batch) == 1 or isinstance(err, OperationalError):
                # alone, or the store itself failed (locked, disk full, I/O): no item is to blame
                return _failed(batch, err)
            log.info("a batch of %d writes failed (%s); writing them one by one", len(batch), err)
            return [result for entry in batch for result in self._write(conn, [entry])]

    @staticmethod
    def _settle(results: list) -> None:
        by_loop: dict = {}
        for loop, future, ok, value in results:
            if future is None:  # queued with run_soon: nobody waits for it
                if not ok:
                    log.error("a queued write failed: %r", value)
                continue
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                log.warning("a write finished after its event loop closed")


def _nothing(_conn: Connection, items: list) -> list:
    return [None] * len(items)


def _failed(batch: list, err: BaseException) -> list:
    """Results for a batch that failed as a whole; barriers are still passed (what came before
    them is finished, if not stored)."""
    return [(loop, future, op is _nothing, None if op is _nothing else err) for op, _item, loop, future in batch]


def _resolve(items: list) -> None:
    for future, ok, value in items:
        if future.done():  # the caller was cancelled; the write stands
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class _SoonWrites:
    """PostgreSQL's ``write_soon``: what the event loop queued is committed together a moment
    later, in order, in one transaction with an asynchronous commit (a power cut may lose the
    last of them, never a crash of the bot); sessions opened later wait for it first."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pending: list[tuple[BatchOp, Any]] = []
        self.pending_done: asyncio.Future | None = None  # resolved when the pending ones are in
        self.inflight_done: asyncio.Future | None = None
        self.task: asyncio.Task | None = None

    def add(self, op: BatchOp, item: Any) -> None:
        loop = asyncio.get_running_loop()
        if self.pending_done is None:
            self.pending_done = loop.create_future()
        self.pending.append((op, item))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._flush())

    async def barrier(self) -> None:
        """Wait for the writes queued so far (not for those queued while waiting)."""
        done = self.pending_done or self.inflight_done
        if done is not None and not done.done():
            await asyncio.shield(done)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # the rest of this turn's writes come along
        while self.pending:
            batch, self.pending = self.pending, []
            self.inflight_done, self.pending_done = self.pending_done, None
            try:
                await self._write_all(batch)
            finally:
                if self.inflight_done is not None and not self.inflight_done.done():
                    self.inflight_done.set_result(None)

    async def _write_all(self, batch: list[tuple[BatchOp, Any]]) -> None:
        """The batch in one transaction. The server failing (a restart, a lost connection): the
        whole batch again, in order, with back-off. One bad item: the items one by one."""
        delay = 0.5
        for attempt in range(6):
            try:
                await self._write(batch)
                return
            except (OperationalError, InterfaceError, OSError) as err:
                if attempt == 5:
                    log.error("%d queued writes failed, the store is unreachable: %r", len(batch), err)
                    return
                log.warning("queued writes wait for the store (%r)", err)
                await asyncio.sleep(delay)
                delay *= 2
            except Exception as err:
                if len(batch) == 1:
                    log.error("a queued write failed: %r", err)
                    return
                break
        for entry in batch:  # one bad item fails only itself
            try:
                await self._write([entry])
            except Exception as one:
                log.error("a queued write failed: %r", one)

    async def _write(self, batch: list[tuple[BatchOp, Any]]) -> None:
        async with self.engine.begin() as conn:  # an engine with synchronous_commit off
            await conn.run_sync(_grouped, batch)


def _grouped(conn: Connection, batch: list[tuple[BatchOp, Any]]) -> None:
    groups: dict[BatchOp, list] = {}
    for op, item in batch:
        groups.setdefault(op, []).append(item)
    for op, items in groups.items():
        op(conn, items)
