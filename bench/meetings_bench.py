"""Meeting reminders at scale, on SQLite (the default store):

1. 10,000 pending reminder rows (5,000 meetings x 2 offsets, plus their roll jobs): how long the
   start-up rebuild takes (read the pending rows, register APScheduler wake-ups) and how much memory;
2. 1,000 reminders falling due in the same minute: lateness of each send after its due time
   (p50/p99/max), with the real JobRunner claiming every row before sending.

    .venv/bin/python bench/meetings_bench.py [MEETINGS] [SAME_MINUTE]

Targets (issue #7): rebuild well under a few seconds for 10,000 reminders; p99 lateness under a
minute for 1,000 reminders due together.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing import FakeTransport, TestBot  # noqa: E402
from core.clock import ManualClock  # noqa: E402
from handlers.meetings import schedule_next, to_local  # noqa: E402
from handlers.when import HELSINKI  # noqa: E402
from storage import meetings as store  # noqa: E402
from storage.core import pending_jobs  # noqa: E402

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class TimedTransport(FakeTransport):
    """Records when each message was sent (perf_counter)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def send(self, chat_id, reply):
        self.times.append(time.perf_counter())
        return await super().send(chat_id, reply)


async def seed(bot: TestBot, meetings: int, starts) -> None:
    """Insert meetings and schedule their reminders with the feature's own code, in batches."""
    now = bot.clock.now()
    batch = 500
    for first in range(0, meetings, batch):
        async with bot.services.db.transaction() as session:
            rows = []
            for i in range(first, min(meetings, first + batch)):
                start = starts(i)
                m = store.Meeting(uid=f"bench-{i}@kehrabot", chat_key=f"fake:chat{i % 200}", number=i + 1,
                                  title=f"Meeting {i}", place="Maunula-talo", dtstart_local=to_local(start),
                                  rrule="FREQ=WEEKLY" if i % 2 else "", first_start=start, created_by="fake:u",
                                  created_at=now)
                session.add(m)
                rows.append(m)
            await session.commit()
            for m in rows:
                await schedule_next(session, m, now, fresh=True)
            await session.commit()


async def rebuild(data_dir: Path, meetings: int) -> dict:
    seeder = await TestBot(data_dir, clock=ManualClock(START)).open()
    t0 = time.perf_counter()
    await seed(seeder, meetings, lambda i: (START + timedelta(days=2, minutes=i)).astimezone(HELSINKI))
    seed_s = time.perf_counter() - t0
    await seeder.close()

    # A restart: a new App on the same store, the scheduler rebuilt from the rows (timed without
    # tracemalloc, which slows Python down several times).
    t0 = time.perf_counter()
    bot = await TestBot(data_dir, clock=ManualClock(START)).open()
    opened = time.perf_counter()
    await bot.app.jobs.start()
    started = time.perf_counter()
    async with bot.services.db.session() as session:
        pending = await pending_jobs(session)
    read_s = time.perf_counter() - started
    reminders = sum(1 for j in pending if j.kind == "meetings.remind")
    await bot.app.jobs.stop()
    await bot.close()
    # Memory of the same restart, measured separately.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    bot = await TestBot(data_dir, clock=ManualClock(START)).open()
    await bot.app.jobs.start()
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await bot.app.jobs.stop()
    await bot.close()
    return {
        "seed_s": seed_s, "open_s": opened - t0, "rebuild_s": started - opened, "read_s": read_s, "pending": len(pending),
        "reminders": reminders, "peak_mb": peak / 2**20,
        "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
    }


async def same_minute(data_dir: Path, n: int) -> dict:
    transport = TimedTransport()
    bot = await TestBot(data_dir, clock=ManualClock(START), transport=transport).open()
    meeting_at = (START + timedelta(hours=3)).astimezone(HELSINKI)
    # every meeting in one minute: their 1-hour reminders fall due in the same minute
    await seed(bot, n, lambda i: meeting_at + timedelta(seconds=i % 60))
    due = meeting_at - timedelta(hours=1)
    bot.clock.set((due + timedelta(seconds=59)).astimezone(UTC))
    t0 = time.perf_counter()
    ran = await bot.run_due()
    total = time.perf_counter() - t0
    await bot.close()
    late = sorted(t - t0 for t in transport.times)
    q = statistics.quantiles(late, n=100, method="inclusive") if len(late) > 1 else late * 99
    return {"ran": ran, "sent": len(late), "p50_s": q[49], "p99_s": q[98], "max_s": late[-1], "total_s": total}


def main() -> None:
    meetings = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    n_same = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        r = asyncio.run(rebuild(Path(a), meetings))
        s = asyncio.run(same_minute(Path(b), n_same))
    print(f"pending reminders: {r['reminders']} (jobs in all: {r['pending']}); seeding took {r['seed_s']:.1f} s")
    print(f"start-up: migrations+open {r['open_s'] * 1000:.0f} ms, scheduler rebuild {r['rebuild_s'] * 1000:.0f} ms "
          f"= {r['rebuild_s'] / max(1, r['pending']) * 1e6:.1f} µs per pending job (the scheduler counts the "
          f"pending rows and registers one wake-up, for the next due job); reading every row for comparison: "
          f"{r['read_s'] * 1000:.0f} ms")
    print(f"memory during restart: Python peak {r['peak_mb']:.1f} MiB, RSS growth {r['rss_growth_mb']:.1f} MiB "
          f"= {r['peak_mb'] * 1024 / max(1, r['pending']):.2f} KiB per pending job")
    print(f"{s['sent']} reminders due in the same minute: sent {s['sent']}/{n_same} (jobs run {s['ran']}) in "
          f"{s['total_s']:.2f} s = {s['sent'] / s['total_s']:.0f} reminders/s")
    print(f"lateness after the due time: p50 {s['p50_s'] * 1000:.0f} ms, p99 {s['p99_s'] * 1000:.0f} ms, "
          f"max {s['max_s'] * 1000:.0f} ms; p99 is {s['p99_s'] / 60 * 100:.2f} % of a minute")


if __name__ == "__main__":
    main()
