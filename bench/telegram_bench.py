"""Reply latency and throughput of the Telegram transport against the Bot API emulator.

Runs the real App (SQLite in a temporary directory) with the real python-telegram-bot code
long-polling the emulator, and measures, for N ``/idea`` commands, the time from the moment
the emulator makes a person's message available to the moment the bot's reply arrives:

1. sequential: one command at a time (latency p50/p99);
2. burst: N commands in N private chats at once, with Telegram's limits held (30/s overall);
3. burst with the limits lifted (the transport's and store's own speed).

    python bench/telegram_bench.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.config import Settings, TelegramSettings  # noqa: E402
from bot.telegram import TelegramTransport  # noqa: E402
from tests.telegram.emulator import BotApiEmulator  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


async def _bot(emu: BotApiEmulator, data_dir: Path, **limits) -> tuple[App, TelegramTransport, asyncio.Task]:
    tg = TelegramSettings(token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                          poll_timeout=10, **limits)
    settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": data_dir,
                                           "telegram": tg})
    app = App(settings)
    transport = TelegramTransport(tg, app.services)
    app.add_transport(transport)
    await app.open()
    task = asyncio.create_task(transport.start(app.dispatch))
    await emu.wait_call("getUpdates")
    return app, transport, task


async def _stop(app: App, transport: TelegramTransport, task: asyncio.Task) -> None:
    await transport.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app.db.close()


async def scenario(n: int, *, burst: bool, limits: bool) -> dict:
    emu = await BotApiEmulator().start()
    extra = {} if limits else {"rate_overall": 1_000_000, "rate_group": 1_000_000}
    with tempfile.TemporaryDirectory() as tmp:
        app, transport, task = await _bot(emu, Path(tmp), **extra)
        try:
            await emu.wait_idle(quiet=0.2)
            posted: dict[int, float] = {}
            started = time.monotonic()
            if burst:
                for k in range(n):
                    user = emu.user(f"U{k}", lang="en")
                    chat = emu.private(user)
                    posted[chat["id"]] = time.monotonic()
                    emu.post(chat, user, f"/idea Bench idea number {k}")
                await emu.wait_call("sendMessage", n, within=60 + n)
            else:
                for k in range(n):
                    user = emu.user(f"U{k}", lang="en")
                    chat = emu.private(user)
                    posted[chat["id"]] = time.monotonic()
                    emu.post(chat, user, f"/idea Bench idea number {k}")
                    await emu.wait_call("sendMessage", k + 1, within=30)
            replies = emu.calls_of("sendMessage")
            elapsed = max(c.at for c in replies) - started
            latencies = [(c.at - posted[int(c.params["chat_id"])]) * 1000 for c in replies]
            ok = all(c.params["text"].startswith("💡") for c in replies)
        finally:
            await _stop(app, transport, task)
            await emu.stop()
    return {"n": len(replies), "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99),
            "mean_ms": statistics.fmean(latencies), "replies_per_s": len(replies) / elapsed, "ok": ok}


async def run(n: int = 200) -> dict[str, dict]:
    return {
        "sequential": await scenario(n, burst=False, limits=True),
        "burst, Telegram limits": await scenario(n, burst=True, limits=True),
        "burst, limits lifted": await scenario(n, burst=True, limits=False),
    }


def report(results: dict[str, dict]) -> str:
    lines = [f"{'scenario':<24} {'replies':>7} {'p50 ms':>8} {'p99 ms':>8} {'replies/s':>10}"]
    for name, r in results.items():
        lines.append(f"{name:<24} {r['n']:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['replies_per_s']:>10.1f}")
    seq, held, free = (results[k] for k in ("sequential", "burst, Telegram limits", "burst, limits lifted"))
    lines.append(f"burst throughput / sequential throughput (limits lifted): "
                 f"{free['replies_per_s'] / seq['replies_per_s']:.2f}x")
    lines.append(f"burst throughput with Telegram's 30/s held / lifted: "
                 f"{held['replies_per_s'] / free['replies_per_s']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="commands per scenario (default 200)")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.n))
    print(report(results))
    return 0 if all(r["ok"] and r["n"] == args.n for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
