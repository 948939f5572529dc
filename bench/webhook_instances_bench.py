"""Webhook burst on one PostgreSQL database: one `kehrabot run` process, then two behind a
round-robin balancer, each on a fresh database, in one run.

The Bot API emulator (tests/telegram/emulator.py) delivers a burst of ``/idea`` messages — by
default 100 groups × 10 people, 1,000 people in all, each posting once — as webhook calls through
the balancer; the processes store each update, answer the call, handle it and reply with
sendMessage. Printed for 1 and 2 instances: replies/s (first post to last reply), the median
and p99 wait for a reply (from its post), replies per message (each must be answered exactly
once), CPU seconds of each bot process (/proc/<pid>/stat), of PostgreSQL's backends on the
bench's database, of this process (the emulator and the balancer) and of the machine in all
(other people's work included), then the ratio of 2 to 1 instances as measured and per bot
CPU-second.

The emulator is local, so Telegram's flood limits the bot holds (30 messages/s overall, 20 a
minute per group, one a second per chat) and the bot's own limit per person and chat are
lifted in the processes' environment (``LIFTED`` below): the bench measures the bot, not them.
Deliveries share keep-alive connections, at most ``--connections`` at a time (Telegram's
setWebhook max_connections, 40 by default), and so do the balancer's calls.

Each process starts in a session of its own (``setsid``): with the kernel's autogroup
scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) a session is one scheduling group, and
on a machine busy with other work the processes would otherwise share one group's CPU share with
the bench however many they are (``--shared-group`` measures that); separate services get a
group each.

``--profile DIR`` runs the first process under cProfile (CPU time, during the burst only; stats
in ``DIR/<n>-instances-a.prof``) and prints its top functions by cumulative and own time.

    .venv/bin/python bench/webhook_instances_bench.py [--groups 100] [--per-group 10]
        [--instances 1 2] [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from tests.botproc import prepare_as_run_does, telegram_env  # noqa: E402
from tests.telegram.balancer import Balancer  # noqa: E402
from tests.telegram.emulator import BotApiEmulator  # noqa: E402

DEFAULT_PG = os.environ.get("KEHRABOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: the flood limits and per-person/per-chat limits lifted for the bench (the emulator is local)
LIFTED = {
    "KEHRABOT_TELEGRAM__RATE_OVERALL": "1000000",
    "KEHRABOT_TELEGRAM__RATE_GROUP": "1000000",
    "KEHRABOT_TELEGRAM__RATE_CHAT_SECONDS": "0",
    "KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "1000000",
    "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "1000000",
}
TICK = os.sysconf("SC_CLK_TCK")
_MARK = re.compile(r"\bk(\d+)z\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def machine_cpu_seconds() -> float:
    """CPU seconds all cores spent busy (everything on the machine)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / TICK


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


class BurstEmulator(BotApiEmulator):
    """The emulator, with webhook deliveries over shared keep-alive connections (at most
    ``connections`` at a time, as Telegram's max_connections) and the bench's replies noted as
    they arrive: ``replies[k]`` is when the reply to message k came, once per reply."""

    def __init__(self, connections: int) -> None:
        super().__init__()
        self.connections = connections
        self.session: aiohttp.ClientSession | None = None
        self.replies: dict[int, list[float]] = {}
        self.expected = 0
        self.all_replied = asyncio.Event()

    async def _deliver(self, update: dict) -> None:
        assert self.webhook is not None
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections))
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook["secret_token"]}
        for _attempt in range(5):
            try:
                async with self.session.post(self.webhook["url"], json=update, headers=headers) as resp:
                    await resp.read()
                    self.webhook_deliveries.append((update["update_id"], resp.status))
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                self.webhook_deliveries.append((update["update_id"], -1))
            await asyncio.sleep(0.2)

    async def _api_sendMessage(self, params: dict) -> dict:
        result = await super()._api_sendMessage(params)
        mark = _MARK.search(result.get("text", ""))
        if mark:
            self.replies.setdefault(int(mark.group(1)), []).append(time.monotonic())
            if len(self.replies) >= self.expected > 0:
                self.all_replied.set()
        return result

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        await super().stop()


