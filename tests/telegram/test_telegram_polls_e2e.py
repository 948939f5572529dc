"""End to end with the polls feature: a native Telegram poll voted by three people, closed on
time by the feature's job (stopPoll), the result posted once."""

from __future__ import annotations

import asyncio

import pytest

from core.clock import ManualClock
from storage import polls as poll_store

pytestmark = pytest.mark.integration


async def _tally(app, chat_key: str):
    async with app.db.session() as s:
        poll = await poll_store.by_number(s, chat_key, 1)
        counts, voters, _names = await poll_store.tally(s, poll)
    return counts, voters


async def test_native_poll_end_to_end(start_bot, emu):
    clock = ManualClock()
    bot = await start_bot(clock=clock)
    group = emu.group("Kehrä Suutarila")
    alice = emu.user("Alice", lang="en")
    voters = [emu.user(n, lang="en") for n in ("Aino", "Bertil", "Chen")]
    chat_key = f"telegram:{group['id']}"

    emu.post(group, alice, "/poll Which evening? | Tue | Wed | Thu | closes in 1 hour")
    sent_poll = await emu.wait_call("sendPoll")
    info = await emu.wait_call("sendMessage")
    assert sent_poll.params["is_anonymous"] == "false"
    assert "Closes" in info.params["text"]
    ref = sent_poll.result["poll"]["id"]

    emu.answer_poll(voters[0], ref, [0])
    emu.answer_poll(voters[1], ref, [0])
    emu.answer_poll(voters[2], ref, [1])
    emu.answer_poll(voters[2], ref, [2])  # Chen changes the vote
    for _ in range(200):
        if await _tally(bot.app, chat_key) == ([2, 0, 1], 3):
            break
        await asyncio.sleep(0.02)
    assert await _tally(bot.app, chat_key) == ([2, 0, 1], 3)

    clock.advance(minutes=59)
    await bot.app.jobs.run_due()
    assert not emu.calls_of("stopPoll")  # not before its time
    clock.advance(minutes=1)
    await asyncio.gather(bot.app.jobs.run_due(), bot.app.jobs.run_due())
    await bot.app.jobs.run_due()
    await emu.wait_idle()
    stops = emu.calls_of("stopPoll")
    assert len(stops) == 1 and int(stops[0].params["message_id"]) == sent_poll.result["message_id"]
    assert emu.polls[ref]["is_closed"]
    results = [t for t in emu.sent_texts(group) if "Tue" in t and t != emu.sent_texts(group)[0]]
    assert len(results) == 1, emu.sent_texts(group)
    assert results[0].startswith("📊 Poll #1 closed: Which evening?\n1. Tue\n")
    assert "🏆 Winner: Tue" in results[0]
    assert "Turnout: 3 of 4 members (75%)." in results[0]  # getChatMemberCount minus the bot
    # Telegram refuses votes in a stopped poll; a late vote that still arrives is ignored
    emu._push("poll_answer", {"poll_id": ref, "user": alice, "option_ids": [1],
                              "option_persistent_ids": [f"{ref}-1"]})
    await emu.wait_idle()
    assert await _tally(bot.app, chat_key) == ([2, 0, 1], 3)
    await bot.stop()
