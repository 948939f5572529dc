"""`kehrabot run` as a real process on a real Synapse, killed with SIGKILL in the middle of a
burst of 300 commands from two people and started again: every command is answered, none
twice, every acknowledged idea is stored once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.matrix.conftest import body, unique

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PER_PERSON = 150


async def _start(synapse, data_dir: Path, localpart: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KEHRABOT_DATA_DIR": str(data_dir),
        "KEHRABOT_TRANSPORTS": '["matrix"]',
        "KEHRABOT_LOG_LEVEL": "INFO",
        "KEHRABOT_MATRIX__HOMESERVER": synapse.url,
        "KEHRABOT_MATRIX__USER_ID": f"@{localpart}:localhost",
        "KEHRABOT_MATRIX__PASSWORD": "bot-pw",
        "KEHRABOT_MATRIX__ALLOWED_INVITERS": json.dumps([":localhost"]),
        "KEHRABOT_MATRIX__MAX_BACKOFF_SECONDS": "1",
        "KEHRABOT_MATRIX__SYNC_TIMEOUT_SECONDS": "5",
    }
    env.pop("KEHRABOT_CONFIG", None)
    log = _append(data_dir / "bot.log")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=data_dir, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=log)
    finally:
        log.close()


def _append(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def _ideas(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "kehrabot.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT text FROM idea")]


async def _replies(user, room_id: str, bot_id: str, count: int, within: float) -> list[str]:
    return [body(ev) for ev in await user.expect(room_id, bot_id, count, within=within)]


async def test_sigkill_during_a_300_command_burst_answers_every_command_once(synapse, matrix_users, tmp_path):
    localpart = unique("kehrabot")
    synapse.register(localpart, "bot-pw")
    bot_id = f"@{localpart}:localhost"
    data_dir = tmp_path / "bot"
    first = await _start(synapse, data_dir, localpart)
    aino, bertil = await matrix_users("aino"), await matrix_users("bertil")
    try:
        room = await aino.create_room([bot_id, bertil.user_id])
        await bertil.join(room)
        await aino.wait_joined(room, bot_id, within=60)
        await aino.quiet(room, bot_id, 1.0)  # the bot's greeting, if any, is not an answer

        async def burst(user, tag: str) -> None:
            for k in range(PER_PERSON):
                await user.say(room, f"!idea Idea {tag}{k}")

        sending = asyncio.gather(burst(aino, "A"), burst(bertil, "B"))
        seen = await _replies(aino, room, bot_id, 40, within=120)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    await sending  # the rest of the burst arrives while the bot is down

    second = await _start(synapse, data_dir, localpart)
    try:
        seen += await _replies(aino, room, bot_id, 2 * PER_PERSON - len(seen), within=240)
        seen += await aino.quiet(room, bot_id, 3.0)
    finally:
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    # "💡 Idea #12 tallennettu. Idea A7" — the idea's text after the number
    answered = [text.split("\n", 1)[0].split(". ", 1)[1] for text in seen if text.startswith("💡 Idea #")]
    expected = [f"Idea {tag}{k}" for tag in "AB" for k in range(PER_PERSON)]
    assert sorted(answered) == sorted(expected)  # every command answered, none twice
    stored = _ideas(data_dir)
    assert sorted(stored) == sorted(expected)  # every acknowledged idea stored, once
