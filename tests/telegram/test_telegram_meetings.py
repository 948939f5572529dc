"""Meetings on Telegram (real python-telegram-bot transport against the Bot API emulator): a meeting
created, RSVPed by button, reaction and command, reminded with the counts, the .ics sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.when import HELSINKI

pytestmark = pytest.mark.integration


async def test_meeting_created_rsvped_and_reminded(clocked, emu):
    app, clock = clocked
    assert clock.now() == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    await emu.wait_call("getUpdates")
    group = emu.group("Kehrä Maunula")
    boss, alice, bob, cecilia = (emu.user("Boss"), emu.user("Alice"), emu.user("Bob", lang="en"),
                                 emu.user("Cecilia", lang="sv"))
    emu.set_admin(group, boss, "creator")
    emu.set_admin(group, emu.bot_user)  # Telegram sends reactions only to a bot that is an admin
    emu.post(group, alice, "/kokous huomenna klo 18 Kokous")
    await emu.wait_call("sendMessage")
    assert emu.sent_texts(group)[0] == "Vain ryhmän ylläpitäjät voivat tehdä tämän."
    emu.post(group, boss, "/kokous huomenna klo 18 Kehräkokous @ Maunula-talo")
    sent = await emu.wait_call("sendMessage", 2)
    assert emu.sent_texts(group)[1].startswith("📅 Kokous #1 sovittu: Kehräkokous\n🕕 ti 24.11.2026 klo 18.00")
    announcement = sent.result["message_id"]
    assert [b["callback_data"] for b in emu.buttons(group, announcement)] == [
        "meetings:rsvp:1:yes", "meetings:rsvp:1:no", "meetings:rsvp:1:maybe"]
    emu.press(group, alice, announcement, "meetings:rsvp:1:yes")
    await emu.wait_call("answerCallbackQuery")
    emu.react(group, bob, announcement, ["👎"])
    emu.post(group, cecilia, "/osa 1 kanske")
    await emu.wait_call("sendMessage", 3)
    assert emu.sent_texts(group)[2].endswith("Kommer: 1 · Kommer inte: 1 · Kanske: 1")
    # the day-before reminder
    clock.set(datetime(2026, 11, 23, 18, 0, tzinfo=HELSINKI).astimezone(UTC))
    await app.jobs.run_due()
    reminder = await emu.wait_call("sendMessage", 4)
    text = emu.sent_texts(group)[3]
    assert text.startswith("⏰ Muistutus: Kehräkokous\n🕕 ti 24.11.2026 klo 18.00 (1 päivän päästä)")
    assert "📍 Maunula-talo" in text and "Tulossa: 1 · Ei tule: 1 · Ehkä: 1" in text
    assert len(emu.buttons(group, reminder.result["message_id"])) == 3
    emu.post(group, alice, "/kalenteri")
    doc = await emu.wait_call("sendDocument")
    assert int(doc.params["chat_id"]) == group["id"]
