"""Experiments as a new user meets them (issue 18): looking never starts one, starting is explicit
(a word or the confirm button), a start handled again answers as the first time, and the chart:
one tick per measured day, no target line into the future, a text alternative in the person's
language."""

from sqlalchemy import func, select

from core.events import Kind
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


# --- the chart and its text alternative -----------------------------------------------------------


def _figures(monkeypatch):
    from handlers import charts

    figures = []
    real = charts.line_figure

    def spy(*a, **kw):
        figures.append(real(*a, **kw))
        return figures[-1]

    monkeypatch.setattr(charts, "line_figure", spy)
    return figures


async def _experiment(bot, lang="fi"):
    bot.make_admin("admin")
    await bot.say("/idea kesäterassi", user="u2", lang=lang)
    await bot.say("/kokeilu 1 aloita", user="admin", lang=lang)
    await bot.say("/mukaan 1", user="u3", lang=lang)
    await bot.say("/mittari 1 osallistujat | hlö | 20", user="u3", lang=lang)


def _line_ends(fig):
    """The last moment each drawn line reaches (matplotlib day numbers)."""
    from matplotlib.dates import date2num

    return [max(date2num(x) if hasattr(x, "year") else x for x in line.get_xdata()) for line in fig.axes[0].get_lines()]


async def test_one_day_of_values_is_one_date_on_the_axis_and_the_target_stays_in_it(bot, monkeypatch):
    from matplotlib.dates import date2num

    from handlers.charts import figure_texts

    figures = _figures(monkeypatch)
    await _experiment(bot)
    await bot.say("/mittaa 1 osallistujat 4", user="u3", lang="fi")
    bot.clock.advance(minutes=5)
    await bot.say("/mittaa 1 osallistujat 6", user="u3", lang="fi")
    await bot.say("/kokeilu 1", lang="fi")
    fig = figures[-1]
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["23.11.2026"]  # once, not four times
    assert "Tavoite" in figure_texts(fig)
    # no line reaches the next day (Helsinki): the target is not drawn into the future
    next_day = date2num(bot.clock.now().replace(hour=22, minute=0))  # 24.11. 00:00 in Helsinki
    assert max(_line_ends(fig)) < next_day


async def test_several_days_are_each_one_tick_and_the_target_ends_with_the_last_value(bot, monkeypatch):
    from matplotlib.dates import date2num

    figures = _figures(monkeypatch)
    await _experiment(bot, "sv")
    for day, value in (("1.11.2026", 3), ("8.11.2026", 5), ("15.11.2026", 8)):
        await bot.say(f"/mata 1 osallistujat {value} {day}", user="u3", lang="sv")
    await bot.say("/forsok 1", lang="sv")
    fig = figures[-1]
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels == ["1.11.2026", "8.11.2026", "15.11.2026"]
    last = date2num(fig.axes[0].get_lines()[0].get_xdata()[-1])
    assert max(_line_ends(fig)) == last


async def test_every_experiment_chart_comes_with_its_figures_as_text(bot):
    await _experiment(bot)
    for day, value in (("1.11.2026", "3"), ("8.11.2026", "5,5"), ("15.11.2026", "8")):
        await bot.say(f"/mittaa 1 osallistujat {value} {day}", user="u3", lang="fi")
    before = len(bot.transport.sent)
    await bot.say("/kokeilu 1", lang="fi")
    [chart] = [s for s in bot.transport.sent[before:] if s.kind == "file"]
    assert chart.file.caption_html.split("\n") == [
        "📈 <b>osallistujat (enemmän on parempi)</b>",
        "• su 1.11.2026: 3 hlö", "• su 8.11.2026: 5,5 hlö", "• su 15.11.2026: 8 hlö",
        "Tavoite: 20 hlö"]
    # a long series lists the latest values and counts the rest
    for d in range(16, 26):
        await bot.say(f"/mittaa 1 osallistujat {d} {d}.10.2026", user="u3", lang="fi")
    before = len(bot.transport.sent)
    await bot.say("/experiment 1", lang="en")
    [chart] = [s for s in bot.transport.sent[before:] if s.kind == "file"]
    lines = chart.file.caption_html.split("\n")
    assert lines[1] == "3 earlier values not shown." and len(lines) == 1 + 1 + 10 + 1
    assert lines[-2] == "• Sun 15 Nov 2026: 8 hlö" and lines[-1] == "Target: 20 hlö"


# --- the same class elsewhere: team, phase and value commands handled again -----------------------------


def _team(text, key, *, replay=False):
    return dict(chat_id="group", sender_id="u3", sender_name="U3", text=text, message_id=f"msg-{key}",
                event_key=key, replay=replay, language_hint="fi", chat_title="group")


async def test_team_phase_and_value_commands_handled_again_change_once_and_answer_the_same(bot):
    bot.make_admin("admin")
    await bot.say("/idea kesäterassi", user="u2", lang="fi")
    await bot.say("/kokeilu 1 aloita", user="admin", lang="fi")
    for text, key in (("/mukaan 1", "j1"), ("/vaihe 1 seuraava juteltiin", "p1"), ("/mittari 1 kävijät | hlö", "i1"),
                      ("/mittaa 1 kävijät 4", "m1")):
        first = [s.plain for s in await bot.event(**_team(text, key))]
        # the stop came before the answer went out: the event is handled again, the reply not yet logged
        async with bot.services.db.transaction() as s:
            from storage.outbox import Delivery

            for row in (await s.execute(select(Delivery))).scalars():
                await s.delete(row)
        again = [s.plain for s in await bot.event(**_team(text, key, replay=True))]
        assert again == first, text
    async with bot.services.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(store.IndicatorValue))).scalar_one() == 1
        assert [st.action for st in await store.steps(s, 1)] == ["started", "phase"]
        assert (await s.get(store.Experiment, 1)).phase == "define"
