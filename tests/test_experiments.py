"""Experiments: idea → experiment → four phases → done, team, indicators, values, scheduled
requests, charts, digest and exports, in fi, sv and en (FakeTransport, real SQLite, ManualClock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.figure import Figure

from core.i18n import use_locale
from handlers import charts
from handlers import experiments as ex
from handlers.base import UserError
from storage import experiments as store
from storage.core import Job, pending_jobs

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the ManualClock's start, a Monday


async def _setup(bot, lang="en", idea="a summer terrace at the library"):
    bot.make_admin("admin")
    await say(bot, f"/idea {idea}", user="u2", lang=lang)
    return await say(bot, f"/{bot.services.command('experiment').shown_name(lang)} 1 {ex.START_WORD[lang]}",
                     user="admin", lang=lang)


async def say(bot, text, *, lang="en", **kw):
    """English unless told otherwise (the bot's default is Finnish)."""
    return await bot.say(text, lang=lang, **kw)


def asks(bot, since: int) -> list[str]:
    """Value requests sent since an index (other features' jobs, e.g. the digest, may send too)."""
    return [s.plain for s in bot.transport.sent[since:] if s.plain.startswith("📏")]


def _files(bot, since: int = 0):
    return [s for s in bot.transport.sent[since:] if s.kind == "file"]


# --- pure parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("token, value, unit", [
    ("1,5", 1.5, ""), ("1.5", 1.5, ""), ("12", 12.0, ""), ("-3", -3.0, ""), ("12€", 12.0, "€"),
    ("2,25h", 2.25, "h"), (",5", 0.5, ""),
])
def test_parse_value_accepts_comma_point_and_glued_units(token, value, unit):
    assert ex.parse_value(token) == (value, unit)


@pytest.mark.parametrize("token", ["lots", "1,2,3", "1e400", "nan", "inf", "9999999999999"])
def test_parse_value_refuses_non_numbers(token):
    with pytest.raises(UserError):
        ex.parse_value(token)


def test_parse_measure_splits_name_value_unit_and_date():
    m = ex.parse_measure("3 participants per event 1,5 people 1.11.2026")
    assert (m.number, m.indicator, m.value, m.unit, m.when) == (3, "participants per event", 1.5, "people",
                                                                "1.11.2026")
    m = ex.parse_measure("3 1 12€ eilen")
    assert (m.indicator, m.value, m.unit, m.when) == ("1", 12.0, "€", "eilen")
    m = ex.parse_measure("3 volunteers 7")
    assert (m.indicator, m.value, m.unit, m.when) == ("volunteers", 7.0, "", "")


def test_value_dates():
    assert ex.parse_value_date("1.11.2026", NOW).date().isoformat() == "2026-11-01"
    assert ex.parse_value_date("2026-11-20", NOW).date().isoformat() == "2026-11-20"
    assert ex.parse_value_date("eilen", NOW).date().isoformat() == "2026-11-22"
    assert ex.parse_value_date("idag", NOW).date().isoformat() == "2026-11-23"
    # a yearless date later in the year than today is last year's
    assert ex.parse_value_date("15.12.", NOW).date().isoformat() == "2025-12-15"
    for bad in ("31.2.2026", "1.12.2026", "1.1.1990", "someday"):
        with pytest.raises(UserError):
            ex.parse_value_date(bad, NOW)


def test_next_ask_weekly_and_monthly_at_ten_helsinki():
    assert ex.next_ask(NOW, "weekly").isoformat() == "2026-11-30T10:00:00+02:00"
    assert ex.next_ask(datetime(2027, 1, 31, 9, tzinfo=UTC), "monthly").isoformat() == "2027-02-28T10:00:00+02:00"
    assert ex.next_ask(datetime(2026, 12, 15, 9, tzinfo=UTC), "monthly").isoformat() == "2027-01-15T10:00:00+02:00"


def test_trend_and_target():
    assert ex.trend([1, 2], store.MORE) == "↗ ✓"
    assert ex.trend([2, 1], store.MORE) == "↘ ✗"
    assert ex.trend([2, 1], store.LESS) == "↘ ✓"
    assert ex.trend([2, 2], store.LESS) == "→"
    assert ex.trend([2], store.LESS) == ""
    assert ex.target_reached(20, 20, store.MORE) and not ex.target_reached(19, 20, store.MORE)
    assert ex.target_reached(3, 5, store.LESS) and not ex.target_reached(6, 5, store.LESS)


