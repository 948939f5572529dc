"""Issue 19 on a real Synapse: an idea's card roots its thread (``!ideat aiheet päälle``), every
answer to what is said in the thread is posted in the thread (commands, refusals, a button's
acknowledgement), the discussion there counts on the idea; 👍 annotations on the card and on the
author's own message support once per person, and redacting the person's last one withdraws it."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.matrix import BUTTON_KEYS
from storage.idea_threads import activity_count, idea_of_thread
from storage.ideas import by_message
from tests.matrix.conftest import body, content

pytestmark = pytest.mark.integration

KEY = re.compile(r"^(\S+) (.+)$")


def _keys(ev) -> dict[str, str]:
    return {m[2]: m[1] for line in body(ev).splitlines() if (m := KEY.match(line)) and m[1] in BUTTON_KEYS}


async def _next(user, room, sender, words: str, *, edit: bool = False):
    """The bot's next message (or, with ``edit``, edit) in the room containing ``words``."""
    for _ in range(40):
        [ev] = await user.expect(room, sender)
        edited = "m.new_content" in content(ev)
        text = content(ev)["m.new_content"]["body"] if edited else body(ev)
        if words in text and edited == edit:
            return ev
    raise AssertionError(f"no {words!r}")


def _in_thread(ev, root: str) -> bool:
    rel = content(ev).get("m.relates_to") or {}
    return rel.get("rel_type") == "m.thread" and rel.get("event_id") == root


async def _until(bot, read) -> None:
    """Until ``await read(session)`` is something (what the bot keeps just after a send)."""
    for _ in range(200):
        async with bot.app.db.session() as session:
            if await read(session):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("not stored in 10 s")


async def _equals(value, expected) -> bool:
    return await value == expected


async def _room(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino, bertil, kaisa = await matrix_users("aino"), await matrix_users("bertil"), await matrix_users("kaisa")
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id, kaisa.user_id])
    await aino.wait_joined(room, bot.user_id)
    for user in (bertil, kaisa):
        await user.join(room)
        await aino.wait_joined(room, user.user_id)
    return bot, aino, bertil, kaisa, room


async def test_an_ideas_card_roots_its_thread_and_every_answer_stays_there(matrix_bot, matrix_users):
    bot, aino, bertil, _kaisa, room = await _room(matrix_bot, matrix_users)
    await aino.say(room, "!ideat aiheet päälle")  # the room's creator is its admin
    await _next(aino, room, bot.user_id, "aloittaa täällä ketjun")
    await bertil.say(room, "!idea Uimalaituri Longinojalle")
    card = await _next(aino, room, bot.user_id, "Uimalaituri Longinojalle")
    assert "m.thread" not in str(content(card).get("m.relates_to"))  # on the main timeline: the root
    await _until(bot, lambda s: idea_of_thread(s, f"matrix:{room}", card.event_id))  # kept just after the send

    async def in_thread(user, text):
        return await user.send(room, "m.room.message", {"msgtype": "m.text", "body": text, "m.relates_to": {
            "rel_type": "m.thread", "event_id": card.event_id, "is_falling_back": True,
            "m.in_reply_to": {"event_id": card.event_id}}})

    await in_thread(aino, "Hyvä idea, kesällä tarvitaan")
    await in_thread(bertil, "Laituri voisi olla puinen #idea")  # discussion, not a new idea
    # two people's messages may be handled in either order: both, then the command
    await _until(bot, lambda s: _equals(activity_count(s, 1), 2))
    await in_thread(aino, "!idea 1")
    shown = await _next(aino, room, bot.user_id, "Idea #1")
    assert _in_thread(shown, card.event_id) and "💬 2 viestiä sen ketjussa" in body(shown), body(shown)
    await in_thread(bertil, "!idea 99")
    refused = await _next(aino, room, bot.user_id, "#99")
    assert _in_thread(refused, card.event_id)
    await in_thread(aino, "!ideat")
    listed = await _next(aino, room, bot.user_id, "#1")
    assert _in_thread(listed, card.event_id) and "#2" not in body(listed)
    # the 👍 button of the idea shown in the thread: its acknowledgement in the thread too
    await bertil.react(room, shown.event_id, next(k for label, k in _keys(shown).items() if "👍" in label))
    ack = await _next(aino, room, bot.user_id, "Kannatat ideaa #1")
    assert _in_thread(ack, card.event_id), content(ack)
    await aino.say(room, "!ideat")  # the main timeline stays the main timeline
    main = await _next(aino, room, bot.user_id, "#1")
    assert not _in_thread(main, card.event_id)


async def test_annotations_on_the_card_and_the_own_message_support_once(matrix_bot, matrix_users):
    bot, aino, bertil, kaisa, room = await _room(matrix_bot, matrix_users)
    posted = await bertil.say(room, "!idea Penkki lammen rantaan")
    card = await _next(aino, room, bot.user_id, "Penkki lammen rantaan")

    async def supporters(words):
        edit = await _next(aino, room, bot.user_id, words, edit=True)
        assert content(edit)["m.relates_to"]["event_id"] == card.event_id

    await _until(bot, lambda s: by_message(s, f"matrix:{room}", card.event_id))  # stored just after the send
    on_card = await kaisa.react(room, card.event_id, "👍")
    await supporters("1 kannattaja")
    on_post = await kaisa.react(room, posted, "👍")  # the same person on the author's own message: once
    await aino.react(room, posted, "👍️")
    await supporters("2 kannattajaa")
    await kaisa.client.room_redact(room, on_card)  # her 👍 on Bertil's message still supports
    assert await aino.quiet(room, bot.user_id, 2.0) == []
    await kaisa.client.room_redact(room, on_post)  # her last one taken away: the support is withdrawn
    await supporters("1 kannattaja")
