"""A time poll that becomes the meeting (issue 20): times offered in fi/sv/en, answers yes / if
need be / no per time by button (a later answer replaces the earlier), the counts per time, the
close by its durable job or by an admin's pick, ties, and the meeting made with its reminders,
RSVP buttons and .ics. Real App + SQLite + ManualClock (Mon 23 Nov 2026 12:00 in Helsinki)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from handlers.meetings.keys import CLOSE_TIME_POLL, REMIND, TIME
from handlers.meetings.timepoll import best_option, parse_proposal
from handlers.when import HELSINKI
from storage import meetings as store
from storage.core import Job

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def hel(*args) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


@pytest.fixture
async def admin_bot(bot):
    bot.make_admin("admin")
    return bot


async def poll_message(bot):
    """The last time poll message: its id and its buttons' data per row."""
    sent = next(s for s in reversed(bot.transport.sent) if s.kind == "message" and s.reply.buttons
                and s.reply.buttons[0][0].data.startswith("meetings:time:"))
    return sent.message_id, [[b.data for b in row] for row in sent.reply.buttons]


async def jobs(bot, kind: str) -> list[Job]:
    async with bot.services.db.session() as s:
        return list((await s.execute(select(Job).where(Job.kind == kind, Job.done_at.is_(None),
                                                       Job.cancelled.is_(False)))).scalars())


# --- parsing -------------------------------------------------------------------------------


def test_the_times_the_title_the_place_and_the_close_are_read():
    p = parse_proposal("to 10.12. klo 18 Kevätkokous @ Maunula-talo | ti 8.12. klo 18 | ke 9.12. klo 17.30",
                       NOW, "fi")
    assert (p.title, p.place) == ("Kevätkokous", "Maunula-talo")
    assert p.starts == [hel(2026, 12, 8, 18), hel(2026, 12, 9, 17, 30), hel(2026, 12, 10, 18)]  # in order
    assert p.closes_at == NOW + timedelta(hours=48)  # the default: 48 hours
    sv = parse_proposal("tis 8.12. kl 18 | ons 9.12. kl 17 stänger fre 4.12. kl 12", NOW, "sv")
    assert sv.title == "" and sv.closes_at == hel(2026, 12, 4, 12).astimezone(UTC)
    en = parse_proposal("tomorrow 6pm Board | Wednesday 5pm", NOW, "en")
    # the day before the earliest time when that comes before 48 hours
    assert en.starts[0] == hel(2026, 11, 24, 18) and en.closes_at == hel(2026, 11, 23, 18).astimezone(UTC)


@pytest.mark.parametrize("text", ["ti 8.12. klo 18", "ti 8.12. klo 18 | ti 8.12. klo 18",
                                  "joka tiistai klo 18 Kokous | ke 9.12. klo 17",
                                  "ti 8.12. klo 18 | ke 9.12. klo 17 sulkeutuu 10.12. klo 12",
                                  " | ".join(f"{d}.12. klo 18" for d in range(1, 13))])
def test_a_poll_that_cannot_be_made_is_explained(text):
    from handlers.base import UserError

    with pytest.raises(UserError):
        parse_proposal(text, NOW, "fi")


def test_the_best_time_most_yes_then_if_need_be_then_the_earliest():
    starts = [hel(2026, 12, 8, 18), hel(2026, 12, 9, 17), hel(2026, 12, 10, 18)]

    def c(yes, maybe, no=0):
        return {"yes": yes, "maybe": maybe, "no": no}

    assert best_option(starts, [c(1, 0), c(2, 0), c(2, 0)], NOW) == 1  # tie on yes and maybe: the earliest
    assert best_option(starts, [c(1, 3), c(2, 0), c(2, 1)], NOW) == 2  # tie on yes: more if-need-be
    assert best_option(starts, [c(0, 0, 3), c(0, 0, 1), c(0, 0, 0)], NOW) is None  # nobody can: no meeting
    assert best_option(starts, [c(5, 0), c(1, 0), c(0, 0)], hel(2026, 12, 9, 0)) == 1  # a past time is not picked


# --- the poll in the chat ------------------------------------------------------------------


