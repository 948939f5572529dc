"""Nothing lost, nothing twice (bot/telegram/inbox.py, sending.py): updates are handled at least once
across stops and crashes, every command is answered once, a send Telegram may have carried out
is never repeated, unreadable updates are skipped, and the flood limits hold across a restart.
The real transport (python-telegram-bot) against the Bot API emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from sqlalchemy import select

from core.events import Reply
from core.transport import Ambiguous, Forbidden, MessageGone, TransportError, Unavailable
from storage import outbox
from storage import telegram as tg_store
from storage.core import ProcessedEvent
from tests.telegram.emulator import max_in_window

pytestmark = pytest.mark.integration


async def until(predicate, *, within: float = 10.0, what: str = "condition") -> None:
    """Wait for ``predicate()`` (checked every 10 ms) — a condition, not a fixed sleep."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within}s")
        await asyncio.sleep(0.01)


def replies_to(emu, chat: dict, word: str) -> list[str]:
    return [t for t in emu.sent_texts(chat) if word in t]


async def _events(app) -> dict[str, bool]:
    """Telegram event keys → finished."""
    async with app.db.session() as s:
        rows = (await s.execute(select(ProcessedEvent).where(ProcessedEvent.platform == "telegram"))).scalars()
        return {row.event_id: row.done_at is not None for row in rows}


# -- at least once ------------------------------------------------------------------------------


async def test_a_handler_cut_off_mid_update_answers_after_restart(start_bot, emu):
    """The bot stops between beginning an event and finishing it (its reply waits for the
    group's flood window): the update stays in the inbox, and the next start handles it again
    as a replay and answers it. The old transport claimed and dropped it: never answered."""
    group, alice = emu.group(), emu.user("Alice", lang="en")
    first = await start_bot(rate_group=1, rate_group_seconds=60.0)
    emu.post(group, alice, "/idea Bench by the pond")
    second_post = emu.post(group, alice, "/idea Shared sauna")
    await emu.wait_call("sendMessage")
    await until(lambda: len(first.events) == 2, what="the second command in its handler")
    key = f"m:{group['id']}:{second_post['message']['message_id']}"
    assert (await _events(first.app)).get(key) is False  # begun, not finished
    async with first.app.db.session() as s:  # marked as leaving only once its slot is granted
        assert await outbox.outcome(s, f"telegram:{key}@telegram:{group['id']}#1") is None
    first.transport.stop_grace = 0.1  # a crash: the handler in hand is cut off
    await first.stop()

    second = await start_bot()
    await emu.wait_call("sendMessage", 2)
    await emu.wait_idle()
    assert len(replies_to(emu, group, "Bench by the pond")) == 1
    assert len(replies_to(emu, group, "Shared sauna")) == 1
    (replayed,) = second.events
    assert replayed.event_key == key and replayed.replay is True
    assert (await _events(second.app))[key] is True
    async with second.app.db.session() as s:
        assert await tg_store.inbox(s) == []


async def test_a_finished_update_left_in_the_inbox_is_not_answered_again(start_bot, emu):
    """A crash after the event was finished but before its update left the inbox: the next
    start finds the update, sees the event done, and only takes it out of the inbox."""
    group, alice = emu.group(), emu.user("Alice", lang="en")
    first = await start_bot()
    update = emu.post(group, alice, "/idea Compost bins")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    await first.stop()
    from storage.db import Database

    db = Database(first.app.settings.resolved_database_url())
    await db.write(tg_store.stash_inbox, (update["update_id"], json.dumps(update), first.app.services.clock.now()))
    await db.close()
    second = await start_bot()
    await until(lambda: not second.transport._queued, what="the inbox handled")
    await emu.wait_idle()
    assert len(emu.sent_texts(group)) == 1 and second.events == []
    async with second.app.db.session() as s:
        assert await tg_store.inbox(s) == []