# --- the whole path ----------------------------------------------------------------------------


async def test_whole_path_idea_to_done_in_english(bot):
    out = await _setup(bot)
    assert "Idea #1 is now an experiment." in out[0]
    assert "▶ Explore" in out[0]
    buttons = bot.transport.sent[-1].reply.buttons
    assert buttons[0][0].data.startswith("experiments:join:")
    # the idea's status changed, with history
    out = await say(bot, "/idea 1")
    assert "status: experiment" in out[0] and "new → experiment by Admin" in out[0]

    sent = await bot.press(buttons[0][0].data, user="u3", lang="en")
    assert sent[0].kind == "ack" and sent[0].text == "You joined the team of experiment #1."
    assert sent[1].plain == "U3 joined the team of experiment #1."
    assert await say(bot, "/join 1", user="u4") == ["U4 joined the team of experiment #1."]
    assert await say(bot, "/join 1", user="u4") == ["You are already in the team of experiment #1."]

    out = await say(bot, "/phase 1 next we talked to 30 residents", user="u3")
    assert out[0].startswith("Experiment #1: Explore → Define.")
    assert "What we learned: we talked to 30 residents" in out[0]
    bot.clock.advance(days=7)
    assert (await say(bot, "/phase 1 develop", user="u4"))[0].startswith("Experiment #1: Define → Develop.")
    out = await say(bot, "/phase 1 deliver a pilot evening in May", user="u3")
    assert "✓ Explore → ✓ Define → ✓ Develop → ▶ Deliver" in out[0]
    out = await say(bot, "/phase 1 next", user="u3")
    assert "is in its last phase" in out[0] and "/experiment 1 done <outcome>" in out[0]

    out = await say(bot, "/experiment 1")
    text = out[0]
    assert "Team: U3 (owner), U4" in text
    assert "Explore → Define by U3 — we talked to 30 residents" in text
    assert "Develop → Deliver by U3 — a pilot evening in May" in text

    # done: by the owner or an admin, with an outcome
    assert "Only the chat's admins may do this." in (await say(bot, "/experiment 1 done fine", user="u4"))[0]
    assert "Tell what came out of it" in (await say(bot, "/experiment 1 done", user="u3"))[0]
    out = await say(bot, "/experiment 1 done 40 people came, it continues", user="u3")
    assert out == ["✅ Experiment #1 is done. Outcome: 40 people came, it continues"]
    out = await say(bot, "/idea 1")
    assert "status: done" in out[0] and "experiment → done by U3 — 40 people came, it continues" in out[0]
    out = await say(bot, "/experiment 1")
    assert "Status: done" in out[0] and "Outcome: 40 people came, it continues" in out[0]
    assert "is done" in (await say(bot, "/measure 1 x 1", user="u3"))[0]


async def test_whole_path_in_finnish_and_swedish(bot):
    bot.make_admin("admin")
    await say(bot, "/idea kesäterassi kirjastolle", user="u2", lang="fi")
    out = await say(bot, "/kokeilu 1 aloita", user="admin", lang="fi")
    assert "Idea #1 on nyt kokeilu." in out[0] and "▶ Tutki" in out[0]
    assert (await say(bot, "/mukaan 1", user="u3", lang="fi"))[0] == "U3 liittyi kokeiluun #1 ja on sen vastuuhenkilö."
    out = await say(bot, "/vaihe 1 seuraava juteltiin asukkaiden kanssa", user="u3", lang="fi")
    assert out[0].startswith("Kokeilu #1: Tutki → Tarkenna.")
    assert "Mitä opimme: juteltiin asukkaiden kanssa" in out[0]
    out = await say(bot, "/fas 1 utveckla", user="u3", lang="sv")
    assert out[0].startswith("Försök #1: Definiera → Utveckla.")
    out = await say(bot, "/vaihe 1 toteuta", user="u3", lang="fi")
    assert "✓ Tutki → ✓ Tarkenna → ✓ Kehitä → ▶ Toteuta" in out[0]
    out = await say(bot, "/forsok 1", lang="sv")
    assert "Team: U3 (ansvarig)" in out[0] and "Utforska → Definiera av U3" in out[0]
    out = await say(bot, "/kokeilu 1 valmis terassi jatkuu", user="u3", lang="fi")
    assert out == ["✅ Kokeilu #1 on valmis. Tulos: terassi jatkuu"]


