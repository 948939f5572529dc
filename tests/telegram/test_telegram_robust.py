"""Native polls, idempotency across restarts, faults (429, 5xx, dropped connections, the
server going away) and the flood limits, with the real transport against the emulator."""

from __future__ import annotations

import asyncio

import pytest

from core.events import Kind, PollOutcome, PollSpec, Reply
from core.transport import RateLimited
from tests.telegram.emulator import max_in_window

pytestmark = pytest.mark.integration


async def test_native_poll_three_voters_and_close(tg, emu):
    group = emu.group()
    users = [emu.user(name) for name in ("Aino", "Bertil", "Chen")]
    for user in users:  # the poll chat is known to the emulator through a message
        emu.post(group, user, "moi")
    await emu.wait_idle()
    t = tg.transport
    ref = await t.send_poll(str(group["id"]), PollSpec("Which evening?", ("Tue", "Wed", "Thu"), multiple=True))
    call = emu.calls_of("sendPoll")[0]
    assert call.params["is_anonymous"] == "false" and call.params["allows_multiple_answers"] == "true"
    assert ref == call.result["poll"]["id"]

    emu.answer_poll(users[0], ref, [0])
    emu.answer_poll(users[1], ref, [0, 2])
    emu.answer_poll(users[2], ref, [1])
    emu.answer_poll(users[2], ref, [])  # Chen retracts
    for _ in range(100):
        if len([e for e in tg.events if e.kind == Kind.POLL_VOTE]) == 4:
            break
        await asyncio.sleep(0.02)
    votes = [e for e in tg.events if e.kind == Kind.POLL_VOTE]
    assert [(e.sender_id, e.poll_choices) for e in votes] == [
        (str(users[0]["id"]), (0,)), (str(users[1]["id"]), (0, 2)), (str(users[2]["id"]), (1,)),
        (str(users[2]["id"]), ()),
    ]
    assert {e.poll_ref for e in votes} == {ref}
    assert {e.chat_id for e in votes} == {str(group["id"])}
    assert all(e.target_id == str(call.result["message_id"]) for e in votes)

    await t.close_poll(str(group["id"]), ref, PollOutcome(("Tue", "Wed", "Thu"), (2, 0, 1), (0,)))
    stop = emu.calls_of("stopPoll")[0]
    assert int(stop.params["message_id"]) == call.result["message_id"]
    assert emu.polls[ref]["is_closed"]
    # closing twice is harmless (Telegram answers "already closed")
    await t.close_poll(str(group["id"]), ref, PollOutcome(("Tue", "Wed", "Thu"), (2, 0, 1), (0,)))


async def test_poll_mapping_survives_restart(start_bot, emu):
    group, aino = emu.group(), emu.user("Aino")
    emu.post(group, aino, "moi")
    first = await start_bot()
    await emu.wait_idle()
    ref = await first.transport.send_poll(str(group["id"]), PollSpec("Q?", ("a", "b")))
    await first.stop()
    second = await start_bot()
    emu.answer_poll(aino, ref, [1])
    for _ in range(100):
        if second.events:
            break
        await asyncio.sleep(0.02)
    assert [(e.kind, e.chat_id, e.poll_choices) for e in second.events] == [
        (Kind.POLL_VOTE, str(group["id"]), (1,))]
    await second.stop()


