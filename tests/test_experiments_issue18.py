"""Experiments as a new user meets them (issue 18): looking never starts one, starting is explicit
(a word or the confirm button), a start handled again answers as the first time, and the chart:
one tick per measured day, no target line into the future, a text alternative in the person's
language."""

from sqlalchemy import func, select

from bot.events import Kind
from handlers.base import Context
from storage import experiments as store
from storage import ideas as idea_store


async def _count(bot, model) -> int:
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def _status(bot, number=1) -> str:
    async with bot.services.db.session() as s:
        return (await idea_store.by_number(s, "fake:group", number)).status


async def test_looking_at_an_idea_never_starts_an_experiment(bot):
    bot.make_admin("admin")
    await bot.say("/idea Kesäterassi kirjaston eteen", user="u2", lang="fi")
    for lang, command, word in (("fi", "kokeilu", "aloita"), ("sv", "forsok", "starta"), ("en", "experiment", "start")):
        sent = await bot.event(chat_id="group", sender_id="admin", sender_name="Admin", text=f"/{command} 1",
                               language_hint=lang, chat_title="group")
        assert await _count(bot, store.Experiment) == 0 and await _status(bot) == "new"
        [offer] = [s for s in sent if s.kind == "message"]
        assert "Kesäterassi kirjaston eteen" in offer.plain and f"/{command} 1 {word}" in offer.plain
        [[button]] = offer.reply.buttons
        assert button.data.startswith("experiments:start:")
    assert "Se ei ole vielä kokeilu." in (await bot.say("/kokeilu 1", user="admin", lang="fi"))[0]
    # the button is the explicit start; members cannot press it into one
    assert "admins" in (await bot.press(button.data, user="u2", lang="en"))[0].plain
    assert await _count(bot, store.Experiment) == 0
    sent = await bot.press(button.data, user="admin", lang="en")
    assert "Idea #1 is now an experiment." in sent[0].plain and await _status(bot) == "experiment"
    # and the word: /kokeilu N aloita
    await bot.say("/idea Penkkejä puistoon", user="u2", lang="fi")
    out = await bot.say("/kokeilu 2 aloita", user="admin", lang="fi")
    assert out[0].startswith("🧪 Idea #2 on nyt kokeilu.")
    assert (await bot.say("/kokeilu 2", user="admin", lang="fi"))[0].startswith("🧪 Kokeilu #2")


def _start(text, key, *, replay=False, kind=Kind.MESSAGE, data=None):
    return dict(chat_id="group", sender_id="admin", sender_name="Admin", text=text, kind=kind, button_data=data,
                message_id=f"msg-{key}", event_key=key, replay=replay, language_hint="en", chat_title="group")


async def test_a_start_handled_again_answers_as_the_first_time(bot, monkeypatch):
    from tests.test_replay import cut_short

    bot.make_admin("admin")
    await bot.say("/idea a summer terrace", user="u2", lang="en")
    # stored and committed, then the bot stopped before it answered
    await cut_short(bot, monkeypatch, Context, "reply", _start("/experiment 1 start", "s1"), after=False)
    assert await _count(bot, store.Experiment) == 1
    again = await bot.event(**_start("/experiment 1 start", "s1", replay=True))
    assert [s.plain.split("\n")[0] for s in again] == ["🧪 Idea #1 is now an experiment. a summer terrace"]
    assert await _count(bot, store.Experiment) == 1 and await _count(bot, store.ExperimentStep) == 1
    # a new start by the same admin is refused as before
    out = await bot.event(**_start("/experiment 1 start", "s2"))
    assert out[0].plain == "Idea #1 is already an experiment."


async def test_a_round_start_handled_again_answers_as_the_first_time(bot, monkeypatch):
    from tests.test_replay import cut_short

    bot.make_admin("admin")
    event = _start("/checklist start", "c1")
    await cut_short(bot, monkeypatch, Context, "reply", event, after=False)
    again = await bot.event(**{**event, "replay": True})
    assert again and again[0].plain.startswith("Self-assessment started:")
    assert again[0].reply.buttons[0][0].data == "checklist:go:1"
    async with bot.services.db.session() as s:
        from storage.checklist import ChecklistRound

        assert (await s.execute(select(func.count()).select_from(ChecklistRound))).scalar_one() == 1
    out = await bot.event(**_start("/checklist start", "c2"))
    assert out[0].plain.startswith("A self-assessment round is already open here.")
