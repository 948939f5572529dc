"""Issue 17 "Trust": the rate limit against flooding, and invisible characters neutralised."""

from __future__ import annotations

import pytest

from bot.config import LimitSettings, load_settings
from core.markup import esc, neutralise
from handlers.base import Limits
from handlers.limits import FloodGate, Verdict
from storage import ideas as store

FLOOD_REPLY_FI = "Hetkinen"


async def _ideas(bot, chat="fake:group"):
    async with bot.services.db.session() as session:
        ideas, total = await store.list_ideas(session, chat, limit=1000)
    return ideas, total


async def test_a_flood_from_one_person_stores_at_most_the_limit_and_gets_one_reply(make_bot):
    bot = await make_bot(limits=LimitSettings())  # the defaults: 20 a person, 60 a chat, a minute
    replies = []
    for n in range(200):
        text = f"/idea Kasvimaa numero {n}" if n % 2 else f"Terassi numero {n} #idea"
        replies += await bot.say(text, user="spammer", lang="fi")
    _ideas_, total = await _ideas(bot)
    assert total == 20
    warnings = [r for r in replies if r.startswith(FLOOD_REPLY_FI)]
    assert len(warnings) == 1
    assert len(replies) == 20 + 1  # one answer per stored idea, one warning, nothing for the rest
    # another person in the same chat is still answered
    assert "tallennettu" in (await bot.say("/idea Penkki puistoon", user="neighbour", lang="fi"))[0]
    # a minute later the flooder may speak again, and is warned again only once
    bot.clock.advance(seconds=61)
    assert "tallennettu" in (await bot.say("/idea Uusi alku", user="spammer", lang="fi"))[0]
    _ideas_, total = await _ideas(bot)
    assert total == 22


async def test_admins_and_coordinators_are_exempt(make_bot):
    bot = await make_bot(limits=LimitSettings(per_person_per_minute=3, per_chat_per_minute=5),
                         coordinators=["fake:pm"])
    bot.make_admin("chair")
    for n in range(10):
        await bot.say(f"/idea Puheenjohtajan idea {n}", user="chair", lang="fi")
        await bot.say(f"/idea Koordinaattorin idea {n}", user="pm", lang="fi")
    _ideas_, total = await _ideas(bot)
    assert total == 20


async def test_the_chat_limit_holds_across_people(make_bot):
    bot = await make_bot(limits=LimitSettings(per_person_per_minute=5, per_chat_per_minute=8))
    answered = 0
    for n in range(12):
        replies = await bot.say(f"/idea Idea {n}", user=f"p{n % 4}", lang="en")
        answered += any("saved" in r for r in replies)
    assert answered == 8
    assert (await bot.say("/idea Elsewhere", chat="other", lang="en"))[0].startswith("💡")


async def test_plain_chatter_is_not_counted(make_bot):
    bot = await make_bot(limits=LimitSettings(per_person_per_minute=2, per_chat_per_minute=60))
    for n in range(30):
        assert await bot.say(f"Hyvää huomenta {n}", lang="fi") == []
    assert (await bot.say("/idea Kasvimaa", lang="en"))[0].startswith("💡")


def test_the_gate_tells_once_a_minute_and_forgets_idle_people():
    gate = FloodGate(Limits(per_person_per_minute=2, per_chat_per_minute=100))
    for t in (0.0, 1.0):
        assert not gate.over("a", "c", t)
        gate.admit("a", "c", t)
    assert gate.over("a", "c", 2.0)
    assert gate.refuse("a", 2.0) is Verdict.DROP_AND_TELL
    assert gate.refuse("a", 30.0) is Verdict.DROP
    assert not gate.over("a", "c", 60.5)  # the first one has left the minute
    gate._sweep(1000.0)
    assert gate._people == {} and gate._chats == {} and gate._told == {}


def test_the_limits_are_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("KEHRABOT_LIMITS__PER_PERSON_PER_MINUTE", "7")
    monkeypatch.setenv("KEHRABOT_MIN_RESPONDENTS", "5")
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.limits.per_person_per_minute == 7
    assert settings.limits.per_chat_per_minute == 60
    assert settings.min_respondents == 5


SPOOFS = [
    "\u202eevil\u202c", "\u2067Aino\u2069", "Ai\u200bno", "Ai\u200cno", "\u200eAino\u200f", "Ai\u2060no",
    "\ufeffAino", "Ai\u00adno", "Ai\u2062no", "\u202aAino\u202c", "\u202bAino\u202c", "\u202dAino\u202c",
    "\u2066Aino\u2069", "\u2068Aino\u2069", "Ai\u200dno",
]


@pytest.mark.parametrize("text", SPOOFS)
def test_invisible_characters_are_removed(text):
    cleaned = neutralise(text)
    assert cleaned in ("evil", "Aino")
    assert esc(text) == cleaned


def test_carriage_returns_are_line_breaks_and_emoji_keep_their_joiner():
    assert neutralise("and\rCR") == "and\nCR"
    assert neutralise("one\r\ntwo\n\rthree") == "one\ntwo\n\nthree"
    assert esc("and\rCR") == "and\nCR"
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"
    assert neutralise(family) == family


async def test_a_stored_idea_and_a_displayed_name_carry_no_invisible_characters(bot):
    replies = await bot.say("/idea Kasvi\u200bmaa \u202etxe.exe\u202c ja\rCR", user="u1",
                            name="\u2067Aino\u2069\u200b", lang="en")
    assert "\u202e" not in replies[0] and "\u200b" not in replies[0]
    ideas, _total = await _ideas(bot)
    assert ideas[0].text == "Kasvimaa txe.exe ja\nCR"
    assert ideas[0].author_name == "Aino"
    shown = "\n".join(await bot.say("/idea 1", lang="en"))
    assert "Aino" in shown and "\u2067" not in shown and "\u2069" not in shown
    # a name stored before this rule (or from elsewhere) is neutralised when displayed
    async with bot.services.db.transaction() as session:
        idea = await store.by_number(session, "fake:group", 1)
        idea.author_name = "\u202eBertil\u202c"
        session.add(idea)
    shown = "\n".join(await bot.say("/idea 1", lang="en"))
    assert "Bertil" in shown and "\u202e" not in shown and "\u202c" not in shown