async def test_a_redelivered_update_is_answered_once(start_bot, emu):
    """Telegram delivers a message again under a new update id (a lost confirmation), while the
    first is still being handled, after it was answered, and after a restart: one answer."""
    group, alice = emu.group(), emu.user("Alice", lang="en")
    bot = await start_bot(rate_group=2, rate_group_seconds=2.0)
    update = emu.post(group, alice, "/idea Street library")
    emu.redeliver(update)  # in the same batch, handled in the same lane after the first
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    emu.redeliver(update)
    await emu.wait_idle()
    await bot.stop()
    await start_bot()
    emu.redeliver(update)
    await emu.wait_idle()
    assert len(replies_to(emu, group, "Street library")) == 1
    assert len(emu.calls_of("sendMessage")) == 1


async def test_a_webhook_redelivery_of_the_same_update_is_answered_once(start_bot, emu):
    import aiohttp

    from tests.telegram.test_telegram_basic import _free_port

    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await start_bot(webhook_url=url, webhook_port=port, webhook_secret="s3cret")
    group, alice = emu.group(), emu.user("Alice", lang="en")
    update = emu.post(group, alice, "/idea Via webhook")
    await emu.wait_call("sendMessage")
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # Telegram repeats the same update id after a failed delivery
            async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as r:
                assert r.status == 200
    await emu.wait_idle()
    assert len(emu.sent_texts(group)) == 1


# -- nothing twice ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500_after", "502_after", "drop_after", "timeout_after"])
async def test_a_fault_after_the_send_does_not_post_twice(start_bot, emu, kind):
    """Telegram posted the reply, then the answer was lost (an error status, a closed connection,
    no answer in time). The reply is not sent again: the chat sees it once. The old transport
    retried 5xx and timeouts and posted it twice."""
    bot = await start_bot(request_timeout=0.5)
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.fail("sendMessage", kind)
    posted = emu.post(group, alice, "/idea Rain garden")
    event_key = f"m:{group['id']}:{posted['message']['message_id']}"
    await until(lambda: event_key in bot.transport._finished, what="the command handled")
    await emu.wait_idle()
    assert len(replies_to(emu, group, "Rain garden")) == 1
    assert len([c for c in emu.calls if c.method == "sendMessage" and "Rain garden" in c.params["text"]]) == 1
    key = f"telegram:{event_key}@telegram:{group['id']}#1"
    async with bot.app.db.session() as s:
        assert (await outbox.outcome(s, key)).state == outbox.UNKNOWN


async def test_a_refused_connection_is_retried_and_recorded_once(start_bot, emu):
    """Connection refused: certainly not sent, so retried; the message goes out once and is
    logged as sent with its id."""
    bot = await start_bot(max_retries=8)
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    port = emu.port
    await emu.stop()
    pending = asyncio.create_task(bot.transport.send(str(group["id"]), Reply("digest", key="job:7:x#1")))
    await asyncio.sleep(0.3)  # the server stays away a while (refused connections meanwhile)
    await emu.start(port=port)
    message_id = await pending
    assert emu.sent_texts(group) == ["digest"]
    async with bot.app.db.session() as s:
        assert await outbox.outcome(s, "job:7:x#1") == outbox.Outcome(outbox.SENT, message_id)


# -- poison updates -----------------------------------------------------------------------------


async def test_an_unreadable_update_is_skipped_and_the_next_answered(tg, emu, caplog):
    """A poll_answer without option_persistent_ids (python-telegram-bot refuses it) and a message
    that does not read, in one batch with a good command: the bad ones are logged without their
    content, confirmed and skipped, the good one answered. The old transport failed the whole
    batch in get_updates and asked for it again forever."""
    group, alice = emu.group(), emu.user("Alice", lang="en")
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot.telegram")
    poll_answer = emu.inject_raw({"poll_answer": {"poll_id": "5000000001", "option_ids": [0],
                                                  "user": {"id": alice["id"], "is_bot": False, "first_name": "A"}}})
    broken = emu.inject_raw({"message": {"message_id": 99, "date": "eilen", "chat": group,
                                         "from": alice, "text": "salainen-teksti"}})
    emu.post(group, alice, "/idea After the poison")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()  # every update confirmed (the emulator forgets them)
    assert emu.sent_texts(group)[0].startswith("💡 Idea #1 saved. After the poison")
    assert not tg.task.done()
    logged = caplog.text
    assert str(poll_answer) in logged and str(broken) in logged
    assert "salainen-teksti" not in logged
    last = emu.calls_of("getUpdates")[-1]
    assert int(last.params["offset"]) > max(poll_answer, broken)
    emu.post(group, alice, "/idea And the next")
    await emu.wait_call("sendMessage", 2)