async def test_fi_answers_replace_and_the_close_job_makes_the_meeting(admin_bot):
    bot = admin_bot
    out = await bot.say("/kokous ehdota ti 8.12. klo 18 Kehräkokous @ Maunula-talo | ke 9.12. klo 17 | "
                        "to 10.12. klo 18 sulkeutuu pe 4.12. klo 12", user="admin", lang="fi")
    assert out[0].splitlines() == [
        "🗓 Aikakysely #1: Kehräkokous", "📍 Maunula-talo",
        "1. ti 8.12.2026 klo 18.00 — ✅ 0 · 🤔 0 · ❌ 0",
        "2. ke 9.12.2026 klo 17.00 — ✅ 0 · 🤔 0 · ❌ 0",
        "3. to 10.12.2026 klo 18.00 — ✅ 0 · 🤔 0 · ❌ 0",
        "Vastaa jokaiseen aikaan: ✅ käy, 🤔 käy tarvittaessa, ❌ ei käy. Uusi vastaus korvaa aiemman.",
        "Sulkeutuu pe 4.12.2026 klo 12.00; silloin paras aika tulee kokoukseksi (ylläpitäjä voi valita ajan jo ennen sitä: "
        "/kokous valitse 1 <n>)."]
    message_id, rows = await poll_message(bot)
    assert rows == [[TIME.data(poll=1, option=i, answer=a) for a in ("yes", "maybe", "no")] for i in range(3)]
    (close,) = await jobs(bot, CLOSE_TIME_POLL.kind)
    assert close.dedup_key == "meetings.timepoll:1" and close.due_at == hel(2026, 12, 4, 12).astimezone(UTC)

    async def press(user, option, answer):
        return await bot.press(TIME.data(poll=1, option=option, answer=answer), user=user, target_id=message_id,
                               lang="fi")

    sent = await press("aino", 0, "yes")
    assert sent[0].text == "Vastauksesi ajalle ti 8.12.2026 klo 18.00: käy. ✅ 1 · 🤔 0 · ❌ 0"
    assert sent[1].kind == "edit" and "1. ti 8.12.2026 klo 18.00 — ✅ 1 · 🤔 0 · ❌ 0" in sent[1].plain
    await press("aino", 1, "maybe")
    await press("bertta", 1, "yes")
    await press("bertta", 0, "no")
    await press("cecilia", 1, "yes")
    sent = await press("aino", 1, "no")  # Aino changes her mind: her if-need-be for time 2 becomes a no
    assert sent[0].text.endswith("✅ 2 · 🤔 0 · ❌ 1")
    assert "2. ke 9.12.2026 klo 17.00 — ✅ 2 · 🤔 0 · ❌ 1" in sent[1].plain
    assert "1. ti 8.12.2026 klo 18.00 — ✅ 1 · 🤔 0 · ❌ 1" in sent[1].plain
    again = await press("aino", 1, "no")  # the same answer again changes nothing
    assert again[0].text.endswith("✅ 2 · 🤔 0 · ❌ 1")
    async with bot.services.db.session() as s:  # one answer per person and time
        assert len((await s.execute(select(store.TimePollAnswer))).scalars().all()) == 5
    # the close, by its job at its time
    before = len(bot.transport.sent)
    assert await bot.run_due(hel(2026, 12, 4, 12).astimezone(UTC)) >= 1
    after = bot.transport.sent[before:]
    assert after[0].kind == "edit" and after[0].plain.endswith("Suljettu: valittiin aika 2.")
    assert "2. ke 9.12.2026 klo 17.00 — ✅ 2 · 🤔 0 · ❌ 1 🏆" in after[0].plain and not after[0].reply.buttons
    announced = after[1]
    assert announced.plain.splitlines()[:4] == [
        "🗓 Aikakysely #1 suljettiin: ke 9.12.2026 klo 17.00 (✅ 2 · 🤔 0 · ❌ 1)",
        "📅 Kokous #1 sovittu: Kehräkokous", "🕕 ke 9.12.2026 klo 17.00–19.00", "📍 Maunula-talo"]
    assert [b.data for b in announced.reply.buttons[0]] == ["meetings:rsvp:1:yes", "meetings:rsvp:1:no",
                                                           "meetings:rsvp:1:maybe"]
    # the meeting has its reminders (a day and an hour before), its RSVP and its place in the .ics
    reminders = sorted(j.due_at for j in await jobs(bot, REMIND.kind))
    assert reminders == [hel(2026, 12, 8, 17).astimezone(UTC), hel(2026, 12, 9, 16).astimezone(UTC)]
    assert (await bot.react(announced.message_id, "👍", user="aino")) is not None
    assert "Tulossa: 1" in (await bot.say("/kokous 1", user="aino", lang="fi"))[0]
    await bot.say("/kalenteri", user="aino", lang="fi")
    (event,) = Calendar.from_ical(bot.transport.sent[-1].file.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Kehräkokous" and event.decoded("DTSTART") == hel(2026, 12, 9, 17)
    # the poll is closed: a late answer is refused; the check that it was announced finds it was
    late = await press("daniel", 0, "yes")
    assert late[0].text == "Tämä aikakysely on suljettu."
    sent = len(bot.transport.sent)
    assert await bot.run_due(hel(2026, 12, 4, 13).astimezone(UTC)) == 1  # meetings.timepoll.announce
    assert len(bot.transport.sent) == sent
    async with bot.services.db.session() as s:
        assert len((await s.execute(select(store.Meeting))).scalars().all()) == 1
    # the reminder a day before is sent with the counts
    await bot.run_due(hel(2026, 12, 8, 17, 0, 1).astimezone(UTC))
    assert bot.transport.sent[-1].plain.startswith("⏰ Muistutus: Kehräkokous")


async def test_sv_an_admin_picks_a_time_before_the_close(admin_bot):
    bot = admin_bot
    await bot.say("/lang chat sv", user="admin", lang="sv")  # the poll's message is the chat's
    out = await bot.say("/mote föreslå tis 8.12. kl 18 Styrelsemöte | ons 9.12. kl 17", user="admin", lang="sv")
    assert out[0].startswith("🗓 Tidsomröstning #1: Styrelsemöte\n1. tis 8.12.2026 kl. 18.00 — ✅ 0 · 🤔 0 · ❌ 0")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=1, option=1, answer="yes"), user="u2", target_id=message_id, lang="sv")
    # a member may not pick; an admin may, even the time with fewer yes
    assert await bot.say("/mote välj 1 1", user="u2", lang="sv") == ["Endast gruppens administratörer får göra detta."]
    assert await bot.say("/mote välj 1 5", user="admin", lang="sv") == ["Tidsomröstning #1 har tiderna 1–2."]
    out = await bot.say("/mote välj 1 1", user="admin", lang="sv")
    assert out[0].endswith("Stängd: tid 1 valdes.")
    assert out[1].startswith("🗓 Tidsomröstning #1 stängdes: tis 8.12.2026 kl. 18.00 (✅ 0 · 🤔 0 · ❌ 0)\n"
                             "📅 Möte #1 inplanerat: Styrelsemöte")
    assert await jobs(bot, CLOSE_TIME_POLL.kind) == []  # the close job is cancelled
    assert len(await jobs(bot, REMIND.kind)) == 2
    assert await bot.say("/mote välj 1 2", user="admin", lang="sv") == ["Tidsomröstning #1 är redan stängd."]
    # the pick is in the audit log
    from storage.audit import AuditEvent

    async with bot.services.db.session() as s:
        (row,) = (await s.execute(select(AuditEvent).where(AuditEvent.action == "timepoll.close"))).scalars()
    assert (row.actor_key, row.target, row.after) == ("fake:admin", "timepoll:1", '{"meeting": 1, "picked": 1}')


