"""`kehrabot run` as a real process against the Bot API emulator while 200 meeting reminders
and 100 poll closes fall due, killed (SIGKILL) or stopped (SIGTERM) in the middle and started
again: each reminder and each poll result is sent exactly once (a SIGKILL may catch a request
as it leaves: that one is not repeated, see bot/outbox.py), and no job is left claimed."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.testing import FakeTransport, TestBot
from core.clock import ManualClock, SystemClock
from tests.botproc import start_process, telegram_env

pytestmark = pytest.mark.integration

GROUPS, MEETINGS, POLLS = 50, 200, 100


async def _seed(emu, data_dir: Path, due_in: float) -> list[dict]:
    """Chats, meetings and polls made through the bot's own commands (in-process, on the same
    store), then every reminder and close moved to ``due_in`` seconds from now."""
    groups = [emu.group(f"Kehrä {n}") for n in range(GROUPS)]
    admin = emu.user("Aino")
    for group in groups:  # the groups exist on "Telegram": someone has said something there
        emu.post(group, admin, "Hei kaikki")
    transport = FakeTransport(platform="telegram")
    bot = await TestBot(data_dir, clock=ManualClock(SystemClock().now()), transport=transport).open()
    for n in range(MEETINGS):
        chat = str(groups[n % GROUPS]["id"])
        bot.make_admin(str(admin["id"]), chat)
        # the day after tomorrow: its day-before reminder is still ahead at any hour of today
        await bot.say(f"/kokous ylihuomenna klo 18 Kokous {n}", user=str(admin["id"]), chat=chat)
    for n in range(POLLS):
        await bot.say(f"/kysely Q{n}? | a | b | sulkeutuu 1 h", user=str(admin["id"]), chat=str(groups[n % GROUPS]["id"]))
    await bot.close()
    due = (SystemClock().now() + timedelta(seconds=due_in)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(data_dir / "kehrabot.sqlite3") as db:
        # one reminder per meeting (the day-before one), due now; the rest are not part of this
        db.execute("UPDATE job SET cancelled = 1 WHERE kind = 'meetings.remind' AND dedup_key NOT LIKE '%:1440'")
        db.execute("UPDATE job SET due_at = ?, planned_at = ? WHERE kind = 'polls.close' "
                   "OR (kind = 'meetings.remind' AND cancelled = 0)", (due, due))
        assert db.execute("SELECT count(*) FROM job WHERE cancelled = 0 AND due_at = ?", (due,)).fetchone()[0] \
            == MEETINGS + POLLS
    return groups


def _expected(emu) -> tuple[dict[str, int], dict[str, int]]:
    reminders = {f"Kokous {n}": 0 for n in range(MEETINGS)}
    results = {f"Q{n}?": 0 for n in range(POLLS)}
    for text in emu.sent_texts():
        head = text.split("\n", 1)[0]
        if head.startswith("⏰"):
            reminders[head.split(": ", 1)[1]] += 1
        elif head.startswith("📊"):  # the polls themselves were posted while seeding: a result
            results[next(w for w in head.split() if w.startswith("Q") and w.endswith("?"))] += 1
    return reminders, results


def _in_flight(data_dir: Path) -> int:
    """Job sends the stop caught inside their request (``sending``/``unknown`` in the delivery
    log): Telegram has no idempotency key, so these are not repeated (bot/outbox.py)."""
    with sqlite3.connect(data_dir / "kehrabot.sqlite3") as db:
        return db.execute("SELECT count(*) FROM delivery WHERE key LIKE 'job:%' "
                          "AND state IN ('sending', 'unknown')").fetchone()[0]


def _left_claimed(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "kehrabot.sqlite3") as db:
        return db.execute("SELECT count(*) FROM job WHERE done_at IS NULL AND cancelled = 0 "
                          "AND claimed_at IS NOT NULL AND kind IN ('polls.close', 'meetings.remind')").fetchone()[0]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_reminders_and_poll_closes_survive_a_stop_in_the_middle(tmp_path, emu, stop):
    await _seed(emu, tmp_path, due_in=3)
    first = await start_process(tmp_path, telegram_env(emu))
    try:
        await emu.wait_call("sendMessage", 60, within=120)
    finally:
        first.send_signal(stop)
        code = await asyncio.wait_for(first.wait(), 30)
    before = len(emu.calls_of("sendMessage"))
    if stop == signal.SIGTERM:
        assert code == 0  # a clean stop: the jobs in hand were finished
    assert before < MEETINGS + POLLS

    second = await start_process(tmp_path, telegram_env(emu))
    try:
        ready = await emu.wait_call("getUpdates", len(emu.calls_of("getUpdates")) + 1, within=60)
        first_after = await emu.wait_call("sendMessage", before + 1, within=60)
        await emu.wait_call("sendMessage", MEETINGS + POLLS - _in_flight(tmp_path), within=180)
        done_at = time.monotonic()
        await emu.wait_idle(quiet=1.0, within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    reminders, results = _expected(emu)
    counts = {**reminders, **results}
    assert {k: v for k, v in counts.items() if v > 1} == {}  # nothing twice
    # each one sent, except where the kill fell between marking a send and its outcome (the
    # request was leaving, or its "sent" mark was still on its way: how many depends on the
    # machine's load); a clean stop finishes what it had begun
    in_flight = _in_flight(tmp_path)
    if stop == signal.SIGTERM:
        assert in_flight == 0
    assert len([k for k, v in counts.items() if v == 0]) <= in_flight
    assert _left_claimed(tmp_path) == 0
    assert first_after.at - ready.at < 2.0  # due work resumes within 2 s of the transport being ready
    print(f"{stop.name}: {before} sent before the stop; the rest began {first_after.at - ready.at:.2f} s after "
          f"the restart was polling and were all out after {done_at - ready.at:.1f} s")
