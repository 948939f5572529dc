"""Meetings on a real Synapse: created, RSVPed by button (numbered reaction), by 👍 and by
command, reminded with the counts at a controlled time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import ManualClock
from storage import meetings as store
from tests.matrix.conftest import body

pytestmark = pytest.mark.integration


async def _counts(bot, occurrence: str, want: dict, within: float = 20) -> dict:
    deadline = time.monotonic() + within
    while True:
        async with bot.app.services.db.session() as s:
            counts = await store.rsvp_counts(s, 1, occurrence)
        if counts == want or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def _next_message(user, room, sender):
    """The next new message (edits of earlier ones are skipped)."""
    while True:
        [ev] = await user.expect(room, sender)
        if ev.source.get("content", {}).get("m.relates_to", {}).get("rel_type") != "m.replace":
            return ev


async def test_meeting_created_rsvped_and_reminded(matrix_bot, matrix_users):
    bot = await matrix_bot()
    clock = ManualClock(datetime.now(UTC))
    bot.app.services.clock = clock  # reminders at a controlled time; the transport runs for real
    aino = await matrix_users("aino")
    bertil = await matrix_users("bertil")
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id])
    await aino.wait_joined(room, bot.user_id)
    await bertil.join(room)
    await aino.wait_joined(room, bertil.user_id)

    await aino.say(room, "!kokousasetukset muistutukset 2 h")
    [settings] = await aino.expect(room, bot.user_id)
    assert "Muistutukset: 2 tuntia ennen." in body(settings)
    await aino.say(room, "!kokous huomenna klo 18 Kehräkokous @ Maunula-talo")
    [announcement] = await aino.expect(room, bot.user_id)
    assert body(announcement).startswith("📅 Kokous #1 sovittu: Kehräkokous\n🕕 ")
    keys = await aino.expect(room, bot.user_id, 3, types=("m.reaction",))
    assert [k.source["content"]["m.relates_to"]["key"] for k in keys] == ["1️⃣", "2️⃣", "3️⃣"]

    await bertil.react(room, announcement.event_id, "2️⃣")  # the "Not coming" button
    ack = await _next_message(aino, room, bot.user_id)
    assert "Et tule kokoukseen Kehräkokous" in body(ack)
    await aino.react(room, announcement.event_id, "👍")
    async with bot.app.services.db.session() as s:
        meeting = await store.by_number(s, f"matrix:{room}", 1)
    occurrence = meeting.dtstart_local
    assert await _counts(bot, occurrence, {"yes": 1, "no": 1, "maybe": 0}) == {"yes": 1, "no": 1, "maybe": 0}

    clock.set(meeting.first_start - timedelta(hours=2) + timedelta(seconds=30))
    assert await bot.app.jobs.run_due() >= 1
    reminder = await _next_message(aino, room, bot.user_id)
    assert body(reminder).startswith("⏰ Muistutus: Kehräkokous\n🕕 ")
    assert "📍 Maunula-talo" in body(reminder) and "Tulossa: 1 · Ei tule: 1 · Ehkä: 0" in body(reminder)
    assert await bot.app.jobs.run_due() == 0
    assert [e for e in await aino.quiet(room, bot.user_id, 1.0)
            if e.source["content"].get("m.relates_to", {}).get("rel_type") != "m.replace"] == []
