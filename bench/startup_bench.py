"""Start-up and memory of `kehrabot run` on Telegram (the Bot API emulator) beside an echo bot
written with python-telegram-bot alone (bench/echo_telegram.py), in one run:

- spawn → ready: from the process's start to its first getUpdates (the bot on an up-to-date
  store: a first start migrated it);
- RSS at ready (VmRSS of the process when it first polls);
- reply latency one command at a time (median, p99), and 200 commands back to back from one
  person and from 4 people at once: answered, replies/s, median wait for a reply;
- RSS growth over N commands (`/idea …` from 50 people in 50 chats): RSS at ready, before the
  load, after its first 1,000 and after all N (``--commands 10000`` for the issue's target).

Both bots have no flood limits here (the bot's own are lifted: the emulator is local).

    python bench/startup_bench.py [--runs 5] [--commands 2000] [--burst 200] [--only kehrabot]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.botproc import prepare_as_run_does  # noqa: E402
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


# in the bot process with --tracemalloc: tracing from the start, a snapshot written at each SIGUSR1
_CHILD_TRACE = """
import os, runpy, signal, sys, tracemalloc
out, n = sys.argv[1], [0]
tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "6")))
def snap(*_):
    n[0] += 1
    tracemalloc.take_snapshot().dump(f"{out}.{n[0]}.tmp")
    os.replace(f"{out}.{n[0]}.tmp", f"{out}.{n[0]}")
signal.signal(signal.SIGUSR1, snap)
sys.argv = ["bot.cli", "run"]
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""