async def test_abandon_archives_the_idea_with_the_reason(bot):
    await _setup(bot, "sv")
    out = await say(bot, "/forsok 1 avbryt", user="admin", lang="sv")
    assert "Ange ett skäl" in out[0]
    out = await say(bot, "/forsok 1 avbryt ingen lokal", user="admin", lang="sv")
    assert out == ["Försök #1 avbröts och idén arkiverades. Skäl: ingen lokal"]
    out = await say(bot, "/idea 1")
    assert "status: archived" in out[0] and "experiment → archived by Admin — ingen lokal" in out[0]
    assert "abandoned" in (await say(bot, "/join 1", user="u3"))[0]


async def test_starting_needs_an_admin_and_a_suitable_idea(bot):
    await say(bot, "/idea a terrace", user="u2")
    out = await say(bot, "/experiment 1", user="u2")
    assert out == ["Idea #1 is not an experiment. An admin can start one with /experiment 1 start."]
    assert await say(bot, "/experiment 1 1.12.", user="u2") == ["Only the chat's admins may do this."]
    assert (await say(bot, "/experiment 7", user="u2"))[0] == "There is no idea #7 in this chat."
    bot.make_admin("admin")
    await say(bot, "/status 1 discussed", user="admin")
    await say(bot, "/status 1 archived duplicate", user="admin")
    out = await say(bot, "/experiment 1", user="admin")
    assert out == ["Idea #1 is archived; only new or discussed ideas can become experiments."]
    await say(bot, "/idea another", user="u2")
    await say(bot, "/experiment 2 start", user="admin")
    # looking at it shows it; an explicit start with dates is refused
    assert (await say(bot, "/experiment 2", user="admin"))[0].startswith("🧪 Experiment #2")
    assert (await say(bot, "/experiment 2 1.12. - 31.1.", user="admin")) == ["Idea #2 is already an experiment."]
    # not an experiment yet
    await say(bot, "/idea third", user="u2")
    out = await say(bot, "/join 3", user="u3")
    assert out == ["Idea #3 is not an experiment. An admin can start one with /experiment 3 start."]
    assert "Give the idea's number" in (await say(bot, "/experiment soon", user="admin"))[0]


async def test_start_and_end_dates_use_the_shared_parser(bot):
    bot.make_admin("admin")
    await say(bot, "/idea a terrace", user="u2")
    out = await say(bot, "/experiment 1 1.12. - 31.1.", user="admin", lang="fi")
    assert "Aika: ti 1.12.2026 – su 31.1.2027." in out[0]
    await say(bot, "/idea b", user="u2")
    out = await say(bot, "/experiment 2 31.1.2027 - 1.12.", user="admin")
    assert out[0].startswith("The end (Tue 1 Dec 2026) must be after the start (Sun 31 Jan 2027).")
    out = await say(bot, "/experiment 2 blah", user="admin")
    assert "Usage:" not in out[0] and "blah" in out[0]
    async with bot.services.db.session() as s:
        exp = (await s.execute(store.select(store.Experiment))).scalars().one()
    assert exp.ends_at.isoformat() == "2027-01-31T10:00:00+00:00"


