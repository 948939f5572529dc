"""Ideas captured per second through the whole pipeline (fake transport -> router -> ideas ->
store) on SQLite, beside the raw insert+commit rate of the same SQLite file, in the same run.
Each idea goes the way a platform event goes: begun in the store, handled, its reply keyed and
logged in the delivery log (the fake transport has no idempotency keys, as Telegram), finished.
With ``--pg URL`` the same on PostgreSQL.

Two loads: one chat at a time (every idea waits for its own commit: latency-bound), and 50 chats
at once, each chat's messages in order (how the Telegram and Matrix transports dispatch), where
the store's writer commits the waiting ideas together.

    .venv/bin/python bench/ideas_bench.py [N] [--pg postgresql+asyncpg://postgres@127.0.0.1/test]

Target: >= 300 ideas/s one chat at a time (Telegram carries about 30 messages/s for a bot in all).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing import TestBot  # noqa: E402
from storage.core import REPLAY, begin_events, finish_events  # noqa: E402

CHATS = 50  # chats talking at once in the concurrent run
USERS = 7  # people per chat


def _event(chat: str, user: str, i: int) -> dict:
    return dict(chat_id=chat, sender_id=user, sender_name=user.capitalize(), chat_title=chat, message_id=f"{chat}-{i}",
                text=f"/idea Aurinkopaneelit talon {i} katolle #energia #kortteli{i % 7}")


async def handle(bot: TestBot, **event) -> None:
    """What a transport does with one event (see bot/matrix/mapping.py ``_handle``)."""
    key = event["message_id"]
    states = await bot.services.db.write(begin_events, ("fake", (key,), bot.clock.now()), durable=False)
    await bot.event(**event, event_key=key, replay=states[key] == REPLAY)
    await bot.services.db.write_soon(finish_events, ("fake", key, bot.clock.now()))


async def pipeline(data_dir: Path, n: int, chats: int, url: str | None = None) -> tuple[float, float | None, list]:
    """Ideas/s with ``chats`` chats talking at once (each chat's messages in order, as the
    transports dispatch them), the mean number of writes per commit (SQLite), and the
    latencies of the ideas (seconds)."""
    bot = await TestBot(data_dir, database_url=url).open()
    users = [f"u{k}" for k in range(USERS)]
    for c in range(chats):  # steady state: everyone has spoken before (languages cached, chats known)
        for user in users:
            await bot.event(**{**_event(f"g{c}", user, -1), "text": "moi"})
    before = len(bot.transport.sent)
    per_chat = n // chats

    latencies = []

    async def chat(c: int) -> None:
        for i in range(per_chat):
            t0 = time.perf_counter()
            await handle(bot, **_event(f"g{c}", users[i % USERS], i))
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(chat(c) for c in range(chats)))
    elapsed = time.perf_counter() - started
    assert len(bot.transport.sent) - before == per_chat * chats
    writer = bot.services.db._writer  # started by the first idea (SQLite only)
    per_commit = writer.items / max(1, writer.commits) if writer is not None else None
    await bot.close()
    return per_chat * chats / elapsed, per_commit, latencies


def _pct(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def pg_run(url: str, n: int, chats: int, data_dir: Path) -> tuple[float, list]:
    """On a fresh database of the PostgreSQL server at ``url``."""
    import uuid

    import asyncpg

    name = "kehrabot_bench_" + uuid.uuid4().hex[:8]
    admin = url.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        rate, _per_commit, lat = await pipeline(data_dir, n, chats, url.rsplit("/", 1)[0] + "/" + name)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    return rate, lat


def raw(db_file: Path, n: int) -> float:
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # the same durability the bot uses
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    started = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO idea (chat_key, number, text, search, tags, author_key, author_name, status, support_count,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'new', 0, ?, ?)",
            ("raw:chat", i + 1, f"raw idea {i}", f"raw idea {i}", "energy", "raw:u", "u", now, now),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


async def raw_async(db_file: Path, n: int) -> float:
    """The same insert+commit through aiosqlite, the async driver the bot runs on."""
    import aiosqlite

    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    async with aiosqlite.connect(db_file, isolation_level=None) as conn:
        await conn.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        for i in range(n):
            await conn.execute("BEGIN")
            await conn.execute(
                "INSERT INTO idea (chat_key, number, text, search, tags, author_key, author_name, status,"
                " support_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'new', 0, ?, ?)",
                ("rawa:chat", i + 1, f"raw idea {i}", f"raw idea {i}", "energy", "raw:u", "u", now, now),
            )
            await conn.execute("COMMIT")
        return n / (time.perf_counter() - started)


def main() -> None:
    args = sys.argv[1:]
    pg = None
    if "--pg" in args:
        at = args.index("--pg")
        pg = args[at + 1]
        del args[at:at + 2]
    n = int(args[0]) if args else 3000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        seq, _, lat1 = asyncio.run(pipeline(data_dir / "seq", n, 1))
        conc, per_commit, lat50 = asyncio.run(pipeline(data_dir / "conc", n, CHATS))
        raw_rate = raw(data_dir / "conc" / "kehrabot.sqlite3", n)
        raw_async_rate = asyncio.run(raw_async(data_dir / "conc" / "kehrabot.sqlite3", n))
        seq2, _, _ = asyncio.run(pipeline(data_dir / "seq2", n, 1))  # again after raw, to even out disk/cache
        conc2, per_commit2, _ = asyncio.run(pipeline(data_dir / "conc2", n, CHATS))
        if pg:
            pg_seq, pg_lat1 = asyncio.run(pg_run(pg, n, 1, data_dir / "pg1"))
            pg_conc, pg_lat50 = asyncio.run(pg_run(pg, n, CHATS, data_dir / "pg50"))
    seq, conc = max(seq, seq2), max(conc, conc2)
    print(f"ideas through the pipeline, one chat at a time: {seq:,.0f}/s (best of 2, {n} ideas); "
          f"latency p50 {_pct(lat1, .5):.2f} ms, p99 {_pct(lat1, .99):.2f} ms")
    print(f"ideas through the pipeline, {CHATS} chats at once: {conc:,.0f}/s (best of 2; "
          f"{per_commit:.0f} and {per_commit2:.0f} writes per commit)")
    print(f"raw insert+commit, same file, sqlite3: {raw_rate:,.0f}/s; aiosqlite: {raw_async_rate:,.0f}/s")
    print(f"ratio to raw sqlite3: one chat {seq / raw_rate:.2f}, {CHATS} chats {conc / raw_rate:.2f}; "
          f"to raw aiosqlite: {seq / raw_async_rate:.2f}, {conc / raw_async_rate:.2f} (target >= 0.25)")
    print(f"{CHATS} chats at once: latency p50 {_pct(lat50, .5):.2f} ms, p99 {_pct(lat50, .99):.2f} ms")
    print(f"target >= 300 ideas/s one chat at a time: {'met' if seq >= 300 else 'NOT met'}")
    if pg:
        print(f"PostgreSQL: one chat {pg_seq:,.0f}/s (p50 {_pct(pg_lat1, .5):.2f} ms, p99 {_pct(pg_lat1, .99):.2f} ms); "
              f"{CHATS} chats {pg_conc:,.0f}/s (p50 {_pct(pg_lat50, .5):.2f} ms, p99 {_pct(pg_lat50, .99):.2f} ms); "
              f"target >= 300/s one chat: {'met' if pg_seq >= 300 else 'NOT met'}")


if __name__ == "__main__":
    main()
