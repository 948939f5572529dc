"""Start-up and memory of `kehrabot run` on Telegram (the Bot API emulator) beside an echo bot
written with python-telegram-bot alone (bench/echo_telegram.py), in one run:

- spawn → ready: from the process's start to its first getUpdates (the bot on an up-to-date
  store: a first start migrated it);
- RSS at ready (VmRSS of the process when it first polls);
- RSS growth over N commands (`/idea …` from many people in many chats, the bot's flood limits
  raised: the emulator is local).

    python bench/startup_bench.py [--runs 5] [--commands 2000]
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
    polls = len(emu.calls_of("getUpdates"))
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    call = await emu.wait_call("getUpdates", polls + 1, within=60)
    return proc, call.at - began, rss_mib(proc.pid), cpu_seconds(proc.pid)


async def stop(proc) -> None:
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 30)


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


async def run(runs: int, commands: int) -> dict:
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
                cpu0 = cpu_seconds(proc.pid)
                elapsed = await load(emu, commands)
                out[name] = {"ready_s": statistics.median(times), "ready_min_s": min(times),
                             "ready_cpu_s": statistics.median(cpu),
                             "rss_mib": statistics.median(rss), "rss_after_mib": rss_mib(proc.pid),
                             "rss_growth_mib": rss_mib(proc.pid) - at_ready,
                             "commands_per_s": commands / elapsed, "cpu_per_command_ms":
                             (cpu_seconds(proc.pid) - cpu0) / commands * 1000}
                await stop(proc)
            finally:
                await emu.stop()
    return out


def report(figures: dict, commands: int) -> str:
    rows = [("spawn → ready, median (min)", "ready_s", "{ready:.2f} s ({low:.2f})", "< 0.6 s"),
            ("CPU seconds to ready (load-independent)", "ready_cpu_s", "{v:.2f} s", ""),
            ("RSS at ready", "rss_mib", "{v:.0f} MiB", "< 90 MiB"),
            (f"RSS growth over {commands} commands", "rss_growth_mib", "{v:+.1f} MiB", "< 10 MiB per 10,000"),
            ("commands answered a second", "commands_per_s", "{v:.0f}/s", ""),
            ("CPU per command", "cpu_per_command_ms", "{v:.2f} ms", "")]
    lines = [f"{'figure':40} {'echo (PTB alone)':>18} {'kehrabot':>18} {'ratio':>7}  target"]
    for label, key, fmt, target in rows:
        cells = []
        for name in ("echo", "kehrabot"):
            f = figures[name]
            cells.append(fmt.format(v=f[key], ready=f["ready_s"], low=f["ready_min_s"]))
        echo, bot = figures["echo"][key], figures["kehrabot"][key]
        ratio = f"{bot / echo:.2f}" if echo else "—"
        lines.append(f"{label:40} {cells[0]:>18} {cells[1]:>18} {ratio:>7}  {target}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commands", type=int, default=2000)
    args = ap.parse_args(argv)
    subprocess.run([sys.executable, "-m", "bot.i18n_tool", "compile"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)  # as ./run does: catalogs compiled
    figures = asyncio.run(run(args.runs, args.commands))
    print(report(figures, args.commands))
    return figures


if __name__ == "__main__":
    main()
