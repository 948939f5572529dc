"""The live tally of an area poll under a stream of votes across two platforms.

One App, as in production, with the real Telegram transport (python-telegram-bot) polling the Bot
API emulator, and a Matrix stand-in: a fake transport with native polls that holds the bot's
account to Synapse's *default* ``rc_message`` (0.2 messages a second, a burst of 10) and counts
every send or edit that Synapse would have refused with M_LIMIT_EXCEEDED. A Telegram group and a
Matrix room are one area; an area poll is started in the group; then ``--rate`` votes a minute
(default 200), each by a new person, alternate between a native Telegram vote (``poll_answer``
from the emulator) and a native Matrix vote (an MSC3381 response given to the App), for
``--seconds`` (default 60), on the real clock (the trailing edits are the scheduler's jobs).

Measured, per chat: the edits of the poll's message, the edit rate (per minute, and the most in
any 60 s window; Telegram allows a group about 20 messages a minute), refused calls (emulator 429s;
Synapse rate-limit errors the bucket would have raised), and the **lag of the live tally**: for
each vote, the time from the vote to the first edit of that chat's message whose count includes
it (p50 / p95 / max). Run: ``python bench/area_poll_bench.py [--seconds 60] [--rate 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.config import LimitSettings, Settings, TelegramSettings  # noqa: E402
from bot.telegram import TelegramTransport  # noqa: E402
from bot.testing import FakeTransport  # noqa: E402
from core.events import Incoming, Kind, Reply  # noqa: E402
from core.markup import to_plain  # noqa: E402
from core.transport import RateLimited  # noqa: E402
from tests.telegram.emulator import BotApiEmulator, max_in_window  # noqa: E402

ROOM = "!bench:localhost"
VOTED = re.compile(r"(\d+) ha(?:s|ve) voted")


@dataclass
class SynapseLimited(FakeTransport):
    """Native polls, and Synapse's default rc_message for the bot's account: a bucket of
    ``burst`` that refills at ``per_second``. A call the bucket refuses is counted (and refused,
    as Synapse would: 429)."""

    per_second: float = 0.2
    burst: int = 10
    refused: int = 0
    stamps: list[float] = field(default_factory=list)
    edits: list[tuple[float, str]] = field(default_factory=list)
    _level: float = 10.0
    _at: float = field(default_factory=time.monotonic)

    async def start(self, dispatch) -> None:
        self._stopped = asyncio.Event()
        await self._stopped.wait()  # "connected" until stopped, like a sync loop

    async def stop(self) -> None:
        if getattr(self, "_stopped", None) is not None:
            self._stopped.set()

    def _take(self) -> None:
        now = time.monotonic()
        self._level = min(self.burst, self._level + (now - self._at) * self.per_second)
        self._at = now
        if self._level < 1:
            self.refused += 1
            raise RateLimited("M_LIMIT_EXCEEDED", retry_after=(1 - self._level) / self.per_second)
        self._level -= 1
        self.stamps.append(now)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        self._take()
        return await super().send(chat_id, reply)

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        self._take()
        self.edits.append((time.monotonic(), to_plain(reply.html)))
        await super().edit(chat_id, message_id, reply)

    async def send_poll(self, chat_id, poll):
        self._take()
        return await super().send_poll(chat_id, poll)

    async def close_poll(self, chat_id, poll_ref, outcome) -> None:
        self._take()
        await super().close_poll(chat_id, poll_ref, outcome)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else float("nan")


def lags(votes: list[float], edits: list[tuple[float, int]]) -> list[float]:
    """Per vote n (the n-th voter, at votes[n-1]): the first edit at or after it showing ≥ n voters."""
    out = []
    for n, at in enumerate(votes, 1):
        shown = [t for t, count in edits if t >= at and count >= n]
        out.append(min(shown) - at if shown else float("inf"))
    return out


async def run(seconds: float, rate: float, tail: float = 12.0) -> dict:
    emu = await BotApiEmulator().start()
    data = Path(tempfile.mkdtemp(prefix="area-bench-"))
    settings = Settings.model_construct(**{
        **dict(Settings.model_construct()), "data_dir": data,
        "telegram": TelegramSettings(token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                     poll_timeout=1),
        "limits": LimitSettings(per_person_per_minute=100_000, per_chat_per_minute=100_000)})
    mx = SynapseLimited(platform="matrix", native_polls=True)
    app = App(settings, transports=[mx])
    tg = TelegramTransport(settings.telegram, app.services)
    app.add_transport(tg)
    mx.admins[ROOM] = {"@admin:localhost"}
    task = asyncio.create_task(app.run())
    await emu.wait_call("getUpdates")
    group, alice = emu.group("Maunula"), emu.user("Alice", lang="en")
    emu.set_admin(group, alice)

    async def matrix(**kw) -> None:
        await app.dispatch(mx, Incoming(platform="matrix", chat_id=ROOM, chat_title="Maunula", **kw))

    emu.post(group, alice, "/area Maunula")
    await matrix(sender_id="@admin:localhost", sender_name="Admin", text="/area Maunula", message_id="m1",
                 language_hint="en")
    await emu.wait_call("sendMessage")
    emu.post(group, alice, "/poll area Which evening? | Tue | Wed | Thu | closes in 2 hours")
    tg_ref = (await emu.wait_call("sendPoll")).result["poll"]["id"]
    info = await emu.wait_call("sendMessage", where=lambda c: "One poll in" in c.params.get("text", ""))
    tg_message = info.result["message_id"]
    for _ in range(200):
        mx_ref = next((s.message_id for s in mx.sent if s.kind == "poll"), None)
        if mx_ref:
            break
        await asyncio.sleep(0.05)
    edits_before = len(emu.calls_of("editMessageText"))

    interval = 60.0 / rate
    total = int(seconds * rate / 60)
    votes: list[float] = []
    pending = []
    t0 = time.monotonic()
    for n in range(total):
        await asyncio.sleep(max(0.0, t0 + n * interval - time.monotonic()))
        votes.append(time.monotonic())
        if n % 2 == 0:
            emu.answer_poll(emu.user(f"V{n}", lang="en"), tg_ref, [n % 3])
        else:
            pending.append(asyncio.create_task(matrix(sender_id=f"@v{n}:localhost", sender_name=f"V{n}",
                                                      kind=Kind.POLL_VOTE, poll_ref=mx_ref, poll_choices=(n % 3,))))
    await asyncio.gather(*pending)
    await asyncio.sleep(tail)  # the last trailing edits (10 s windows on Matrix)
    app.request_stop()
    await asyncio.wait_for(task, 30)
    await emu.stop()

    tg_edits = [c for c in emu.calls_of("editMessageText")[edits_before:]
                if int(c.params.get("message_id", 0)) == tg_message]
    tg_shown = [(c.at, int(m.group(1))) for c in tg_edits if (m := VOTED.search(to_plain(c.params["text"])))]
    mx_shown = [(t, int(m.group(1))) for t, text in mx.edits if (m := VOTED.search(text))]
    to_group = [c.at for c in emu.calls if c.params.get("chat_id") == str(group["id"])
                and c.method in ("sendMessage", "editMessageText", "sendPoll", "stopPoll")]
    span = votes[-1] - votes[0] if len(votes) > 1 else 1.0
    results: dict = {"votes": len(votes), "span": span, "group_max_60s": max_in_window(to_group, 60.0),
                     "telegram_429": len([c for c in emu.calls if c.status == 429]),
                     "matrix_calls": len(mx.stamps), "matrix_max_60s": max_in_window(mx.stamps, 60.0),
                     "matrix_refused": mx.refused}
    for name, shown, stamps in (("telegram", tg_shown, [c.at for c in tg_edits]),
                                ("matrix", mx_shown, [t for t, _text in mx.edits])):
        lag = lags(votes, shown)
        finite = [x for x in lag if x != float("inf")]
        results[name] = {"edits": len(stamps), "per_minute": len(stamps) / (span + tail) * 60,
                         "max_60s": max_in_window(stamps, 60.0), "shown": max((c for _t, c in shown), default=0),
                         "p50": pct(finite, 50), "p95": pct(finite, 95), "max": max(finite, default=float("nan")),
                         "mean": statistics.fmean(finite) if finite else float("nan"),
                         "never_shown": len(lag) - len(finite)}
    return results


def report(r: dict) -> str:
    lines = [f"votes: {r['votes']} in {r['span']:.1f} s ({r['votes'] / r['span'] * 60:.0f} a minute), half on each "
             f"platform; the last tally shows {r['telegram']['shown']} (Telegram), {r['matrix']['shown']} (Matrix)"]
    for name in ("telegram", "matrix"):
        x = r[name]
        lines.append(f"{name}: {x['edits']} edits, {x['per_minute']:.1f} a minute, at most {x['max_60s']} in any 60 s; "
                     f"tally lag p50 {x['p50']:.1f} s, p95 {x['p95']:.1f} s, max {x['max']:.1f} s, mean {x['mean']:.1f} s; "
                     f"votes never shown: {x['never_shown']}")
    lines.append(f"telegram group: at most {r['group_max_60s']} messages+edits in any 60 s (limit ~20); "
                 f"429 answers: {r['telegram_429']}")
    lines.append(f"matrix account: {r['matrix_calls']} calls, at most {r['matrix_max_60s']} in any 60 s; rate-limit "
                 f"errors under Synapse's default rc_message (0.2/s, burst 10): {r['matrix_refused']}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200, help="votes a minute")
    args = parser.parse_args()
    print(report(asyncio.run(run(args.seconds, args.rate))))
