"""Meeting reminders on Telegram: the real transport (PTB) against the
Bot API emulator, with a controllable clock for the reminders."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def last_message(emu, chat):
    """The bot's last sent message (as the emulator stores it, with its keyboard) in ``chat``."""
    call = [c for c in emu.calls_of("sendMessage") if int(c.params["chat_id"]) == chat["id"]][-1]
    return emu.messages[(chat["id"], call.result["message_id"])]


async def test_meeting_created_reminded_and_rsvped(emu, clocked):
    app, clock = clocked
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
