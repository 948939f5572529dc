"""Area polls (issue 20): one poll in a Telegram group and a Matrix room of one area, one tally,
one close, the result in both; linked people counted once; live counts edited in batches."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from bot.testing import FakeTransport, TestBot
from core.clock import ManualClock
from handlers import digest as digest_feature
from storage import links
from storage import polls as store

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 12:00 in Helsinki
TG, MX = "-1001", "!room:hs"


async def _two(tmp_path, database_url: str | None = None) -> TestBot:
    """One App with two platforms: a Telegram group (native polls) and a Matrix room (buttons)."""
    tg = FakeTransport(platform="telegram", native_polls=True)
    mx = FakeTransport(platform="matrix", native_polls=False, max_buttons=10)
    bot = await TestBot(tmp_path, clock=ManualClock(START), transport=tg, more_transports=[mx],
                        database_url=database_url).open()
    bot.make_admin("10", TG, platform="telegram")
    bot.make_admin("@a:hs", MX, platform="matrix")
    await bot.say("/area Maunula", user="10", chat=TG, platform="telegram", lang="en")
    await bot.say("/area maunula", user="@a:hs", chat=MX, platform="matrix", lang="en")
    return bot


@pytest.fixture
async def two(tmp_path):
    bot = await _two(tmp_path)
    yield bot
    await bot.close()


async def the_poll(bot) -> store.Poll:
    async with bot.services.db.session() as s:
        return await store.by_number(s, f"telegram:{TG}", 1)


async def area_tally(bot) -> store.AreaTally:
    async with bot.services.db.session() as s:
        return await store.area_tally(s, await store.by_id(s, (await the_poll(bot)).id))


def messages(transport: FakeTransport, chat: str) -> list[str]:
    return [s.plain for s in transport.sent if s.kind == "message" and s.chat_id == chat]


async def link(bot, tg_user: str, mx_user: str) -> list[str]:
    reply = await bot.say("/link", user=tg_user, chat=tg_user, private=True, platform="telegram", lang="en")
    code = re.search(r"Your code: (\w+)", reply[0]).group(1)
    return await bot.say(f"/link {code}", user=mx_user, chat="!dm-" + mx_user, private=True, platform="matrix",
                         lang="en")


async def test_one_poll_in_both_chats_one_tally_one_result(two):
    tg, mx = two.transports["telegram"], two.transports["matrix"]
    replies = await two.say("/poll area Which evening? | Tue | Wed | open 2 h", user="10", chat=TG,
                            platform="telegram", lang="en")
    assert replies[-1] == "Area poll #1 is in 2 chats of the area Maunula."
    poll = await the_poll(two)
    assert poll.area == "Maunula" and poll.native_ref is None
    # Telegram: a native poll and the area-wide live count under it; Matrix: buttons
    native = next(s for s in tg.sent if s.kind == "poll")
    assert native.poll.question == "Which evening?" and native.poll.options == ("Tue", "Wed")
    assert "One poll in 2 chats of the area Maunula" in messages(tg, TG)[1]
    room = next(s for s in mx.sent if s.kind == "message" and s.reply.buttons)
    assert [b.data for row in room.reply.buttons for b in row] == [f"polls:vote:{poll.id}:0", f"polls:vote:{poll.id}:1"]
    assert room.plain.startswith("📊 Area poll #1 · Maunula Which evening?")

    await two.vote(native.message_id, 0, user="11", chat=TG, platform="telegram")
    await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")
    await two.press(f"polls:vote:{poll.id}:1", user="@c:hs", chat=MX, platform="matrix")
    t = await area_tally(two)
    assert (t.counts, t.voters, t.merged) == ([1, 2], 3, 0)
    # a button of the area poll in a chat outside the area is refused
    answer = await two.press(f"polls:vote:{poll.id}:0", user="99", chat="-999", platform="telegram", lang="en")
    assert "no longer available" in answer[-1].text

    two.clock.advance(hours=2, seconds=1)
    await two.run_due()
    results_tg = [m for m in messages(tg, TG) if "closed:" in m]
    results_mx = [m for m in messages(mx, MX) if "closed:" in m]
    assert len(results_tg) == len(results_mx) == 1
    for text in (results_tg[0], results_mx[0]):
        assert "Area poll #1 · Maunula closed:" in text and "Winner: Wed" in text and "3 people voted." in text
    assert [s.message_id for s in tg.sent if s.kind == "close_poll"] == [native.message_id]
    # closed once: a second run, or an admin's close, posts nothing more
    two.clock.advance(minutes=5)
    await two.run_due()
    await two.say("/poll close 1", user="10", chat=TG, platform="telegram", lang="en")
    assert len([m for m in messages(tg, TG) + messages(mx, MX) if "closed:" in m]) == 2
    # the tidied copies show the final counts without buttons
    last_mx = [s for s in mx.sent if s.kind == "edit" and s.message_id == room.message_id][-1]
    assert not last_mx.reply.buttons and "Closed." in last_mx.plain


async def test_a_linked_person_counts_once_by_the_latest_vote(two):
    await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram", lang="en")
    poll = await the_poll(two)
    native = next(s for s in two.transports["telegram"].sent if s.kind == "poll")
    await two.vote(native.message_id, 0, user="11", chat=TG, platform="telegram")  # Telegram: Tue
    two.clock.advance(seconds=30)
    await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")  # Matrix: Wed, later
    t = await area_tally(two)
    assert (t.counts, t.voters, t.merged) == ([1, 1], 2, 0)
    replies = await link(two, "11", "@b:hs")
    assert replies == ["Linked: you are also Telegram 11. In area polls and the area's figures you now count once, "
                       "by your latest vote. Undo it with /unlink."]
    t = await area_tally(two)
    assert (t.counts, t.voters, t.merged) == ([0, 1], 1, 1)  # the latest (Matrix) vote
    two.clock.advance(seconds=30)
    await two.vote(native.message_id, 0, user="11", chat=TG, platform="telegram")  # changes it on Telegram
    t = await area_tally(two)
    assert (t.counts, t.voters, t.merged) == ([1, 0], 1, 1)
    two.clock.advance(days=2)
    await two.run_due()
    for transport, chat in ((two.transports["telegram"], TG), (two.transports["matrix"], MX)):
        result = next(m for m in messages(transport, chat) if "closed:" in m)
        assert "1 person voted in two chats and is counted once, by the latest vote." in result
        assert "1 person voted." in result
    # the area's digest figures count the area poll and its voter once
    await two.run_due(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    doc = await digest_feature.digest_document(two.services, "2026-W48", "2026-W48")
    (week,) = next(a for a in doc["areas"] if a["area"] == "Maunula")["weeks"]
    assert sorted(c["platform"] for c in week["chats"]) == ["matrix", "telegram"]
    assert week["totals"]["polls.closed"] == 1 and week["totals"]["polls.votes"] == 1
    # two admins and the linked person were active: four people in the chats, three in the area
    assert week["totals"]["activity.people"] == 4 and week["totals"]["activity.area_people"] == 3
    # unlinking is one command: they count twice again in a new poll
    assert await two.say("/unlink", user="11", chat="11", private=True, platform="telegram", lang="en") == [
        "Link undone: you and Matrix @b:hs count separately again."]
    async with two.services.db.session() as s:
        assert await links.linked_keys(s, "matrix:@b:hs") == []


async def test_live_counts_are_edited_at_most_once_per_window_per_chat(two):
    await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram", lang="en")
    poll = await the_poll(two)
    tg, mx = two.transports["telegram"], two.transports["matrix"]
    before = {p: len([s for s in t.sent if s.kind == "edit"]) for p, t in two.transports.items()}
    for n in range(40):  # 40 votes in two seconds, half on each platform
        await two.press(f"polls:vote:{poll.id}:{n % 2}", user=f"@v{n}:hs", chat=MX, platform="matrix")
        await two.press(f"polls:vote:{poll.id}:{n % 2}", user=f"{100 + n}", chat=TG, platform="telegram")
        two.clock.advance(milliseconds=50)
    edits = {p: len([s for s in t.sent if s.kind == "edit"]) - before[p] for p, t in two.transports.items()}
    assert edits == {"telegram": 1, "matrix": 1}  # the first vote's; the rest wait for the window's end
    two.clock.advance(seconds=10)
    await two.run_due()
    edits = {p: len([s for s in t.sent if s.kind == "edit"]) - before[p] for p, t in two.transports.items()}
    assert edits == {"telegram": 2, "matrix": 2}  # one trailing edit each, with every vote in it
    for t in (tg, mx):
        assert "80 have voted." in [s for s in t.sent if s.kind == "edit"][-1].plain


async def test_only_admins_start_an_area_poll_and_only_in_an_area(two):
    answer = await two.say("/poll area Q? | a | b", user="12", chat=TG, platform="telegram", lang="en")
    assert answer == ["Only the chat's admins may start a poll for the whole area."]
    two.make_admin("20", "-2002", platform="telegram")
    answer = await two.say("/poll area Q? | a | b", user="20", chat="-2002", platform="telegram", lang="en")
    assert answer == ["This chat has no area yet. An admin sets it with /area <name>."]
    # a single-chat poll is as before
    answer = await two.say("/poll Q? | a | b", user="12", chat=TG, platform="telegram", lang="en")
    async with two.services.db.session() as s:
        poll = await store.by_number(s, f"telegram:{TG}", 1)
        assert poll.area is None and poll.native_ref is not None and await store.copies(s, poll.id) == []


@pytest.mark.parametrize("lang,command,done", [
    ("fi", "/kysely alue Mikä ilta? | ti | ke", "Aluekysely #1 on alueen Maunula 2 ryhmässä."),
    ("sv", "/omrostning område Vilken kväll? | tis | ons", "Områdesomröstning #1 finns i 2 grupper i området Maunula."),
    ("en", "/poll area Which evening? | Tue | Wed", "Area poll #1 is in 2 chats of the area Maunula."),
])
async def test_in_every_language(two, lang, command, done):
    replies = await two.say(command, user="10", chat=TG, platform="telegram", lang=lang)
    assert replies[-1] == done


async def test_linking_codes(two):
    reply = await two.say("/link", user="11", chat="11", private=True, platform="telegram", lang="en")
    code = re.search(r"Your code: (\w+)", reply[0]).group(1)
    assert len(code) == 6 and "until" in reply[1] if len(reply) > 1 else "until" in reply[0]
    # not in a group; not from the same platform; not after 10 minutes
    assert "private" in (await two.say(f"/link {code}", user="@b:hs", chat=MX, platform="matrix", lang="en"))[0]
    assert (await two.say(f"/link {code}", user="12", chat="12", private=True, platform="telegram", lang="en")) == [
        "That code was made on this platform. Send it from your other platform."]
    two.clock.advance(minutes=10, seconds=1)
    assert "unknown or has expired" in (await two.say(
        f"/link {code}", user="@b:hs", chat="!dm", private=True, platform="matrix", lang="en"))[0]
    assert await link(two, "11", "@b:hs") == [
        "Linked: you are also Telegram 11. In area polls and the area's figures you now count once, "
        "by your latest vote. Undo it with /unlink."]
    # a second Matrix account cannot join the same Telegram account
    reply = await two.say("/link", user="11", chat="11", private=True, platform="telegram", lang="en")
    code = re.search(r"Your code: (\w+)", reply[0]).group(1)
    assert "Undo that link first" in (await two.say(
        f"/link {code}", user="@c:hs", chat="!dm-c", private=True, platform="matrix", lang="en"))[0]


async def test_mydata_covers_both_identities_and_forgetme_removes_the_link(two):
    await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram", lang="en")
    poll = await the_poll(two)
    await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")
    await link(two, "11", "@b:hs")
    sent = await two.event("telegram", chat_id="11", sender_id="11", sender_name="Anna", text="/mydata",
                           is_private=True, language_hint="en", message_id="md1")
    data = json.loads(next(s for s in sent if s.kind == "file").file.data)
    assert data["links"] == ["matrix:@b:hs"]
    other = data["linked_identities"]["matrix:@b:hs"]
    assert other["votes"][0]["choices"] == ["Wed"]
    await two.say("/forgetme", user="@b:hs", chat="!dm-@b:hs", private=True, platform="matrix", lang="en")
    await two.say("/forgetme confirm", user="@b:hs", chat="!dm-@b:hs", private=True, platform="matrix", lang="en")
    async with two.services.db.session() as s:
        assert await links.linked_keys(s, "telegram:11") == []
        assert await links.link_of(s, "matrix:@b:hs") is None


async def test_on_postgresql(tmp_path, pg_url):
    two = await _two(tmp_path, pg_url)
    try:
        await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram", lang="en")
        poll = await the_poll(two)
        native = next(s for s in two.transports["telegram"].sent if s.kind == "poll")
        await two.vote(native.message_id, 0, user="11", chat=TG, platform="telegram")
        two.clock.advance(seconds=30)
        await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")
        await link(two, "11", "@b:hs")
        t = await area_tally(two)
        assert (t.counts, t.voters, t.merged) == ([0, 1], 1, 1)
        two.clock.advance(days=2)
        await two.run_due()
        assert len([m for t, c in ((two.transports["telegram"], TG), (two.transports["matrix"], MX))
                    for m in messages(t, c) if "closed:" in m]) == 2
    finally:
        await two.close()


async def test_a_chat_whose_platform_is_down_gets_the_poll_when_it_is_back(two):
    mx = two.transports["matrix"]
    mx.fail_sends = 3  # Matrix is down when the poll starts, and at the first retry
    replies = await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram",
                            lang="en")
    assert replies[-1] == "Area poll #1 is in 1 chat of the area Maunula."
    assert not [s for s in mx.sent if s.kind == "message" and s.reply.buttons]
    two.clock.advance(seconds=31)
    await two.run_due()  # still down: the job is retried with back-off
    assert not [s for s in mx.sent if s.kind == "message" and s.reply.buttons]
    for _ in range(3):  # its back-off
        two.clock.advance(minutes=10)
        await two.run_due()
    [room] = [s for s in mx.sent if s.kind == "message" and s.reply.buttons]
    assert room.plain.startswith("📊 Area poll #1 · Maunula Which evening?")
    poll = await the_poll(two)
    await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")
    assert (await area_tally(two)).counts == [0, 1]


async def test_the_area_poll_is_listed_in_every_chat_of_the_area(two):
    await two.say("/poll area Which evening? | Tue | Wed", user="10", chat=TG, platform="telegram", lang="en")
    await two.say("/poll Local one? | yes | no", user="@a:hs", chat=MX, platform="matrix", lang="en")
    listed = await two.say("/polls", user="@b:hs", chat=MX, platform="matrix", lang="en")
    assert "#1 · Maunula Which evening? — closes" in listed[0] and "#1 Local one? — closes" in listed[0]
    listed = await two.say("/polls", user="11", chat=TG, platform="telegram", lang="en")
    assert "#1 · Maunula Which evening?" in listed[0] and "Local one?" not in listed[0]


class Crash(BaseException):
    """The process dies here (nothing in the bot catches it)."""


async def test_a_command_handled_again_after_a_crash_posts_each_copy_once_and_confirms(two, monkeypatch):
    bot = two
    real = store.add_copy
    crashed = []

    async def dies_on_the_room(session, poll_id, chat_key, *args):
        if chat_key == f"matrix:{MX}" and not crashed:
            crashed.append(chat_key)
            raise Crash()
        return await real(session, poll_id, chat_key, *args)

    monkeypatch.setattr(store, "add_copy", dies_on_the_room)
    event = dict(chat_id=TG, sender_id="10", sender_name="Ten", text="/poll area Which evening? | Tue | Wed",
                 language_hint="en", message_id="m1", event_key="telegram:m1", chat_title=TG)
    with pytest.raises(Crash):  # after the Matrix room's send, before its record
        await bot.event("telegram", **event)
    await bot.event("telegram", replay=True, **event)  # handled again after the restart
    tg, mx = bot.transports["telegram"], bot.transports["matrix"]
    assert sum(t.startswith("Area poll #1 is in 2 chats") for t in messages(tg, TG)) == 1, messages(tg, TG)
    assert sum("Which evening?" in t for t in messages(mx, MX)) == 1, messages(mx, MX)
    assert sum(1 for s in tg.sent if s.kind == "poll") == 1


async def test_a_chat_down_at_the_close_gets_the_result_when_it_is_back_however_long_it_takes(two):
    from datetime import timedelta

    from sqlalchemy import select

    from storage.core import Job

    tg, mx = two.transports["telegram"], two.transports["matrix"]
    await two.say("/poll area Which evening? | Tue | Wed | open 2 h", user="10", chat=TG, platform="telegram",
                  lang="en")
    poll = await the_poll(two)
    await two.press(f"polls:vote:{poll.id}:1", user="@b:hs", chat=MX, platform="matrix")
    mx.fail_sends = 1  # the room's platform goes down at the close …
    mx.ready.clear()
    close = poll.close_at
    await two.run_due(close)
    assert sum("Area poll #1 · Maunula closed:" in t for t in messages(tg, TG)) == 1  # not held up
    for hours in (1, 5, 24):  # … for a day: its result job waits, it is not given up
        await two.run_due(close + timedelta(hours=hours))
    async with two.services.db.session() as s:
        (job,) = (await s.execute(select(Job).where(Job.kind == "polls.result", Job.done_at.is_(None)))).scalars()
    assert job.chat_key == f"matrix:{MX}" and job.attempts == 0
    assert (await the_poll(two)).result_posted_at is None
    mx.ready.set()  # back
    await two.run_due(close + timedelta(hours=25))
    assert sum("Area poll #1 · Maunula closed:" in t for t in messages(mx, MX)) == 1
    assert sum("Area poll #1 · Maunula closed:" in t for t in messages(tg, TG)) == 1
    assert (await the_poll(two)).result_posted_at is not None


def test_several_matrix_rooms_share_the_accounts_rate_so_each_is_edited_less_often():
    from datetime import timedelta

    from handlers.areas import edit_every

    one = ["telegram:-1", "matrix:!a:hs"]
    three = one + ["matrix:!b:hs", "matrix:!c:hs", "telegram:-2"]
    assert edit_every("telegram:-1", three) == timedelta(seconds=5)  # a Telegram group's limit is its own
    assert edit_every("matrix:!a:hs", one) == timedelta(seconds=10)
    assert edit_every("matrix:!a:hs", three) == timedelta(seconds=30)  # 3 rooms: 0.1 edits/s in all
