"""Digest benchmark: weekly digests for many chats, and a year's export for many areas.

    python -m bench.digest_bench                      # 1,000 chats x 100 events; 100 areas x 52 weeks
    python -m bench.digest_bench --chats 20 --events 10 --areas 3 --weeks 4   # smoke run

Prints wall time, per-chat cost, memory (max-RSS growth; tracemalloc peak for exports, measured in a
separate run because tracing slows Python down) and ratios.
Runs on a temporary SQLite file (or --database-url) with a ManualClock; nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.testing import TestBot
from core.clock import ManualClock
from handlers import digest as feature
from storage import digest as store
from storage.core import Chat
from storage.ideas import Idea, IdeaEvent, IdeaSupport, IdeaTag

WEEK = "2026-W48"
TAGS = ("food", "energy", "spaces", "accessibility", "seniors", "safety", "renovation")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed_chats(bot: TestBot, chats: int, events: int, rng: random.Random) -> None:
    """Per chat and week: ~20% new ideas, ~60% supports, ~10% status changes, ~10% other messages;
    every event also counts as a message by one of 15 people."""
    start, _end = store.week_bounds(WEEK)
    created = start
    async with bot.services.db.transaction() as session:
        for c in range(chats):
            key = f"fake:chat{c}"
            session.add(Chat(key=key, platform="fake", title=f"Chat {c}", area=f"Area {c % 100}",
                             created_at=created))
        await session.commit()
        next_id = 1
        for c in range(chats):
            key = f"fake:chat{c}"
            n_new = max(1, events // 5)
            n_status = max(0, events // 10)
            n_support = max(0, events - n_new - n_status - events // 10)
            ideas = []
            for n in range(n_new):
                at = start + timedelta(minutes=rng.randrange(7 * 24 * 60))
                tags = rng.sample(TAGS, 2)
                idea = Idea(id=next_id, chat_key=key, number=n + 1, text=f"Idea {n} for chat {c}: " + "x" * 60,
                            tags=" ".join(tags), author_key=f"fake:u{n % 15}", author_name=f"Person {n % 15}",
                            created_at=at, updated_at=at, support_count=0)
                next_id += 1
                ideas.append(idea)
                session.add(idea)
                session.add_all([IdeaTag(idea_id=idea.id, tag=t) for t in tags])
                session.add(IdeaEvent(idea_id=idea.id, at=at, actor_key=idea.author_key, action="created",
                                      to_status="new"))
            supporters: set[tuple[int, int]] = set()
            for _s in range(n_support):
                idea, person = rng.choice(ideas), rng.randrange(40)
                if (idea.id, person) in supporters:
                    continue
                supporters.add((idea.id, person))
                idea.support_count += 1
                session.add(IdeaSupport(idea_id=idea.id, person_key=f"fake:p{person}",
                                        created_at=idea.created_at + timedelta(minutes=5)))
            for _s in range(n_status):
                idea = rng.choice(ideas)
                session.add(IdeaEvent(idea_id=idea.id, at=idea.created_at + timedelta(minutes=10),
                                      actor_key="fake:admin", action="status", from_status="new",
                                      to_status="discussed"))
            counts = {(key, WEEK): events}
            people = {(key, WEEK): {f"{c:04d}{p:012d}" for p in range(15)}}
            await store.add_activity(session, counts, people)
        await session.commit()


async def bench_digests(chats: int, events: int, database_url: str | None) -> dict:
    rng = random.Random(48)
    with tempfile.TemporaryDirectory() as tmp:
        bot = await TestBot(Path(tmp), clock=ManualClock(datetime(2026, 11, 30, 6, 0, tzinfo=UTC)),
                            database_url=database_url).open()
        try:
            t0 = time.perf_counter()
            await seed_chats(bot, chats, events, rng)
            seed_s = time.perf_counter() - t0
            bot.clock.set(feature.slot(WEEK, 0, "09:00"))
            rss_before = _rss_mb()
            t0 = time.perf_counter()
            made = await feature.sweep(bot.services, budget=None)
            total_s = time.perf_counter() - t0
            peak = (_rss_mb() - rss_before) * 2**20  # growth of max RSS (tracemalloc would slow it down)
            posted = sum(1 for s in bot.transport.sent if s.kind == "message")
            lengths = [len(s.plain) for s in bot.transport.sent if s.kind == "message"]
            # the second sweep must find nothing to do (exactly once) and is the steady-state cost
            t0 = time.perf_counter()
            again = await feature.sweep(bot.services, budget=None)
            idle_s = time.perf_counter() - t0
        finally:
            await bot.close()
    return {"chats": chats, "events_per_chat": events, "seed_s": seed_s, "digests": made, "posted": posted,
            "total_s": total_s, "ms_per_chat": total_s * 1000 / max(1, chats), "peak_mb": peak / 2**20,
            "max_chars": max(lengths, default=0), "idle_sweep_s": idle_s, "second_sweep_made": again}


async def seed_year(bot: TestBot, areas: int, weeks: int) -> int:
    last = store.week_of(bot.clock.now())
    first = store.shift_week(last, -(weeks - 1))
    n = 0
    async with bot.services.db.transaction() as session:
        for week in store.weeks_between(first, last):
            start, end = store.week_bounds(week)
            for a in range(areas):
                for platform in ("telegram", "matrix"):
                    key = f"{platform}:area{a}"
                    sections = {
                        "ideas": {"counts": {"new": 3, "status_changes": 1, "supports": 7},
                                  "new": [{"number": i, "text": f"=Idea {i} of area {a}", "tags": ["food"]}
                                          for i in range(3)],
                                  "status_changes": [{"number": 1, "text": "Idea 1", "from": "new", "to": "discussed"}],
                                  "top": [{"number": 1, "text": "Idea 1", "supports": 7, "status": "discussed"}]},
                        "activity": {"counts": {"messages": 40, "people": 9}},
                    }
                    session.add(store.Digest(
                        chat_key=key, platform=platform, title=f"Kehrä {a}", area=f"Area {a:03d}", week=week,
                        start=start, end=end, language="fi", created_at=end,
                        content=json.dumps({"schema_version": 1, "week": week, "sections": sections}),
                        text="📰 Viikkokooste\n💡 Ideat 3 uutta\n📊 Aktiivisuus: 40 viestiä", posted_at=end))
                    n += 1
            await session.commit()
        await store.set_publication(session, "Area 000", ["ideas"], "bench", bot.clock.now())
    return n


async def bench_export(areas: int, weeks: int, database_url: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        bot = await TestBot(Path(tmp), clock=ManualClock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
                            database_url=database_url).open()
        try:
            records = await seed_year(bot, areas, weeks)
            last = store.week_of(bot.clock.now())
            first = store.shift_week(last, -(weeks - 1))
            out = {"areas": areas, "weeks": weeks, "records": records}
            for fmt in ("json", "csv", "md"):
                t0 = time.perf_counter()
                data = await feature.render_export(bot.services, "digests", fmt, first=first, last=last)
                out[f"{fmt}_s"] = time.perf_counter() - t0
                out[f"{fmt}_mb"] = len(data) / 2**20
                del data
                tracemalloc.start()  # a second run for memory: tracing slows Python down several times
                await feature.render_export(bot.services, "digests", fmt, first=first, last=last)
                out[f"{fmt}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            t0 = time.perf_counter()
            await feature.render_export(bot.services, "digests", "json", first=first, last=last, public=True)
            out["public_json_s"] = time.perf_counter() - t0
        finally:
            await bot.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chats", type=int, default=1000)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--areas", type=int, default=100)
    p.add_argument("--weeks", type=int, default=52)
    p.add_argument("--database-url", default=None)
    args = p.parse_args(argv)
    d = asyncio.run(bench_digests(args.chats, args.events, args.database_url))
    print(f"digests: {d['chats']} chats x {d['events_per_chat']} events/week (seeded in {d['seed_s']:.1f} s)")
    print(f"  produced {d['digests']} records, posted {d['posted']} in {d['total_s']:.2f} s "
          f"= {d['ms_per_chat']:.2f} ms/chat; max RSS growth {d['peak_mb']:.1f} MB; longest digest {d['max_chars']} chars")
    print(f"  second sweep: {d['second_sweep_made']} new records in {d['idle_sweep_s']:.3f} s "
          f"(ratio to first: {d['idle_sweep_s'] / max(d['total_s'], 1e-9):.3f})")
    e = asyncio.run(bench_export(args.areas, args.weeks, args.database_url))
    print(f"export: {e['areas']} areas x {e['weeks']} weeks x 2 chats = {e['records']} records")
    for fmt in ("json", "csv", "md"):
        print(f"  {fmt:4} {e[f'{fmt}_s']:.2f} s, {e[f'{fmt}_mb']:.1f} MB out, Python peak {e[f'{fmt}_peak_mb']:.0f} MB, "
              f"{e['records'] / max(e[f'{fmt}_s'], 1e-9):,.0f} records/s")
    print(f"  public json {e['public_json_s']:.2f} s (ratio to full json: {e['public_json_s'] / max(e['json_s'], 1e-9):.2f})")
    print(f"max RSS of the process: {_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
