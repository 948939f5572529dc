"""Leadership: a named role that at most one process on a store holds at a time.

Several ``kehrabot run`` processes on one database behave as one bot. What only one of them may
do — fetch Telegram's updates by long polling (a second ``getUpdates`` gets 409 Conflict), run the
Matrix sync loop of the bot's account — is done by the holder of that consumer's lock:

- on PostgreSQL a session-level advisory lock (``pg_try_advisory_lock``) held on a connection of
  its own. The server lets go of it the moment that connection ends: a process killed outright
  closes its socket, and a machine that vanished is noticed by TCP keep-alives (about 10 s, set on
  the connection). The holder checks its connection every ``check_seconds``; when the check
  fails it steps down (``lost`` is set) before the server can hand the lock on.
- on SQLite (one machine) an ``flock`` on a file beside the database; the kernel lets go of it
  when the process ends.

The others try again every ``retry_seconds`` (1 s): one of them takes over within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(f"kehrabot:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """One named role; :meth:`acquire` waits for it, ``lost`` tells that it was lost."""

    def __init__(self, url: URL, name: str, *, owner: str = "", retry_seconds: float = 1.0,
                 check_seconds: float = 2.0) -> None:
        self.url = url
        self.name = name
        self.owner = owner  # this process's instance name, shown in pg_stat_activity
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self.lost = asyncio.Event()
        self._conn = None  # asyncpg connection holding the advisory lock
        self._fd: int | None = None  # the flocked file (SQLite)
        self._watch: asyncio.Task | None = None

    @property
    def held(self) -> bool:
        return (self._conn is not None or self._fd is not None) and not self.lost.is_set()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this process holds the role (True) or ``stop`` is set (False)."""
        self.lost.clear()
        waited = False
        while not stop.is_set():
            try:
                if await self._try():
                    if waited:
                        log.info("took over %s", self.name)
                    self._watch = asyncio.create_task(self._watch_loop(), name=f"leader-{self.name}")
                    return True
            except Exception as exc:  # the store is unreachable: no one can be sure; try again
                log.warning("could not try the lock of %s: %s", self.name, exc)
            if not waited:
                log.info("another process holds %s; standing by", self.name)
                waited = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.retry_seconds):
                    await stop.wait()
        return False

    async def release(self) -> None:
        if self._watch is not None:
            watch, self._watch = self._watch, None
            watch.cancel()
            await asyncio.wait({watch})  # its check on the lock connection ends before the close
        await self._drop()

    async def _try(self) -> bool:
        if self.url.get_backend_name() == "sqlite":
            return self._try_file()
        import asyncpg

        dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=5, server_settings={
            "application_name": f"kehrabot leader {self.owner}"[:63],
            # a vanished machine's session ends after idle + interval * count seconds
            "tcp_keepalives_idle": "4", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3",
        })
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name), timeout=5)
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    def _try_file(self) -> bool:
        database = self.url.database or ""
        path = Path(f"{database}.{self.name.replace(':', '-').replace('/', '-')}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def _watch_loop(self) -> None:
        """The holder checks its lock connection; a failed check means stepping down."""
        if self._conn is None:
            return  # an flock lasts as long as the process
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self._conn.fetchval("SELECT 1", timeout=self.check_seconds)
            except Exception as exc:
                log.warning("lost the lock of %s (%s); stepping down", self.name, exc)
                self.lost.set()
                await self._drop()
                return

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
