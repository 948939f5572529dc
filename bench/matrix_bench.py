"""Matrix transport benchmark on a real local Synapse (started here, removed after): kehrabot beside
the floor, an echo bot written with matrix-nio alone (bench/echo_matrix.py), both run the same way,
as real processes (kehrabot: ``python -m bot.cli run`` with KEHRABOT_* settings; its own flood limits
lifted, KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE / PER_CHAT_PER_MINUTE, as a benchmark is no flood).

For each bot:
- sequential: N commands one at a time (send → the reply seen by the sender's sync), median and
  p99; the bot's own share: reply ``origin_server_ts`` − command ``origin_server_ts``;
- burst: M commands back to back from one sender, and M from several parallel senders (an
  observer in the room stamps each reply as its sync sees it): answered count (none twice),
  replies/s, median wait for a reply;
- CPU seconds of the bot process per command (/proc/<pid>/stat), steadier than wall times on a
  shared machine.
Also the homeserver itself (plain client to client, no bot) and the load average.

    python -m bench.matrix_bench [--sequential 100] [--burst 200] [--senders 4] [--profile OUT.prof]

``--profile``: kehrabot runs under cProfile (``time.process_time`` as the timer), enabled only for
an extra sequential pass after the measured ones, and the top of the profile is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # also runnable as a plain script

from tests.botproc import matrix_env, prepare_as_run_does  # noqa: E402
from tests.matrix.conftest import MatrixUser, body, unique  # noqa: E402
from tests.matrix.synapse import Synapse  # noqa: E402

_TOKEN = re.compile(r"tok(\d+)-([a-z]+)")
_TICK = os.sysconf("SC_CLK_TCK")
# in the bot process: cProfile with process time, on at SIGUSR1, off and written at SIGUSR2
_CHILD_PROFILE = """
import cProfile, os, runpy, signal, sys, time
out = sys.argv[1]
prof = cProfile.Profile(time.process_time)
signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
def off(*_):
    prof.disable()
    prof.dump_stats(out + ".tmp")
    os.replace(out + ".tmp", out)
