"""Polls end to end on Telegram: the real transport (python-telegram-bot) against the Bot API
emulator. Three people vote, the poll closes on time, the result message appears once."""

from __future__ import annotations

import pytest

from storage import polls as store

pytestmark = pytest.mark.integration


@pytest.fixture
def tgbot(emu, clocked):
    app, clock = clocked
    return emu, app, clock


async def _counts(app, chat_key: str):
    async with app.db.session() as s:
        poll = await store.by_number(s, chat_key, 1)
        counts, voters, _names = await store.tally(s, poll)
    return counts, voters


async def test_native_poll_three_voters_close_on_time_once(tgbot):
    emu, app, clock = tgbot
    group = emu.group()
    aino, bertil, chen = (emu.user(n) for n in ("Aino", "Bertil", "Chen"))
    emu.post(group, aino, "/kysely Mikä ilta sopii? | ti | ke | to | sulkeutuu 2 h")
    call = await emu.wait_call("sendPoll")
    ref = call.result["poll"]["id"]
    await emu.wait_call("sendMessage")  # the closing time, echoed
    assert "Sulkeutuu ma 23.11.2026 klo 14.00." in emu.sent_texts(group)[-1]
    emu.answer_poll(aino, ref, [0])
    emu.answer_poll(bertil, ref, [1])
    emu.answer_poll(chen, ref, [0])
    emu.answer_poll(bertil, ref, [0])  # changed
    await emu.wait_idle()
    chat_key = f"telegram:{group['id']}"
    assert await _counts(app, chat_key) == ([3, 0, 0], 3)
    clock.advance(hours=1, minutes=59)
    assert await app.jobs.run_due() == 0
    clock.advance(minutes=1)
    assert await app.jobs.run_due() == 1
    assert await app.jobs.run_due() == 0
    await emu.wait_idle()
    assert len(emu.calls_of("stopPoll")) == 1 and emu.polls[ref]["is_closed"]
    results = [t for t in emu.sent_texts(group) if "päättyi" in t]
    assert len(results) == 1
    assert "🏆 Voittaja: ti" in results[0] and "Aino, Bertil, Chen" in results[0]


async def test_button_poll_three_voters_anonymous(tgbot):
    emu, app, clock = tgbot
    group = emu.group()
    people = [emu.user(n) for n in ("Aino", "Bertil", "Chen")]
    emu.post(group, people[0], "/kysely Mikä ilta? | ti | ke | nimetön | sulkeutuu 1 h")
    call = await emu.wait_call("sendMessage")
    message_id = call.result["message_id"]
    assert [b["callback_data"] for b in emu.buttons(group, message_id)] == ["polls:vote:1:0", "polls:vote:1:1"]
    for person, data in zip(people, ("polls:vote:1:0", "polls:vote:1:1", "polls:vote:1:1"), strict=True):
        emu.press(group, person, message_id, data)
    await emu.wait_call("answerCallbackQuery", 3)
    await emu.wait_idle()
    assert await _counts(app, f"telegram:{group['id']}") == ([1, 2], 3)
    clock.advance(seconds=5)
    assert await app.jobs.run_due() == 1  # the throttled live-count edit catches up
    await emu.wait_idle()
    assert "3 henkilöä on äänestänyt." in emu.messages[(group["id"], message_id)]["text"]
    clock.advance(hours=1)
    assert await app.jobs.run_due() == 1
    await emu.wait_idle()
    results = [t for t in emu.sent_texts(group) if "päättyi" in t]
    assert len(results) == 1
    assert "🏆 Voittaja: ke" in results[0]
    assert not any(p["first_name"] in results[0] for p in people)
    clock.advance(days=1)
    assert await app.jobs.run_due() == 1  # the poll message loses its buttons
    await emu.wait_idle()
    assert emu.buttons(group, message_id) == []
    assert len([t for t in emu.sent_texts(group) if "päättyi" in t]) == 1

