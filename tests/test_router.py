"""Router, core commands, locale choice and the error boundary."""

import logging

import pytest

from core.events import Role
from handlers.base import Command, Feature
from handlers.router import parse_command


def test_parse_command_forms():
    assert parse_command("/idea@kehrabot hello  world", ("/",)).args == "hello  world"
    assert parse_command("/IDEA x", ("/",)).name == "idea"
    assert parse_command("!idea x", ("/",)) is None
    assert parse_command("!idea x", ("!",)).addressee is None
    assert parse_command("/idea@other x", ("/",)).addressee == "other"
    assert parse_command("/päivä", ("/",)) is None  # not a-z0-9_: not a command
    assert parse_command("/x\nline two", ("/",)).args == "line two"


async def test_command_for_another_bot_is_ignored(bot):
    assert await bot.say("/idea@otherbot jotain") == []
    assert (await bot.say("/idea@kehrabot jotain"))[0].startswith("💡 Idea #1")


async def test_help_lists_what_the_person_may_use(bot):
    member = (await bot.say("/help"))[0]
    assert "/tue <numero> — kannata ideaa" in member
    assert "/tila" not in member
    bot.make_admin("boss")
    admin = (await bot.say("/apua", user="boss"))[0]
    assert "/tila <numero> <tila> [perustelu] — siirrä idea" in admin
    assert (await bot.say("/help", lang="sv"))[0].startswith("Det här kan jag göra här:")
    detail = (await bot.say("/help support", lang="en"))[0].split("\n")
    assert detail == ["/support <number>", "support an idea", "Also: /kannata, /stod, /tue"]


async def test_language_order_person_chat_hint_default(bot):
    assert (await bot.say("/ideas"))[0].startswith("Ideoita ei vielä ole")  # default Finnish
    assert (await bot.say("/ideas", lang="sv-SE"))[0].startswith("Inga idéer ännu")  # platform hint
    assert (await bot.say("/ideas", lang="de"))[0].startswith("Ideoita")  # unsupported hint → Finnish
    assert await bot.say("/lang chat en") == ["Vain ryhmän ylläpitäjät voivat tehdä tämän."]
    bot.make_admin("boss")
    assert await bot.say("/kieli ryhmä en", user="boss") == ["This chat's language is now English."]
    assert (await bot.say("/ideas", lang="sv"))[0].startswith("No ideas yet")  # chat beats hint
    assert await bot.say("/lang sv") == ["Jag talar svenska med dig nu."]
    assert (await bot.say("/ideas", lang="fi"))[0].startswith("Inga idéer")  # person beats chat
    assert (await bot.say("/ideas", user="u2"))[0].startswith("No ideas yet")  # others keep the chat's
    assert await bot.say("/lang de") == ["Jag talar finska (fi), svenska (sv) och engelska (en).\nAnvändning: /sprak [grupp] fi|sv|en"]
    assert (await bot.say("/lang"))[0].startswith("Nuvarande språk: svenska.")


async def test_private_chat_person_is_admin_of_it(bot):
    assert await bot.say("/lang chat sv", private=True, chat="p1") == ["Gruppens språk är nu svenska."]


async def test_unexpected_error_is_logged_and_apologised(bot, caplog):
    async def boom(ctx, args):
        raise RuntimeError("database on fire")

    bot.services.features.append(Feature("boom", commands=[Command("boom", boom, {"en": ("boom",)}, help="x")]))
    from handlers.router import Router

    bot.app.router = Router(bot.services)
    with caplog.at_level(logging.ERROR):
        replies = await bot.say("/boom", lang="en")
    assert replies == ["Sorry, something went wrong on my side. Please try again later."]
    assert "database on fire" not in replies[0]
    assert any("handler failed" in r.message and "command=boom" in r.message for r in caplog.records)
    assert any(r.exc_info and "database on fire" in str(r.exc_info[1]) for r in caplog.records)


async def test_role_lookup_failure_means_member(bot):
    async def broken(chat_id, user_id):
        raise ConnectionError("platform down")

    bot.transport.role_of = broken
    await bot.say("/idea Testi")
    assert await bot.say("/tila 1 käsitelty") == ["Vain ryhmän ylläpitäjät voivat tehdä tämän."]


async def test_huge_message_is_refused_politely(bot):
    assert await bot.say("/idea " + "a" * 30_000, lang="en") == ["That message is too long for me (30,006 characters)."]
    assert await bot.say("x" * 30_000) == []  # ordinary chatter in a group: silence


async def test_duplicate_command_names_are_refused(bot):
    from handlers.router import Router

    async def h(ctx, args):
        return None

    bot.services.features.append(Feature("dup", commands=[Command("dup", h, {"fi": ("tue",)}, help="x")]))
    with pytest.raises(ValueError, match="'tue'"):
        Router(bot.services)


def test_roles_are_ordered():
    assert Role.MEMBER < Role.ADMIN < Role.COORDINATOR


async def test_start_explains_the_bot(bot):
    text = (await bot.say("/start", private=True, chat="p1", lang="en"))[0]
    assert text.startswith("Hello! I am kehrabot") and "/help" in text and "/idea <text>" in text