signal.signal(signal.SIGUSR2, off)
sys.argv = ["bot.cli", "run"]
runpy.run_module("bot.cli", run_name="__main__", alter_sys=True)
"""
LIFTED = {"KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "1000000", "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "1000000"}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    return _stat_cpu(Path(f"/proc/{pid}/stat"))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's main thread and of its other threads (the store's writer, aiosqlite's)."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "main thread" if task.name == str(pid) else "other threads"
            out[name] = out.get(name, 0.0) + _stat_cpu(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def _stat_cpu(path: Path) -> float:
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


class BotProcess:
    """One bot as a real process on the Synapse: ``kind`` "echo" (the floor) or "kehrabot"."""

    def __init__(self, server: Synapse, kind: str, data_dir: Path, profile: Path | None = None) -> None:
        self.server, self.kind, self.data_dir, self.profile = server, kind, data_dir, profile
        self.localpart = unique("echo" if kind == "echo" else "kehrabot")
        self.user_id = server.register(self.localpart, "bot-pw")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> BotProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("KEHRABOT_CONFIG", None)
        if self.kind == "echo":
            argv = [str(ROOT / "bench" / "echo_matrix.py"), self.server.url, self.user_id, "bot-pw"]
        else:
            env.update({"KEHRABOT_DATA_DIR": str(self.data_dir), "KEHRABOT_LOG_LEVEL": "WARNING",
                        **matrix_env(self.server, self.user_id, "bot-pw"), **LIFTED})
            argv = ["-m", "bot.cli", "run"]
            if self.profile is not None:
                argv = ["-c", _CHILD_PROFILE, str(self.profile)]
        with (self.data_dir / "bot.log").open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, *argv, cwd=self.data_dir, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log)
        return self

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM if self.kind == "kehrabot" else signal.SIGINT)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _room(bot: BotProcess, people: list[MatrixUser]) -> str:
    owner = people[0]
    room = await owner.create_room(invite=[bot.user_id] + [p.user_id for p in people[1:]])
    for p in people[1:]:
        await p.join(room)
    await owner.wait_joined(room, bot.user_id, within=120)
    await owner.quiet(room, bot.user_id, 2.0)  # a greeting, if any, is not an answer
    return room


def _token(ev) -> tuple[int, str] | None:
    m = _TOKEN.search(body(ev))
    return (int(m.group(1)), m.group(2)) if m else None


async def sequential(bot: BotProcess, user: MatrixUser, room: str, n: int, tag: str) -> dict:
    """One command at a time: wall latency at the sender, and the bot's share by the server's clock."""
    wall, share, replies = [], [], []
    for i in range(n):
        started = time.perf_counter()
        await user.say(room, f"!idea tok{i}-{tag}")
        reply = (await user.expect(room, bot.user_id, within=60))[0]
        while _token(reply) != (i, tag):  # a greeting or a late reply is not this command's answer
            reply = (await user.expect(room, bot.user_id, within=60))[0]
        wall.append((time.perf_counter() - started) * 1000)
        command = next(e for e in reversed(user.events[room]) if e.sender == user.user_id and _token(e) == (i, tag))
        share.append(reply.server_timestamp - command.server_timestamp)
        replies.append(reply)
    # what the bot still posts about a reply after it (kehrabot: the button reactions), by the server's clock
    await user.quiet(room, bot.user_id, 1.0)
    last = {r.event_id: r.server_timestamp for r in replies}
    for ev in user.events.get(room, []):
        target = (ev.source.get("content", {}).get("m.relates_to") or {}).get("event_id")
        if ev.sender == bot.user_id and target in last:
            last[target] = max(last[target], ev.server_timestamp)
    after = [last[r.event_id] - r.server_timestamp for r in replies]
    return {"after_p50_ms": statistics.median(after),"p50_ms": statistics.median(wall), "p99_ms": pct(wall, 0.99), "mean_ms": statistics.fmean(wall),
            "share_p50_ms": statistics.median(share), "share_p99_ms": pct(share, 0.99)}


async def burst(bot: BotProcess, senders: list[MatrixUser], watcher: MatrixUser, room: str, n: int,
                tag: str) -> dict:
    """``n`` commands back to back, split over ``senders`` sending in parallel; ``watcher`` stamps
    each reply when its sync sees it."""
    await watcher.quiet(room, bot.user_id, 0.3)
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    twice = 0

    async def send(k: int) -> None:
        for i in range(k, n, len(senders)):
            sent[i] = time.perf_counter()
            await senders[k].say(room, f"!idea tok{i}-{tag}")

    async def watch(deadline: float, idle: float) -> None:
        """Until all are in, the deadline, or ``idle`` seconds without a new reply once all are sent."""
        nonlocal twice
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            await watcher.sync(300)
            now = time.perf_counter()
            events = watcher.events.get(room, [])
            for ev in events[watcher.cursor.get(room, 0):]:
                if ev.sender == bot.user_id and (t := _token(ev)) and t[1] == tag:
                    if t[0] in seen:
                        twice += 1
                    else:
                        seen[t[0]] = now
                        last_new = time.monotonic()
            watcher.cursor[room] = len(events)
            if len(seen) >= n:
                return
            if all_sent.is_set() and time.monotonic() - last_new > idle:
                return  # the rest is lost

    all_sent = asyncio.Event()
    cpu0 = bot.cpu()
    started = time.perf_counter()
    watching = asyncio.create_task(watch(time.monotonic() + 120 + 2 * n, 20.0))
    await asyncio.gather(*(send(k) for k in range(len(senders))))
    all_sent.set()
    await watching
    elapsed = max(seen.values(), default=time.perf_counter()) - started
    before = len(seen)
    await watch(time.monotonic() + 2.0, 2.0)  # anything answered twice arrives here
    twice += len(seen) - before
    waits = [(seen[i] - sent[i]) * 1000 for i in seen]
    return {"answered": len(seen), "n": n, "duplicates": twice, "seconds": elapsed,
            "replies_per_s": len(seen) / elapsed if elapsed > 0 else 0.0,
            "wait_p50_ms": statistics.median(waits) if waits else float("nan"),
            "cpu_s": bot.cpu() - cpu0}


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


async def measure(server: Synapse, kind: str, base: Path, seq_n: int, burst_n: int, senders: int,
                  profile: Path | None = None, profile_n: int = 0) -> dict:
    bot = await BotProcess(server, kind, base / kind, profile).start()
    people = [await MatrixUser(server, f"{kind}p{i}", base).login() for i in range(senders + 1)]
    watcher, senders_ = people[-1], people[:senders]
    try:
        room = await _room(bot, people)
        cpu0, threads0 = bot.cpu(), thread_cpu(bot.proc.pid)
        r: dict = {"sequential": await sequential(bot, people[0], room, seq_n, "s")}
        r["sequential"]["cpu_s"] = bot.cpu() - cpu0
        r["sequential"]["threads_cpu_s"] = {k: v - threads0.get(k, 0.0) for k, v in thread_cpu(bot.proc.pid).items()
                                            if v - threads0.get(k, 0.0) > 0}
        r["single"] = await burst(bot, senders_[:1], watcher, room, burst_n, "b")
        r["parallel"] = await burst(bot, senders_, watcher, room, burst_n, "p")
        if profile is not None and profile_n:
            bot.signal(signal.SIGUSR1)  # cProfile on
            r["profiled"] = await sequential(bot, people[0], room, profile_n, "f")
            bot.signal(signal.SIGUSR2)  # off, written
            for _ in range(100):
                if profile.exists():  # noqa: ASYNC240 (a poll, once in 0.1 s)
                    break
                await asyncio.sleep(0.1)
    finally:
        for p in people:
            await p.close()
        await bot.stop()
    return r


async def run(seq_n: int, burst_n: int, senders: int, base: Path, server: Synapse | None = None, *,
              floor: bool = True, profile: Path | None = None, profile_n: int = 50) -> dict:
    """The figures of both bots (``floor=False``: kehrabot alone). The top-level keys are kehrabot's
    parallel burst and sequential run (lost, duplicates, p50_ms, replies_per_s)."""
    own = server is None
    if server is None:
        server = Synapse(base / "synapse")
        server.start()
    try:
        load = os.getloadavg()
        people = [await MatrixUser(server, f"b{i}", base).login() for i in range(2)]
        try:
            base_lat = await baseline(people, min(seq_n, 50))
        finally:
            for p in people:
                await p.close()
        bots = {}
        if floor:
            bots["echo"] = await measure(server, "echo", base, seq_n, burst_n, senders)
        bots["kehrabot"] = await measure(server, "kehrabot", base, seq_n, burst_n, senders, profile, profile_n)
    finally:
        if own:
            server.remove()
    k = bots["kehrabot"]
    return {
        "load_before": load, "load_after": os.getloadavg(), "bots": bots,
        "baseline_p50_ms": statistics.median(base_lat), "p50_ms": k["sequential"]["p50_ms"],
        "p99_ms": k["sequential"]["p99_ms"], "mean_ms": k["sequential"]["mean_ms"],
        "burst_seconds": k["parallel"]["seconds"], "replies_per_s": k["parallel"]["replies_per_s"],
        "lost": k["parallel"]["n"] - k["parallel"]["answered"], "duplicates": k["parallel"]["duplicates"],
        "sequential_per_s": 1000 / k["sequential"]["mean_ms"],
    }


def table(r: dict, seq_n: int, burst_n: int, senders: int) -> str:
    bots = r["bots"]
    names = list(bots)
    rows: list[tuple[str, list[str], str, str]] = []

    def row(label: str, get, fmt: str, target) -> None:
        vals = [get(bots[b]) for b in names]
        ratio = f"{vals[-1] / vals[0]:.2f}" if len(vals) == 2 and vals[0] else ""
        tgt, ok = ("", "")
        if target is not None and len(vals) == 2:
            limit, better = target(vals[0])
            tgt = (f"≤ {limit:{fmt}}" if better == "low" else f"≥ {limit:{fmt}}")
            ok = "yes" if (vals[-1] <= limit if better == "low" else vals[-1] >= limit) else "NO"
        rows.append((label, [f"{v:{fmt}}" for v in vals], ratio, f"{tgt} {ok}".strip()))

    plus10 = lambda f: (f + 10, "low")  # noqa: E731
    ninety = lambda f: (0.9 * f, "high")  # noqa: E731
    row(f"sequential ({seq_n}): latency median, ms", lambda b: b["sequential"]["p50_ms"], ".1f", plus10)
    row("sequential: latency p99, ms", lambda b: b["sequential"]["p99_ms"], ".1f", plus10)
    row("sequential: own share (reply − command ts) median, ms", lambda b: b["sequential"]["share_p50_ms"], ".0f", plus10)
    row("sequential: own share p99, ms", lambda b: b["sequential"]["share_p99_ms"], ".0f", plus10)
    row("sequential: bot's posts after the reply (last − reply ts) median, ms",
        lambda b: b["sequential"]["after_p50_ms"], ".0f", None)
    row("sequential: bot CPU per command, ms", lambda b: 1000 * b["sequential"]["cpu_s"] / seq_n, ".1f", None)
    for key, label in (("single", f"{burst_n} back to back, 1 sender"), ("parallel", f"{burst_n}, {senders} senders")):
        row(f"{label}: answered (none twice)", lambda b, k=key: b[k]["answered"] - b[k]["duplicates"], ".0f",
            lambda f: (burst_n, "high"))
        row(f"{label}: duplicates", lambda b, k=key: b[k]["duplicates"], ".0f", None)
        row(f"{label}: replies/s", lambda b, k=key: b[k]["replies_per_s"], ".1f", ninety)
        row(f"{label}: median wait for a reply, ms", lambda b, k=key: b[k]["wait_p50_ms"], ".0f", None)
        row(f"{label}: bot CPU per command, ms", lambda b, k=key: 1000 * b[k]["cpu_s"] / burst_n, ".1f", None)
    head = ["figure"] + (["echo floor", "kehrabot"] if len(names) == 2 else names) + ["ratio", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([label, *vals, ratio, tgt]) + " |" for label, vals, ratio, tgt in rows]
    return "\n".join(lines)


# where a command's process time goes, by function (cumulative, so the rows nest: see docs/DEVELOPING.md)
_PATH = [
    ("sync: request, JSON parse, nio's response objects", "nio/client/async_client.py", "sync"),
    ("sync: the bot's handling of a response (schedule)", "bot/matrix/sync.py", "_process"),
    ("sync: save the sync token (≤ 1 a second)", "bot/matrix/sync.py", "_commit_tokens"),
    ("event: handle (claim → dispatch → finish)", "bot/matrix/mapping.py", "_handle"),
    ("  claim the event (store write)", "bot/matrix/sync.py", "_claim"),
    ("  dispatch (app → router → handler)", "bot/app.py", "dispatch"),
    ("    router to handler", "handlers/router.py", "_route"),
    ("    store: create the idea (write)", "storage/ideas.py", "create_idea"),
    ("    post the card (send + buttons)", "handlers/ideas/threads.py", "post_card"),
    ("      outbox: keyed send, its log", "bot/outbox.py", "recorded"),
    ("      outbox: log the send (store write)", "bot/outbox.py", "end"),
    ("      transport send (message + buttons)", "bot/matrix/sending.py", "send"),
    ("        room_send (each HTTP round trip)", "bot/matrix/sending.py", "_room_send"),
    ("        store: the buttons (transaction)", "storage/matrix.py", "set_buttons"),
    ("        button reactions (after the reply)", "bot/matrix/sending.py", "_react_keys"),
    ("    store: the bot's message id (soon)", "storage/ideas.py", "set_bot_message"),
    ("  store transactions (all)", "storage/db.py", "_open"),
    ("  hot writes (all)", "storage/db.py", "write"),
    ("  i18n: gettext", "core/i18n.py", "gettext"),
]


# self time by layer: robust where cumulative times are not (SQLAlchemy's greenlets and asyncio's
# task steps make a coroutine's cumulative time take in unrelated frames)
_LAYERS = [
    ("nio: sync responses parsed into objects, requests built", ("/nio/",)),
    ("aiohttp, yarl, multidict: HTTP of sync and send", ("/aiohttp/", "/yarl/", "/multidict/", "/aiosignal/",
                                                          "urllib/", "socket", "/ssl")),
    ("jsonschema: nio validating each response", ("/jsonschema/", "/referencing/", "/rpds/", "jsonschema")),
    ("json (sync bodies, sent content)", ("/json/", "_json")),
    ("SQLAlchemy, aiosqlite, sqlite3, greenlet: the store", ("/sqlalchemy/", "/sqlmodel/", "/aiosqlite/", "sqlite3",
                                                              "greenlet")),
    ("storage/: the bot's store functions", ("/work/main/storage/",)),
    ("bot/matrix/: the transport (sync loop, mapping, sending)", ("/bot/matrix/",)),
    ("bot/ (app, outbox, metrics)", ("/bot/",)),
    ("handlers/: router, ideas, render", ("/handlers/",)),
    ("core/ (i18n, markup, events)", ("/core/",)),
    ("gettext, re, html, string formatting", ("gettext", "/re/", "/html/", "sre_", "string")),
    ("asyncio: the event loop, tasks, selectors", ("/asyncio/", "selectors", "select")),
    ("logging", ("/logging/",)),
]


def layers(path: Path, n: int) -> str:
    import pstats

    stats = pstats.Stats(str(path)).stats
    sums = dict.fromkeys([label for label, _ in _LAYERS] + ["other"], 0.0)

    def layer(file: str, func: str) -> str:
        where = file if file != "~" else func
        return next((lab for lab, keys in _LAYERS if any(k in where for k in keys)), "other")

    for (file, _, func), v in stats.items():
        label = layer(file, func)
        if label == "other" and file == "~" and v[4]:  # a builtin: counted where it was called from
            for (cfile, _, cfunc), c in v[4].items():
                sums[layer(cfile, cfunc)] += c[2]
        else:
            sums[label] += v[2]
    total = sum(sums.values())
    lines = ["| layer (self process time, main thread) | ms a command | share |", "|---|---|---|"]
    lines += [f"| {label} | {1000 * t / n:.2f} | {100 * t / total:.0f} % |" for label, t in
              sorted(sums.items(), key=lambda kv: -kv[1]) if t]
    lines.append(f"| all | {1000 * total / n:.2f} | 100 % |")
    return "\n".join(lines)


def breakdown(path: Path, n: int) -> str:
    import pstats

    stats = pstats.Stats(str(path)).stats  # (file, line, func) -> (cc, nc, tt, ct, callers)
    lines = ["| step (cumulative process time, main thread) | ms a command | calls a command |", "|---|---|---|",
             f"| all of the bot's main thread while profiled | {1000 * sum(v[2] for v in stats.values()) / n:.2f} | |"]
    for label, file, func in _PATH:
        hits = [v for (f, _, fn), v in stats.items() if f.endswith(file) and fn == func]
        ct = sum(v[3] for v in hits)
        calls = sum(v[0] for v in hits)  # primitive calls: each resumption of a coroutine counts
        lines.append(f"| {label} | {1000 * ct / n:.2f} | {calls / n:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--no-floor", action="store_true", help="kehrabot alone, without the echo bot")
    ap.add_argument("--profile", type=Path, help="write kehrabot's profile of an extra sequential pass here")
    ap.add_argument("--profile-n", type=int, default=50)
    args = ap.parse_args(argv)
    prepare_as_run_does()  # catalogs and bytecode compiled, as ./run does
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(run(args.sequential, args.burst, args.senders, Path(tmp), floor=not args.no_floor,
                            profile=args.profile.resolve() if args.profile else None, profile_n=args.profile_n))
    print(f"load average before {r['load_before'][0]:.2f}, after {r['load_after'][0]:.2f} (2 cores, shared); "
          "kehrabot's flood limits lifted (KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE / PER_CHAT_PER_MINUTE)")
    print(f"homeserver alone (plain client to client, no bot): median {r['baseline_p50_ms']:.1f} ms")
    print(table(r, args.sequential, args.burst, args.senders))
    for name, b in r["bots"].items():
        per = ", ".join(f"{k} {1000 * v / args.sequential:.1f}" for k, v in
                        sorted(b["sequential"]["threads_cpu_s"].items(), key=lambda kv: -kv[1]))
        print(f"{name}: CPU ms a command by thread (sequential): {per}")
    print(f"kehrabot burst / sequential throughput: {r['replies_per_s'] / r['sequential_per_s']:.2f}x; "
          f"lost {r['lost']}, duplicated {r['duplicates']}")
    if args.profile and args.profile.exists():
        import pstats

        print(f"\nkehrabot profile of {args.profile_n} sequential commands (process time), {args.profile}:")
        print(layers(args.profile, args.profile_n))
        print(breakdown(args.profile, args.profile_n))
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
    return r


if __name__ == "__main__":
    main()
