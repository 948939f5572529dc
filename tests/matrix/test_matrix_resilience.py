"""Faults: bot restart with a sync gap, homeserver restart and freeze, default rate limits; encryption."""

from __future__ import annotations

import asyncio
import os
import re
import signal

import pytest

from tests.matrix.conftest import BotRunner, MatrixUser, body

pytestmark = pytest.mark.integration


def numbers(events) -> list[int]:
    return [int(re.search(r"#(\d+)", body(e)).group(1)) for e in events]


async def test_bot_restart_backfills_gap_and_answers_once(matrix_bot, matrix_users):
    bot = await matrix_bot(timeline_limit=3)
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot.user_id])
    await aino.wait_joined(room, bot.user_id)
    await aino.say(room, "!idea ensimmäinen")
    await aino.expect(room, bot.user_id)
    await bot.stop()

    for n in range(12):  # far more than one sync's timeline slice (3)
        await aino.say(room, f"!idea tauon aikana {n}")
    again = await matrix_bot(localpart=bot.localpart, timeline_limit=3)
    replies = await aino.expect(room, again.user_id, 12, within=40)
    assert sorted(numbers(replies)) == list(range(2, 14))
    assert [body(r).splitlines()[0].split()[-1] for r in replies] == [str(n) for n in range(12)]  # per-room order kept
    assert await aino.quiet(room, again.user_id, 2.0) == []


async def test_homeserver_restart_messages_answered_once(synapse, matrix_bot, matrix_users, caplog):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot.user_id])
    await aino.wait_joined(room, bot.user_id)
    for n in range(3):
        await aino.say(room, f"!idea ennen katkoa {n}")
    await asyncio.to_thread(synapse.stop)
    await asyncio.sleep(2.5)  # the bot backs off meanwhile
    assert not bot.transport.healthy
    await asyncio.to_thread(synapse.start)
    for n in range(3):
        await aino.say(room, f"!idea katkon jälkeen {n}")
    replies = await aino.expect(room, bot.user_id, 6, within=60)
    assert sorted(numbers(replies)) == [1, 2, 3, 4, 5, 6]
    assert await aino.quiet(room, bot.user_id, 2.0) == []
    assert bot.transport.healthy
    states = [r.getMessage() for r in caplog.records if r.name == "bot.matrix" and "homeserver" in r.getMessage()]
    assert any("unavailable" in s for s in states) and any("reachable again" in s for s in states)


async def test_default_rate_limits(synapse_default_limits, tmp_path):
    server = synapse_default_limits
    bot = await BotRunner(server, tmp_path / "bot").start()
    admin_name = "admin_rl"
    server.register(admin_name, "secret-pw", admin=True)
    token = server.login_token(admin_name)
    aino = await MatrixUser(server, "aino").login()
    server.lift_rate_limit(aino.user_id, token)
    try:
        room = await aino.create_room(invite=[bot.user_id])
        await aino.wait_joined(room, bot.user_id)
        for n in range(12):  # default rc_message: burst 10, then 0.2/s for the bot's replies
            await aino.say(room, f"!tuntematon{n}")
        replies = await aino.expect(room, bot.user_id, 12, within=90)
        names = [re.search(r"!tuntematon\d+", body(r)).group(0) for r in replies]
        assert sorted(names) == sorted(f"!tuntematon{n}" for n in range(12))
        assert await aino.quiet(room, bot.user_id, 1.0) == []
    finally:
        await aino.close()
        await bot.stop()


async def test_encrypted_room_round_trip(matrix_bot, matrix_users):
    bot = await matrix_bot(encryption=True)
    aino = await matrix_users("aino", encryption=True)
    room = await aino.create_room(invite=[bot.user_id], encrypted=True)
    await aino.wait_joined(room, bot.user_id)
    await aino.sync(0)
    await aino.say(room, "!idea Salattu kesäterassi")
    [reply] = await aino.expect(room, bot.user_id, within=30)
    assert reply.source.get("type") == "m.room.message"
    assert "Salattu kesäterassi" in body(reply)
    assert reply.decrypted
    assert (bot.data_dir / "matrix-crypto").is_dir()

    # a file in an encrypted room is uploaded encrypted; the member can decrypt it
    from nio.crypto.attachments import decrypt_attachment

    from core.events import FileOut

    data = b"salainen;data\n1;2\n"
    await bot.transport.send_file(room, FileOut("salainen.csv", data, "text/csv"))
    [msg] = await aino.expect(room, bot.user_id, within=30)
    file = msg.source["content"]["file"]
    assert "url" not in msg.source["content"]
    raw = await aino.client.download(mxc=file["url"])
    assert raw.body != data
    assert decrypt_attachment(raw.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"]) == data


async def test_5xx_and_timeouts_back_off_and_recover(synapse, tmp_path, matrix_users, caplog):
    from tests.matrix.faulty_proxy import FaultyProxy

    proxy = await FaultyProxy(synapse.url).start()
    bot = await BotRunner(synapse, tmp_path / "bot", request_timeout_seconds=2, sync_timeout_seconds=1).start()
    bot.transport.cfg.homeserver = proxy.url
    bot.transport.client.homeserver = proxy.url  # from now on every request goes through the proxy
    try:
        aino = await matrix_users("aino")
        room = await aino.create_room(invite=[bot.user_id])
        await aino.wait_joined(room, bot.user_id)
        proxy.mode = "502"
        await aino.say(room, "!idea 502 aikana")
        await asyncio.sleep(2)
        assert not bot.transport.healthy
        proxy.mode = "hang"
        await aino.say(room, "!idea jumissa")
        await asyncio.sleep(5)  # longer than the request timeout: the bot must not hang
        assert proxy.faults > 2
        proxy.mode = "ok"
        replies = await aino.expect(room, bot.user_id, 2, within=30)
        assert sorted(numbers(replies)) == [1, 2]
        assert await aino.quiet(room, bot.user_id, 1.5) == []
        assert bot.transport.healthy
    finally:
        proxy.mode = "ok"
        await bot.stop()
        await proxy.stop()
    states = [r.getMessage() for r in caplog.records if r.name == "bot.matrix"]
    assert sum("unavailable" in s for s in states) >= 1 and sum("reachable again" in s for s in states) >= 1


async def test_homeserver_frozen_30_s_commands_answered_once(synapse, matrix_bot, matrix_users):
    """SIGSTOP for 30 s (a hung server: requests neither answered nor refused), then SIGCONT."""
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot.user_id])
    await aino.wait_joined(room, bot.user_id)
    for n in range(3):
        await aino.say(room, f"!idea ennen jäätymistä {n}")
    os.kill(synapse.proc.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(30)  # the outage itself lasts this long
    finally:
        os.kill(synapse.proc.pid, signal.SIGCONT)
    await aino.say(room, "!idea jäätymisen jälkeen")
    replies = await aino.expect(room, bot.user_id, 4, within=90)
    assert sorted(numbers(replies)) == [1, 2, 3, 4]
    assert await aino.quiet(room, bot.user_id, 3.0) == []