async def _admin(pg: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _sessions(pg: str, database: str) -> tuple[int, int]:
    """Connections ever opened to ``database`` and transactions committed in it
    (pg_stat_database, PostgreSQL 14+; the figures may lag a second)."""
    import asyncpg

    conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        row = await conn.fetchrow("SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = $1", database)
        return (int(row["sessions"] or 0), int(row["xact_commit"] or 0)) if row else (0, 0)
    finally:
        await conn.close()


async def _backends(pg: str, database: str) -> list[int]:
    """PostgreSQL's backend processes serving ``database``."""
    import asyncpg

    conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


#: `kehrabot run` under cProfile timed by the process's CPU clock (on 2 busy cores the wall
#: clock charges a send() with the time the kernel gave the woken receiver), on from SIGUSR1 to
#: SIGUSR2: the burst, not the start
_PROFILED = """
import cProfile, signal, sys, time
out, sys.argv = sys.argv[1], ["kehrabot", "run"]
profile = cProfile.Profile(time.process_time)
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
from bot.cli import main
try:
    code = main()
finally:
    profile.disable()
    profile.dump_stats(out)
raise SystemExit(code)
"""


def _log(data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    return (data_dir / "bot.log").open("ab")


async def _peak_connections(pg: str, database: str) -> int:
    """The most connections the bench's database had at once, sampled until cancelled."""
    import asyncpg

    conn = await asyncpg.connect(pg.replace("postgresql+asyncpg://", "postgresql://"))
    peak = 0
    try:
        while True:
            peak = max(peak, await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                                                 database))
            await asyncio.sleep(0.25)
    except asyncio.CancelledError:
        return peak
    finally:
        await conn.close()


async def start_bot(data_dir: Path, env: dict[str, str], profile: Path | None, *,
                    own_session: bool = True) -> asyncio.subprocess.Process:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "KEHRABOT_DATA_DIR": str(data_dir), **env}
    full.pop("KEHRABOT_CONFIG", None)
    command = [sys.executable, "-m", "bot.cli", "run"]
    if profile is not None:
        command = [sys.executable, "-c", _PROFILED, str(profile)]
    with _log(data_dir) as log:
        return await asyncio.create_subprocess_exec(*command, cwd=data_dir, env=full, start_new_session=own_session,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=log)


@dataclass
class Result:
    instances: int
    messages: int
    replied: int  # messages with at least one reply
    once: int  # messages with exactly one reply
    extra: int  # replies beyond the first
    seconds: float
    p50_ms: float
    p99_ms: float
    bot_cpu: list[float]
    pg_cpu: float
    bench_cpu: float
    machine_cpu: float
    idle_cpu: list[float]  # CPU seconds per second of each process before the burst
    peak_connections: int  # the most PostgreSQL connections to the bench's database at once
    opened: int  # PostgreSQL connections opened from the first post until idle again
    commits: int  # transactions committed in the same time
    window: float  # seconds the CPU figures cover (first post until the last reply or the stall)
    served: list[int]
    exit_codes: list[int | None] = field(default_factory=list)
    deliveries_not_ok: int = 0
    logs: str | None = None  # kept when something went wrong

    @property
    def replies_per_s(self) -> float:
        return self.replied / self.seconds if self.seconds else 0.0

    @property
    def per_bot_cpu(self) -> float:
        """Replies per CPU second of the bot processes together."""
        return self.replied / sum(self.bot_cpu) if sum(self.bot_cpu) else 0.0

    @property
    def ok(self) -> bool:
        return (self.once == self.messages and self.extra == 0 and self.exit_codes == [0] * self.instances
                and self.deliveries_not_ok == 0)


async def _listening(emu: BurstEmulator, procs: list[asyncio.subprocess.Process], logs: Path) -> None:
    """Until every process set the webhook (it listens); an error if one exits first."""
    deadline = time.monotonic() + 120
    while len(emu.calls_of("setWebhook")) < len(procs):
        if any(p.returncode is not None for p in procs) or time.monotonic() > deadline:
            raise RuntimeError(f"a bot process did not start; see the logs in {logs}")
        await asyncio.sleep(0.1)


async def _replies(emu: BurstEmulator, stall: float) -> None:
    """Until every message has its reply, or none came for ``stall`` seconds."""
    seen = -1
    while not emu.all_replied.is_set() and len(emu.replies) > seen:
        seen = len(emu.replies)
        try:
            await asyncio.wait_for(emu.all_replied.wait(), stall)
        except TimeoutError:
            pass


