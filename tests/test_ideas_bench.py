"""A tiny run of bench/ideas_bench.py so the benchmark keeps working: every idea stored once."""

import sqlite3

from bench import ideas_bench


async def test_bench_smoke_every_idea_stored_once(tmp_path):
    rate, per_commit, latencies = await ideas_bench.pipeline(tmp_path, 40, 4)
    assert rate > 0 and per_commit >= 1 and len(latencies) == 40
    with sqlite3.connect(tmp_path / "kehrabot.sqlite3") as conn:
        rows = conn.execute("SELECT chat_key, count(*), count(DISTINCT number), max(number) FROM idea"
                            " WHERE text LIKE 'Aurinkopaneelit%' GROUP BY chat_key").fetchall()
        # the way of a platform event: begun, answered once (logged), finished
        unfinished = conn.execute("SELECT count(*) FROM processedevent WHERE done_at IS NULL").fetchone()[0]
        sent = conn.execute("SELECT count(*) FROM delivery WHERE state = 'sent'").fetchone()[0]
    assert sorted(rows) == [(f"fake:g{c}", 10, 10, 10) for c in range(4)]
    assert unfinished == 0 and sent == 40  # one logged reply per idea
    assert ideas_bench.raw(tmp_path / "kehrabot.sqlite3", 20) > 0
