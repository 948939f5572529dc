"""One member answers the whole Kehrä checklist in a direct chat with reaction buttons, on a
real Synapse with the real Matrix transport."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.matrix import BUTTON_KEYS
from tests.matrix.conftest import body, content

pytestmark = pytest.mark.integration

KEY = re.compile(r"^(\S+) (.+)$")


async def _next_question(user, room, sender):
    """The next new message of the bot with buttons (skipping edits)."""
    while True:
        [ev] = await user.expect(room, sender)
        if "m.new_content" not in content(ev) and "1️⃣" in body(ev):
            return ev


def _keys(ev) -> dict[str, str]:
    """Button label -> reaction key, from the lines the transport appends."""
    found = {}
    for line in body(ev).splitlines():
        m = KEY.match(line)
        if m and m[1] in BUTTON_KEYS:
            found[m[2]] = m[1]
    return found


async def test_member_answers_whole_checklist_in_direct_chat(matrix_bot, matrix_users):
    bot = await matrix_bot(min_respondents=1)  # one respondent, and the profile and its chart are seen
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot.user_id])
    await aino.wait_joined(room, bot.user_id)
    await aino.say(room, "!lang en")
    await aino.expect(room, bot.user_id)
    await aino.say(room, "!checklist start")
    start = await _next_question(aino, room, bot.user_id)
    assert "Self-assessment started: Kehrä self-assessment" in body(start)
    await aino.expect(room, bot.user_id, types=("m.reaction",))  # the button is ready
    await aino.react(room, start.event_id, _keys(start)["✍ Answer"])

    # the bot opens a direct chat and invites her
    for _ in range(100):
        await aino.sync(200)
        if aino.client.invited_rooms:
            break
    [dm] = list(aino.client.invited_rooms)
    await aino.join(dm)
    answered = 0
    for _step in range(60):
        q = await _next_question(aino, dm, bot.user_id)
        if "Thank you!" in body(q):
            break
        keys = _keys(q)
        await aino.expect(dm, bot.user_id, types=("m.reaction",))  # buttons stored before we press
        if "Write your answer as a message" in body(q):
            await aino.say(dm, "Kirjaston kokoushuone")
        elif "Done ✓" in keys:
            first = next(iter(keys))
            await aino.react(dm, q.event_id, keys[first])
            await asyncio.sleep(0.3)
            await aino.react(dm, q.event_id, keys["Done ✓"])
        else:
            await aino.react(dm, q.event_id, keys[next(iter(keys))])
        answered += 1
    assert "You answered 28 questions." in body(q) and answered == 28

    await aino.say(room, "!checklist profile")
    while "Profile:" not in body(profile := (await aino.expect(room, bot.user_id))[0]):
        pass  # e.g. the notice "I sent the questions to you in a private chat."
    assert "Respondents: 1 (finished 1)" in body(profile) and "• Kirjaston kokoushuone" in body(profile)
    [image] = await aino.expect(room, bot.user_id)
    assert content(image)["msgtype"] == "m.image"
