"""`kehrabot run` as a real process on a real Synapse, killed with SIGKILL in the middle of a
burst of 300 commands from two people and started again: every command is answered, none
twice, every acknowledged idea is stored once."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.botproc import matrix_env, start_process
from tests.matrix.conftest import body, unique

pytestmark = pytest.mark.integration

PER_PERSON = 150


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
    # the bot's own rate limit (20 commands a person, 60 a chat a minute) lifted: this is no flood
    lifted = {"KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "10000", "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "10000"}
    first = await start_process(data_dir, matrix_env(synapse, bot_id, "bot-pw"), **lifted)
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

    second = await start_process(data_dir, matrix_env(synapse, bot_id, "bot-pw"), **lifted)
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
