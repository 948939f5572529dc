"""Ideas that reach the city, on a real Synapse (issue 19): an admin names the city contact with a
mention; an idea reaches its threshold by its card's button; the bot opens a direct chat with the
contact and sends the idea with buttons; she answers with a button and a message; the room (a
reply to the card) and the author (in a direct chat) see the answer."""

from __future__ import annotations

import re

import pytest

from bot.matrix import BUTTON_KEYS
from tests.matrix.conftest import body, content

pytestmark = pytest.mark.integration

KEY = re.compile(r"^(\S+) (.+)$")


def _keys(ev) -> dict[str, str]:
    """Button label -> reaction key, from the lines the transport appends."""
    return {m[2]: m[1] for line in body(ev).splitlines() if (m := KEY.match(line)) and m[1] in BUTTON_KEYS}


async def _next(user, room, sender, words: str):
    """The bot's next message in the room containing ``words``."""
    for _ in range(30):
        [ev] = await user.expect(room, sender)
        if words in body(ev) and "m.new_content" not in content(ev):
            return ev
    raise AssertionError(f"no {words!r}")


async def _invited(user) -> str:
    for _ in range(150):
        await user.sync(200)
        if user.client.invited_rooms:
            [dm] = list(user.client.invited_rooms)
            await user.join(dm)
            return dm
    raise AssertionError("no direct chat")


async def test_threshold_by_button_private_answer_reaches_room_and_author(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino, kaisa, bertil = await matrix_users("aino"), await matrix_users("kaisa"), await matrix_users("bertil")
    await kaisa.client.set_displayname("Kaisa")
    room = await aino.create_room(invite=[bot.user_id, kaisa.user_id, bertil.user_id])
    await aino.wait_joined(room, bot.user_id)
    for user in (kaisa, bertil):
        await user.join(room)
        await aino.wait_joined(room, user.user_id)
    await aino.say(room, "!kynnys 2 kaupungin yhteyshenkilö")
    await _next(aino, room, bot.user_id, "kaupungin yhteyshenkilö")
    # the admin names Kaisa with a mention (the pill's text is her name; m.mentions has her id)
    await aino.send(room, "m.room.message", {"msgtype": "m.text", "body": "!vastaaja lisää Kaisa kaupungin yhteyshenkilö",
                                             "m.mentions": {"user_ids": [kaisa.user_id]}})
    named = await _next(aino, room, bot.user_id, "vastaa nyt")
    assert body(named).startswith("Kaisa vastaa nyt täällä ideoihin roolissa kaupungin yhteyshenkilö."), body(named)
    await bertil.say(room, "!idea Uimalaituri Longinojalle")
    card = await _next(aino, room, bot.user_id, "Uimalaituri Longinojalle")
    await bertil.say(room, "!tue 1")
    await _next(aino, room, bot.user_id, "#1")
    await aino.react(room, card.event_id, next(k for label, k in _keys(card).items() if "👍" in label))
    reached = await _next(aino, room, bot.user_id, "saavutti 2 kannattajaa")
    assert content(reached)["m.relates_to"]["m.in_reply_to"]["event_id"] == card.event_id
    # the bot opens a direct chat with Kaisa: the idea with buttons
    dm = await _invited(kaisa)
    asked = await _next(kaisa, dm, bot.user_id, "odottaa vastaustasi")
    assert "Uimalaituri Longinojalle" in body(asked) and "2 kannattajaa" in body(asked)
    await kaisa.expect(dm, bot.user_id, types=("m.reaction",))  # the buttons are ready
    await kaisa.react(dm, asked.event_id, _keys(asked)["✍️ Vastaa: kokeilu"])
    await _next(kaisa, dm, bot.user_id, "seuraavana viestinä")
    await kaisa.say(dm, "Kaupunki selvittää laiturin paikan keväällä.")
    await _next(kaisa, dm, bot.user_id, "on julkaistu")
    posted = await _next(aino, room, bot.user_id, "Virallinen vastaus ideaan #1")
    assert content(posted)["m.relates_to"]["m.in_reply_to"]["event_id"] == card.event_id
    assert "Kaupunki selvittää laiturin paikan keväällä." in body(posted) and "kokeilu" in body(posted)
    # the author gets it in a direct chat of his own
    author_dm = await _invited(bertil)
    got = await _next(bertil, author_dm, bot.user_id, "sai virallisen vastauksen")
    assert "Kaupunki selvittää" in body(got)
