"""Two `kehrabot run` processes on one PostgreSQL database and one Matrix account: one runs the
sync loop, the other stands by (bot/leader.py). The syncing one is killed (SIGKILL) in the
middle of a burst of commands; the other takes over within 10 s — from the sync token and the
device kept in the store — and every command is answered once, every idea stored once."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import pytest

from tests.botproc import matrix_env, pg_plain, start_process, wait_lock_holder
from tests.matrix.conftest import body, unique

pytestmark = pytest.mark.integration

COMMANDS = 120


async def test_the_standby_takes_over_the_sync_loop_and_answers_every_command_once(
        synapse, matrix_users, tmp_path, pg_url):
    localpart = unique("kehrabot")
    synapse.register(localpart, "bot-pw")
    bot_id = f"@{localpart}:localhost"
    env = {**matrix_env(synapse, bot_id, "bot-pw"), "KEHRABOT_DATABASE_URL": pg_url,
           # the bot's own flood limit lifted: this is a burst, not a flood
           "KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE": "10000", "KEHRABOT_LIMITS__PER_CHAT_PER_MINUTE": "10000"}
    procs = {name: await start_process(tmp_path / name, env, KEHRABOT_INSTANCE=name) for name in ("a", "b")}
    aino = await matrix_users("aino")
    try:
        leader, _at = await wait_lock_holder(pg_url, None, within=60)
        follower = "b" if leader == "a" else "a"
        room = await aino.create_room([bot_id])
        await aino.wait_joined(room, bot_id, within=60)
        await aino.quiet(room, bot_id, 1.0)  # a greeting, if any, is not an answer

        async def burst() -> None:
            for k in range(COMMANDS):
                await aino.say(room, f"!idea Idea {k}")

        sending = asyncio.create_task(burst())
        seen = [body(ev) for ev in await aino.expect(room, bot_id, 30, within=120)]
        procs[leader].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await procs[leader].wait()
        holder, took_over = await wait_lock_holder(pg_url, leader, within=10)
        assert holder == follower and took_over - killed < 10.0
        await sending  # the rest of the burst arrives while the sync loop moves
        seen += [body(ev) for ev in await aino.expect(room, bot_id, COMMANDS - len(seen), within=180)]
        seen += [body(ev) for ev in await aino.quiet(room, bot_id, 3.0)]
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await asyncio.wait_for(proc.wait(), 30)
    assert procs[follower].returncode == 0
    # "💡 Idea #12 tallennettu. Idea 7" — the idea's text after the number
    answered = [text.split("\n", 1)[0].split(". ", 1)[1] for text in seen if text.startswith("💡 Idea #")]
    expected = [f"Idea {k}" for k in range(COMMANDS)]
    assert sorted(answered) == sorted(expected)  # every command answered, none twice
    conn = await asyncpg.connect(pg_plain(pg_url))
    try:
        stored = [row[0] for row in await conn.fetch("SELECT text FROM idea")]
    finally:
        await conn.close()
    assert sorted(stored) == sorted(expected)  # every acknowledged idea stored, once
    print(f"{follower} took over the sync {took_over - killed:.2f} s after the kill")
