"""Sends that happen once and events handled once, against the real Synapse: transaction ids
from the sends' keys (the same device and token after a restart), an event cut short by a stop
handled again after the restart and answered once, the neutral errors, ``ready``."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

import bot.matrix as matrix
import bot.matrix.sending as matrix_sending
from core.events import Button, Reply
from core.transport import Ambiguous, Forbidden, TransportError, Unavailable
from storage import ideas as idea_store
from storage.core import DONE, REPLAY, ProcessedEvent
from tests.matrix.conftest import BotRunner, body, content, event_type
from tests.matrix.synapse import free_port

pytestmark = pytest.mark.integration


async def _room_with_bot(user, bot) -> str:
    room = await user.create_room(invite=[bot.user_id])
    await user.wait_joined(room, bot.user_id)
    return room


def test_transaction_ids_come_from_the_key():
    assert matrix.txn_id("matrix:$e1#1", "0") == matrix.txn_id("matrix:$e1#1", "0")
    assert len({matrix.txn_id("matrix:$e1#1", "0"), matrix.txn_id("matrix:$e1#1", "1"),
                matrix.txn_id("matrix:$e1#2", "0"), matrix.txn_id("react:$m", "1️⃣")}) == 4
    assert len(matrix.txn_id("x" * 300, "0")) <= 64


async def test_a_keyed_send_repeated_after_a_restart_is_one_message(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    reply = Reply(html="Sama viesti", buttons=((Button("Tue", "ideas:sup:1"),),), key="test:k1")
    first = await bot.transport.send(room, reply)
    assert await bot.transport.send(room, reply) == first  # Synapse answers with the same event
    device, token = bot.transport.client.device_id, bot.transport.client.access_token
    await bot.stop()

    again = await matrix_bot(localpart=bot.localpart)
    assert (again.transport.client.device_id, again.transport.client.access_token) == (device, token)
    assert await again.transport.send(room, reply) == first
    [msg] = await aino.expect(room, bot.user_id)
    assert msg.event_id == first and body(msg).startswith("Sama viesti")
    [key] = await aino.expect(room, bot.user_id, types=("m.reaction",))  # one button, one reaction
    assert content(key)["m.relates_to"]["event_id"] == first
    await aino.sync(500)
    extra = [e for e in aino.events[room][aino.cursor[room]:] if e.sender == bot.user_id
             and event_type(e) in ("m.room.message", "m.reaction")]
    assert extra == []
    unkeyed = await again.transport.send(room, Reply(html="Sama viesti"))
    assert unkeyed != first  # without a key every send is new


async def test_event_cut_short_by_a_stop_is_answered_once_after_the_restart(matrix_bot, matrix_users, monkeypatch):
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    bertil = await matrix_users("bertil")
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id])
    await bertil.join(room)
    await aino.wait_joined(room, bot.user_id)

    original = idea_store.create_idea
    reached = asyncio.Event()

    async def stuck(db, **kw):  # the idea is stored and committed, then the bot is stopped
        idea = await original(db, **kw)
        if "Jumissa" in kw["text"]:
            reached.set()
            await asyncio.Event().wait()
        return idea

    monkeypatch.setattr(idea_store, "create_idea", stuck)
    stuck_id = await aino.say(room, "!idea Jumissa oleva idea")
    await asyncio.wait_for(reached.wait(), 20)
    done_id = await bertil.say(room, "!idea Valmis idea")  # handled to the end, in a later batch
    [done] = await aino.expect(room, bot.user_id)
    assert "Valmis idea" in body(done)
    bot.transport.stop_grace = 0.5
    await bot.stop()
    monkeypatch.setattr(idea_store, "create_idea", original)

    claims: list[tuple[str, str]] = []
    claim = matrix.MatrixTransport._claim

    async def recorded(self, event_id):
        state = await claim(self, event_id)
        claims.append((event_id, state))
        return state

    monkeypatch.setattr(matrix.MatrixTransport, "_claim", recorded)
    again = await matrix_bot(localpart=bot.localpart)
    [reply] = await aino.expect(room, again.user_id, within=30)
    assert "Jumissa oleva idea" in body(reply)
    assert bot.tr("Idea #{number} saved.").format(number=1) in body(reply)  # the number stored the first time
    assert content(reply)["m.relates_to"] == {"m.in_reply_to": {"event_id": stuck_id}}
    assert await aino.quiet(room, again.user_id, 2.0) == []
    assert (stuck_id, REPLAY) in claims and (done_id, DONE) in claims  # both synced again
    assert [(e.event_key, e.replay) for e in again.seen] == [(stuck_id, True)]
    await again.transport.drain()
    async with again.app.services.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(idea_store.Idea))).scalar_one() == 2
        finished = await s.get(ProcessedEvent, ("matrix", stuck_id))
    for _ in range(50):  # finishing is written a moment after the handling
        if finished.done_at is not None:
            break
        await asyncio.sleep(0.1)
        async with again.app.services.db.session() as s:
            finished = await s.get(ProcessedEvent, ("matrix", stuck_id))
    assert finished.done_at is not None


async def test_failures_are_the_neutral_errors(synapse, matrix_bot, matrix_users, monkeypatch, tmp_path):
    from tests.matrix.faulty_proxy import FaultyProxy

    monkeypatch.setattr(matrix_sending, "SEND_ATTEMPTS", 2)
    bot = await matrix_bot()
    aino = await matrix_users("aino")
    room = await _room_with_bot(aino, bot)
    elsewhere = await aino.create_room(invite=[])  # the bot is not in it
    with pytest.raises(Forbidden) as err:
        await bot.transport.send(elsewhere, Reply(html="ei pääse"))
    assert isinstance(err.value, matrix.MatrixError) and isinstance(err.value, TransportError)

    client = bot.transport.client
    home = client.homeserver
    client.homeserver = f"http://127.0.0.1:{free_port()}"  # nobody listens: refused, never sent
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await bot.transport.send(room, Reply(html="ei yhteyttä", key="test:refused"))
    assert time.monotonic() - started < 20

    proxy = await FaultyProxy(synapse.url).start()
    try:
        client.homeserver = proxy.url
        proxy.mode = "502"  # perhaps after the event was made: not to be repeated blindly
        with pytest.raises(Ambiguous):
            await bot.transport.send(room, Reply(html="ehkä perillä", key="test:502"))
    finally:
        proxy.mode = "ok"
        client.homeserver = home
        await proxy.stop()
    assert await aino.quiet(room, bot.user_id, 1.0) == []


async def test_ready_only_while_synced(synapse, tmp_path, matrix_users):
    from tests.matrix.faulty_proxy import FaultyProxy

    proxy = await FaultyProxy(synapse.url).start()
    bot = await BotRunner(synapse, tmp_path / "bot", request_timeout_seconds=2, sync_timeout_seconds=1).start()
    try:
        assert bot.transport.ready.is_set()
        bot.transport.client.homeserver = proxy.url
        proxy.mode = "502"
        for _ in range(100):
            if not bot.transport.ready.is_set():
                break
            await asyncio.sleep(0.1)
        assert not bot.transport.ready.is_set()  # jobs for Matrix chats wait meanwhile
        proxy.mode = "ok"
        await asyncio.wait_for(bot.transport.ready.wait(), 20)
    finally:
        proxy.mode = "ok"
        await bot.stop()
        await proxy.stop()
    assert not bot.transport.ready.is_set()  # cleared at the stop