async def scenario(instances: int, *, groups: int, per_group: int, pg: str, connections: int,
                   profile: Path | None = None, stall: float = 30.0, idle: float = 5.0,
                   own_sessions: bool = True) -> Result:
    database = "kehrabot_bench_" + uuid.uuid4().hex[:12]
    await _admin(pg, f'CREATE DATABASE "{database}"')
    url = pg.rsplit("/", 1)[0] + "/" + database
    emu = await BurstEmulator(connections).start()
    ports = [free_port() for _ in range(instances)]
    balancer = await Balancer([f"http://127.0.0.1:{p}/telegram" for p in ports], connections).start()
    env = {**telegram_env(emu), **LIFTED, "KEHRABOT_DATABASE_URL": url, "KEHRABOT_LOG_LEVEL": "INFO",
           "KEHRABOT_TELEGRAM__WEBHOOK_URL": balancer.url}
    procs: list[asyncio.subprocess.Process] = []
    tmp = tempfile.mkdtemp(prefix="kehrabot-bench-")
    try:
        for n, port in enumerate(ports):
            name = "ab"[n] if n < 2 else f"i{n}"
            prof = profile / f"{instances}-instances-{name}.prof" if profile is not None and n == 0 else None
            procs.append(await start_bot(Path(tmp) / name, {**env, "KEHRABOT_INSTANCE": name,
                                                            "KEHRABOT_TELEGRAM__WEBHOOK_PORT": str(port)}, prof,
                                     own_session=own_sessions))
        await _listening(emu, procs, Path(tmp))
        await emu.wait_idle(quiet=1.0, within=60)  # the command menus are published

        people = [emu.user(f"Asukas {n}", lang="fi") for n in range(groups * per_group)]
        chats = [emu.group(f"Kehrä {g}") for g in range(groups)]
        emu.expected = groups * per_group
        idle_from = [cpu_seconds(p.pid) for p in procs]
        await asyncio.sleep(idle)  # what a process spends doing nothing (timers, sweeps, leases)
        idle_cpu = [(cpu_seconds(p.pid) - b) / idle for p, b in zip(procs, idle_from, strict=True)]
        pg_pids = await _backends(pg, database)
        sessions = await _sessions(pg, database)
        sampler = asyncio.create_task(_peak_connections(pg, database))
        before = {"bots": [cpu_seconds(p.pid) for p in procs], "pg": {pid: cpu_seconds(pid) for pid in pg_pids},
                  "bench": cpu_seconds("self"), "machine": machine_cpu_seconds()}
        if profile is not None:
            procs[0].send_signal(signal.SIGUSR1)
            await asyncio.sleep(0.2)
        posted: dict[int, float] = {}
        started = time.monotonic()
        for k in range(emu.expected):  # person k writes in chat k % groups: chats take turns
            posted[k] = time.monotonic()
            emu.post(chats[k % groups], people[k], f"/idea Kirjaston kesäterassi k{k}z ensi kesänä")
        await _replies(emu, stall)
        sampler.cancel()
        if profile is not None:
            procs[0].send_signal(signal.SIGUSR2)
        peak = await sampler
        last = max((t[0] for t in emu.replies.values()), default=started)
        pg_pids = set(pg_pids) | set(await _backends(pg, database))
        bots = [cpu_seconds(p.pid) - b for p, b in zip(procs, before["bots"], strict=True)]
        # a backend that ended meanwhile is left out (its pid reads 0)
        pg_cpu = sum(max(cpu_seconds(pid) - before["pg"].get(pid, 0.0), 0.0) for pid in pg_pids)
        bench = cpu_seconds("self") - before["bench"]
        machine = machine_cpu_seconds() - before["machine"]
        window = time.monotonic() - started
        await emu.wait_idle(quiet=1.0, within=30)  # a second reply would come now
        # less the bench's own three connections (sampler, pids, this count)
        now_sessions, now_commits = await _sessions(pg, database)
        opened, commits = now_sessions - sessions[0] - 3, now_commits - sessions[1]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in procs:
            try:
                codes.append(await asyncio.wait_for(proc.wait(), 60))
            except TimeoutError:
                proc.kill()
                codes.append(await proc.wait())
        await balancer.stop()
        await emu.stop()
        await _admin(pg, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    waits = [(times[0] - posted[k]) * 1000 for k, times in emu.replies.items()]
    counts = [len(emu.replies.get(k, [])) for k in range(emu.expected)]
    result = Result(
        instances=instances, messages=emu.expected, replied=sum(c > 0 for c in counts),
        once=sum(c == 1 for c in counts), extra=sum(max(c - 1, 0) for c in counts), seconds=last - started,
        p50_ms=pct(waits, 50) if waits else 0.0, p99_ms=pct(waits, 99) if waits else 0.0,
        bot_cpu=bots, pg_cpu=pg_cpu, bench_cpu=bench, machine_cpu=machine, window=window, idle_cpu=idle_cpu, peak_connections=peak, opened=opened, commits=commits, served=balancer.served,
        exit_codes=codes, deliveries_not_ok=sum(status != 200 for _id, status in emu.webhook_deliveries))
    if result.ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        result.logs = tmp
    return result


async def run(instances: list[int], rounds: int = 1, **kw) -> list[Result]:
    """Each instance count in turn, ``rounds`` times over (the machine's other load varies)."""
    return [await scenario(n, **kw) for _round in range(rounds) for n in instances]


def _total(results: list[Result]) -> dict[str, float]:
    """Figures of several rounds of one instance count, summed before dividing."""
    replied = sum(r.replied for r in results) or 1
    seconds = sum(r.seconds for r in results) or 1.0
    window = sum(r.window for r in results) or 1.0
    bots, pg = sum(sum(r.bot_cpu) for r in results), sum(r.pg_cpu for r in results)
    bench = sum(r.bench_cpu for r in results)
    return {"replies_per_s": sum(r.replied for r in results) / seconds, "bots_ms": 1000 * bots / replied,
            "pg_ms": 1000 * pg / replied, "bench_ms": 1000 * bench / replied, "cores": (bots + pg) / window,
            "others": max(sum(r.machine_cpu for r in results) - bots - pg - bench, 0) / window}


def report(results: list[Result]) -> str:
    lines = [f"{'instances':>9} {'replies':>7} {'once':>5} {'extra':>5} {'seconds':>7} {'replies/s':>9} "
             f"{'p50 ms':>7} {'p99 ms':>7}  {'CPU s: bots':<18} {'postgres':>8} {'bench':>6} {'machine':>7} "
             f"{'replies/bot-CPU-s':>17}  calls served"]
    for r in results:
        bots = "+".join(f"{c:.1f}" for c in r.bot_cpu)
        lines.append(f"{r.instances:>9} {r.replied:>7} {r.once:>5} {r.extra:>5} {r.seconds:>7.2f} "
                     f"{r.replies_per_s:>9.1f} {r.p50_ms:>7.0f} {r.p99_ms:>7.0f}  {bots:<18} {r.pg_cpu:>8.1f} "
                     f"{r.bench_cpu:>6.1f} {r.machine_cpu:>7.1f} {r.per_bot_cpu:>17.1f}  {r.served}")
        lines.append(f"{'':>9} each of {r.messages} messages answered exactly once: "
                     f"{'yes' if r.once == r.messages and r.extra == 0 else 'NO'}; exit codes {r.exit_codes}; "
                     f"webhook deliveries not 200: {r.deliveries_not_ok}; idle CPU "
                     f"{'+'.join(f'{c * 1000:.0f}' for c in r.idle_cpu)} ms/s; PostgreSQL connections at most "
                     f"{r.peak_connections}, opened {r.opened}; commits per message "
                     f"{r.commits / r.messages:.1f}; machine cores busy "
                     f"{r.machine_cpu / r.window:.2f} of {os.cpu_count()}, of which others' "
                     f"{max(r.machine_cpu - sum(r.bot_cpu) - r.pg_cpu - r.bench_cpu, 0) / r.window:.2f}")
        if r.logs:
            lines.append(f"{'':>9} the processes' logs: {r.logs}")
    total = {n: _total([r for r in results if r.instances == n]) for n in sorted({r.instances for r in results})}
    rounds = max(len([r for r in results if r.instances == n]) for n in total) if total else 0
    if rounds > 1:
        lines.append(f"over {rounds} rounds:")
    for n, t in total.items():
        lines.append(f"{n} instance(s): {t['replies_per_s']:.1f} replies/s; CPU ms per reply: bots {t['bots_ms']:.1f}, "
                     f"postgres {t['pg_ms']:.1f}, bench {t['bench_ms']:.1f}; bots+postgres {t['cores']:.2f} cores busy, "
                     f"others' {t['others']:.2f}")
    if 1 in total and 2 in total and total[1]["replies_per_s"] and total[2]["bots_ms"]:
        one, two = total[1], total[2]
        lines.append(f"2 / 1 instances, replies/s as measured: {two['replies_per_s'] / one['replies_per_s']:.2f}x")
        lines.append(f"2 / 1 instances, replies per bot CPU-second: {one['bots_ms'] / two['bots_ms']:.2f} "
                     f"(projected with a core per process: {2 * one['bots_ms'] / two['bots_ms']:.2f}x)")
    return "\n".join(lines)


def profile_report(path: Path, top: int = 30) -> str:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=100, help="group chats (default 100)")
    parser.add_argument("--per-group", type=int, default=10, help="people posting once in each (default 10)")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2], help="process counts (default 1 2)")
    parser.add_argument("--pg", default=DEFAULT_PG, help="a PostgreSQL database to create the bench's in")
    parser.add_argument("--connections", type=int, default=40, help="webhook connections at a time (default 40)")
    parser.add_argument("--shared-group", action="store_true",
                        help="keep the processes in the bench's session (one scheduling group, see above)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the instance counts (default 1)")
    parser.add_argument("--profile", type=Path, help="run the first process under cProfile, stats in this folder")
    args = parser.parse_args(argv)
    prepare_as_run_does()  # catalogs and bytecode compiled, as ./run does
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run(args.instances, args.rounds, groups=args.groups, per_group=args.per_group, pg=args.pg,
                              connections=args.connections, profile=args.profile,
                              own_sessions=not args.shared_group))
    print(report(results))
    if args.profile is not None:
        for n in args.instances:
            path = args.profile / f"{n}-instances-a.prof"
            if path.exists():
                print(f"\n-- {path} (top by cumulative, then own CPU time)")
                print(profile_report(path))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