async def test_en_a_tie_goes_to_the_earliest_and_nobody_able_makes_no_meeting(admin_bot):
    bot = admin_bot
    await bot.say("/lang chat en", user="admin", lang="en")
    await bot.say("/meeting propose Thursday 10.12. 6pm Board | Tuesday 8.12. 6pm | Wednesday 9.12. 5pm",
                  user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    for user, option in (("u2", 0), ("u3", 0), ("u2", 2), ("u3", 2)):
        await bot.press(TIME.data(poll=1, option=option, answer="yes"), user=user, target_id=message_id)
    await bot.press(TIME.data(poll=1, option=1, answer="maybe"), user="u4", target_id=message_id)
    # the options are in time order: 1 = Tue 8.12., 2 = Wed 9.12., 3 = Thu 10.12.; 1 and 3 tie (2 yes, no
    # if-need-be each), 2 has an if-need-be only
    out = await bot.say("/meeting pick 1", user="admin", lang="en")  # no time given: the best one, now
    assert "Closed: time 1 was chosen." in out[0]
    assert out[1].startswith("🗓 Time poll #1 closed: Tue 8 Dec 2026 18:00 (✅ 2 · 🤔 0 · ❌ 0)\n"
                             "📅 Meeting #1 scheduled: Board")
    # a second poll nobody can make: closed by its job, no meeting
    await bot.say("/meeting propose Friday 11.12. 6pm Party | Saturday 12.12. 2pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=2, option=0, answer="no"), user="u2", target_id=message_id)
    await bot.run_due(NOW + timedelta(hours=48))
    assert bot.transport.sent[-1].plain == ("🗓 Time poll #2 closed: no time got a yes or an if-need-be, "
                                            "so no meeting was scheduled.")
    async with bot.services.db.session() as s:
        assert len((await s.execute(select(store.Meeting))).scalars().all()) == 1


async def test_a_member_may_answer_but_not_propose(admin_bot):
    assert await admin_bot.say("/kokous ehdota ti 8.12. klo 18 | ke 9.12. klo 17", user="u2", lang="fi") == [
        "Vain ryhmän ylläpitäjät voivat tehdä tämän."]
    assert await admin_bot.say("/kokous valitse 7 1", user="admin", lang="fi") == [
        "Tässä ryhmässä ei ole aikakyselyä #7."]


async def test_a_restart_before_the_close_keeps_the_poll_and_its_job(make_bot, tmp_path):
    bot = await make_bot()
    bot.make_admin("admin")
    await bot.say("/lang chat en", user="admin", lang="en")
    await bot.say("/meeting propose Tuesday 8.12. 6pm Board | Wednesday 9.12. 5pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=1, option=1, answer="yes"), user="u2", target_id=message_id)
    await bot.app.db.close()
    again = await make_bot(clock=bot.clock)
    assert await again.run_due(NOW + timedelta(hours=48)) >= 1
    assert again.transport.sent[-1].plain.startswith("🗓 Time poll #1 closed: Wed 9 Dec 2026 17:00")


async def test_one_close_of_many_and_a_pick_cancels_only_its_own_job(admin_bot):
    import asyncio

    from handlers.meetings.timepoll import close_time_poll

    bot = admin_bot
    for n in range(11):  # polls 1 … 11: the job key of poll 1 is a prefix of poll 10's and 11's
        await bot.say(f"/meeting propose Tuesday 8.12. 6pm Poll {n + 1} | Wednesday 9.12. 5pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=11, option=0, answer="yes"), user="u2", target_id=message_id)
    await bot.say("/meeting pick 1 2", user="admin", lang="en")
    assert sorted(j.dedup_key for j in await jobs(bot, CLOSE_TIME_POLL.kind)) == sorted(
        f"meetings.timepoll:{n}" for n in range(2, 12))
    # two closes of one poll at once (the job and a pick, or two processes): one meeting, one announcement
    before = len(bot.transport.sent)
    await asyncio.gather(close_time_poll(bot.services, 11), close_time_poll(bot.services, 11))
    announcements = [s for s in bot.transport.sent[before:] if s.kind == "message"]
    assert len(announcements) == 1 and "Aikakysely #11 suljettiin" in announcements[0].plain  # the chat is Finnish
    async with bot.services.db.session() as s:
        assert [m.title for m in (await s.execute(select(store.Meeting).order_by(store.Meeting.id))).scalars()] == [
            "Poll 1", "Poll 11"]


async def test_an_answer_after_the_closing_time_is_refused_even_before_the_job_ran(admin_bot):
    bot = admin_bot
    await bot.say("/meeting propose Tuesday 8.12. 6pm Board | Wednesday 9.12. 5pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    bot.clock.set(NOW + timedelta(hours=48))
    sent = await bot.press(TIME.data(poll=1, option=0, answer="yes"), user="u2", target_id=message_id, lang="en")
    assert sent[0].text == "This time poll is closed."
    async with bot.services.db.session() as s:
        assert (await s.execute(select(store.TimePollAnswer))).scalars().all() == []


@pytest.mark.postgres
async def test_on_postgresql_two_closes_at_once_make_one_meeting(make_bot, pg_url):
    import asyncio

    from handlers.meetings.timepoll import close_time_poll

    bot = await make_bot(database_url=pg_url)
    bot.make_admin("admin")
    await bot.say("/lang chat en", user="admin", lang="en")
    await bot.say("/meeting propose Tuesday 8.12. 6pm Board | Wednesday 9.12. 5pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=1, option=1, answer="yes"), user="u2", target_id=message_id)
    await bot.press(TIME.data(poll=1, option=1, answer="no"), user="u2", target_id=message_id)  # replaced
    await bot.press(TIME.data(poll=1, option=0, answer="maybe"), user="u3", target_id=message_id)
    before = len(bot.transport.sent)
    await asyncio.gather(*(close_time_poll(bot.services, 1) for _ in range(4)))
    announcements = [s.plain for s in bot.transport.sent[before:] if s.kind == "message"]
    assert len(announcements) == 1 and announcements[0].startswith(
        "🗓 Time poll #1 closed: Tue 8 Dec 2026 18:00 (✅ 0 · 🤔 1 · ❌ 0)")
    async with bot.services.db.session() as s:
        assert len((await s.execute(select(store.Meeting))).scalars().all()) == 1
    assert len(await jobs(bot, REMIND.kind)) == 2


async def test_a_close_that_died_before_announcing_is_announced_by_the_jobs_retry(admin_bot, monkeypatch):
    from handlers.meetings import timepoll

    bot = admin_bot
    await bot.say("/lang chat en", user="admin", lang="en")
    await bot.say("/meeting propose Tuesday 8.12. 6pm Board | Wednesday 9.12. 5pm", user="admin", lang="en")
    message_id, _rows = await poll_message(bot)
    await bot.press(TIME.data(poll=1, option=1, answer="yes"), user="u2", target_id=message_id)
    real = timepoll.announce

    async def dies(services, poll_id):
        raise ConnectionError("the process died after the close was committed")

    monkeypatch.setattr(timepoll, "announce", dies)
    await bot.run_due(NOW + timedelta(hours=48))
    async with bot.services.db.session() as s:
        poll = await s.get(store.TimePoll, 1)
    assert poll.closed_at is not None and not poll.announced and poll.meeting_id is not None
    monkeypatch.setattr(timepoll, "announce", real)
    before = len(bot.transport.sent)
    for minutes in (1, 10, 30, 60):  # the job's retry, whenever it comes after the grace
        await bot.run_due(NOW + timedelta(hours=48, minutes=minutes))
    announced = [s.plain for s in bot.transport.sent[before:] if s.kind == "message"]
    assert len(announced) == 1 and announced[0].startswith("🗓 Time poll #1 closed: Wed 9 Dec 2026 17:00")
    async with bot.services.db.session() as s:
        assert len((await s.execute(select(store.Meeting))).scalars().all()) == 1


async def test_retention_takes_the_answers_of_polls_closed_long_ago(admin_bot):
    from storage.retention import purge_rsvps

    bot = admin_bot
    for n in (1, 2):
        await bot.say(f"/meeting propose Tuesday 8.12. 6pm Poll {n} | Wednesday 9.12. 5pm", user="admin", lang="en")
        message_id, _rows = await poll_message(bot)
        await bot.press(TIME.data(poll=n, option=0, answer="yes"), user="u2", target_id=message_id)
    await bot.say("/meeting pick 1", user="admin", lang="en")
    async with bot.services.db.transaction() as s:
        assert await purge_rsvps(s, NOW) == 0  # closed now, not before
        assert await purge_rsvps(s, NOW + timedelta(days=1)) == 1  # poll 1's answer; open poll 2's stays
    async with bot.services.db.session() as s:
        assert [a.poll_id for a in (await s.execute(select(store.TimePollAnswer))).scalars()] == [2]
        assert len((await s.execute(select(store.Meeting))).scalars().all()) == 1  # the meeting stays
