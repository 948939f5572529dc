"""Start-up and memory of `kehrabot run` on Telegram (the Bot API emulator) beside an echo bot
written with python-telegram-bot alone (bench/echo_telegram.py), in one run:

- spawn → ready: from the process's start to its first getUpdates (the bot on an up-to-date
  store: a first start migrated it);
- RSS at ready (VmRSS of the process when it first polls);
- reply latency one command at a time (median, p99), and 200 commands back to back from one
  person and from 4 people at once: answered, replies/s, median wait for a reply;
- RSS growth over N commands (`/idea …` from many people in many chats).

Both bots have no flood limits here (the bot's own are lifted: the emulator is local).

    python bench/startup_bench.py [--runs 5] [--commands 2000] [--burst 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.telegram.emulator import BotApiEmulator  # noqa: E402

LIFTED = {"KEHRABOT_TELEGRAM__RATE_OVERALL": "100000", "KEHRABOT_TELEGRAM__RATE_GROUP": "100000",
          "KEHRABOT_TELEGRAM__RATE_CHAT_SECONDS": "0", "KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "100000",
          "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "100000"}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bot_command(emu: BotApiEmulator, data_dir: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KEHRABOT_DATA_DIR": str(data_dir),
           "KEHRABOT_TRANSPORTS": '["telegram"]', "KEHRABOT_TELEGRAM__TOKEN": emu.token,
           "KEHRABOT_TELEGRAM__BASE_URL": emu.base_url, "KEHRABOT_TELEGRAM__BASE_FILE_URL": emu.base_file_url,
           "KEHRABOT_TELEGRAM__POLL_TIMEOUT": "10", "KEHRABOT_LOG_LEVEL": "WARNING", **LIFTED}
    env.pop("KEHRABOT_CONFIG", None)
    return [sys.executable, "-m", "bot.cli", "run"], env


def echo_command(emu: BotApiEmulator) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, str(ROOT / "bench" / "echo_telegram.py"), emu.token, emu.base_url], dict(os.environ)


async def start(emu: BotApiEmulator, command: list[str], env: dict[str, str], cwd: Path):
    """Spawn; return the process, seconds to its first getUpdates, its RSS and CPU seconds then."""
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    # this process's first getUpdates (the one of the process before may still be in flight: a
    # newer one ends it with 409, so counting calls would skip ahead)
    call = await emu.wait_call("getUpdates", within=60, where=lambda c: c.at >= began)
    return proc, call.at - began, rss_mib(proc.pid), cpu_seconds(proc.pid)


async def stop(proc) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def _replies_to(emu: BotApiEmulator, chat: dict, since: int) -> list:
    return [c for c in emu.calls_of("sendMessage")[since:] if int(c.params["chat_id"]) == chat["id"]]


async def latency(emu: BotApiEmulator, n: int) -> dict:
    person = emu.user("Viive")
    chat = emu.private(person)
    waits = []
    for k in range(n):
        sent = len(emu.calls_of("sendMessage"))
        at = time.monotonic()
        emu.post(chat, person, f"/idea Viive {k}")
        reply = await emu.wait_call("sendMessage", sent + 1, within=30)
        waits.append((reply.at - at) * 1000)
    return {"p50_ms": statistics.median(waits), "p99_ms": _pct(waits, 99)}


async def burst(emu: BotApiEmulator, n: int, senders: int) -> dict:
    """n commands posted at once, round robin from ``senders`` people (each in their own chat)."""
    people = [emu.user(f"Ryöppy {senders}-{k}") for k in range(senders)]
    chats = [emu.private(p) for p in people]
    since = len(emu.calls_of("sendMessage"))
    posted: list[list[float]] = [[] for _ in chats]
    began = time.monotonic()
    for k in range(n):
        posted[k % senders].append(time.monotonic())
        emu.post(chats[k % senders], people[k % senders], f"/idea Ryöppy {k}")
    try:
        await emu.wait_call("sendMessage", since + n, within=120 + n)
    except TimeoutError:
        pass
    await emu.wait_idle(quiet=0.5, within=30)
    waits, answered = [], 0
    for chat, times in zip(chats, posted, strict=True):
        replies = _replies_to(emu, chat, since)
        answered += len(replies)
        waits += [(r.at - t) * 1000 for r, t in zip(replies, times, strict=False)]
    last = max((c.at for c in emu.calls_of("sendMessage")[since:]), default=began)
    return {"answered": answered, "per_s": answered / max(last - began, 1e-9), "wait_ms": statistics.median(waits)}


async def load(emu: BotApiEmulator, n: int) -> float:
    """n commands from 50 people in 50 chats; seconds until every one is answered."""
    people = [emu.user(f"Asukas {k}") for k in range(50)]
    chats = [emu.private(p) for p in people]
    sent = len(emu.calls_of("sendMessage"))
    began = time.monotonic()
    for k in range(n):
        emu.post(chats[k % 50], people[k % 50], f"/idea Ajatus numero {k} kirjastosta")
        if k % 100 == 99:
            await emu.wait_call("sendMessage", sent + k - 50, within=120)  # keep at most ~150 in flight
    await emu.wait_call("sendMessage", sent + n, within=600)
    return time.monotonic() - began


async def run(runs: int, commands: int, burst_n: int = 200) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("echo", "kehrabot"):
            emu = await BotApiEmulator().start()
            try:
                data_dir = base / name
                data_dir.mkdir()
                command, env = echo_command(emu) if name == "echo" else bot_command(emu, data_dir)
                if name == "kehrabot":  # the first start migrates the new store: not measured
                    proc, *_ = await start(emu, command, env, data_dir)
                    await stop(proc)
                times, rss, cpu = [], [], []
                for _ in range(runs):
                    proc, took, mem, used = await start(emu, command, env, data_dir)
                    times.append(took)
                    rss.append(mem)
                    cpu.append(used)
                    await stop(proc)
                proc, _t, at_ready, _c = await start(emu, command, env, data_dir)
                lat = await latency(emu, 100)
                one = await burst(emu, burst_n, 1)
                four = await burst(emu, burst_n, 4)
                cpu0 = cpu_seconds(proc.pid)
                elapsed = await load(emu, commands)
                out[name] = {"ready_s": statistics.median(times), "ready_min_s": min(times),
                             "ready_cpu_s": statistics.median(cpu),
                             "rss_mib": statistics.median(rss), "rss_after_mib": rss_mib(proc.pid),
                             "rss_growth_mib": rss_mib(proc.pid) - at_ready,
                             "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"],
                             "burst1_answered": one["answered"], "burst1_per_s": one["per_s"],
                             "burst1_wait_ms": one["wait_ms"], "burst4_answered": four["answered"],
                             "burst4_per_s": four["per_s"], "burst4_wait_ms": four["wait_ms"],
                             "commands_per_s": commands / elapsed, "cpu_per_command_ms":
                             (cpu_seconds(proc.pid) - cpu0) / commands * 1000}
                await stop(proc)
            finally:
                await emu.stop()
    return out


def report(figures: dict, commands: int, burst_n: int = 200) -> str:
    rows = [("reply latency one at a time, median", "p50_ms", "{v:.1f} ms", "≤ floor + 10 ms"),
            ("reply latency one at a time, p99", "p99_ms", "{v:.1f} ms", "≤ floor + 10 ms"),
            (f"{burst_n} back to back, 1 sender: answered", "burst1_answered", "{v:.0f}", f"{burst_n}"),
            (f"{burst_n} back to back, 1 sender: replies/s", "burst1_per_s", "{v:.0f}/s", "≥ 0.9 × floor"),
            (f"{burst_n} back to back, 1 sender: median wait", "burst1_wait_ms", "{v:.0f} ms", ""),
            (f"{burst_n} with 4 senders: answered", "burst4_answered", "{v:.0f}", f"{burst_n}"),
            (f"{burst_n} with 4 senders: replies/s", "burst4_per_s", "{v:.0f}/s", "≥ 0.9 × floor"),
            (f"{burst_n} with 4 senders: median wait", "burst4_wait_ms", "{v:.0f} ms", ""),("spawn → ready, median (min)", "ready_s", "{ready:.2f} s ({low:.2f})", "< 0.6 s"),
            ("CPU seconds to ready (load-independent)", "ready_cpu_s", "{v:.2f} s", ""),
            ("RSS at ready", "rss_mib", "{v:.0f} MiB", "< 90 MiB"),
            (f"RSS growth over {commands} commands", "rss_growth_mib", "{v:+.1f} MiB", "< 10 MiB per 10,000"),
            ("commands answered a second", "commands_per_s", "{v:.0f}/s", ""),
            ("CPU per command", "cpu_per_command_ms", "{v:.2f} ms", "")]
    lines = [f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
             f"{'figure':44} {'echo (PTB alone)':>18} {'kehrabot':>18} {'ratio':>7}  target"]
    for label, key, fmt, target in rows:
        cells = []
        for name in ("echo", "kehrabot"):
            f = figures[name]
            cells.append(fmt.format(v=f[key], ready=f["ready_s"], low=f["ready_min_s"]))
        echo, bot = figures["echo"][key], figures["kehrabot"][key]
        ratio = f"{bot / echo:.2f}" if echo else "—"
        lines.append(f"{label:44} {cells[0]:>18} {cells[1]:>18} {ratio:>7}  {target}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commands", type=int, default=2000)
    ap.add_argument("--burst", type=int, default=200)
    args = ap.parse_args(argv)
    subprocess.run([sys.executable, "-m", "bot.i18n_tool", "compile"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # as ./run does: catalogs compiled
    figures = asyncio.run(run(args.runs, args.commands, args.burst))
    print(report(figures, args.commands, args.burst))
    return figures


if __name__ == "__main__":
    main()