async def test_unreadable_stashed_updates_are_skipped(start_bot, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    first = await start_bot()
    await first.stop()
    from storage.db import Database

    db = Database(first.app.settings.resolved_database_url())
    now = first.app.services.clock.now()
    await db.write(tg_store.stash_inbox, (1, "{not json", now))
    await db.write(tg_store.stash_inbox, (2, json.dumps({"update_id": 2, "poll_answer": {"poll_id": "x"}}), now))
    await db.close()
    second = await start_bot()
    emu.post(group, alice, "/idea After a bad inbox")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    async with second.app.db.session() as s:
        assert await tg_store.inbox(s) == []


# -- start-up -----------------------------------------------------------------------------------


async def test_a_failing_command_menu_does_not_delay_the_first_reply(start_bot, emu):
    """setMyCommands answers 500 for a while: polling starts at once, the menus follow in the
    background. The old transport published them first, with its retries (seconds)."""
    emu.fail("setMyCommands", "500", count=6)
    bot = await start_bot(retry_backoff=0.5, retry_backoff_max=2.0)
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea Quick answer")
    reply = await emu.wait_call("sendMessage")
    connected = emu.calls_of("getMe")[0]
    assert reply.at - connected.at < 1.5  # the old way: 7.5 s of setMyCommands retries first
    assert bot.transport.ready.is_set()
    await emu.wait_call("setMyCommands", 12, within=30)  # published once Telegram recovered
    assert len(emu.commands) == 12


async def test_ready_is_set_when_connected_and_cleared_at_the_stop(tmp_path, emu):
    port = emu.port
    await emu.stop()
    from bot.app import App
    from bot.config import Settings
    from bot.telegram import TelegramTransport
    from tests.telegram.conftest import telegram_settings

    settings = Settings.model_construct(**{**dict(Settings.model_construct()), "data_dir": tmp_path,
                                           "telegram": telegram_settings(emu)})
    app = App(settings)
    transport = TelegramTransport(settings.telegram, app.services)
    app.add_transport(transport)
    await app.open()
    task = asyncio.create_task(transport.start(app.dispatch))
    await asyncio.sleep(0.3)  # getMe is refused meanwhile
    assert not transport.ready.is_set()
    await emu.start(port=port)
    await asyncio.wait_for(transport.ready.wait(), 10)
    await transport.stop()
    await task
    assert not transport.ready.is_set()
    await app.db.close()


# -- flood limits -------------------------------------------------------------------------------


async def test_the_group_limit_holds_across_a_restart(start_bot, emu):
    """Scaled from 20 per 60 s to 5 per 3 s: five messages, a restart, five more. The second
    process knows the first five from the delivery log and waits for the window."""
    limits = dict(rate_group=5, rate_group_seconds=3.0, rate_chat_seconds=0)
    first = await start_bot(**limits)
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    chat = str(group["id"])
    await asyncio.gather(*(first.transport.send(chat, Reply(f"a{n}", key=f"job:1:t#{n}")) for n in range(5)))
    await first.stop()
    second = await start_bot(**limits)
    await asyncio.gather(*(second.transport.send(chat, Reply(f"b{n}", key=f"job:2:t#{n}")) for n in range(5)))
    sent = [c for c in emu.calls_of("sendMessage") if int(c.params["chat_id"]) == group["id"]]
    assert len(sent) == 10
    assert max_in_window([c.at for c in sent], 3.0 * 0.98) <= 5
    assert sent[5].at - sent[0].at >= 3.0 * 0.98


async def test_messages_to_one_chat_are_spread_out(start_bot, emu):
    """A burst of three, then one per rate_chat_seconds (scaled from 1 s to 0.3 s)."""
    bot = await start_bot(rate_chat_seconds=0.3, rate_chat_burst=3)
    alice = emu.user("Alice")
    chat = emu.private(alice)
    emu.post(chat, alice, "moi")
    await emu.wait_idle()
    await asyncio.gather(*(bot.transport.send(str(alice["id"]), Reply(str(n))) for n in range(8)))
    at = [c.at for c in emu.calls_of("sendMessage")]
    assert len(at) == 8
    assert at[2] - at[0] < 0.25  # the burst
    gaps = [b - a for a, b in zip(at[2:], at[3:], strict=False)]
    assert min(gaps) >= 0.3 * 0.9, gaps  # then spread out
    assert at[-1] - at[0] >= 5 * 0.3 * 0.95


# -- webhook ------------------------------------------------------------------------------------


async def test_the_webhook_call_is_answered_once_the_update_is_stored(start_bot, emu):
    """In webhook mode the HTTP call ends as soon as the update is in the inbox, not when its
    reply is sent: here the second reply waits a minute for the group's flood window while both
    calls are already answered. A stop then leaves it in the inbox; the next start answers it."""
    from tests.telegram.test_telegram_basic import _free_port

    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    bot = await start_bot(webhook_url=url, webhook_port=port, webhook_secret="s3cret",
                          rate_group=1, rate_group_seconds=60.0)
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea First by webhook")
    emu.post(group, alice, "/idea Second by webhook")
    await emu.wait_call("sendMessage")
    await until(lambda: [s for _u, s in emu.webhook_deliveries] == [200, 200], within=5,
                what="both webhook calls answered")
    assert len(emu.calls_of("sendMessage")) == 1  # the second reply is still waiting
    bot.transport.stop_grace = 0.1
    await bot.stop()
    await start_bot(webhook_url=url, webhook_port=port, webhook_secret="s3cret")
    await emu.wait_call("sendMessage", 2)
    await emu.wait_idle()
    assert len(replies_to(emu, group, "First by webhook")) == 1
    assert len(replies_to(emu, group, "Second by webhook")) == 1


# -- errors -------------------------------------------------------------------------------------


async def test_errors_reach_features_as_neutral_ones(start_bot, emu):
    from telegram.error import BadRequest

    bot = await start_bot(max_retries=0)
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    chat, t = str(group["id"]), bot.transport
    with pytest.raises(MessageGone):
        await t.edit(chat, "4242", Reply("no such message"))
    with pytest.raises(MessageGone):
        await t.send("-1009999999", Reply("no such chat"))
    emu.fail("sendMessage", "403")
    with pytest.raises(Forbidden):
        await t.send(chat, Reply("blocked"))
    with pytest.raises(TransportError) as refused:
        await t.send(chat, Reply("<div>not Telegram's HTML</div>"))
    assert isinstance(refused.value, BadRequest) and not isinstance(refused.value, Ambiguous)
    port = emu.port
    await emu.stop()
    with pytest.raises(Unavailable):
        await t.send(chat, Reply("nobody there", key="job:9:x#1"))
    await emu.start(port=port)
    async with bot.app.db.session() as s:
        assert (await outbox.outcome(s, "job:9:x#1")).state == outbox.FAILED  # may go again
    assert await t.send(chat, Reply("nobody there", key="job:9:x#1"))


async def test_a_send_cut_off_while_it_is_being_marked_stays_sendable(tg, emu):
    """A stop cancels a send while its ``sending`` mark is being written: the mark is finished
    and turned into ``failed`` (the request never left), so the next run sends it."""
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    chat, transport = str(group["id"]), tg.transport
    real_begin, entered, release = transport.outbox.begin, asyncio.Event(), asyncio.Event()

    async def slow_begin(key, chat_key):
        entered.set()
        await release.wait()
        return await real_begin(key, chat_key)

    transport.outbox.begin = slow_begin
    send = asyncio.create_task(transport.send(chat, Reply("digest", key="job:3:x#1")))
    await entered.wait()
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    release.set()
    deadline = time.monotonic() + 5
    while True:  # the mark is written, then turned into failed
        async with tg.app.db.session() as s:
            seen = await outbox.outcome(s, "job:3:x#1")
        if seen is not None and seen.state == outbox.FAILED or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert seen is not None and seen.state == outbox.FAILED
    transport.outbox.begin = real_begin
    assert await transport.send(chat, Reply("digest", key="job:3:x#1"))
    assert emu.sent_texts(group) == ["digest"]
