"""Ideas captured per second through the whole pipeline (fake transport -> router -> ideas ->
store) on SQLite, beside the raw insert+commit rate of the same SQLite file, in the same run.

Two loads: one chat at a time (every idea waits for its own commit: latency-bound), and 50 chats
at once, each chat's messages in order (how the Telegram and Matrix transports dispatch), where
the store's writer commits the waiting ideas together.

    .venv/bin/python bench/ideas_bench.py [N]

Targets (issue #3): >= 1,000 ideas/s and >= 25 % of the raw rate.
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

CHATS = 50  # chats talking at once in the concurrent run
USERS = 7  # people per chat


def _event(chat: str, user: str, i: int) -> dict:
    return dict(chat_id=chat, sender_id=user, sender_name=user.capitalize(), chat_title=chat, message_id=f"{chat}-{i}",
                text=f"/idea Aurinkopaneelit talon {i} katolle #energia #kortteli{i % 7}")


async def pipeline(data_dir: Path, n: int, chats: int) -> tuple[float, float]:
    """Ideas/s with ``chats`` chats talking at once (each chat's messages in order, as the
    transports dispatch them), and the mean number of writes per commit."""
    bot = await TestBot(data_dir).open()
    users = [f"u{k}" for k in range(USERS)]
    for c in range(chats):  # steady state: everyone has spoken before (languages cached, chats known)
        for user in users:
            await bot.event(**{**_event(f"g{c}", user, -1), "text": "moi"})
    before = len(bot.transport.sent)
    per_chat = n // chats

    async def chat(c: int) -> None:
        for i in range(per_chat):
            await bot.event(**_event(f"g{c}", users[i % USERS], i))

    started = time.perf_counter()
    await asyncio.gather(*(chat(c) for c in range(chats)))
    elapsed = time.perf_counter() - started
    assert len(bot.transport.sent) - before == per_chat * chats
    writer = bot.services.db._writer  # started by the first idea
    per_commit = writer.items / max(1, writer.commits)
    await bot.close()
    return per_chat * chats / elapsed, per_commit


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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        seq, _ = asyncio.run(pipeline(data_dir / "seq", n, 1))
        conc, per_commit = asyncio.run(pipeline(data_dir / "conc", n, CHATS))
        raw_rate = raw(data_dir / "conc" / "kehrabot.sqlite3", n)
        raw_async_rate = asyncio.run(raw_async(data_dir / "conc" / "kehrabot.sqlite3", n))
        seq2, _ = asyncio.run(pipeline(data_dir / "seq2", n, 1))  # again after raw, to even out disk/cache
        conc2, per_commit2 = asyncio.run(pipeline(data_dir / "conc2", n, CHATS))
    seq, conc = max(seq, seq2), max(conc, conc2)
    print(f"ideas through the pipeline, one chat at a time: {seq:,.0f}/s (best of 2, {n} ideas)")
    print(f"ideas through the pipeline, {CHATS} chats at once: {conc:,.0f}/s (best of 2; "
          f"{per_commit:.0f} and {per_commit2:.0f} writes per commit)")
    print(f"raw insert+commit, same file, sqlite3: {raw_rate:,.0f}/s; aiosqlite: {raw_async_rate:,.0f}/s")
    print(f"ratio to raw sqlite3: one chat {seq / raw_rate:.2f}, {CHATS} chats {conc / raw_rate:.2f}; "
          f"to raw aiosqlite: {seq / raw_async_rate:.2f}, {conc / raw_async_rate:.2f} (target >= 0.25)")
    print(f"absolute target 1,000 ideas/s: one chat {'met' if seq >= 1000 else 'NOT met'}, "
          f"{CHATS} chats {'met' if conc >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
