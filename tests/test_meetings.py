"""Meetings: recurrence, scheduling, reminders (once, across restarts, late), RSVP by every route,
.ics round-trip, permissions, bad input, languages. Real App + SQLite + ManualClock."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import recurring_ical_events
from icalendar import Calendar

from core.events import Role
from core.i18n import Catalogs, use_locale
from handlers.meetings import (
    describe_rrule,
    export_meetings,
    occurrences,
    parse_recurrence,
    reminder_time,
    render_digest,
)
from handlers.meetings import digest as meetings_digest
from handlers.when import HELSINKI
from storage import meetings as store
from storage.core import Job

# The TestBot clock starts at Mon 23 Nov 2026 10:00 UTC = 12:00 in Helsinki.


def hel(*args) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


def reminders(bot) -> list[str]:
    return [s.plain for s in bot.transport.sent if s.kind == "message" and "⏰" in s.plain]


@pytest.fixture
async def admin_bot(bot):
    bot.make_admin("admin")
    return bot


async def create(bot, text, lang="en", user="admin"):
    return await bot.say(f"/meeting {text}", user=user, lang=lang)


# --- recurrence --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "rule", "rest"), [
    ("joka tiistai klo 18 Kokous", "FREQ=WEEKLY;BYDAY=TU", "klo 18 Kokous"),
    ("tiistaisin klo 18 Kokous", "FREQ=WEEKLY;BYDAY=TU", "klo 18 Kokous"),
    ("joka kuun ensimmäinen tiistai klo 18 X", "FREQ=MONTHLY;BYDAY=1TU", "klo 18 X"),
    ("joka kuun viimeinen perjantai klo 15 X", "FREQ=MONTHLY;BYDAY=-1FR", "klo 15 X"),
    ("joka toinen keskiviikko klo 17 X", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "klo 17 X"),
    ("every other Wednesday 5pm Board", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "5pm Board"),
    ("every first Tuesday of the month at 18:00 X", "FREQ=MONTHLY;BYDAY=1TU", "at 18:00 X"),
    ("every Monday 10 times at 9am X", "FREQ=WEEKLY;BYDAY=MO;COUNT=10", "at 9am X"),
    ("varje måndag kl 17 Möte", "FREQ=WEEKLY;BYDAY=MO", "kl 17 Möte"),
    ("varannan torsdag kl 17 Möte", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "kl 17 Möte"),
    ("första tisdagen i varje månad kl 18 Möte", "FREQ=MONTHLY;BYDAY=1TU", "kl 18 Möte"),
    ("joka päivä klo 9 Aamukahvi", "FREQ=DAILY", "klo 9 Aamukahvi"),
])
def test_parse_recurrence(text, rule, rest):
    assert parse_recurrence(text) == (rule, rest)


def test_no_recurrence_in_plain_dates():
    assert parse_recurrence("ti 1.12. klo 18 Kokous") is None
    assert parse_recurrence("tiistaina klo 18 Kokous") is None


@pytest.mark.parametrize(("lang", "rule", "text"), [
    ("fi", "FREQ=MONTHLY;BYDAY=1TU", "joka kuun ensimmäinen tiistai"),
    ("sv", "FREQ=MONTHLY;BYDAY=1TU", "första tisdagen i varje månad"),
    ("en", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "every other Wednesday"),
    ("fi", "FREQ=WEEKLY;BYDAY=TU;COUNT=3", "joka tiistai, 3 kertaa"),
    ("sv", "FREQ=WEEKLY;BYDAY=MO", "varje måndag"),
])
def test_describe_rrule(lang, rule, text):
    with use_locale(Catalogs(), lang):
        assert describe_rrule(rule) == text


def _meeting(dtstart: str, rrule: str) -> store.Meeting:
    return store.Meeting(id=1, uid="x", chat_key="fake:g", number=1, title="t", dtstart_local=dtstart, rrule=rrule,
                         first_start=datetime.now(UTC), created_by="u", created_at=datetime.now(UTC))


def test_monthly_expansion_and_dst_keep_local_time():
    m = _meeting("2026-12-01T18:00", "FREQ=MONTHLY;BYDAY=1TU")
    occ = occurrences(m, {}, hel(2026, 11, 30), 6)
    assert [o.start.date() for o in occ] == [date(2026, 12, 1), date(2027, 1, 5), date(2027, 2, 2),
                                              date(2027, 3, 2), date(2027, 4, 6), date(2027, 5, 4)]
    assert {o.start.hour for o in occ} == {18}
    assert [o.start.utcoffset() for o in occ][-2:] == [timedelta(hours=3)] * 2  # summer time, still 18:00
    weekly = _meeting("2027-03-23T18:00", "FREQ=WEEKLY;BYDAY=TU")
    around = occurrences(weekly, {}, hel(2027, 3, 22), 3)
    assert [(o.start.day, o.start.hour, o.start.astimezone(UTC).hour) for o in around] == [
        (23, 18, 16), (30, 18, 15), (6, 18, 15)]


def test_exceptions_skip_and_move():
    m = _meeting("2026-11-24T18:00", "FREQ=WEEKLY;BYDAY=TU")
    exc = {"2026-12-01T18:00": None, "2026-12-08T18:00": "2026-12-10T17:00"}
    occ = occurrences(m, exc, hel(2026, 11, 23), 4)
    assert [(o.start.day, o.start.hour, o.moved) for o in occ] == [
        (24, 18, False), (10, 17, True), (15, 18, False), (22, 18, False)]


def test_quiet_hours_move_the_day_before_reminder():
    quiet = (21, 8)
    # 18:00 meeting: the day-before reminder is at 18:00, not quiet
    assert reminder_time(hel(2026, 12, 1, 18), 1440, quiet) == hel(2026, 11, 30, 18)
    # 07:00 meeting: 07:00 the day before is quiet -> 08:00 the day before
    assert reminder_time(hel(2026, 12, 1, 7), 1440, quiet) == hel(2026, 11, 30, 8)
    # 08:30 meeting with a 12 h reminder at 20:30 is fine; 10 h -> 22:30 is not a day-before one
    assert reminder_time(hel(2026, 12, 1, 8, 30), 600, quiet) == hel(2026, 11, 30, 22, 30)
    # 06:00 meeting, 18 h before = 12:00: fine; 23:00 meeting, 1 day before = 23:00 quiet -> 08:00
    assert reminder_time(hel(2026, 12, 1, 23), 1440, quiet) == hel(2026, 12, 1, 8)
    assert reminder_time(hel(2026, 12, 1, 7), 1440, None) == hel(2026, 11, 30, 7)


# --- creating, listing, languages ----------------------------------------------------------------


async def test_create_echoes_weekday_date_in_each_language(admin_bot):
    fi = await create(admin_bot, "ti 1.12. klo 18 Kehräkokous @ Maunula-talo", lang="fi")
    assert fi[0].splitlines()[:3] == ["📅 Kokous #1 sovittu: Kehräkokous", "🕕 ti 1.12.2026 klo 18.00–20.00",
                                      "📍 Maunula-talo"]
    assert "Muistutan 1 päivä, 1 tunti ennen." in fi[0]
    sv = await create(admin_bot, "på tisdag kl. 18 Styrelsemöte", lang="sv")
    assert sv[0].splitlines()[:2] == ["📅 Möte #2 inplanerat: Styrelsemöte", "🕕 tis 24.11.2026 kl. 18.00–20.00"]
    en = await create(admin_bot, "every other Wednesday 5pm Board @ Library", lang="en")
    assert en[0].splitlines() [:4] == ["📅 Meeting #3 scheduled: Board", "🕕 Wed 25 Nov 2026 17:00–19:00", "📍 Library",
                                       "🔁 every other Wednesday"]
    listing = await admin_bot.say("/kokoukset", lang="fi")
    lines = listing[0].splitlines()
    assert lines[0] == "Tulevat kokoukset"
    assert lines[1].startswith("#2 ti 24.11.2026 klo 18.00 — Styrelsemöte")
    assert lines[2].startswith("#3 ke 25.11.2026 klo 17.00 — Board 📍 Library 🔁")


@pytest.mark.parametrize(("text", "lang", "when", "title", "minutes"), [
    ("ti 1.12. klo 17.30-19 Kehräkokous @ Maunula-talo", "fi", "ti 1.12.2026 klo 17.30–19.00", "Kehräkokous", 90),
    ("1.12. kl. 18–18.45 Styrgruppen", "sv", "tis 1.12.2026 kl. 18.00–18.45", "Styrgruppen", 45),
    ("December 1st 2026 18:00 - 21:30 Workshop", "en", "Tue 1 Dec 2026 18:00–21:30", "Workshop", 210),
    ("ti 1.12. klo 22-1 Yötalkoot", "fi", "ti 1.12.2026 klo 22.00–1.00", "Yötalkoot", 180),
    ("ti 1.12. klo 18 Nuoret 12-14 v", "fi", "ti 1.12.2026 klo 18.00–20.00", "Nuoret 12-14 v", 120),
])
async def test_an_end_time_sets_the_length(admin_bot, text, lang, when, title, minutes):
    reply = (await create(admin_bot, text, lang=lang))[0].splitlines()
    assert reply[1] == "🕕 " + when and reply[0].endswith(": " + title)
    await admin_bot.say("/calendar 1", lang=lang)
    (event,) = Calendar.from_ical(admin_bot.transport.sent[-1].file.data).walk("VEVENT")
    assert event.decoded("DURATION") == timedelta(minutes=minutes)


@pytest.mark.parametrize(("text", "expected"), [
    ("ti 1.12. klo 8-23 Maraton", "would last 15 hours"),
    ("ti 1.12. klo 18-25 Kokous", "25.00 is not a time of day"),
])
async def test_a_bad_end_time_is_explained(admin_bot, text, expected):
    reply = (await create(admin_bot, text, lang="en"))[0]
    assert expected in reply and "Usage" in reply
    assert (await admin_bot.say("/meetings", lang="en"))[0].startswith("No meetings")


async def test_user_text_is_escaped(admin_bot):
    await create(admin_bot, "huomenna klo 18 <b>Kokous</b> & muut @ <i>talo</i>")
    html = admin_bot.transport.sent[-1].reply.html
    assert "&lt;b&gt;Kokous&lt;/b&gt; &amp; muut" in html and "&lt;i&gt;talo&lt;/i&gt;" in html


@pytest.mark.parametrize(("text", "expected"), [
    ("", "Tell me when and what"),
    ("31.11. klo 18 Kokous", "There is no date 31.11.2026"),
    ("huomenna klo 18", "Give the meeting a title"),
    ("huomenna Kokous", "At what time on Tue 24 Nov 2026?"),
    ("klo 9 Kokous", "09:00 today has already passed"),  # in English, an English clock face
    ("joka tiistai Kokous", "At what time?"),
    ("joskus Kokous", "I did not understand the time"),
    ("huomenna klo 18 " + "x" * 300, "The title is too long"),
])
async def test_bad_input_gets_a_clear_reply(admin_bot, text, expected):
    replies = await create(admin_bot, text)
    assert len(replies) == 1 and expected in replies[0]
    async with admin_bot.services.db.session() as s:
        assert await store.active_meetings(s) == []


async def test_unknown_numbers_and_answers(admin_bot):
    assert (await admin_bot.say("/meeting 9", lang="en")) == ["There is no meeting #9 in this chat."]
    await create(admin_bot, "huomenna klo 18 Kokous")
    reply = await admin_bot.say("/rsvp 1 perhaps", lang="en")
    assert reply[0].startswith("Answer yes, no or maybe, for example: 3 yes")
    assert (await admin_bot.press("meetings:rsvp:1:never", lang="en"))[0].text == "This button no longer works."


async def test_permissions(admin_bot):
    denied = await create(admin_bot, "huomenna klo 18 Kokous", user="member")
    assert denied == ["Only the chat's admins may do this."]
    await create(admin_bot, "joka tiistai klo 18 Kokous")
    for command in ("/skipmeeting 1", "/movemeeting 1 to 3.12. klo 18", "/cancelmeeting 1",
                    "/meetingsettings reminders 2 h"):
        assert await admin_bot.say(command, user="member", lang="en") == ["Only the chat's admins may do this."]
    # members may list, look, answer and download
    assert "Kokous" in (await admin_bot.say("/meetings", user="member"))[0]
    assert "Kokous" in (await admin_bot.say("/meeting 1", user="member"))[0]
    assert (await admin_bot.say("/rsvp 1 yes", user="member", lang="en"))[0].startswith("You are coming")
    await admin_bot.say("/calendar", user="member")
    assert admin_bot.transport.sent[-1].kind == "file"
    assert await admin_bot.services.transports["fake"].role_of("group", "admin") == Role.ADMIN


# --- reminders -----------------------------------------------------------------------------------


async def test_reminders_fire_once_at_the_offsets(admin_bot):
    await create(admin_bot, "ti 1.12. klo 18 Kehräkokous @ Maunula-talo", lang="fi")
    await admin_bot.say("/rsvp 1 yes", user="u2")
    assert await admin_bot.run_due(hel(2026, 11, 30, 17, 59)) == 0
    assert await admin_bot.run_due(hel(2026, 11, 30, 18, 0)) == 1
    assert await admin_bot.run_due() == 0  # claimed once
    first = reminders(admin_bot)
    assert len(first) == 1
    assert first[0].splitlines() == [
        "⏰ Muistutus: Kehräkokous", "🕕 ti 1.12.2026 klo 18.00 (1 päivän päästä)", "📍 Maunula-talo",
        "Tulossa: 1 · Ei tule: 0 · Ehkä: 0", "Tuletko? Vastaa painikkeilla tai reagoi 👍 / 👎 / 🤔."]
    buttons = admin_bot.transport.sent[-1].reply.buttons
    assert [b.data for b in buttons[0]] == ["meetings:rsvp:1:yes", "meetings:rsvp:1:no", "meetings:rsvp:1:maybe"]
    assert await admin_bot.run_due(hel(2026, 12, 1, 17, 0)) == 1
    assert reminders(admin_bot)[-1].splitlines()[1] == "🕕 ti 1.12.2026 klo 18.00 (1 tunnin päästä)"
    await admin_bot.run_due(hel(2026, 12, 8))
    assert len(reminders(admin_bot)) == 2


async def test_reminder_goes_out_once_across_a_restart(make_bot):
    first = await make_bot()
    first.make_admin("admin")
    await create(first, "huomenna klo 18 Kokous")
    await first.close()
    # the bot was down when the day-before reminder fell due; a new instance on the same store
    later = await make_bot(clock=type(first.clock)(hel(2026, 11, 23, 18, 30).astimezone(UTC)))
    assert await later.run_due() == 1
    assert reminders(later)[0].startswith("⏰ Myöhästynyt muistutus: Kokous\n🕕 ti 24.11.2026 klo 18.00")
    assert "(lähetetty myöhässä: en ollut linjoilla, kun muistutuksen piti lähteä)" in reminders(later)[0]
    again = await make_bot(clock=type(first.clock)(hel(2026, 11, 23, 18, 31).astimezone(UTC)))
    assert await again.run_due() == 0
    assert reminders(again) == []
    await later.close()
    await again.close()


async def test_missed_reminder_is_not_sent_after_the_start(admin_bot):
    await create(admin_bot, "huomenna klo 18 Kokous")
    await admin_bot.run_due(hel(2026, 11, 24, 18, 5))
    assert reminders(admin_bot) == []
    async with admin_bot.services.db.session() as s:
        jobs = (await s.execute(Job.__table__.select().where(Job.kind == "meetings.remind"))).all()
    assert jobs and all(j.done_at is not None for j in jobs)


def test_job_keys_and_button_data_keep_their_wire_format():
    from handlers.meetings.keys import REMIND, ROLL, RSVP

    start = "2026-12-01T18:00"
    assert REMIND.key(meeting=1, occ=start, start=start, offset=1440) == \
        "meetings.remind:1:2026-12-01T18:00:2026-12-01T18:00:1440"
    assert ROLL.key(meeting=1, occ=start, start=start) == "meetings.roll:1:2026-12-01T18:00:2026-12-01T18:00"
    assert not REMIND.key(meeting=12, occ=start, start=start, offset=60).startswith(REMIND.prefix(meeting=1))
    assert RSVP.data(meeting=1, answer="maybe") == "meetings:rsvp:1:maybe"


async def test_rescheduling_meeting_1_leaves_meeting_12s_reminders_alone(admin_bot):
    for n in range(1, 13):
        await create(admin_bot, f"huomenna klo 18 Kokous {n}")
    await admin_bot.say("/cancelmeeting 1", user="admin", lang="en")
    async with admin_bot.services.db.session() as s:
        jobs = (await s.execute(Job.__table__.select().where(Job.kind == "meetings.remind"))).all()
    cancelled = {j.dedup_key.split(":")[1] for j in jobs if j.cancelled}
    pending = {j.dedup_key.split(":")[1] for j in jobs if not j.cancelled}
    assert cancelled == {"1"} and pending == {str(n) for n in range(2, 13)}


async def test_series_schedules_the_next_occurrence(admin_bot):
    await create(admin_bot, "joka tiistai klo 18 Viikkopalaveri")
    t = hel(2026, 11, 23, 12)
    while t < hel(2026, 12, 16):  # three weeks and a bit, hour by hour
        t += timedelta(hours=1)
        await admin_bot.run_due(t)
    lines = [r.splitlines()[1] for r in reminders(admin_bot)]
    assert lines == [f"🕕 ti {d}.2026 klo 18.00 ({when})" for d in ("24.11", "1.12", "8.12", "15.12")
                     for when in ("1 päivän päästä", "1 tunnin päästä")]


async def test_skip_move_and_cancel(admin_bot):
    await create(admin_bot, "joka tiistai klo 18 Palaveri", lang="fi")
    skip = await admin_bot.say("/ohitakokous 1 1.12.", user="admin", lang="fi")
    assert skip == ["⏭ Väliin jää: Palaveri ti 1.12.2026 klo 18.00. Seuraava: ti 24.11.2026 klo 18.00."]
    move = await admin_bot.say("/siirrakokous 1 24.11. -> ke 25.11. klo 17", user="admin", lang="fi")
    assert move == ["🔀 Siirretty: Palaveri ajasta ti 24.11.2026 klo 18.00 aikaan ke 25.11.2026 klo 17.00."]
    show = (await admin_bot.say("/kokous 1", lang="fi"))[0].splitlines()
    assert show[1] == "🕕 ke 25.11.2026 klo 17.00–19.00 (siirretty)"
    assert show[3].startswith("Sitten: ti 8.12.2026 klo 18.00, ti 15.12.2026")
    assert show[4] == "Väliin jäävät: ti 1.12.2026"
    # the moved occurrence is reminded at its new time, the old time is not
    await admin_bot.run_due(hel(2026, 11, 24, 18))
    assert [r.splitlines()[1] for r in reminders(admin_bot)] == ["🕕 ke 25.11.2026 klo 17.00 (23 tunnin päästä)"]
    cancel = await admin_bot.say("/perukokous 1", user="admin", lang="fi")
    assert cancel == ["❌ Kokoussarja #1 Palaveri on peruttu; muistutuksia ei enää tule."]
    await admin_bot.run_due(hel(2026, 12, 31))
    assert len(reminders(admin_bot)) == 1
    assert (await admin_bot.say("/kokous 1", lang="fi")) == ["Tässä ryhmässä ei ole kokousta #1."]


async def test_settings_change_reminder_offsets_and_quiet_hours(admin_bot):
    reply = await admin_bot.say("/meetingsettings reminders 2 d, 3 h", user="admin", lang="en")
    assert reply == ["Meeting settings\nReminders: 2 days, 3 hours before.\n"
                     "Quiet hours for day-before reminders: 21:00–08:00."]  # English clock faces
    await create(admin_bot, "pe 27.11. klo 7 Aamupala")
    # 2 days before 07:00 is quiet -> 08:00 two days before... still more than 3 h ahead
    await admin_bot.run_due(hel(2026, 11, 25, 7, 59))
    assert reminders(admin_bot) == []
    await admin_bot.run_due(hel(2026, 11, 25, 8, 0))
    assert len(reminders(admin_bot)) == 1
    await admin_bot.run_due(hel(2026, 11, 27, 4, 0))
    assert len(reminders(admin_bot)) == 2
    bad = await admin_bot.say("/meetingsettings quiet 25-3", user="admin", lang="en")
    assert bad[0].startswith("Give the quiet hours as start-end")
    off = await admin_bot.say("/meetingsettings reminders off", user="admin", lang="en")
    assert "Reminders: off." in off[0]


async def test_settings_are_subcommands_in_each_language_with_their_own_usage(admin_bot):
    sv = await admin_bot.say("/motesinstallningar PÅMINNELSER 2 d", user="admin", lang="sv")
    assert sv[0].startswith("Mötesinställningar\nPåminnelser: 2 dagar före.")
    fi = await admin_bot.say("/kokousasetukset hiljainen pois", user="admin", lang="fi")
    assert fi[0].endswith("Hiljaiset tunnit: pois päältä.")
    shown = await admin_bot.say("/kokousasetukset", user="admin", lang="fi")
    assert shown[0].startswith("Kokousasetukset\nMuistutukset: 2 päivää ennen.")
    bad = await admin_bot.say("/meetingsettings quiet 25-3", user="admin", lang="en")
    assert bad[0].endswith("Usage: /meetingsettings quiet 21-8 | off")
    unknown = await admin_bot.say("/meetingsettings Loud 9-5", user="admin", lang="en")
    assert unknown[0].startswith("Unknown setting “loud”. Choose reminders or quiet.")
    helped = await admin_bot.say("/help kokousasetukset", user="admin", lang="fi")
    assert "/kokousasetukset muistutukset 1 d, 1 h | pois — muistutusajat ennen kokousta" in helped[0]
    assert "/kokousasetukset hiljaisuus 21-8 | pois — edellisen päivän muistutusten hiljaiset tunnit" in helped[0]
    assert "/meetingsettings quiet" not in (await admin_bot.say("/help meetingsettings", user="u2", lang="en"))[0]


# --- RSVP routes ---------------------------------------------------------------------------------


async def test_rsvp_by_button_reaction_and_command(admin_bot):
    await create(admin_bot, "ti 1.12. klo 18 Kokous")
    announcement = admin_bot.transport.sent[-1].message_id
    acks = await admin_bot.press("meetings:rsvp:1:yes", user="u2", target_id=announcement, lang="en")
    assert acks[0].kind == "ack"
    assert acks[0].text == ("You are coming to Kokous on Tue 1 Dec 2026 18:00. "
                            "Coming: 1 · Not coming: 0 · Maybe: 0")
    # the card the button was on shows the new counts
    [edit] = [x for x in admin_bot.transport.sent if x.kind == "edit"]
    assert edit.message_id == announcement
    assert edit.plain.splitlines()[2:] == ["Tulossa: 1 · Ei tule: 0 · Ehkä: 0",
                                           "Tuletko? Vastaa painikkeilla tai reagoi 👍 / 👎 / 🤔."]
    assert [b.data for b in edit.reply.buttons[0]][0] == "meetings:rsvp:1:yes"
    await admin_bot.react(announcement, "👎", user="u3")
    await admin_bot.react(announcement, "🤔", user="u4")
    await admin_bot.react(announcement, "🤔", user="u4", removed=True)
    await admin_bot.react(announcement, "👍️", user="u5")
    reply = await admin_bot.say("/osallistun 1 ehkä", user="u6", name="Ville", lang="fi")
    assert reply == ["Ehkä tulet kokoukseen Kokous ti 1.12.2026 klo 18.00. Tulossa: 2 · Ei tule: 1 · Ehkä: 1"]
    # changing one's mind replaces the answer
    await admin_bot.say("/rsvp 1 no", user="u2")
    show = (await admin_bot.say("/meeting 1", lang="en"))[0]
    assert "Coming: 1 · Not coming: 2 · Maybe: 1" in show
    assert "✅ Coming: U5" in show and "🤔 Maybe: Ville" in show
    assert sorted(show.split("❌ Not coming: ")[1].split("\n")[0].split(", ")) == ["U2", "U3"]
    # a reminder shows the counts
    await admin_bot.run_due(hel(2026, 11, 30, 18))
    assert "Tulossa: 1 · Ei tule: 2 · Ehkä: 1" in reminders(admin_bot)[0]
    # reacting to the reminder counts too
    reminder_id = admin_bot.transport.sent[-1].message_id
    edits = sum(1 for x in admin_bot.transport.sent if x.kind == "edit")
    await admin_bot.react(reminder_id, "👍", user="u7")
    assert sum(1 for x in admin_bot.transport.sent if x.kind == "edit") == edits  # reminders stay as sent
    async with admin_bot.services.db.session() as s:
        assert (await store.rsvp_counts(s, 1, "2026-12-01T18:00"))["yes"] == 2


async def test_button_from_another_chat_is_refused(admin_bot):
    await create(admin_bot, "ti 1.12. klo 18 Kokous")
    sent = await admin_bot.press("meetings:rsvp:1:yes", user="u2", chat="other", lang="en")
    assert sent[0].text == "This meeting has been cancelled."
    async with admin_bot.services.db.session() as s:
        assert (await store.rsvp_counts(s, 1, "2026-12-01T18:00"))["yes"] == 0


# --- iCalendar -----------------------------------------------------------------------------------


async def test_ics_round_trip(admin_bot):
    await create(admin_bot, "joka tiistai klo 18 Viikkopalaveri @ Maunula-talo")
    await create(admin_bot, "su 28.3.2027 klo 12 Kevättalkoot")
    await admin_bot.say("/skipmeeting 1 1.12.", user="admin")
    await admin_bot.say("/movemeeting 1 8.12. -> 10.12. klo 17", user="admin")
    await admin_bot.say("/calendar")
    file = admin_bot.transport.sent[-1].file
    assert file.mime == "text/calendar" and file.filename == "group.ics"
    cal = Calendar.from_ical(file.data)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    events = recurring_ical_events.of(cal).between(datetime(2026, 11, 23), datetime(2026, 12, 20))
    got = sorted((e["DTSTART"].dt.astimezone(HELSINKI).strftime("%d.%m %H:%M"), str(e["SUMMARY"]),
                  str(e.get("LOCATION", ""))) for e in events)
    assert got == [
        ("10.12 17:00", "Viikkopalaveri", "Maunula-talo"),
        ("15.12 18:00", "Viikkopalaveri", "Maunula-talo"),
        ("24.11 18:00", "Viikkopalaveri", "Maunula-talo"),
    ]
    # across the spring switch the series stays at 18:00 local
    spring = recurring_ical_events.of(cal).between(datetime(2027, 3, 20), datetime(2027, 4, 1))
    starts = sorted(e["DTSTART"].dt for e in spring)
    assert [(s.astimezone(HELSINKI).hour, s.utcoffset()) for s in starts] == [
        (18, timedelta(hours=2)), (12, timedelta(hours=3)), (18, timedelta(hours=3))]
    series = [e for e in cal.walk("VEVENT") if "RRULE" in e][0]
    assert series["RRULE"]["FREQ"] == ["WEEKLY"] and series["RRULE"]["BYDAY"] == ["TU"]
    assert [d.dt.astimezone(HELSINKI).strftime("%d.%m %H:%M") for d in series["EXDATE"].dts] == ["01.12 18:00"]
    moved = [e for e in cal.walk("VEVENT") if "RECURRENCE-ID" in e]
    assert [(str(e["UID"]), e["RECURRENCE-ID"].dt.astimezone(HELSINKI).strftime("%d.%m %H:%M"))
            for e in moved] == [(str(series["UID"]), "08.12 18:00")]
    # stable UIDs across exports
    await admin_bot.say("/calendar")
    again = Calendar.from_ical(admin_bot.transport.sent[-1].file.data)
    uids = sorted(str(e["UID"]) for e in cal.walk("VEVENT"))
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == uids and len(set(uids)) == 2
    # a single meeting's file
    await admin_bot.say("/calendar 2", lang="en")
    one = admin_bot.transport.sent[-1]
    assert one.file.filename == "group-2.ics"
    assert one.file.caption_html == "Meeting #2 as a calendar file."
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(one.file.data).walk("VEVENT")] == ["Kevättalkoot"]


async def test_empty_calendar(admin_bot):
    assert await admin_bot.say("/calendar", lang="en") == ["There are no upcoming meetings to put in a calendar."]


# --- digest and exports --------------------------------------------------------------------------


async def test_digest_and_exports(admin_bot):
    await create(admin_bot, "joka maanantai klo 17 Maanantaipalaveri")
    await admin_bot.say("/rsvp 1 yes", user="u2")
    start, end = hel(2026, 11, 23), hel(2026, 11, 30)
    data = await meetings_digest(admin_bot.services, "fake:group", start, end)
    assert [(m["number"], m["start"], m["yes"]) for m in data["held"]] == [(1, "2026-11-23T17:00:00+02:00", 1)]
    assert [m["start"][:10] for m in data["coming"]] == ["2026-11-30", "2026-12-07"]
    with use_locale(Catalogs(), "fi"):
        lines = render_digest(data)
    assert lines[0] == "📅 <b>Kokoukset</b>" and lines[1] == "Pidetyt:"
    assert lines[2].startswith("• #1 ma 23.11.2026 klo 17.00 — Maanantaipalaveri · ✅ 1")
    assert await meetings_digest(admin_bot.services, "fake:other", start, end) is None
    public = await export_meetings(admin_bot.services, ["fake:group"], True)
    assert public[0]["rrule"] == "FREQ=WEEKLY;BYDAY=MO" and "rsvps" not in public[0] and "created_by" not in public[0]
    full = await export_meetings(admin_bot.services, None, False)
    assert full[0]["rsvps"] == [{"occurrence": "2026-11-23T17:00", "person": "U2", "answer": "yes"}]
    assert admin_bot.services.features and any(f.exports.get("meetings") for f in admin_bot.services.features)


async def test_digest_counts_every_occurrence_in_one_query(admin_bot):
    """Each occurrence in the digest has its own answers, read in one query however many meetings
    and occurrences the chat has (the weekly sweep reads the digest of every chat)."""
    from sqlalchemy import event

    await create(admin_bot, "joka maanantai klo 17 Maanantaipalaveri")
    await create(admin_bot, "joka torstai klo 18 Torstaitalkoot")
    await create(admin_bot, "ti 24.11. klo 12 Lounas")
    async with admin_bot.services.db.transaction() as s:
        for meeting, occ, person, answer in [(1, "2026-11-23T17:00", "a", "yes"), (1, "2026-11-23T17:00", "b", "no"),
                                             (1, "2026-11-30T17:00", "a", "maybe"), (2, "2026-11-26T18:00", "a", "yes"),
                                             (2, "2026-11-26T18:00", "c", "yes"), (2, "2026-12-03T18:00", "b", "no"),
                                             (3, "2026-11-24T12:00", "c", "no")]:
            await store.set_rsvp(s, meeting, occ, f"fake:{person}", person, answer, admin_bot.clock.now())
    statements = []
    engine = admin_bot.services.db.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        data = await meetings_digest(admin_bot.services, "fake:group", hel(2026, 11, 23), hel(2026, 11, 30))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    answers = lambda items: [(m["number"], m["start"][:16], m["yes"], m["no"], m["maybe"]) for m in items]  # noqa: E731
    assert answers(data["held"]) == [(1, "2026-11-23T17:00", 1, 1, 0), (3, "2026-11-24T12:00", 0, 1, 0),
                                     (2, "2026-11-26T18:00", 2, 0, 0)]
    assert answers(data["coming"])[:2] == [(1, "2026-11-30T17:00", 0, 0, 1), (2, "2026-12-03T18:00", 0, 1, 0)]
    assert len(data["held"]) + len(data["coming"]) == 7  # every occurrence of the two weeks after, too
    assert sum("meetingrsvp" in sql.lower() for sql in statements) == 1


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_on_postgresql(make_bot, pg_url, tmp_path):
    pg = await make_bot(database_url=pg_url, data_dir=tmp_path / "pg")
    pg.make_admin("admin")
    await create(pg, "huomenna klo 18 Kokous")
    await pg.say("/rsvp 1 yes", user="u2")
    assert await pg.run_due(hel(2026, 11, 24, 17)) == 2
    assert len(reminders(pg)) == 2 and "Tulossa: 1" in reminders(pg)[0]
    await pg.close()


# --- bench smoke ---------------------------------------------------------------------------------


async def test_bench_smoke(tmp_path):
    from bench import meetings_bench as bench

    r = await bench.rebuild(tmp_path / "a", 6)
    assert r["reminders"] == 12 and r["pending"] == 18
    s = await bench.same_minute(tmp_path / "b", 5)
    assert s["sent"] == 5 and s["ran"] == 5


@pytest.mark.parametrize("text", ["/meeting ²", "/rsvp ² yes", "/calendar ³", "/cancelmeeting ٣x", "/meeting #",
                                  "/movemeeting 1 ->", "/skipmeeting", "/meetingsettings quiet", "/meeting @",
                                  "/meeting joka tiistai", "/meeting every Monday 1000 times at 9 X"])
async def test_odd_input_never_crashes(admin_bot, text):
    replies = await admin_bot.say(text, user="admin", lang="en")
    assert len(replies) == 1 and "Sorry, something went wrong" not in replies[0]


@pytest.mark.postgres
async def test_two_instances_send_each_reminder_once(make_bot, pg_url, tmp_path):
    one = await make_bot(database_url=pg_url, data_dir=tmp_path / "one")
    two = await make_bot(database_url=pg_url, data_dir=tmp_path / "two")
    one.make_admin("admin")
    for hour in range(10, 20):
        await create(one, f"huomenna klo {hour} Kokous {hour}")
    due = hel(2026, 11, 24, 9, 30).astimezone(UTC)
    one.clock.set(due)
    two.clock.set(due)
    import asyncio

    ran = await asyncio.gather(one.app.jobs.run_due(), two.app.jobs.run_due())
    sent = reminders(one) + reminders(two)
    # due by 9.30: the day-before reminders of 13..19 (10..12 were already past at creation) and
    # the hour-before one of 10.00; each sent by exactly one of the two instances
    assert sum(ran) == 8
    assert sorted(int(t.splitlines()[0].rsplit(" ", 1)[1]) for t in sent) == [10, 13, 14, 15, 16, 17, 18, 19]
    await one.close()
    await two.close()


# --- issue 18: a weekday word in a series' title, a repeat count after the time ----------------


@pytest.mark.parametrize(("text", "lang", "title", "first", "rule"), [
    ("every Tuesday 6pm Tuesday group", "en", "Tuesday group", "🕕 Tue 1 Dec 2026 18:00–20:00",
     "🔁 every Tuesday"),
    ("joka tiistai klo 18 tiistaina tavataan", "fi", "tiistaina tavataan", "🕕 ti 1.12.2026 klo 18.00–20.00",
     "🔁 joka tiistai"),
    ("every last Friday 10 times 16:00 Friday club", "en", "Friday club", "🕕 Fri 25 Dec 2026 16:00–18:00",
     "🔁 every month on the last Friday, 10 times"),
    ("joka päivä klo 9 10 kertaa Aamukahvi", "fi", "Aamukahvi", "🕕 ke 2.12.2026 klo 9.00–11.00",
     "🔁 joka päivä, 10 kertaa"),
    ("varje dag kl 16 10 gånger Eftermiddagskaffe", "sv", "Eftermiddagskaffe", "🕕 tis 1.12.2026 kl. 16.00–18.00",
     "🔁 varje dag, 10 gånger"),
    ("every Monday at 9am 3 times Standup", "en", "Standup", "🕕 Mon 7 Dec 2026 09:00–11:00",
     "🔁 every Monday, 3 times"),
])
async def test_series_title_keeps_its_words_and_the_count_after_the_time(admin_bot, text, lang, title, first,
                                                                        rule):
    admin_bot.clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # Tuesday 1 Dec, 10:00 in Helsinki
    lines = (await create(admin_bot, text, lang=lang))[0].splitlines()
    assert lines[0].endswith(": " + title)
    assert lines[1] == first
    assert rule in lines
    async with admin_bot.services.db.session() as s:
        (meeting,) = await store.active_meetings(s)
    if "10" in text or "3 times" in text:
        assert "COUNT=" in meeting.rrule and meeting.last_start is not None


async def test_list_shows_every_meeting_and_says_how_many_more(admin_bot):
    await create(admin_bot, "joka päivä klo 9 Aamukahvi", lang="fi")
    await create(admin_bot, "pe 18.12. klo 18 Pikkujoulut", lang="fi")
    lines = (await admin_bot.say("/kokoukset", lang="fi"))[0].splitlines()
    assert lines[0] == "Tulevat kokoukset"
    assert [line.split(" — ")[1].split(" ")[0] for line in lines[1:-2]] == ["Aamukahvi"] * 3 + ["Pikkujoulut"]
    # 60 days of daily coffee from tomorrow (today's 9.00 has passed), three of them shown
    assert lines[-2] == "… ja vielä 57 kokousta seuraavan 60 päivän aikana: /kokous <numero> näyttää koko sarjan."
    assert lines[-1].endswith(": /kokous <numero>")
    en = (await admin_bot.say("/meetings", lang="en"))[0].splitlines()
    assert en[-2] == "… and 57 more meetings in the next 60 days: /meeting <number> shows a series."
    await create(admin_bot, "huomenna klo 18 Hallitus", lang="fi")
    sv = (await admin_bot.say("/moten", lang="sv"))[0].splitlines()
    assert len(sv) == 1 + 5 + 2 and sv[-2].startswith("… och 57 möten till")


# --- issue 18: the .ics in the chat's language, METHOD:PUBLISH, RFC 5545 -------------------------


def rfc5545_problems(data: bytes) -> list[str]:
    """What RFC 5545 (and the importers of Google, Apple and Outlook, which are strict about these)
    would refuse: CRLF line ends, lines of at most 75 octets, the required properties of the
    calendar and of each event, one of DTEND/DURATION, UTC DTSTAMP, a VTIMEZONE for every TZID
    (before its use), an override (RECURRENCE-ID) only of a series in the same file."""
    problems = []
    if not data.endswith(b"\r\n") or b"\n" in data.replace(b"\r\n", b""):
        problems.append("lines must end in CRLF")
    raw = data.split(b"\r\n")[:-1]
    problems += [f"line over 75 octets: {line[:30]!r}" for line in raw if len(line) > 75]
    lines: list[str] = []
    for line in raw:
        if line[:1] in (b" ", b"\t"):
            lines[-1] += line[1:].decode()
        else:
            lines.append(line.decode())
    if lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        problems.append("not one VCALENDAR")
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in lines]
    for required in ("PRODID", "VERSION"):
        if names.count(required) != 1:
            problems.append(f"calendar needs one {required}")
    if "VERSION:2.0" not in lines:
        problems.append("VERSION must be 2.0")
    tzids_defined: list[str] = []
    events: list[list[str]] = []
    current: list[str] | None = None
    stack: list[str] = []
    for line in lines:
        if line.startswith("BEGIN:"):
            stack.append(line[6:])
            if line == "BEGIN:VEVENT":
                current = []
        elif line.startswith("END:"):
            if not stack or stack.pop() != line[4:]:
                problems.append(f"unbalanced {line}")
            if line == "END:VEVENT":
                events.append(current or [])
                current = None
        elif stack == ["VCALENDAR", "VTIMEZONE"] and line.startswith("TZID:"):
            tzids_defined.append(line[5:])
        elif current is not None:
            current.append(line)
        for tzid in re.findall(r";TZID=([^;:]+)", line):
            if tzid not in tzids_defined:
                problems.append(f"TZID {tzid} used before its VTIMEZONE")
    series_uids = set()
    for ev in events:
        props = [p.split(":", 1)[0].split(";", 1)[0] for p in ev]
        for required in ("UID", "DTSTAMP", "DTSTART"):
            if props.count(required) != 1:
                problems.append(f"event needs one {required}")
        if ("DTEND" in props) == ("DURATION" in props):
            problems.append("event needs DTEND or DURATION, not both")
        stamp = next(p for p in ev if p.startswith("DTSTAMP"))
        if not re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", stamp):
            problems.append(f"DTSTAMP must be UTC: {stamp}")
        if "RRULE" in props:
            series_uids.add(next(p for p in ev if p.startswith("UID:")))
    for ev in events:
        if any(p.startswith("RECURRENCE-ID") for p in ev) and next(p for p in ev if p.startswith("UID:")) \
                not in series_uids:
            problems.append("an override without its series")
    return problems


async def test_ics_is_valid_rfc5545_in_the_chats_language(admin_bot):
    from ical.calendar_stream import IcsCalendarStream

    await admin_bot.say("/lang chat sv", user="admin", lang="en")
    await create(admin_bot, "joka tiistai klo 18 Viikkopalaveri, osa 2; pitkä otsikko jossa on paljon sanoja ja "
                            "ääkkösiä niin että rivi taittuu @ Maunula-talo, Helsinki")
    await create(admin_bot, "su 28.3.2027 klo 12 Kevättalkoot")
    await admin_bot.say("/skipmeeting 1 1.12.", user="admin")
    await admin_bot.say("/movemeeting 1 8.12. -> 10.12. klo 17", user="admin")
    await admin_bot.say("/lang en", user="u2")  # a person who reads English asks in a Swedish chat
    await admin_bot.say("/calendar", user="u2")
    sent = admin_bot.transport.sent[-1]
    assert sent.file.caption_html == "2 meetings or series as a calendar file."  # the answer is theirs
    data = sent.file.data
    assert rfc5545_problems(data) == []
    from tests import libical

    assert libical.problems(data) == []
    text = data.decode()
    assert "\r\nMETHOD:PUBLISH\r\n" in text
    assert "rsvp" not in text and "yes|no" not in text
    # a second, strict implementation of RFC 5545 reads it the same way
    strict = IcsCalendarStream.calendar_from_ics(text)
    season = list(strict.timeline.overlapping(hel(2026, 11, 1), hel(2027, 4, 30)))
    by_start = {e.dtstart.astimezone(HELSINKI).strftime("%d.%m.%Y %H:%M"): e for e in season}
    assert "24.11.2026 18:00" in by_start and "01.12.2026 18:00" not in by_start
    assert "10.12.2026 17:00" in by_start and "08.12.2026 18:00" not in by_start
    assert by_start["24.11.2026 18:00"].description == "Möte #1. Svara i gruppen: /osa 1 ja|nej|kanske"
    assert by_start["10.12.2026 17:00"].description == "Möte #1, flyttat från tis 8.12.2026 kl. 18.00."
    assert by_start["28.03.2027 12:00"].summary == "Kevättalkoot"
    assert by_start["24.11.2026 18:00"].location == "Maunula-talo, Helsinki"
    # the time zone's rules hold on both sides of a switch, in both readers
    spring = [e.dtstart for e in season if date(2027, 3, 20) <= e.dtstart.date() <= date(2027, 4, 1)]
    assert [(s.hour, s.utcoffset()) for s in spring] == [(18, timedelta(hours=2)), (12, timedelta(hours=3)),
                                                          (18, timedelta(hours=3))]
    (tz,) = Calendar.from_ical(data).walk("VTIMEZONE")
    assert {str(sub["TZNAME"]) for sub in tz.subcomponents} == {"EET", "EEST"}
    # a Finnish chat on Matrix: the Finnish command with the "!" prefix
    await admin_bot.say("/lang chat fi", user="admin", lang="en")
    admin_bot.transport.command_prefixes = ("!", "/")
    await admin_bot.say("/calendar 1", lang="sv")
    one = IcsCalendarStream.calendar_from_ics(admin_bot.transport.sent[-1].file.data.decode())
    assert one.events[0].description == "Kokous #1. Vastaa ryhmässä: !osallistun 1 kyllä|ei|ehkä"


async def test_the_card_promises_only_reminders_still_ahead(admin_bot):
    soon = await create(admin_bot, "today at 12:30 Quick chat")  # half an hour away: neither reminder
    assert "Meeting #1 scheduled" in soon[0] and "remind" not in soon[0]
    later = await create(admin_bot, "today at 15 Afternoon chat")  # the hour-before one only
    assert "I will remind 1 hour before." in later[0]
    weekly = await create(admin_bot, "every Monday at 12:30 Standup")  # a series: its later meetings get both
    assert "I will remind 1 day, 1 hour before." in weekly[0]
