"""PostgreSQL going away in the middle of a burst of ideas (every connection cut, new ones refused
for two seconds, as a server restart does it; a TCP proxy in front of the real server plays the
restart): the bot recovers alone, nothing it acknowledged is lost, nothing is stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime

from sqlalchemy import text

from bot.testing import TestBot
from storage.core import NEW, REPLAY, begin_events, finish_events
from tests.matrix.synapse import free_port


class RestartingProxy:
    """127.0.0.1:<port> → the PostgreSQL server; ``restart()`` cuts every connection and refuses
    new ones for a while."""

    def __init__(self, upstream_port: int = 5432) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.down = asyncio.Event()
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> RestartingProxy:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down.is_set():
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def restart(self, seconds: float) -> None:
        self.down.set()
        for link in list(self.links):
            link.transport.abort()
        await asyncio.sleep(seconds)  # the server is down for this long (a timed outage, not a wait)
        self.down.clear()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for link in list(self.links):
            link.transport.abort()


async def _handle(bot: TestBot, n: int) -> list[str]:
    """One ``/idea`` as a transport hands it over: begun, dispatched with its key, finished."""
    key = f"m:group:{n}"
    try:
        states = await bot.services.db.write(begin_events, ("fake", (key,), bot.clock.now()), durable=False)
    except Exception:
        return []  # the transport could not record it: not dispatched (it stays in its inbox)
    sent = await bot.event(chat_id="group", sender_id=f"u{n % 3}", sender_name="Aino", chat_title="group",
                           text=f"/idea Idea number {n}", message_id=str(n), event_key=key,
                           replay=states[key] == REPLAY)
    with contextlib.suppress(Exception):
        await bot.services.db.write_soon(finish_events, ("fake", key, bot.clock.now()))
    return [s.plain for s in sent]


async def test_a_postgres_restart_in_the_middle_of_a_burst(pg_url, tmp_path):
    proxy = await RestartingProxy().start()
    url = re.sub(r"@127\.0\.0\.1:5432/", f"@127.0.0.1:{proxy.port}/", pg_url)
    assert url != pg_url
    bot = await TestBot(tmp_path, database_url=url).open()
    acknowledged: dict[int, str] = {}
    outage = None
    try:
        for n in range(120):
            if n == 40:
                outage = asyncio.create_task(proxy.restart(2.0))
            for reply in await _handle(bot, n):
                if m := re.match(r"💡 Idea #(\d+) tallennettu\. Idea number (\d+)", reply):
                    acknowledged[int(m[2])] = m[1]
            await asyncio.sleep(0.03)  # people typing: the burst spans the outage
        await outage
        # after the restart the bot works again by itself
        for n in range(120, 130):
            replies = await _handle(bot, n)
            assert replies and replies[0].startswith("💡 Idea #"), replies
            acknowledged[n] = replies[0].split("#", 1)[1].split(" ", 1)[0]
        async with bot.services.db.session() as s:
            rows = (await s.execute(text("SELECT number, text FROM idea WHERE chat_key = 'fake:group'"))).all()
    finally:
        await bot.close()
        await proxy.stop()
    stored = {int(t.rsplit(" ", 1)[1]): str(number) for number, t in rows}
    assert len(rows) == len(stored)  # no idea twice
    assert {n: acknowledged[n] for n in acknowledged} == {n: stored[n] for n in acknowledged}  # none lost
    assert len(acknowledged) < 130  # the outage was felt (some commands got an apology instead)
    print(f"{len(acknowledged)} of 130 ideas acknowledged and stored across the outage, {len(rows)} stored")


async def _end_connections(url: str) -> None:
    """The server ends every connection to the database of ``url``."""
    import asyncpg

    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        ended = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        assert ended > 0
    finally:
        await admin.close()


async def test_a_write_that_finds_its_connection_gone_is_made_on_a_new_one(pg_url):
    """The connections for commits that need not wait for the disk are not pinged before use:
    one the server closed meanwhile (a restart, an idle timeout) is replaced and the write made."""
    from storage.db import Database

    db = Database(pg_url)
    await db.upgrade()
    try:
        now = datetime.now(UTC)
        assert await db.write(begin_events, ("fake", ("e1",), now), durable=False) == {"e1": NEW}
        await _end_connections(pg_url)  # as a server restart does
        assert await db.write(begin_events, ("fake", ("e2",), now), durable=False) == {"e2": NEW}
        assert await db.write(begin_events, ("fake", ("e3",), now)) == {"e3": NEW}
        async with db.session() as session:
            events = (await session.execute(text("SELECT event_id FROM processedevent ORDER BY 1"))).scalars().all()
        assert events == ["e1", "e2", "e3"]
    finally:
        await db.close()


async def test_a_connection_that_sat_idle_is_checked_before_use(pg_url, monkeypatch):
    """A server restart while the bot is quiet: the next unit of work gets a live connection."""
    from storage import db as db_module

    db = db_module.Database(pg_url)
    await db.upgrade()
    try:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))
        await _end_connections(pg_url)
        monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", 0.0)  # every pooled one has sat idle
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.close()


async def test_a_stop_while_the_store_is_unreachable_ends_within_its_deadline(pg_url, tmp_path):
    """The marks queued for a moment later cannot be written (the server is gone): the stop
    still ends within its deadline, and what was not written is done again at the next start."""
    proxy = await RestartingProxy().start()
    url = re.sub(r"@127\.0\.0\.1:5432/", f"@127.0.0.1:{proxy.port}/", pg_url)
    bot = await TestBot(tmp_path, database_url=url).open()
    try:
        await bot.say("/idea Penkki puistoon")
        await proxy.stop()  # down for good, every connection cut
        now = bot.clock.now()
        await bot.services.db.write_soon(finish_events, ("fake", "late", now))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await bot.app.close(deadline=2.0)
        assert loop.time() - started < 2.5
    finally:
        await proxy.stop()


async def test_a_command_waiting_for_a_free_connection_is_answered_not_apologised_for(pg_url, tmp_path):
    """Every pooled connection busy longer than the pool's wait: the command is handled again once
    one is free (as for a store that cannot be reached), not answered with an apology and lost."""
    bot = await TestBot(tmp_path, database_url=pg_url).open()
    db = bot.services.db
    engines = [e for e in (db.engine, db._lazy_engine) if e is not None]
    held = []
    try:
        for engine in engines:
            engine.sync_engine.pool._timeout = 0.2  # the pool's wait for a free connection, shortened
            for _ in range(engine.sync_engine.pool.size()):
                held.append(await engine.connect())
        handling = asyncio.create_task(bot.event(chat_id="group", sender_id="u1", sender_name="U1",
                                                 text="/idea Penkki puistoon", message_id="m1",
                                                 event_key="m1"))
        await asyncio.sleep(1.0)  # the pool stays exhausted past several waits (a timed hold)
        assert not handling.done()
    finally:
        for conn in held:
            await conn.close()
    sent = await asyncio.wait_for(handling, 30)
    async with db.session() as s:
        stored = (await s.execute(text("SELECT text FROM idea"))).scalars().all()
    await bot.close()
    assert [m.plain.split("\n", 1)[0] for m in sent] == ["💡 Idea #1 tallennettu. Penkki puistoon"]
    assert stored == ["Penkki puistoon"]
