"""A time poll on Telegram (issue 20; the real python-telegram-bot transport against the Bot API
emulator): the poll's buttons pressed by three people, an answer replaced, the message edited with
the counts, the close by its job at its time making the meeting with its RSVP buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.when import HELSINKI

pytestmark = pytest.mark.integration


async def test_time_poll_buttons_make_the_meeting(clocked, emu):
    app, clock = clocked
    await emu.wait_call("getUpdates")
    group = emu.group("Kehrä Maunula")
    boss, aino, bertta, cecilia = emu.user("Boss"), emu.user("Aino"), emu.user("Bertta"), emu.user("Cecilia")
    emu.set_admin(group, boss, "creator")
    emu.post(group, boss, "/kokous ehdota ti 8.12. klo 18 Kehräkokous @ Maunula-talo | ke 9.12. klo 17 "
                          "sulkeutuu pe 4.12. klo 12")
    sent = await emu.wait_call("sendMessage")
    poll = sent.result["message_id"]
    assert emu.sent_texts(group)[0].startswith("🗓 Aikakysely #1: Kehräkokous")
    assert [b["callback_data"] for b in emu.buttons(group, poll)] == [
        "meetings:time:1:0:yes", "meetings:time:1:0:maybe", "meetings:time:1:0:no",
        "meetings:time:1:1:yes", "meetings:time:1:1:maybe", "meetings:time:1:1:no"]
    assert [b["text"] for b in emu.buttons(group, poll)][:3] == ["1 ✅", "1 🤔", "1 ❌"]
    presses = [(aino, "meetings:time:1:0:yes"), (bertta, "meetings:time:1:1:yes"), (cecilia, "meetings:time:1:1:maybe"),
               (aino, "meetings:time:1:1:yes"), (cecilia, "meetings:time:1:1:yes"), (bertta, "meetings:time:1:0:no")]
    for n, (who, data) in enumerate(presses, 1):
        emu.press(group, who, poll, data)
        await emu.wait_call("answerCallbackQuery", n)
        await emu.wait_call("editMessageText", n)
    answers = [c.params.get("text") for c in emu.calls_of("answerCallbackQuery")]
    assert answers[0] == "Vastauksesi ajalle ti 8.12.2026 klo 18.00: käy. ✅ 1 · 🤔 0 · ❌ 0"
    assert answers[4] == "Vastauksesi ajalle ke 9.12.2026 klo 17.00: käy. ✅ 3 · 🤔 0 · ❌ 0"  # Cecilia's replaced
    edited = emu.messages[(group["id"], poll)]["text"]
    assert "1. ti 8.12.2026 klo 18.00 — ✅ 1 · 🤔 0 · ❌ 1" in edited
    assert "2. ke 9.12.2026 klo 17.00 — ✅ 3 · 🤔 0 · ❌ 0" in edited
    # the close at its time: the poll's buttons go, the meeting is announced with its RSVP buttons
    clock.set(datetime(2026, 12, 4, 12, 0, tzinfo=HELSINKI).astimezone(UTC))
    await app.jobs.run_due()
    announced = await emu.wait_call("sendMessage", 2)
    text = emu.sent_texts(group)[1]
    assert text.startswith("🗓 Aikakysely #1 suljettiin: ke 9.12.2026 klo 17.00 (✅ 3 · 🤔 0 · ❌ 0)\n"
                           "📅 Kokous #1 sovittu: Kehräkokous\n🕕 ke 9.12.2026 klo 17.00–19.00")
    assert [b["callback_data"] for b in emu.buttons(group, announced.result["message_id"])] == [
        "meetings:rsvp:1:yes", "meetings:rsvp:1:no", "meetings:rsvp:1:maybe"]
    closed = emu.messages[(group["id"], poll)]
    assert closed["text"].endswith("Suljettu: valittiin aika 2.") and not closed.get("reply_markup")
    # the meeting's day-before reminder comes from the meetings' own job
    clock.set(datetime(2026, 12, 8, 17, 0, 1, tzinfo=HELSINKI).astimezone(UTC))
    await app.jobs.run_due()  # (the weekly digest of Sunday too)
    await emu.wait_call("sendMessage", where=lambda c: c.params["text"].startswith("⏰"))
    (reminder,) = [t for t in emu.sent_texts(group) if t.startswith("⏰")]
    assert reminder.startswith("⏰ Muistutus: Kehräkokous\n🕕 ke 9.12.2026 klo 17.00")