async def test_restart_neither_replays_nor_loses(start_bot, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    first = await start_bot()
    update = emu.post(group, alice, "/idea One")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    await first.stop()
    # while the bot is down, two more ideas; and the first update is delivered again
    emu.post(group, alice, "/idea Two")
    emu.redeliver(update)
    emu.post(group, alice, "/idea Three")
    second = await start_bot()
    await emu.wait_call("sendMessage", 3)
    await emu.wait_idle()
    texts = emu.sent_texts(group)
    assert [t.split("\n")[0] for t in texts] == ["💡 Idea #1 saved. One", "💡 Idea #2 saved. Two",
                                                 "💡 Idea #3 saved. Three"]
    await second.stop()
    # the confirmed offset was stored: a third start asks for nothing old
    third = await start_bot()
    await emu.wait_idle()
    assert len(emu.sent_texts(group)) == 3
    last = emu.calls_of("getUpdates")[-1]
    assert int(last.params["offset"]) > update["update_id"]
    await third.stop()


async def test_429_is_honoured(tg, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.fail("sendMessage", "429", retry_after=1)
    emu.post(group, alice, "/idea Rate limited")
    await emu.wait_call("sendMessage", within=10)
    tries = [c for c in emu.calls if c.method == "sendMessage"]
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.0
    assert emu.sent_texts(group)[0].startswith("💡 Idea #1 saved.")


async def test_429_pauses_every_request(tg, emu):
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    emu.fail("sendMessage", "429", retry_after=1)
    chat = str(group["id"])
    first = asyncio.create_task(tg.transport.send(chat, Reply("first")))
    await asyncio.sleep(0.2)
    second = await tg.transport.send(chat, Reply("second"))  # waits for the pause to end
    await first
    ok = emu.calls_of("sendMessage")
    flood = next(c for c in emu.calls if c.status == 429)
    assert all(c.at >= flood.at + 1.0 for c in ok)
    assert int(second) == ok[-1].result["message_id"] and len(ok) == 2


@pytest.mark.parametrize("kind", ["500", "502", "drop", "500_after", "502_after", "drop_after"])
async def test_a_send_whose_fate_is_unknown_is_not_repeated(tg, emu, kind):
    """Telegram has no idempotency keys: after a 5xx or a lost connection the message may exist
    ("…_after": it does). The send is tried once, logged as unknown, and not sent again under
    its key (a handler run again after a crash sends under the same keys)."""
    from core.transport import Ambiguous
    from storage import outbox

    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    chat = str(group["id"])
    emu.fail("sendMessage", kind)
    with pytest.raises(Ambiguous):
        await tg.transport.send(chat, Reply("digest", key="job:1:x#1"))
    assert len([c for c in emu.calls if c.method == "sendMessage"]) == 1  # never repeated blindly
    async with tg.app.db.session() as s:
        assert (await outbox.outcome(s, "job:1:x#1")).state == outbox.UNKNOWN
    assert await tg.transport.send(chat, Reply("digest", key="job:1:x#1")) is None
    assert len([c for c in emu.calls if c.method == "sendMessage"]) == 1
    assert emu.sent_texts(group).count("digest") == (1 if kind.endswith("_after") else 0)
    # a send that certainly did not arrive (Telegram refused it) may go again under its key
    emu.fail("sendMessage", "429", retry_after=1)
    tg.transport.limiter.max_retries = 0
    with pytest.raises(RateLimited):
        await tg.transport.send(chat, Reply("weekly", key="job:2:x#1"))
    tg.transport.limiter.max_retries = 5
    assert await tg.transport.send(chat, Reply("weekly", key="job:2:x#1"))
    assert emu.sent_texts(group).count("weekly") == 1


@pytest.mark.parametrize("kind", ["500", "502", "drop"])
async def test_reading_methods_back_off_and_retry(tg, emu, kind):
    """What only reads can be asked again: getChatAdministrators after 5xx or a lost connection."""
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.set_admin(group, alice)
    emu.fail("getChatAdministrators", kind, count=2)
    from core.events import Role

    assert await tg.transport.role_of(str(group["id"]), str(alice["id"])) == Role.ADMIN
    tries = [c for c in emu.calls if c.method == "getChatAdministrators"]
    assert [c.status for c in tries][-1] == 200 and len(tries) == 3
    assert tries[2].at - tries[0].at >= 0.05 + 0.1  # back-off doubled between tries


async def test_get_updates_errors_do_not_stop_polling(tg, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.fail("getUpdates", "502", count=2)
    emu.fail("getUpdates", "drop", count=1)
    emu.post(group, alice, "/idea Still here")
    await emu.wait_call("sendMessage", within=10)
    assert not tg.task.done()


async def test_emulator_goes_away_and_comes_back(tg, emu):
    group, alice = emu.group(), emu.user("Alice", lang="en")
    emu.post(group, alice, "/idea Before")
    await emu.wait_call("sendMessage")
    port = emu.port
    await emu.stop()
    emu.post(group, alice, "/idea During the outage")
    # a scheduled send issued while the server is away is retried, not lost
    pending = asyncio.create_task(tg.transport.send(str(group["id"]), Reply("digest")))
    await asyncio.sleep(1.0)
    assert not tg.task.done()
    await emu.start(port=port)
    await emu.wait_call("sendMessage", 3, within=15)
    assert await pending
    texts = emu.sent_texts(group)
    assert "digest" in texts and any(t.startswith("💡 Idea #2 saved. During the outage") for t in texts)


async def test_burst_respects_group_limit(start_bot, emu):
    """100 messages to one group: at most rate_group per rate_group_seconds (scaled from
    20/60 s to 20/1 s), queued, none dropped; edits count too."""
    bot = await start_bot(rate_group=20, rate_group_seconds=1.0, rate_overall=30, rate_overall_seconds=1.0)
    group = emu.group()
    emu.post(group, emu.user("A"), "hello")
    await emu.wait_idle()
    chat = str(group["id"])
    first = await bot.transport.send(chat, Reply("0"))
    sends = [bot.transport.send(chat, Reply(str(n))) for n in range(1, 90)]
    edits = [bot.transport.edit(chat, first, Reply(f"edited {n}")) for n in range(10)]
    results = await asyncio.gather(*sends, *edits)
    counted = [c for c in emu.calls if c.method in ("sendMessage", "editMessageText") and c.status == 200]
    assert len(counted) == 100 and all(results[:89])
    assert sorted(int(c.params["text"]) for c in counted if c.method == "sendMessage") == list(range(90))
    assert max_in_window([c.at for c in counted], 0.98) <= 20
    span = counted[-1].at - counted[0].at
    assert span >= 4 * 0.98  # 100 messages need five windows
    await bot.stop()


async def test_burst_respects_overall_limit(start_bot, emu):
    """100 messages over 10 groups: the overall limit (30/s) binds."""
    bot = await start_bot(rate_group=20, rate_group_seconds=60.0, rate_overall=30, rate_overall_seconds=1.0)
    groups = [emu.group(f"g{n}") for n in range(10)]
    user = emu.user("A")
    for group in groups:
        emu.post(group, user, "hello")
    await emu.wait_idle()
    await asyncio.gather(*(bot.transport.send(str(g["id"]), Reply(f"{n}")) for n in range(10) for g in groups))
    sent = emu.calls_of("sendMessage")
    assert len(sent) == 100
    assert max_in_window([c.at for c in sent], 0.98) <= 30
    assert sent[-1].at - sent[0].at >= 3 * 0.98
    await bot.stop()


async def test_a_chat_at_its_limit_does_not_hold_up_others(start_bot, emu):
    bot = await start_bot(rate_group=2, rate_group_seconds=3.0)
    group, alice = emu.group(), emu.user("Alice", lang="en")
    for n in range(4):
        emu.post(group, alice, f"/idea Group idea {n}")
    await emu.wait_call("sendMessage", 2)
    bob = emu.user("Bob", lang="en")
    emu.post(emu.private(bob), bob, "/idea A private idea")
    private = await emu.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == bob["id"])
    assert private.at - emu.calls_of("sendMessage")[0].at < 1.5  # not behind the group's 3 s window
    third = await emu.wait_call("sendMessage", 3, where=lambda c: int(c.params["chat_id"]) == group["id"])
    assert third.at > private.at
    bot.transport.stop_grace = 0.1  # do not wait for the fourth window
    await bot.stop()


async def test_updates_fetched_before_a_crash_are_handled_after_restart(start_bot, emu, tmp_path):
    """A stop that cuts handlers off (idea 2 waiting for the group's flood window, idea 3
    behind it): both stay in the inbox, and after the restart every command is answered once."""
    from storage import telegram as tg_store

    group, alice = emu.group(), emu.user("Alice", lang="en")
    first = await start_bot(rate_group=1, rate_group_seconds=60.0)
    for n in (1, 2, 3):
        emu.post(group, alice, f"/idea Number {n}")
    await emu.wait_call("sendMessage")
    await asyncio.sleep(0.3)  # idea 2 waits for the group's window; idea 3 waits behind it
    first.transport.stop_grace = 0.1  # a crash: the handlers in hand are cut off
    await first.stop()
    from storage.db import Database

    db = Database(first.app.settings.resolved_database_url())
    async with db.session() as s:
        # idea 2 begun but not finished, idea 3 only fetched (and confirmed to Telegram)
        assert [data["message"]["text"] for _id, data in await tg_store.inbox(s)] == [
            "/idea Number 2", "/idea Number 3"]
    await db.close()
    second = await start_bot()
    await emu.wait_call("sendMessage", 3)
    await emu.wait_idle()
    texts = [t.split("\n")[0] for t in emu.sent_texts(group)]
    assert len(texts) == 3
    for n in (1, 2, 3):  # every command answered, once
        assert len([t for t in texts if t.endswith(f"Number {n}")]) == 1, texts
    async with second.app.db.session() as s:
        assert await tg_store.inbox(s) == []
    await second.stop()


async def test_a_stop_that_arrives_as_a_wait_ends_is_not_swallowed():
    """asyncio.wait_for on Python 3.11 returns the result instead of raising when it is cancelled
    just as the awaited event fires; the polling loop then never stopped (a hang at shutdown)."""
    import asyncio

    from bot.telegram import TelegramTransport

    transport = TelegramTransport.__new__(TelegramTransport)  # only the waiting parts are needed
    transport._wake = asyncio.Event()
    waiting = asyncio.create_task(transport._pause(10))
    await asyncio.sleep(0)
    transport._wake.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
