"""Ideas that reach the city, on Telegram (issue 19): the real transport (PTB) against the Bot API
emulator and the real scheduler. An admin names the city contact by replying to a message of
theirs; an idea reaches its threshold by its card's button; the contact gets it in private with
buttons, answers with the button and a message; the chat (a reply to the card) and the author see
the answer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _messages(emu, chat: dict) -> list[dict]:
    return [m for (chat_id, _id), m in sorted(emu.messages.items()) if chat_id == chat["id"]
            and m.get("from", {}).get("is_bot")]


async def _until(emu, chat: dict, words: str, within: float = 15.0) -> dict:
    """The bot's first message in ``chat`` containing ``words``, waiting for it."""
    import asyncio
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while loop.time() < end:
        for m in _messages(emu, chat):
            if words in m.get("text", ""):
                return m
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {words!r} in {[m.get('text') for m in _messages(emu, chat)]}")


async def test_threshold_by_button_private_answer_reaches_chat_and_author(emu, tg):
    group = emu.group("Kehrä Pakila")
    admin, contact = emu.user("Aino"), emu.user("Kaisa", lang="fi")
    author, fan = emu.user("Bertil", lang="fi"), emu.user("Chen", lang="fi")
    emu.set_admin(group, admin)
    emu.post(group, admin, "/kynnys 2 kaupungin yhteyshenkilö")
    await _until(emu, group, "kaupungin yhteyshenkilö")
    # the contact opens the private chat (Telegram lets the bot write first only after /start)
    emu.post(emu.private(contact), contact, "/start")
    emu.post(emu.private(author), author, "/start")
    hello = emu.post(group, contact, "/apua")  # a message of hers the admin replies to
    emu.post(group, admin, "/vastaaja lisää kaupungin yhteyshenkilö", reply_to=hello["message"]["message_id"])
    await _until(emu, group, "Kaisa vastaa nyt")
    emu.post(group, author, "/idea Uimalaituri Longinojalle")
    card = await _until(emu, group, "Idea #1 tallennettu")
    emu.post(group, author, "/tue 1")
    await _until(emu, group, "Kannatat ideaa #1")
    support = next(b["callback_data"] for b in emu.buttons(group, card["message_id"]) if b["callback_data"].startswith("ideas:sup:"))
    emu.press(group, fan, card["message_id"], support)
    # the threshold: the chat is told in a reply to the card, the contact gets the idea in private
    reached = await _until(emu, group, "saavutti 2 kannattajaa")
    assert reached["reply_to_message"]["message_id"] == card["message_id"]
    private = emu.private(contact)
    asked = await _until(emu, private, "odottaa vastaustasi")
    assert "Uimalaituri Longinojalle" in asked["text"] and "2 kannattajaa" in asked["text"]
    answer = next(b["callback_data"] for b in emu.buttons(private, asked["message_id"])
                  if b["callback_data"].endswith(":experiment"))
    emu.press(private, contact, asked["message_id"], answer)
    await _until(emu, private, "seuraavana viestinä")
    emu.post(private, contact, "Kaupunki selvittää laiturin paikan keväällä.")
    # the chat: the answer as a reply to the card, the idea moved; the author in private
    posted = await _until(emu, group, "Virallinen vastaus ideaan #1")
    assert posted["reply_to_message"]["message_id"] == card["message_id"]
    assert "Kaupunki selvittää laiturin paikan keväällä." in posted["text"] and "Kaisa" in posted["text"]
    assert "kokeilu" in posted["text"]
    to_author = await _until(emu, emu.private(author), "sai virallisen vastauksen")
    assert "Kaupunki selvittää" in to_author["text"]
    await _until(emu, private, "on julkaistu")
    emu.post(group, fan, "/idea 1")
    shown = await _until(emu, group, "Virallinen vastaus (kaupungin yhteyshenkilö, Kaisa")
    assert "kokeilu" in shown["text"]
