"""Meetings and the self-assessment checklist on Telegram: the real transport (PTB) against the
Bot API emulator, with a controllable clock for the reminders."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.config import Settings
from bot.telegram import TelegramTransport
from tests.telegram.conftest import telegram_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def tgclock(tmp_path, emu):
    clock = ManualClock()
    settings = Settings.model_construct(**{
        **dict(Settings.model_construct()), "data_dir": tmp_path, "database_url": None,
        "telegram": telegram_settings(emu)})
    app = App(settings, clock=clock)
    transport = TelegramTransport(settings.telegram, app.services)
    app.add_transport(transport)
    await app.open()
    task = asyncio.create_task(transport.start(app.dispatch))
    await emu.wait_call("getUpdates")
    try:
        yield app, clock
    finally:
        await transport.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app.db.close()


PROFILE_MARK = "Vastaajia: 1"


def last_message(emu, chat):
    """The bot's last sent message (as the emulator stores it, with its keyboard) in ``chat``."""
    call = [c for c in emu.calls_of("sendMessage") if int(c.params["chat_id"]) == chat["id"]][-1]
    return emu.messages[(chat["id"], call.result["message_id"])]


async def test_meeting_created_reminded_and_rsvped(emu, tgclock):
    app, clock = tgclock
    group = emu.group()
    admin, bertil, chen = emu.user("Aino"), emu.user("Bertil", lang="sv"), emu.user("Chen", lang="en")
    emu.set_admin(group, admin)
    emu.post(group, admin, "/kokous huomenna klo 18 Kehrän kuukausitapaaminen @ Maunula-talo")
    await emu.wait_call("sendMessage")
    await emu.wait_idle()
    created = emu.sent_texts(group)[-1]
    assert "ti 24.11.2026 klo 18.00" in created and "Maunula-talo" in created
    # members RSVP: by command, by button on the announcement
    emu.post(group, bertil, "/osa 1 ja")
    await emu.wait_idle()
    announcement = [m for m in emu.messages.values() if m["chat"]["id"] == group["id"]
                    and "Kehrän kuukausitapaaminen" in m.get("text", "") and m.get("reply_markup")]
    assert len(announcement) == 1
    yes = next(b["callback_data"] for b in emu.buttons(group, announcement[0]["message_id"])
               if b["callback_data"].endswith(":yes"))
    emu.press(group, chen, announcement[0]["message_id"], yes)
    await emu.wait_call("answerCallbackQuery")
    await emu.wait_idle()
    # the day-before reminder fires once, with place, counts and RSVP buttons
    clock.advance(hours=6)  # 16:00 local on Monday = a day minus 2 h before
    fired = await app.jobs.run_due()
    assert fired == 1
    await emu.wait_idle()
    reminder = last_message(emu, group)
    assert "Muistutus: Kehrän kuukausitapaaminen" in reminder["text"] and "Maunula-talo" in reminder["text"]
    assert "Tulossa: 2" in reminder["text"]
    data = [b["callback_data"] for b in emu.buttons(group, reminder["message_id"])]
    assert any(d.endswith(":no") for d in data)
    # Chen changes her mind with the reminder's button; the answer is toasted
    no = next(d for d in data if d.endswith(":no"))
    before = len(emu.answers)
    emu.press(group, chen, reminder["message_id"], no)
    await emu.wait_call("answerCallbackQuery", before + 1)
    await emu.wait_idle()
    assert await app.jobs.run_due() == 0  # nothing fires twice
    sent_before = len(emu.calls_of("sendMessage"))
    emu.post(group, admin, "/kokous 1")
    await emu.wait_call("sendMessage", sent_before + 1)
    shown = emu.sent_texts(group)[-1]
    assert "Bertil" in shown and ("Chen" in shown)
    # the one-hour reminder, once
    clock.advance(hours=23)
    assert await app.jobs.run_due() == 1
    assert await app.jobs.run_due() == 0
    await emu.wait_idle()
    assert len([t for t in emu.sent_texts(group) if "Muistutus" in t]) == 2


def _sent_to(emu, chat) -> int:
    return len([c for c in emu.calls_of("sendMessage") if int(c.params["chat_id"]) == chat["id"]])


async def _next_message(emu, chat, before: int) -> dict:
    await emu.wait_call("sendMessage", where=lambda c: int(c.params["chat_id"]) == chat["id"], count=before + 1,
                        within=30)
    return last_message(emu, chat)


async def test_member_answers_the_whole_checklist_in_private_with_buttons(emu, tgclock):
    app, _clock = tgclock
    group = emu.group()
    admin, member = emu.user("Aino"), emu.user("Bertil", lang="en")
    private = emu.private(member)
    emu.set_admin(group, admin)
    emu.post(private, member, "/start")  # Telegram: the bot may write first only after /start
    await _next_message(emu, private, 0)
    emu.post(group, admin, "/itsearviointi aloita")
    start_msg = await _next_message(emu, group, 0)
    go = next(b["callback_data"] for b in emu.buttons(group, start_msg["message_id"]))
    before = _sent_to(emu, private)
    emu.press(group, member, start_msg["message_id"], go)
    msg = await _next_message(emu, private, before + 1)  # an introduction, then the first question
    answered = 0
    while "Question" in msg["text"] and answered < 80:
        data = [b["callback_data"] for b in emu.buttons(private, msg["message_id"])]
        answers = [d for d in data if d.split(":")[1] == "a"]
        toggles = [d for d in data if d.split(":")[1] == "t"]
        before = _sent_to(emu, private)
        if answers:
            emu.press(private, member, msg["message_id"], answers[0])
        elif toggles:
            edits = len(emu.calls_of("editMessageText")) + len(emu.calls_of("editMessageReplyMarkup"))
            emu.press(private, member, msg["message_id"], toggles[0])
            for _ in range(300):
                if len(emu.calls_of("editMessageText")) + len(emu.calls_of("editMessageReplyMarkup")) > edits:
                    break
                await asyncio.sleep(0.05)
            done = next(b["callback_data"] for b in emu.buttons(private, msg["message_id"])
                        if b["callback_data"].split(":")[1] == "d")
            emu.press(private, member, msg["message_id"], done)
        else:  # free text: answer by writing
            emu.post(private, member, "Yhteistyö naapurialueiden kanssa")
        answered += 1
        msg = await _next_message(emu, private, before)
    assert answered >= 20
    assert "Question" not in msg["text"]
    # the group's profile now counts one respondent
    sent_before = _sent_to(emu, group)
    emu.post(group, admin, "/itsearviointi profiili")
    await _next_message(emu, group, sent_before)
    assert PROFILE_MARK in emu.sent_texts(group)[-1]