class Tracer:
    """The traced bot's snapshots (``_CHILD_TRACE``), taken by label, and their growth."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid, self.out, self.taken = pid, out, {}

    async def take(self, label: str) -> None:
        import tracemalloc

        os.kill(self.pid, signal.SIGUSR1)
        path = Path(f"{self.out}.{len(self.taken) + 1}")
        for _ in range(600):
            if await asyncio.to_thread(path.exists):
                self.taken[label] = tracemalloc.Snapshot.load(str(path))
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no snapshot {path}")

    def growth(self, first: str, last: str, top: int = 12) -> str:
        a, b = self.taken[first], self.taken[last]
        lines = [f"traced allocations: {sum(t.size for t in a.traces) / 2**20:.1f} MiB at {first}, "
                 f"{sum(t.size for t in b.traces) / 2**20:.1f} MiB at {last}; the largest growth:"]
        for stat in b.compare_to(a, "traceback")[:top]:
            lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
            lines += ["     " + line for line in stat.traceback.format()[-6:]]
        return "\n".join(lines)


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


async def load(emu: BotApiEmulator, n: int, pid: int, marks: tuple[int, ...] = (),
               tracer: Tracer | None = None) -> tuple[float, dict[int, float]]:
    """n commands from 50 people in 50 chats; seconds until every one is answered, and the RSS
    once the first ``marks`` commands were answered (the pauses to read it are not timed; with
    --tracemalloc a snapshot is taken there too)."""
    people = [emu.user(f"Asukas {k}") for k in range(50)]
    chats = [emu.private(p) for p in people]
    sent = len(emu.calls_of("sendMessage"))
    rss: dict[int, float] = {}
    paused = 0.0
    began = time.monotonic()
    for k in range(n):
        emu.post(chats[k % 50], people[k % 50], f"/idea Ajatus numero {k} kirjastosta")
        if k + 1 in marks:
            at = time.monotonic()
            await emu.wait_call("sendMessage", sent + k + 1, within=600)
            rss[k + 1] = rss_mib(pid)
            if tracer is not None:
                await tracer.take(f"{k + 1} commands")
            paused += time.monotonic() - at
        elif k % 100 == 99:
            await emu.wait_call("sendMessage", sent + k - 50, within=120)  # keep at most ~150 in flight
    await emu.wait_call("sendMessage", sent + n, within=600)
    rss[n] = rss_mib(pid)
    took = time.monotonic() - began - paused
    if tracer is not None:
        await emu.wait_idle(quiet=0.5, within=30)
        await tracer.take(f"{n} commands")
    return took, rss


async def run(runs: int, commands: int, burst_n: int = 200, only: str | None = None,
              trace: bool = False) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("echo", "kehrabot") if only is None else (only,):
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
                traced = trace and name == "kehrabot"
                if traced:
                    command = [sys.executable, "-c", _CHILD_TRACE, str(base / "trace")]
                proc, _t, at_ready, _c = await start(emu, command, env, data_dir)
                tracer = Tracer(proc.pid, base / "trace") if traced else None
                if tracer is not None:
                    await tracer.take("ready")
                lat = await latency(emu, 100)
                one = await burst(emu, burst_n, 1)
                four = await burst(emu, burst_n, 4)
                cpu0 = cpu_seconds(proc.pid)
                before_load = rss_mib(proc.pid)
                elapsed, marks = await load(emu, commands, proc.pid, (1000,) if commands > 1000 else (),
                                            tracer)
                if tracer is not None:
                    labels = list(tracer.taken)
                    print(tracer.growth(labels[0], labels[-1]))
                    if len(labels) > 2:
                        print(tracer.growth(labels[1], labels[-1]))
                out[name] = {"ready_s": statistics.median(times), "ready_min_s": min(times),
                             "ready_cpu_s": statistics.median(cpu),
                             "rss_mib": statistics.median(rss), "rss_after_mib": rss_mib(proc.pid),
                             "rss_growth_mib": rss_mib(proc.pid) - at_ready,
                             "rss_before_load_mib": before_load, "rss_1k_mib": marks.get(1000, float("nan")),
                             "rss_load_growth_mib": marks[commands] - marks.get(1000, before_load),
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
            ("RSS at the first command of the load (after latency, bursts)", "rss_before_load_mib", "{v:.1f} MiB", ""),
            ("RSS after 1,000 commands of the load", "rss_1k_mib", "{v:.1f} MiB", ""),
            (f"RSS after {commands} commands of the load", "rss_after_mib", "{v:.1f} MiB", ""),
            (f"RSS growth, ready → after {commands} (+ latency, bursts)", "rss_growth_mib", "{v:+.1f} MiB",
             "< 10 MiB per 10,000"),
            (f"RSS growth, 1,000 → {commands} commands of the load", "rss_load_growth_mib", "{v:+.1f} MiB", ""),
            ("commands answered a second", "commands_per_s", "{v:.0f}/s", ""),
            ("CPU per command", "cpu_per_command_ms", "{v:.2f} ms", "")]
    lines = [f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
             f"{'figure':60} {'echo (PTB alone)':>18} {'kehrabot':>18} {'ratio':>7}  target"]
    for label, key, fmt, target in rows:
        cells = []
        for name in ("echo", "kehrabot"):
            f = figures.get(name)
            cells.append(fmt.format(v=f[key], ready=f["ready_s"], low=f["ready_min_s"]) if f else "—")
        echo, bot = (figures.get(name, {}).get(key) for name in ("echo", "kehrabot"))
        ratio = f"{bot / echo:.2f}" if echo and bot is not None else "—"
        lines.append(f"{label:60} {cells[0]:>18} {cells[1]:>18} {ratio:>7}  {target}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--commands", type=int, default=2000)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--only", choices=("echo", "kehrabot"), help="one of the two bots")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="kehrabot traced from its start; its allocations' growth over the load is printed")
    args = ap.parse_args(argv)
    prepare_as_run_does(ROOT)  # catalogs and bytecode compiled, as ./run does
    figures = asyncio.run(run(args.runs, args.commands, args.burst, args.only, args.tracemalloc))
    print(report(figures, args.commands, args.burst))
    return figures


if __name__ == "__main__":
    main()
