"""A chat that gets a new id on its platform (Telegram: group -> supergroup) keeps its data."""

from sqlalchemy import func, select

from core.events import Kind
from storage.core import Chat, Job
from storage.ideas import Idea
from storage.meetings import Meeting
from storage.polls import Poll


async def _move(bot, old="group", new="super"):
    return await bot.event(chat_id=old, sender_id=old, kind=Kind.CHAT_MOVED, target_id=new)


async def _count(bot, model, chat_key):
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model).where(model.chat_key == chat_key))).scalar_one()


async def test_everything_of_the_chat_moves_and_settings_win(bot):
    bot.make_admin("admin")
    await bot.say("/idea Penkkejä puistoon")
    await bot.say("/kysely Milloin? | ma | ti | sulkeutuu 2 h", user="admin")
    await bot.say("/kokous huomenna klo 18 Kehräkokous", user="admin")
    await bot.say("/lang chat sv", user="admin")
    await bot.say("moi", chat="super")  # the supergroup's first message made its own chat row
    assert await _move(bot) == []  # quietly
    for model in (Idea, Poll, Meeting, Job):
        assert await _count(bot, model, "fake:group") == 0, model
    assert await _count(bot, Idea, "fake:super") == 1
    assert await _count(bot, Poll, "fake:super") == 1
    assert await _count(bot, Meeting, "fake:super") == 1
    assert await _count(bot, Job, "fake:super") >= 2  # the poll's close and the meeting's reminders
    async with bot.services.db.session() as s:
        chats = {c.key: c.language for c in (await s.execute(select(Chat))).scalars()}
    assert chats == {"fake:super": "sv"}
    reply = await bot.say("/ideat", chat="super", lang="fi")
    assert "Penkkejä" in reply[0] and "idéer" in reply[0].casefold()
    assert "#2" in (await bot.say("/idea Toinen", chat="super"))[0]
    assert await _move(bot) == []  # the second notice (Telegram sends one to each chat) changes nothing
    assert await _count(bot, Idea, "fake:super") == 2


async def test_rows_that_would_clash_stay_behind(bot, caplog):
    await bot.say("/idea Vanha ryhmä")
    await bot.say("/idea Uusi ryhmä", chat="super")  # both have an idea #1
    await _move(bot)
    assert await _count(bot, Idea, "fake:group") == 1 and await _count(bot, Idea, "fake:super") == 1
    assert any("clash" in r.message and "idea" in r.message for r in caplog.records)


async def test_a_late_message_from_the_old_id_or_an_untitled_new_row_loses_nothing(bot):
    """Telegram's second notice can arrive after the move, and a new chat row may have no title
    yet: the chat keeps its language and its title."""
    bot.make_admin("admin")
    await bot.event(chat_id="group", sender_id="admin", text="/lang chat sv", chat_title="Kehrä Maunula")
    await bot.event(chat_id="super", sender_id="x", text="moi", chat_title="")  # the new id's first message
    await _move(bot)
    await _move(bot)  # the second notice, from the old id, after the move
    async with bot.services.db.session() as s:
        chats = {c.key: (c.language, c.title) for c in (await s.execute(select(Chat))).scalars()}
    assert chats == {"fake:super": ("sv", "Kehrä Maunula")}
