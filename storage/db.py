"""The async engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed idea survives a power cut, not only a crash of the bot.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


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

    async def upgrade(self) -> None:
        from storage.migrate import upgrade

        await upgrade(self)

    async def close(self) -> None:
        await self.engine.dispose()
