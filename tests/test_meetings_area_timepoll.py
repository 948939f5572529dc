"""Area time polls (issue 20): ``/kokous ehdota alue …`` in a Telegram group is posted in every
chat of the area (here also a Matrix room), answered in both, with one count in which a person
linked across the platforms counts once; the live counts are edited in every chat once per window;
at the close the best time becomes a meeting in each chat, with its reminders and RSVP, announced in
both; the area's calendar feed shows it once. Real App + SQLite + ManualClock, fake transports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from handlers.meetings import feed
from handlers.meetings.keys import REFRESH_TIME_POLL, REMIND, TIME, TIME_POLL_COPIES
from handlers.when import HELSINKI
from storage import meetings as store
from storage.core import Job
from tests import libical
from tests.test_area_polls import MX, TG, _two, link, messages

TG_KEY, MX_KEY = f"telegram:{TG}", f"matrix:{MX}"


def hel(*args) -> datetime:
    return datetime(*args, tzinfo=HELSINKI)


@pytest.fixture
async def two(tmp_path):
    bot = await _two(tmp_path)
    await bot.say("/lang chat en", user="10", chat=TG, platform="telegram", lang="en")
    await bot.say("/lang chat en", user="@a:hs", chat=MX, platform="matrix", lang="en")
    yield bot
    await bot.close()


def tg(bot):
    return bot.transports["telegram"]


def mx(bot):
    return bot.transports["matrix"]


def poll_sent(transport, chat: str):
    return next(s for s in transport.sent if s.kind == "message" and s.chat_id == chat and s.reply.buttons
                and s.reply.buttons[0][0].data.startswith("meetings:time:"))


async def pending(bot, kind: str) -> list[Job]:
    async with bot.services.db.session() as s:
        return list((await s.execute(select(Job).where(Job.kind == kind, Job.done_at.is_(None),
                                                       Job.cancelled.is_(False)))).scalars())


async def propose(bot) -> list[str]:
    return await bot.say("/meeting propose area tue 8.12. at 18 Area meeting @ Maunula house | wed 9.12. at 17 "
                         "closes fri 4.12. at 12", user="10", chat=TG, platform="telegram", lang="en")


async def test_one_poll_in_both_chats_one_count_and_a_meeting_in_each(two):
    bot = two
    await link(bot, "20", "@b:hs")  # Bertil is in both chats
    out = await propose(bot)
    assert out[-1] == "Area time poll #1 is in 2 chats of the area Maunula."
    in_tg, in_mx = poll_sent(tg(bot), TG), poll_sent(mx(bot), MX)
    assert in_tg.plain.splitlines()[0] == "🗓 Time poll #1 of the area Maunula: Area meeting"
    assert "an admin here may pick earlier: /meeting pick 1 <n>" in in_tg.plain
    # in the Matrix room it has no number (the room's numbers are its own polls') and no pick
    assert in_mx.plain.splitlines()[0] == "🗓 Time poll of the area Maunula: Area meeting"
    assert in_mx.plain.splitlines()[-1].startswith("Closes ") and "pick" not in in_mx.plain
    assert [b.data for b in in_mx.reply.buttons[1]] == [TIME.data(poll=1, option=1, answer=a)
                                                         for a in ("yes", "maybe", "no")]

    async def answer(user, option, ans, *, on_matrix=False):
        chat, platform, message = (MX, "matrix", in_mx) if on_matrix else (TG, "telegram", in_tg)
        bot.clock.set(bot.clock.now() + timedelta(seconds=1))  # one after the other
        return await bot.press(TIME.data(poll=1, option=option, answer=ans), user=user, chat=chat,
                               platform=platform, target_id=message.message_id, lang="en")

    assert (await answer("10", 0, "yes"))[0].text.endswith("✅ 1 · 🤔 0 · ❌ 0")
    await answer("@a:hs", 1, "yes", on_matrix=True)
    await answer("20", 1, "no")  # Bertil on Telegram …
    said = await answer("@b:hs", 1, "yes", on_matrix=True)  # … and later as his linked Matrix user
    assert said[0].text.endswith("✅ 2 · 🤔 0 · ❌ 0")  # counted once, by his latest answer
    # the messages in both chats are brought up to date once per window, not once per answer
    refreshes = await pending(bot, REFRESH_TIME_POLL.kind)
    assert len(refreshes) == 1
    edits_before = (len(tg(bot).sent), len(mx(bot).sent))
    await bot.run_due(refreshes[0].due_at)
    for transport, chat, before in ((tg(bot), TG, edits_before[0]), (mx(bot), MX, edits_before[1])):
        edits = [s for s in transport.sent[before:] if s.kind == "edit" and s.chat_id == chat]
        assert len(edits) == 1 and "2. Wed 9 Dec 2026 17:00 — ✅ 2 · 🤔 0 · ❌ 0" in edits[0].plain, edits

    # the close: a meeting in each chat, each with its reminders; announced in both
    await bot.run_due(hel(2026, 12, 4, 12).astimezone(UTC))
    async with bot.services.db.session() as s:
        meetings = (await s.execute(select(store.Meeting).order_by(store.Meeting.chat_key))).scalars().all()
    assert [(m.chat_key, m.number, m.title, m.dtstart_local) for m in meetings] == [
        (MX_KEY, 1, "Area meeting", "2026-12-09T17:00"), (TG_KEY, 1, "Area meeting", "2026-12-09T17:00")]
    reminders = await pending(bot, REMIND.kind)
    assert sorted((j.chat_key, j.due_at) for j in reminders) == sorted(
        (key, hel(*when).astimezone(UTC)) for key in (MX_KEY, TG_KEY) for when in ((2026, 12, 8, 17), (2026, 12, 9, 16)))
    for transport, chat in ((tg(bot), TG), (mx(bot), MX)):
        announced = [t for t in messages(transport, chat) if t.startswith(
            "🗓 Time poll #1 closed" if chat == TG else "🗓 The area's time poll closed")]
        assert len(announced) == 1 and "Meeting #1 scheduled: Area meeting" in announced[0], messages(transport, chat)
    # each chat's RSVP is its own meeting's; the reminder comes in both chats
    last_mx = [s for s in mx(bot).sent if s.kind == "message" and s.chat_id == MX][-1]
    assert [b.data for b in last_mx.reply.buttons[0]][0] == f"meetings:rsvp:{meetings[0].id}:yes"
    await bot.run_due(hel(2026, 12, 8, 17, 0, 1).astimezone(UTC))
    for transport, chat in ((tg(bot), TG), (mx(bot), MX)):
        assert messages(transport, chat)[-1].startswith("⏰ Reminder: Area meeting")
    # a run of the announce check later sends nothing more
    counts = (len(tg(bot).sent), len(mx(bot).sent))
    await bot.run_due(hel(2026, 12, 8, 17, 5).astimezone(UTC))
    assert (len(tg(bot).sent), len(mx(bot).sent)) == counts


async def test_the_areas_feed_shows_the_meeting_once_and_each_chats_feed_its_own(two):
    bot = two
    await propose(bot)
    await bot.press(TIME.data(poll=1, option=0, answer="yes"), user="10", chat=TG, platform="telegram", lang="en")
    await bot.run_due(hel(2026, 12, 4, 12).astimezone(UTC))
    bot.services.public_url = "http://bot.example"
    async with bot.services.db.transaction() as s:
        area_secret = await store.feed_secret(s, "area:Maunula", "areasecret", bot.clock.now())
        chat_secret = await store.feed_secret(s, f"chat:{MX_KEY}", "roomsecret", bot.clock.now())
    for secret, want in ((area_secret, 1), (chat_secret, 1)):
        status, _type, body = await feed.serve_feed(bot.services, {"secret": secret})
        events = Calendar.from_ical(body).walk("VEVENT")
        assert status == 200 and len(events) == want and libical.problems(body) == []
        assert events[0].decoded("DTSTART") == hel(2026, 12, 8, 18)
    # a chat that cancels its copy: the area's feed shows the cancellation beside the other chat's
    await bot.say("/cancelmeeting 1", user="@a:hs", chat=MX, platform="matrix", lang="en")
    status, _type, body = await feed.serve_feed(bot.services, {"secret": area_secret})
    assert sorted(str(e.get("STATUS", "CONFIRMED")) for e in Calendar.from_ical(body).walk("VEVENT")) == [
        "CANCELLED", "CONFIRMED"]


async def test_a_chat_out_of_reach_gets_the_poll_when_it_is_back(two):
    bot = two
    mx(bot).fail_sends = 1  # the Matrix room's first send fails
    out = await propose(bot)
    assert out[-1] == "Area time poll #1 is in 1 chat of the area Maunula."
    (job,) = await pending(bot, TIME_POLL_COPIES.kind)
    await bot.run_due(job.due_at + timedelta(seconds=1))
    assert "🗓 Time poll of the area Maunula: Area meeting" in poll_sent(mx(bot), MX).plain
    await bot.run_due(job.due_at + timedelta(minutes=5))  # done: not posted again
    assert sum(1 for t in messages(mx(bot), MX) if t.startswith("🗓 Time poll of the area")) == 1


async def test_a_chat_without_an_area_is_told_how_to_set_one(tmp_path, make_bot):
    bot = await make_bot()
    bot.make_admin("admin")
    out = await bot.say("/kokous ehdota alue ti 8.12. klo 18 | ke 9.12. klo 17", user="admin", lang="fi")
    assert out == ["Tällä ryhmällä ei ole vielä aluetta. Ylläpitäjä asettaa sen komennolla /alue <nimi>."]


async def test_more_times_than_a_matrix_message_has_buttons_for_is_refused_before_anything_is_made(two):
    bot = two
    times = " | ".join(f"{d}.12. at 18" for d in range(8, 12))
    out = await bot.say(f"/meeting propose area {times}", user="10", chat=TG, platform="telegram", lang="en")
    assert out == ["On Matrix a message carries buttons for 3 times only: offer fewer times."]
    async with bot.services.db.session() as s:
        assert (await s.execute(select(store.TimePoll))).first() is None
    out = await bot.say(f"/meeting propose {times}", user="10", chat=TG, platform="telegram", lang="en")
    assert poll_sent(tg(bot), TG) and "4." in out[0]  # Telegram alone has room for them


async def test_a_linked_person_who_goes_back_to_an_earlier_answer_is_counted_by_it(two):
    bot = two
    await link(bot, "20", "@b:hs")
    await propose(bot)

    async def answer(user, ans, chat, platform):
        bot.clock.set(bot.clock.now() + timedelta(seconds=1))
        return await bot.press(TIME.data(poll=1, option=0, answer=ans), user=user, chat=chat, platform=platform,
                               lang="en")

    await answer("20", "yes", TG, "telegram")
    await answer("@b:hs", "no", MX, "matrix")
    said = await answer("20", "yes", TG, "telegram")  # back to yes, as his Telegram self
    assert said[0].text.endswith("✅ 1 · 🤔 0 · ❌ 0")
    async with bot.services.db.session() as s:
        assert (await store.time_counts(s, 1, 2))[0] == {"yes": 1, "maybe": 0, "no": 0}


async def test_a_run_that_died_after_announcing_in_a_chat_does_not_announce_there_again(two, monkeypatch):
    bot = two
    await propose(bot)
    await bot.press(TIME.data(poll=1, option=0, answer="yes"), user="10", chat=TG, platform="telegram", lang="en")
    real = store.add_message
    calls = []

    async def dies_once(session, chat_key, *args):  # the record after the Matrix room's send fails once
        calls.append(chat_key)
        if chat_key == MX_KEY and calls.count(MX_KEY) == 1:
            raise RuntimeError("died")
        return await real(session, chat_key, *args)

    monkeypatch.setattr(store, "add_message", dies_once)
    await bot.run_due(hel(2026, 12, 4, 12).astimezone(UTC))
    await bot.run_due(hel(2026, 12, 4, 12, 10).astimezone(UTC))  # the announce job, and the close's retries
    await bot.run_due(hel(2026, 12, 4, 13).astimezone(UTC))
    for transport, chat, head in ((tg(bot), TG, "🗓 Time poll #1 closed"), (mx(bot), MX, "🗓 The area's time poll")):
        assert sum(t.startswith(head) for t in messages(transport, chat)) == 1, messages(transport, chat)
    async with bot.services.db.session() as s:
        assert all(c.announced for c in await store.time_copies(s, 1))
        assert (await s.get(store.TimePoll, 1)).announced


class Crash(BaseException):
    """The process dies here (nothing in the bot catches it)."""


async def test_a_command_handled_again_after_a_crash_still_confirms(two, monkeypatch):
    bot = two
    real = store.add_time_copy
    crashed = []

    async def dies_on_the_room(session, poll_id, chat_key, message_id):
        if chat_key == MX_KEY and not crashed:
            crashed.append(chat_key)
            raise Crash()
        return await real(session, poll_id, chat_key, message_id)

    monkeypatch.setattr(store, "add_time_copy", dies_on_the_room)
    text = "/meeting propose area tue 8.12. at 18 Area meeting | wed 9.12. at 17 closes fri 4.12. at 12"
    event = dict(chat_id=TG, sender_id="10", sender_name="Ten", text=text, language_hint="en", message_id="m1",
                 event_key="telegram:m1", chat_title=TG)
    with pytest.raises(Crash):  # after the Matrix room's send, before its record
        await bot.event("telegram", **event)
    await bot.event("telegram", replay=True, **event)  # handled again after the restart
    assert sum(t == "Area time poll #1 is in 2 chats of the area Maunula." for t in messages(tg(bot), TG)) == 1
    assert sum(t.startswith("🗓 Time poll of the area") for t in messages(mx(bot), MX)) == 1
    assert sum(t.startswith("🗓 Time poll #1 of the area") for t in messages(tg(bot), TG)) == 1


async def test_no_refresh_of_the_counts_is_planned_at_or_after_the_close(two):
    bot = two
    await propose(bot)
    bot.clock.set(hel(2026, 12, 4, 11, 59, 55).astimezone(UTC))  # 5 s before the close, in its window
    await bot.press(TIME.data(poll=1, option=0, answer="yes"), user="10", chat=TG, platform="telegram", lang="en")
    assert await pending(bot, REFRESH_TIME_POLL.kind) == []


async def test_a_chat_down_at_the_close_is_announced_when_it_is_back_however_long_it_takes(two):
    bot = two
    await propose(bot)
    await bot.press(TIME.data(poll=1, option=0, answer="yes"), user="10", chat=TG, platform="telegram", lang="en")
    mx(bot).fail_sends = 1  # the room's platform goes down at the close …
    mx(bot).ready.clear()
    close = hel(2026, 12, 4, 12).astimezone(UTC)
    await bot.run_due(close)
    assert sum(t.startswith("🗓 Time poll #1 closed") for t in messages(tg(bot), TG)) == 1  # not held up
    for hours in (1, 5, 24):  # … for a day: its check waits, it is not given up
        await bot.run_due(close + timedelta(hours=hours))
    (check,) = await pending(bot, "meetings.timepoll.announce")
    assert check.chat_key == MX_KEY and check.attempts == 0
    async with bot.services.db.session() as s:
        assert not (await s.get(store.TimePoll, 1)).announced
    mx(bot).ready.set()  # back
    await bot.run_due(close + timedelta(hours=25))
    assert sum(t.startswith("🗓 The area's time poll closed") for t in messages(mx(bot), MX)) == 1
    assert sum(t.startswith("🗓 Time poll #1 closed") for t in messages(tg(bot), TG)) == 1
    async with bot.services.db.session() as s:
        assert (await s.get(store.TimePoll, 1)).announced