async def test_team_membership_and_owner_handover(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/join 1", user="u4")
    assert await say(bot, "/leave 1", user="u5") == ["You are not in the team of experiment #1."]
    assert await say(bot, "/leave 1", user="u3") == ["You left the team of experiment #1. Owner: U4."]
    assert "Team: U4 (owner)" in (await say(bot, "/experiment 1"))[0]
    await say(bot, "/leave 1", user="u4")
    assert "No team yet." in (await say(bot, "/experiment 1"))[0]
    sent = await bot.press("experiments:join:999", user="u3", lang="en")
    assert sent[0].text == "This button no longer works."


async def test_someone_outside_the_team_gets_a_clear_reply(bot):
    await _setup(bot)
    for text in ("/phase 1 next", "/indicator 1 volunteers", "/measure 1 volunteers 3"):
        assert await say(bot, text, user="u9") == [
            "Only the team of experiment #1 may do this. Join it with /join 1."]
    out = await say(bot, "/vaihe 1 seuraava", user="u9", lang="fi")
    assert out == ["Vain kokeilun #1 tiimi voi tehdä tämän. Liity mukaan komennolla /mukaan 1."]
    out = await say(bot, "/mata 1 x 1", user="u9", lang="sv")
    assert out == ["Bara teamet för försök #1 kan göra detta. Gå med i teamet genom att skriva /delta 1."]


# --- indicators and values ------------------------------------------------------------------------


async def test_indicators_and_values_with_every_bad_input(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    out = await say(bot, "/indicator 1 participants per event | people | 20 | more", user="u3")
    assert out[0].startswith("Indicator 1 of experiment #1: participants per event")
    assert "unit: people · target 20 people · more is better" in out[0]
    out = await say(bot, "/indicator 1 € spent per household | € | 50€ | less", user="u3")
    assert "target 50 € · less is better" in out[0]
    assert "already has an indicator" in (await say(bot, "/indicator 1 Participants per event", user="u3"))[0]
    bad = {
        "/indicator 1": "Give the indicator a name",
        "/indicator 1 x | 12": "The unit “12” is not valid",
        "/indicator 1 x | people | many": "“many” is not a number",
        "/indicator 1 x | people | 5 | sideways": "Say “more” or “less”",
        "/indicator 1 x | people | 5€": "The target is in € but the unit is people.",
        "/indicator 1 42": "An indicator's name must be words",
    }
    for text, expected in bad.items():
        out = await say(bot, text, user="u3")
        assert expected in out[0], (text, out)

    out = await say(bot, "/measure 1 participants per event 12", user="u3")
    assert out == ["Recorded for experiment #1: 1. participants per event: 12 people (Mon 23 Nov 2026) "
                   "· target 20 people · more is better"]
    out = await say(bot, "/measure 1 1 1,5 people 22.11.2026", user="u3")
    assert "12 people (Mon 23 Nov 2026) ↗ ✓" in out[0]  # the latest measured, up from 1.5
    out = await say(bot, "/measure 1 1 25.5 yesterday", user="u3")  # same day: recorded later wins
    assert "25.5 people (Sun 22 Nov 2026)" not in out[0] and "12 people (Mon 23 Nov 2026) ↘ ✗" in out[0]
    bot.clock.advance(days=1)
    out = await say(bot, "/measure 1 2 40€", user="u3")
    assert "40 € (Tue 24 Nov 2026)" in out[0] and "🎯" in out[0]
    bad = {
        "/measure 1 1 lots": "“lots” is not a number. Write for example 12 or 1,5.",
        "/measure 1 lots": "Give the indicator and the value",
        "/measure 1 1 x y": "“y” is not a number",
        "/measure 1 1 12 kg": "participants per event is measured in people, not in kg.",
        "/measure 1 2 40 people": "€ spent per household is measured in €, not in people.",
        "/measure 1 1 12 31.2.2026": "31.2.2026 is not a valid date.",
        "/measure 1 1 12 1.12.2026": "Tue 1 Dec 2026 is in the future",
        "/measure 1 1 12 people someday": "I don't understand the date “someday”",
        "/measure 1 volunteers 3": "Experiment #1 has no indicator “volunteers”. Its indicators: "
                                   "1. participants per event, 2. € spent per household.",
        "/measure 1 1 1e999": "is not a number",
        "/measure 2 1 3": "There is no idea #2 in this chat.",
        "/measure": "Give the experiment's number",
    }
    for text, expected in bad.items():
        out = await say(bot, text, user="u3")
        assert expected in out[0], (text, out)
    # nothing of the bad input was stored
    async with bot.services.db.session() as s:
        vals = await store.values(s, [1, 2])
    assert [v.value for v in vals[1]] == [1.5, 25.5, 12.0] and [v.value for v in vals[2]] == [40.0]


async def test_measure_bad_input_in_finnish_and_swedish(bot):
    await _setup(bot, "fi")
    await say(bot, "/mukaan 1", user="u3", lang="fi")
    out = await say(bot, "/mittaa 1 osallistujat 3", user="u3", lang="fi")
    assert out == ["Kokeilulla #1 ei ole vielä mittareita. Määrittele mittari komennolla /mittari."]
    await say(bot, "/mittari 1 osallistujat | hlö | 20 | enemmän", user="u3", lang="fi")
    assert (await say(bot, "/mittaa 1 osallistujat paljon", user="u3", lang="fi"))[0].startswith(
        "”paljon” ei ole luku.")
    out = await say(bot, "/mittaa 1 osallistujat 1,5 kg", user="u3", lang="fi")
    assert out[0] == "Mittarin osallistujat yksikkö on hlö, ei kg."
    out = await say(bot, "/mata 1 osallistujat 3 1.12.2026", user="u3", lang="sv")
    assert out[0].startswith("tis 1.12.2026 är i framtiden")
    out = await say(bot, "/mittaa 1 osallistujat 2,5 hlö eilen", user="u3", lang="fi")
    assert out[0] == ("Kirjattu kokeiluun #1: 1. osallistujat: 2,5 hlö (su 22.11.2026) · tavoite 20 hlö · "
                      "enemmän on parempi")


# --- chart ----------------------------------------------------------------------------------------


async def test_experiment_view_sends_a_png_chart_per_indicator(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/indicator 1 waste | kg | 5 | less", user="u3")
    for day, value in (("1.11.2026", "3"), ("8.11.2026", "5"), ("15.11.2026", "8")):
        await say(bot, f"/measure 1 volunteers {value} {day}", user="u3")
    before = len(bot.transport.sent)
    out = await say(bot, "/experiment 1")
    assert "1. volunteers: 8 people (Sun 15 Nov 2026) ↗ ✓ · target 10 people · more is better" in out[0]
    assert "2. waste: no values yet · target 5 kg · less is better" in out[0]
    files = _files(bot, before)
    assert len(files) == 1  # only indicators with values get a chart
    f = files[0].file
    assert f.is_image and f.mime == "image/png" and f.filename == "experiment-1-1.png"
    assert f.data.startswith(b"\x89PNG\r\n\x1a\n") and len(f.data) > 5000


@pytest.mark.parametrize("lang, target, better", [
    ("fi", "Tavoite", "enemmän on parempi"), ("sv", "Mål", "mer är bättre"), ("en", "Target", "more is better")])
async def test_chart_labels_are_in_the_chat_language(bot, lang, target, better, monkeypatch):
    figures: list[Figure] = []
    real = charts.line_figure

    def spy(*a, **kw):
        fig = real(*a, **kw)
        figures.append(fig)
        return fig

    monkeypatch.setattr(charts, "line_figure", spy)
    await _setup(bot, lang)
    await say(bot, f"/{bot.services.command('join').shown_name(lang)} 1", user="u3", lang=lang)
    await say(bot, f"/{bot.services.command('indicator').shown_name(lang)} 1 volunteers | people | 10",
                  user="u3", lang=lang)
    await say(bot, f"/{bot.services.command('measure').shown_name(lang)} 1 1 3 1.11.2026", user="u3", lang=lang)
    await say(bot, f"/{bot.services.command('measure').shown_name(lang)} 1 1 4", user="u3", lang=lang)
    await say(bot, f"/{bot.services.command('experiment').shown_name(lang)} 1", lang=lang)
    texts = charts.figure_texts(figures[-1])
    assert f"volunteers ({better})" in texts and target in texts and "people" in texts
    assert "01.11.2026" in texts or any("11.2026" in t for t in texts)


# --- scheduled value requests ---------------------------------------------------------------------


async def test_weekly_value_requests_follow_the_clock(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3", name="Aino")
    await say(bot, "/indicator 1 volunteers | people", user="u3")
    await say(bot, "/measure 1 volunteers 4", user="u3")
    assert "weekly, monthly or off" in (await say(bot, "/experiment 1 ask", user="u3"))[0]
    assert "Only the team" in (await say(bot, "/experiment 1 ask weekly", user="u9"))[0]
    out = await say(bot, "/experiment 1 ask weekly", user="u3")
    assert out == ["I will ask the owner for the values of experiment #1 weekly; next time Mon 30 Nov 2026."]
    # asking again does not duplicate the request
    await say(bot, "/experiment 1 ask weekly", user="u3")
    async with bot.services.db.session() as s:
        jobs = [j for j in await pending_jobs(s) if j.kind == "experiments.ask"]
    assert len(jobs) == 1 and jobs[0].due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

    await say(bot, "/lang chat en", user="admin")
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2026, 11, 30, 7, 59, tzinfo=UTC))
    assert asks(bot, before) == []
    await bot.run_due(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    sent = asks(bot, before)
    assert len(sent) == 1
    assert sent[0].startswith("📏 Aino, time to record the indicators of experiment #1:")
    assert "1. volunteers: 4 people (Mon 23 Nov 2026)" in sent[0]
    assert "Send /measure 1 <indicator> <value> [date]." in sent[0]
    # rescheduled a week later, once
    await bot.run_due(datetime(2026, 12, 7, 7, 0, tzinfo=UTC))
    assert len(asks(bot, before)) == 1
    await bot.run_due(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    await bot.run_due(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    assert len(asks(bot, before)) == 2

    # a Finnish chat gets it in Finnish; off stops it
    await say(bot, "/kieli chat fi", user="admin", lang="fi")
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2026, 12, 14, 8, 0, tzinfo=UTC))
    [fi] = asks(bot, before)
    assert fi.startswith("📏 Aino, on aika kirjata kokeilun #1 mittarit:")
    assert "Lähetä /mittaa 1 <mittari> <arvo> [päivä]." in fi
    out = await say(bot, "/experiment 1 ask off", user="u3")
    assert out == ["En enää kysy kokeilun #1 arvoja."]  # the chat's language now wins over the hint
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2027, 2, 1, tzinfo=UTC))
    assert asks(bot, before) == []


async def test_monthly_requests_stop_when_the_experiment_ends(bot):
    await _setup(bot, "sv")
    await say(bot, "/delta 1", user="u3", lang="sv")
    out = await say(bot, "/forsok 1 fraga månadsvis", user="u3", lang="sv")
    assert "månadsvis" in out[0] and "ons 23.12.2026" in out[0]
    await say(bot, "/sprak chat sv", user="admin", lang="sv")
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2026, 12, 23, 8, 0, tzinfo=UTC))
    [sv] = asks(bot, before)
    assert "Inga indikatorer ännu" in sv
    await say(bot, "/forsok 1 klar det fungerade", user="u3", lang="sv")
    async with bot.services.db.session() as s:
        jobs = [j for j in await pending_jobs(s) if j.kind == "experiments.ask"]
    assert jobs == []
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2027, 3, 1, tzinfo=UTC))
    assert asks(bot, before) == []


