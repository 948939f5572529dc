"""Matrix transport benchmark on a real local Synapse (started here, removed after).

Reply latency: N commands one after another (send → the bot's reply seen by the sender's sync),
p50/p99. Throughput: M commands sent at once by several people; replies/s until all are in,
and a check that none is lost or answered twice.

    python -m bench.matrix_bench [--sequential 100] [--burst 200] [--senders 4]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also runnable as a plain script

from bot.config import LimitSettings
from tests.matrix.conftest import BotRunner, MatrixUser, body
from tests.matrix.synapse import Synapse

_NUMBER = re.compile(r"#(\d+)")


async def _room(bot: BotRunner, people: list[MatrixUser]) -> str:
    owner = people[0]
    room = await owner.create_room(invite=[bot.user_id] + [p.user_id for p in people[1:]])
    await owner.wait_joined(room, bot.user_id)
    for p in people[1:]:
        await p.join(room)
    return room


async def latency(bot: BotRunner, user: MatrixUser, room: str, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        await user.say(room, f"!idea viive {i}")
        await user.expect(room, bot.user_id, within=30)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def burst(bot: BotRunner, people: list[MatrixUser], room: str, n: int) -> tuple[float, list[str]]:
    watcher = people[0]
    await watcher.quiet(room, bot.user_id, 0.2)
    started = time.perf_counter()
    await asyncio.gather(*(people[i % len(people)].say(room, f"!idea ryöppy {i}") for i in range(n)))
    replies = await watcher.expect(room, bot.user_id, n, within=300)
    elapsed = time.perf_counter() - started
    extra = await watcher.quiet(room, bot.user_id, 2.0)
    return elapsed, [body(r) for r in replies + extra]


async def baseline(people: list[MatrixUser], n: int) -> list[float]:
    """Send -> seen between two plain clients (no bot): what the homeserver itself costs."""
    a, b = people[0], people[1]
    room = await a.create_room(invite=[b.user_id])
    await b.join(room)
    times = []
    for i in range(n):
        started = time.perf_counter()
        await b.say(room, f"hei {i}")
        await a.expect(room, b.user_id, within=30)
        times.append((time.perf_counter() - started) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(sequential: int, burst_n: int, senders: int, base: Path, server: Synapse | None = None) -> dict:
    own = server is None
    if server is None:
        server = Synapse(base / "synapse")
        server.start()
    try:
        # a benchmark's hundreds of commands from one person are no flood: the rate limit is lifted
        lifted = LimitSettings(per_person_per_minute=1_000_000, per_chat_per_minute=1_000_000)
        bot = await BotRunner(server, base / "bot", limits=lifted).start()
        people = [await MatrixUser(server, f"p{i}", base).login() for i in range(senders)]
        try:
            base_lat = await baseline(people, min(sequential, 50)) if len(people) > 1 else [1.0]
            room = await _room(bot, people)
            lat = await latency(bot, people[0], room, sequential)
            elapsed, texts = await burst(bot, people, room, burst_n)
        finally:
            for p in people:
                await p.close()
            await bot.stop()
    finally:
        if own:
            server.remove()
    numbers = [int(m.group(1)) for t in texts if (m := _NUMBER.search(t))]
    expected = list(range(sequential + 1, sequential + burst_n + 1))
    return {
        "baseline_p50_ms": statistics.median(base_lat), "p50_ms": statistics.median(lat), "p99_ms": pct(lat, 0.99), "mean_ms": statistics.fmean(lat),
        "burst_seconds": elapsed, "replies_per_s": burst_n / elapsed,
        "lost": len(set(expected) - set(numbers)), "duplicates": len(numbers) - len(set(numbers)),
        "sequential_per_s": 1000 / statistics.fmean(lat),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--senders", type=int, default=4)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args.sequential, args.burst, args.senders, Path(tmp)))
    print(f"reply latency over {args.sequential} sequential commands: p50 {r['p50_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, mean {r['mean_ms']:.1f} ms")
    print(f"baseline (plain client to client, no bot): p50 {r['baseline_p50_ms']:.1f} ms; "
          f"the bot's command round trip is {r['p50_ms'] / r['baseline_p50_ms']:.1f}x that "
          "(two hops: command to bot, reply to sender)")
    print(f"burst: {args.burst} commands at once from {args.senders} senders answered in "
          f"{r['burst_seconds']:.2f} s = {r['replies_per_s']:.1f} replies/s; lost {r['lost']}, duplicated {r['duplicates']}")
    print(f"ratio burst / sequential throughput: {r['replies_per_s'] / r['sequential_per_s']:.2f}x")
    return r


if __name__ == "__main__":
    main()
