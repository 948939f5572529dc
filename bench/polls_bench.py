"""1,000 polls closing in the same minute across 1,000 chats, through a transport that enforces
Telegram's 30 messages/s overall (sends, edits and native-poll closes all count; the edit that
removes a closed poll's buttons comes two minutes after the result, so it is outside the run).

The clock is the real clock scaled (``--scale 10`` = ten simulated seconds per real second; the
rate limit is applied in simulated time, the database work is not sped up, so large scales make the
store look slower than it is). Prints: results posted, duplicates, lateness (result posted minus
closing time) median/p95/p99/max in simulated seconds, and the ratio of achieved throughput to
the 30/s limit. Run: ``python -m bench.polls_bench [--polls 1000] [--scale 1] [--native]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.testing import FakeTransport, TestBot
from core.events import PollOutcome, Reply

BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OPEN_FOR = timedelta(hours=2)


class BenchClock:
    """Frozen at a set time during setup; then runs at ``scale`` × real time."""

    def __init__(self, start: datetime, scale: float) -> None:
        self._frozen: datetime | None = start
        self._base = start
        self._t0 = 0.0
        self.scale = scale

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return self._base + timedelta(seconds=(time.perf_counter() - self._t0) * self.scale)

    def set(self, when: datetime) -> None:
        self._frozen = when

    def run_from(self, when: datetime) -> None:
        self._base, self._t0, self._frozen = when, time.perf_counter(), None


@dataclass
class RateLimitedTransport(FakeTransport):
    """Every call waits for a slot: at most ``per_second`` calls per simulated second overall."""

    clock: BenchClock | None = None
    per_second: float = 30.0
    limited: bool = False
    results: list[tuple[str, datetime]] = field(default_factory=list)
    calls: int = 0  # calls made while limited
    _next_free: datetime | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _slot(self) -> None:
        if not self.limited:
            return
        self.calls += 1
        async with self._lock:
            now = self.clock.now()
            start = max(now, self._next_free or now)
            self._next_free = start + timedelta(seconds=1 / self.per_second)
            wait = (start - now).total_seconds() / self.clock.scale
        if wait > 0:
            await asyncio.sleep(wait)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        await self._slot()
        message_id = await super().send(chat_id, reply)
        if self.limited:
            self.results.append((chat_id, self.clock.now()))
        return message_id

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        await self._slot()
        await super().edit(chat_id, message_id, reply)

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        await self._slot()
        await super().close_poll(chat_id, poll_ref, outcome)


async def run(polls: int = 1000, scale: float = 1.0, native: bool = False, data_dir: Path | None = None,
              database_url: str | None = None, limit: float = 30.0, quiet: bool = False,
              spread_seconds: float = 60.0) -> dict:
    clock = BenchClock(BASE, scale)
    transport = RateLimitedTransport(clock=clock, per_second=limit, native_polls=native)
    with tempfile.TemporaryDirectory() as tmp:
        bot = await TestBot(data_dir or Path(tmp), clock=clock, transport=transport,
                            database_url=database_url).open()
        started = time.perf_counter()
        spread = spread_seconds / polls  # all close within one minute by default
        close_at: dict[str, datetime] = {}
        for n in range(polls):
            at = BASE + timedelta(seconds=n * spread)
            clock.set(at)
            chat = f"c{n}"
            await bot.say("/poll Which evening suits? | Tue | Wed | Thu | closes in 2 hours", chat=chat,
                          user=f"creator{n}", lang="en")
            for voter, choice in ((1, 0), (2, 1), (3, 0)):
                ref = f"polls:vote:{n + 1}:{choice}"
                if native:
                    poll_msg = next(s for s in reversed(transport.sent) if s.kind == "poll" and s.chat_id == chat)
                    await bot.vote(poll_msg.message_id, choice, user=f"v{voter}", chat=chat)
                else:
                    await bot.press(ref, user=f"v{voter}", chat=chat)
            close_at[chat] = at + OPEN_FOR
        clock.set(BASE + timedelta(minutes=5))  # the live-count edits of the voting are long done
        await bot.app.jobs.run_due()
        setup = time.perf_counter() - started
        transport.limited = True
        clock.run_from(BASE + OPEN_FOR - timedelta(seconds=1))
        started = time.perf_counter()
        deadline = started + 3600
        while len(transport.results) < polls and time.perf_counter() < deadline:
            await bot.app.jobs.run_due()
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await bot.close()
    per_chat = Counter(chat for chat, _at in transport.results)
    lateness = sorted((at - close_at[chat]).total_seconds() for chat, at in transport.results)
    calls = transport.calls  # results, native closes (button-message edits come minutes later)
    sim_seconds = elapsed * scale
    first_close = min(close_at.values())
    last_post = max((at for _chat, at in transport.results), default=first_close)
    busy = (last_post - first_close).total_seconds()  # from the first closing time to the last result
    figures = {
        "polls": polls,
        "posted": len(per_chat),
        "duplicates": sum(c - 1 for c in per_chat.values()),
        "setup_s": setup,
        "run_real_s": elapsed,
        "run_sim_s": sim_seconds,
        "lateness_p50_s": statistics.median(lateness) if lateness else None,
        "lateness_p95_s": lateness[int(0.95 * (len(lateness) - 1))] if lateness else None,
        "lateness_p99_s": lateness[int(0.99 * (len(lateness) - 1))] if lateness else None,
        "lateness_max_s": lateness[-1] if lateness else None,
        "calls": calls,
        "busy_s": busy,
        "throughput_per_s": calls / busy if busy else None,
        "ratio_to_limit": calls / busy / limit if busy else None,
        "floor_s": calls / limit,  # the least time the limit allows for all calls
    }
    if not quiet:
        mode = "native polls" if native else "button polls"
        print(f"{polls} {mode} closing within one minute, limit {limit:g} calls/s, clock scale {scale:g}")
        print(f"  setup (create + 3 votes each): {setup:.1f} s real")
        print(f"  results posted: {figures['posted']}/{polls}, duplicates: {figures['duplicates']}")
        print(f"  closing run: {elapsed:.1f} s real = {sim_seconds:.1f} s simulated "
              f"(floor set by the limit: {figures['floor_s']:.1f} s for {calls} calls)")
        print("  lateness (s): p50 {lateness_p50_s:.1f}  p95 {lateness_p95_s:.1f}  p99 {lateness_p99_s:.1f}  "
              "max {lateness_max_s:.1f}".format(**figures))
        print(f"  first closing time to last result: {busy:.1f} s simulated; throughput "
              f"{figures['throughput_per_s']:.1f} calls/s = {figures['ratio_to_limit']:.2f} × the limit")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--limit", type=float, default=30.0)
    parser.add_argument("--native", action="store_true")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(run(args.polls, args.scale, args.native, database_url=args.database_url, limit=args.limit))


if __name__ == "__main__":
    main()