async def test_stale_job_after_schedule_change_sends_nothing(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/experiment 1 ask monthly", user="u3")
    async with bot.services.db.transaction() as s:
        # a leftover weekly job row (e.g. from an older instance) must not send
        from storage.core import schedule_job
        await schedule_job(s, "experiments.ask", NOW + timedelta(hours=1), chat_key="fake:group",
                           payload={"experiment": 1, "every": "weekly"}, dedup_key="experiments.ask:1:old")
        await s.commit()
    before = len(bot.transport.sent)
    await bot.run_due(NOW + timedelta(hours=2))
    assert asks(bot, before) == []
    async with bot.services.db.session() as s:
        jobs = [j for j in await pending_jobs(s) if j.kind == "experiments.ask"]
    assert [j.data()["every"] for j in jobs] == ["monthly"]
    assert isinstance(jobs[0], Job)


# --- digest and exports -----------------------------------------------------------------------------


async def test_digest_facts_and_rendering(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/measure 1 volunteers 4", user="u3")
    await say(bot, "/phase 1 next learned a lot", user="u3")
    feature = next(f for f in bot.services.features if f.name == "experiments")
    start, end = NOW - timedelta(days=1), NOW + timedelta(days=6)
    facts = await feature.digest(bot.services, "fake:group", start, end)
    e = facts["experiments"][0]
    assert (e["number"], e["phase"], e["status"]) == (1, "define", "active")
    assert [s["note"] for s in e["steps"] if s["action"] == "phase"] == ["learned a lot"]
    assert e["indicators"][0]["new_values"] == [4.0] and e["indicators"][0]["latest"] == 4.0
    assert await feature.digest(bot.services, "fake:other", start, end) is None
    assert await feature.digest(bot.services, "fake:group", NOW - timedelta(days=30), NOW - timedelta(days=20)) \
        is None
    rendered = {}
    for lang in ("fi", "sv", "en"):
        with use_locale(bot.services.catalogs, lang):
            rendered[lang] = "\n".join(feature.render_digest(facts))
    assert "Experiments</b>: 1 active" in rendered["en"]
    assert "#1 a summer terrace at the library — Define; 1 phase change; 1 new value" in rendered["en"]
    assert "volunteers: 4 people / target 10 people" in rendered["en"]
    assert "Kokeilut</b>: 1 käynnissä" in rendered["fi"] and "Tarkenna; 1 vaiheen vaihto; 1 uusi arvo" in rendered["fi"]
    assert "Försök</b>: 1 pågående" in rendered["sv"] and "Definiera; 1 fasbyte; 1 nytt värde" in rendered["sv"]
    # a later week with nothing new still lists the active experiment, without counts
    later = await feature.digest(bot.services, "fake:group", NOW + timedelta(days=7), NOW + timedelta(days=14))
    assert later["experiments"][0]["steps"] == [] and later["experiments"][0]["indicators"][0]["new_values"] == []


async def test_exports_full_and_public(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3", name="Aino Secret")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/measure 1 volunteers 4 1.11.2026", user="u3", name="Aino Secret")
    await say(bot, "/experiment 1 done it worked", user="u3")
    feature = next(f for f in bot.services.features if f.name == "experiments")
    export = feature.exports["experiments"]
    full = await export(bot.services, None, False)
    row = full[0]
    assert row["idea_number"] == 1 and row["status"] == "done" and row["outcome"] == "it worked"
    assert [p["to"] for p in row["phases"]] == ["explore", "explore"]
    assert row["indicators"][0]["indicator"] == "volunteers"
    assert row["indicators"][0]["values"] == [{"date": "2026-11-01", "value": 4.0, "recorded_by": "Aino Secret"}]
    assert row["owner"] == "Aino Secret" and row["team"] == ["Aino Secret"]
    public = await export(bot.services, ["fake:group"], True)
    assert "Aino Secret" not in repr(public) and "u3" not in repr(public)
    assert public[0]["indicators"][0]["values"] == [{"date": "2026-11-01", "value": 4.0}]
    assert public[0]["team_size"] == 1

    def keys(value):
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        return {k for v in value for k in keys(v)} if isinstance(value, list) else set()

    # nothing the open-data scrubber would take for personal (…name, …key, author, user…)
    assert not {k for k in keys(public) if k.endswith(("name", "key", "user", "author", "owner", "team", "_by"))}
    assert await export(bot.services, ["fake:other"], True) == []


async def test_help_lists_the_commands_in_each_language(bot):
    out = await say(bot, "/help", lang="fi")
    assert "/kokeilu" in out[0] and "/mittaa" in out[0]
    out = await say(bot, "/help", lang="sv")
    assert "/forsok" in out[0] and "/mata" in out[0]


async def test_on_postgresql_and_across_a_restart(make_bot, pg_url):
    bot = await make_bot(database_url=pg_url)
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/measure 1 volunteers 1,5", user="u3")
    await say(bot, "/phase 1 next first notes", user="u3")
    await say(bot, "/experiment 1 ask weekly", user="u3")
    await say(bot, "/lang chat en", user="admin")
    await bot.close()
    # a new instance on the same store sends the request when due, once
    again = await make_bot(database_url=pg_url, clock=bot.clock)
    before = len(again.transport.sent)
    await again.run_due(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    [ask] = asks(again, before)
    assert "1. volunteers: 1.5 people" in ask
    out = await say(again, "/experiment 1")
    assert "Explore → Define by U3 — first notes" in out[0] and "Team: U3 (owner)" in out[0]
    await again.close()


async def test_status_command_moving_the_idea_stops_requests(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/experiment 1 ask weekly", user="u3")
    await say(bot, "/status 1 discussed", user="admin")
    before = len(bot.transport.sent)
    await bot.run_due(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert asks(bot, before) == []
    assert "The idea is now discussed." in (await say(bot, "/experiment 1"))[0]


def test_bench_smoke(capsys):
    from bench import experiments_bench as bench

    figures = bench.main(6, 2)
    assert figures["values_per_s"] > 0 and figures["asks_per_s"] > 0 and figures["chart_kb"] > 1
    assert "values/s" in capsys.readouterr().out


def test_values_are_formatted_per_language():
    from core.i18n import Catalogs

    catalogs = Catalogs()
    with use_locale(catalogs, "fi"):
        assert ex.fmt_value(1.5, "hlö") == "1,5 hlö" and ex.fmt_value(0.1 + 0.2) == "0,3"
    with use_locale(catalogs, "en"):
        assert ex.fmt_value(1234.5) == "1,234.5" and ex.fmt_value(12.0, "€") == "12 €"


async def test_the_weekly_digest_command_shows_experiments(bot):
    await _setup(bot)
    await say(bot, "/join 1", user="u3")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/measure 1 volunteers 4", user="u3")
    out = await say(bot, "/digest")
    assert "🧪 Experiments: 1 active" in out[0]
    assert "#1 a summer terrace at the library — Explore; 1 new value" in out[0]
    out = await bot.say("/kooste", lang="fi")
    assert "🧪 Kokeilut: 1 käynnissä" in out[0] and "— Tutki; 1 uusi arvo" in out[0]


async def test_public_export_through_the_area_publication(bot):
    from handlers import digest

    await _setup(bot)
    await say(bot, "/join 1", user="u3", name="Aino Secret")
    await say(bot, "/indicator 1 volunteers | people | 10", user="u3")
    await say(bot, "/measure 1 volunteers 4 1.11.2026", user="u3", name="Aino Secret")
    await say(bot, "/area Maunula", user="admin")
    hidden = await digest.render_export(bot.services, "experiments", "json", first="2026-W48", last="2026-W48", public=True)
    assert b"volunteers" not in hidden  # not published yet
    assert (await say(bot, "/publish experiments", user="admin"))[0].startswith("The area Maunula publishes")
    shown = (await digest.render_export(bot.services, "experiments", "json", first="2026-W48", last="2026-W48", public=True)).decode("utf-8-sig")
    assert "volunteers" in shown and "Aino Secret" not in shown and "fake:" not in shown


def test_buttons_and_job_keys_keep_their_wire_format():
    """Buttons already in chats and requests already in stores keep working."""
    from handlers.experiments.keys import ASK, JOIN, START

    assert JOIN.data(experiment=12) == "experiments:join:12" and JOIN.read(["12"]) == {"experiment": 12}
    assert START.data(idea=3) == "experiments:start:3"
    assert ASK.key(experiment=1, day="2026-12-01") == "experiments.ask:1:2026-12-01"
    assert ASK.prefix(experiment=1) == "experiments.ask:1:"
    assert not ASK.key(experiment=12, day="2026-12-01").startswith(ASK.prefix(experiment=1))
    with pytest.raises(UserError):
        JOIN.read(["x"])


def test_every_action_after_the_number_is_declared_in_each_language():
    from handlers.experiments.commands import ACTIONS, FEATURE

    command = next(c for c in FEATURE.commands if c.name == "experiment")
    for action in ACTIONS:
        assert {"fi", "sv", "en"} <= set(action.aliases) and action.help, action.name
        for name in action.names():
            picked, rest = command.pick(f"3 {name.upper()} a note")
            assert picked is action and picked.parse(rest).action == action.name
    shown, rest = command.pick("3")
    assert shown.name == "show" and shown.parse(rest).number == 3
    assert command.pick("3 1.12.")[0].name == "start"
