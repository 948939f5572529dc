"""Experiments: value recording through the whole pipeline (fake transport -> router -> store, SQLite)
beside the raw insert rate of the same file; the /experiment view with charts; scheduled value
requests per second.

    .venv/bin/python bench/experiments_bench.py [VALUES] [EXPERIMENTS]
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing import TestBot  # noqa: E402


async def run(data_dir: Path, n_values: int, n_experiments: int) -> dict:
    bot = await TestBot(data_dir).open()
    bot.make_admin("admin")
    figures: dict = {}
    await bot.say("/idea a summer terrace at the library", user="u2", lang="en")
    await bot.say("/experiment 1 start", user="admin", lang="en")
    await bot.say("/join 1", user="u3", lang="en")
    for name in ("volunteers | people | 10", "visitors | people | 300", "waste | kg | 5 | less"):
        await bot.say(f"/indicator 1 {name}", user="u3", lang="en")

    # values: spread over the last n days, three indicators
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    started = time.perf_counter()
    for i in range(n_values):
        day = (start - timedelta(days=n_values - i)).strftime("%d.%m.%Y")
        out = await bot.say(f"/measure 1 {i % 3 + 1} {i % 40},5 {day}", user="u3", lang="en")
        assert out and out[0].startswith("Recorded"), out
    figures["values_per_s"] = n_values / (time.perf_counter() - started)

    # the view: text + one chart per indicator
    times, chart_bytes = [], 0
    for _ in range(5):
        before = len(bot.transport.sent)
        t0 = time.perf_counter()
        await bot.say("/experiment 1", lang="en")
        times.append(time.perf_counter() - t0)
        files = [s.file for s in bot.transport.sent[before:] if s.kind == "file"]
        assert len(files) == 3
        chart_bytes = sum(len(f.data) for f in files)
    figures["view_ms"] = statistics.median(times) * 1000
    figures["chart_kb"] = chart_bytes / 1024

    # scheduled requests: many experiments asking weekly, all due at once
    for k in range(2, n_experiments + 2):
        await bot.say(f"/idea idea {k}", user="u2", lang="en")
        await bot.say(f"/experiment {k} start", user="admin", lang="en")
        await bot.say(f"/join {k}", user="u3", lang="en")
        await bot.say(f"/experiment {k} ask weekly", user="u3", lang="en")
    before = len(bot.transport.sent)
    t0 = time.perf_counter()
    await bot.run_due(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # other features' jobs (digest) run too
    asked = sum(1 for s in bot.transport.sent[before:] if s.plain.startswith("📏"))
    figures["asks_per_s"] = asked / (time.perf_counter() - t0)
    assert asked == n_experiments, asked
    await bot.close()
    return figures


def raw(db_file: Path, n: int) -> float:
    conn = sqlite3.connect(db_file, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    started = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO indicatorvalue (indicator_id, value, measured_at, recorded_at, recorder_key,"
                     " recorder_name) VALUES (1, ?, ?, ?, 'raw:u', 'u')", (i, now, now))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def main(n_values: int = 600, n_experiments: int = 200) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(Path(tmp), n_values, n_experiments))
        figures["raw_values_per_s"] = raw(Path(tmp) / "kehrabot.sqlite3", n_values)
    ratio = figures["values_per_s"] / figures["raw_values_per_s"]
    print(f"/measure through the pipeline: {figures['values_per_s']:.0f} values/s "
          f"(raw insert+commit {figures['raw_values_per_s']:.0f}/s, ratio {ratio:.1%})")
    print(f"/experiment view with 3 charts over {n_values} values: median {figures['view_ms']:.0f} ms, "
          f"charts {figures['chart_kb']:.0f} KiB in all")
    print(f"scheduled value requests: {n_experiments} due at once, {figures['asks_per_s']:.0f} sent/s")
    return figures


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
