"""Area polls end to end (issue 20): a Telegram group (the Bot API emulator) and a Matrix room
(a real Synapse) in one area, served by one App with both real transports. A poll started in the
group appears in both chats natively, is voted in both, has one tally in which a person linked
across the two platforms counts once, closes on time once and posts its result in both; an
anonymous area poll is voted by button in both (an inline button, a 1️⃣ reaction)."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.config import LimitSettings, MatrixSettings, Settings, TelegramSettings
from bot.telegram import TelegramTransport
from storage import polls as store
from storage.core import Job
from tests.matrix.conftest import body, content, event_type, unique
from tests.telegram.emulator import BotApiEmulator

pytestmark = pytest.mark.integration

START_TYPES = ("org.matrix.msc3381.poll.start", "m.poll.start")
END_TYPES = ("org.matrix.msc3381.poll.end", "m.poll.end")


@pytest.fixture
async def emu():
    emulator = await BotApiEmulator().start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def both(synapse, emu, tmp_path):
    """One App with the Telegram transport (on the emulator) and the Matrix transport (on Synapse)."""
    localpart = unique("kehrabot")
    synapse.register(localpart, "bot-pw")
    settings = Settings.model_construct(**{
        **dict(Settings.model_construct()), "data_dir": tmp_path / "bot", "transports": ["telegram", "matrix"],
        "telegram": TelegramSettings(token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url,
                                     poll_timeout=1, retry_backoff=0.05, retry_backoff_max=0.5),
        "matrix": MatrixSettings(homeserver=synapse.url, user_id=f"@{localpart}:localhost", password="bot-pw",
                                 allowed_inviters=[":localhost"], max_backoff_seconds=1, sync_timeout_seconds=5,
                                 request_timeout_seconds=10),
        "limits": LimitSettings(), "min_respondents": 1})
    from bot.matrix import create

    app = App(settings, strict=True)
    app.add_transport(TelegramTransport(settings.telegram, app.services))
    matrix = create(settings, app.services)
    app.add_transport(matrix)
    task = asyncio.create_task(app.run())
    await asyncio.wait_for(matrix.ready.wait(), 30)
    await emu.wait_call("getUpdates")
    app.bot_user_id = f"@{localpart}:localhost"
    yield app
    app.request_stop()
    await asyncio.wait_for(task, 30)
    assert not app.violations, "platform calls inside an open transaction:\n" + "\n".join(app.violations)


async def bot_messages(user, room: str, bot_id: str, pattern: str, count: int = 1, within: float = 30) -> list:
    """The bot's new messages (not edits) in the room whose text holds ``pattern``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = [e for e in user.events.get(room, []) if e.sender == bot_id and event_type(e) == "m.room.message"
                 and "m.new_content" not in content(e) and pattern in body(e)]
        if len(found) >= count or loop.time() > deadline:
            return found
        await user.sync(300)


async def wait_for(check, within: float = 20):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := await check()):
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)
    return result


async def test_area_poll_in_a_telegram_group_and_a_matrix_room(both, emu, matrix_users):
    app, bot_id = both, both.bot_user_id
    group = emu.group("Kehrä Maunula (Telegram)")
    alice, bertil = emu.user("Alice"), emu.user("Bertil")
    emu.set_admin(group, alice)
    aino, bertil_mx = await matrix_users("aino"), await matrix_users("bertil")
    room = await aino.create_room(invite=[bot_id, bertil_mx.user_id])
    await aino.wait_joined(room, bot_id)
    await bertil_mx.join(room)

    # both chats in one area
    emu.post(group, alice, "/alue Maunula")
    await aino.say(room, "!alue Maunula")
    await bot_messages(aino, room, bot_id, "Maunula")
    await emu.wait_call("sendMessage", where=lambda c: "Maunula" in c.params.get("text", ""))

    # Bertil links his Telegram account and his Matrix user in private chats
    emu.post(emu.private(bertil), bertil, "/linkita")
    call = await emu.wait_call("sendMessage", where=lambda c: "Koodisi" in c.params.get("text", ""))
    code = re.search(r"Koodisi: (?:<b>)?(\w+)", call.params["text"]).group(1)
    dm = await bertil_mx.create_room(invite=[bot_id], name="")
    await bertil_mx.wait_joined(dm, bot_id)
    await bertil_mx.say(dm, f"!linkita {code}")
    [linked] = await bot_messages(bertil_mx, dm, bot_id, "Yhdistetty")
    assert f"Telegram {bertil['id']}" in body(linked)

    # a named area poll: native in both
    emu.post(group, alice, "/kysely alue Mikä ilta sopii? | ti | ke | sulkeutuu 2 h")
    sent_poll = await emu.wait_call("sendPoll")
    ref = sent_poll.result["poll"]["id"]
    [start] = await aino.expect(room, bot_id, types=START_TYPES)
    answers = [a["id"] for a in (content(start).get("org.matrix.msc3381.poll.start") or content(start)["m.poll"])["answers"]]
    await emu.wait_call("sendMessage", where=lambda c: "Aluekysely #1 on alueen Maunula 2 ryhmässä" in
                        c.params.get("text", ""))
    chat_key = f"telegram:{group['id']}"
    async with app.db.session() as s:
        poll = await store.by_number(s, chat_key, 1)
        assert poll.area == "Maunula" and len(await store.copies(s, poll.id)) == 2

    async def tally(want):
        async with app.db.session() as s:
            t = await store.area_tally(s, await store.by_id(s, poll.id))
        return t if (t.counts, t.voters, t.merged) == want else None

    emu.answer_poll(alice, ref, [0])  # Telegram, natively
    emu.answer_poll(bertil, ref, [0])
    await wait_for(lambda: tally(([2, 0], 2, 0)))
    mref = {"rel_type": "m.reference", "event_id": start.event_id}
    await aino.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": mref})  # Matrix, natively
    await bertil_mx.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": mref})  # later
    await wait_for(lambda: tally(([1, 2], 3, 1)))  # Bertil once, by his latest vote (ke)

    # an anonymous area poll: buttons in both (Telegram's inline button, Matrix's 1️⃣ reaction)
    emu.post(group, alice, "/kysely alue Siivotaanko puisto? | kyllä | ei | nimetön | sulkeutuu 2 h")
    poll_msg = await emu.wait_call("sendMessage", where=lambda c: "Aluekysely #2" in c.params.get("text", "")
                                   and "reply_markup" in c.params)
    [room_copy] = await bot_messages(aino, room, bot_id, "Aluekysely #2 · Maunula")
    async with app.db.session() as s:
        poll2 = await store.by_number(s, chat_key, 2)
    emu.press(group, alice, poll_msg.result["message_id"], f"polls:vote:{poll2.id}:0")
    await wait_for(lambda: emu_has_reaction_buttons(aino, room, room_copy.event_id, bot_id))
    await aino.react(room, room_copy.event_id, "1️⃣")

    async def votes2():
        async with app.db.session() as s:
            t = await store.area_tally(s, await store.by_id(s, poll2.id))
        return t.counts == [2, 0]

    await wait_for(votes2)

    # the closing time comes for both; two extra runners race the scheduler for the jobs
    async with app.db.transaction() as s:
        await s.execute(update(Job).where(Job.kind == "polls.close").values(due_at=app.services.clock.now()))
    await asyncio.gather(app.jobs.run_due(), app.jobs.run_due())
    [result_mx] = await bot_messages(aino, room, bot_id, "Aluekysely #1 · Maunula päättyi")
    [end] = await aino.expect(room, bot_id, types=END_TYPES)
    assert content(end)["m.relates_to"] == mref
    await emu.wait_call("stopPoll")
    await wait_for(lambda: has_text(emu, group, "Aluekysely #2 · Maunula päättyi"))
    await asyncio.sleep(2)  # anything sent twice would have arrived by now
    await aino.sync(500)
    for texts in ([t for t in emu.sent_texts(group)], [body(e) for e in await bot_messages(
            aino, room, bot_id, "päättyi", count=99, within=0.5)]):
        first = [t for t in texts if "Aluekysely #1 · Maunula päättyi" in t]
        second = [t for t in texts if "Aluekysely #2 · Maunula päättyi" in t]
        assert len(first) == 1 and len(second) == 1, texts  # in both chats, once
        assert "🏆 Voittaja: ke" in first[0] and "3 henkilöä äänesti." in first[0]
        assert "1 henkilö äänesti kahdessa ryhmässä ja lasketaan kerran" in first[0]
        assert "🏆 Voittaja: kyllä" in second[0] and "2 henkilöä äänesti." in second[0]
    assert len(emu.calls_of("stopPoll")) == 1
    assert body(result_mx)


async def has_text(emu, group, pattern: str) -> bool:
    return any(pattern in t for t in emu.sent_texts(group))


async def emu_has_reaction_buttons(user, room: str, event_id: str, bot_id: str) -> bool:
    """The bot has put its number reactions (the buttons) under the message."""
    await user.sync(200)
    return any(e.sender == bot_id and event_type(e) == "m.reaction"
               and content(e).get("m.relates_to", {}).get("event_id") == event_id for e in user.events.get(room, []))


async def test_area_time_poll_becomes_a_meeting_with_reminders_in_both_chats(both, emu, matrix_users):
    """A time poll started in the Telegram group for the area is answered in both chats (an inline
    button; a reaction "button" in Matrix), closes once, and its best time becomes a meeting in each
    chat, announced in both, whose reminder then comes in both."""
    from handlers.meetings.keys import TIME
    from storage import meetings as mstore

    app, bot_id = both, both.bot_user_id
    group, alice = emu.group("Kehrä Maunula (Telegram)"), emu.user("Alice")
    emu.set_admin(group, alice)
    aino = await matrix_users("aino")
    room = await aino.create_room(invite=[bot_id])
    await aino.wait_joined(room, bot_id)
    emu.post(group, alice, "/alue Maunula")
    await aino.say(room, "!alue Maunula")
    await bot_messages(aino, room, bot_id, "Maunula")
    await emu.wait_call("sendMessage", where=lambda c: "Maunula" in c.params.get("text", ""))

    emu.post(group, alice, "/kokous ehdota alue huomenna klo 17 Kehräkokous @ Maunula-talo | huomenna klo 19 "
                           "sulkeutuu 2 h")
    tg_poll = await emu.wait_call("sendMessage", where=lambda c: "Alueen Maunula aikakysely #1" in c.params.get(
        "text", "") and "reply_markup" in c.params)
    [mx_poll] = await bot_messages(aino, room, bot_id, "Alueen Maunula aikakysely: Kehräkokous")
    await emu.wait_call("sendMessage", where=lambda c: "Alueen Maunula aikakysely #1 on nyt 2 ryhmässä" in
                        c.params.get("text", ""))
    async with app.db.session() as s:
        (poll,) = (await s.execute(select(mstore.TimePoll))).scalars().all()
    assert poll.area == "Maunula"
    emu.press(group, alice, tg_poll.result["message_id"], TIME.data(poll=poll.id, option=1, answer="yes"))
    await wait_for(lambda: emu_has_reaction_buttons(aino, room, mx_poll.event_id, bot_id))
    await aino.react(room, mx_poll.event_id, "4️⃣")  # the fourth button: time 2, yes

    async def yes_for_the_second_time():
        async with app.db.session() as s:
            counts = await mstore.time_counts(s, poll.id, 2)
        return counts[1]["yes"] == 2

    await wait_for(yes_for_the_second_time)

    # the close comes; two runs of the job runner at once (with the scheduler's own) take it once
    async with app.db.transaction() as s:
        await s.execute(update(Job).where(Job.kind == "meetings.timepoll").values(due_at=app.services.clock.now()))
    await asyncio.gather(app.jobs.run_due(), app.jobs.run_due())
    await wait_for(lambda: has_text(emu, group, "Aikakysely #1 suljettiin"))
    [announced_mx] = await bot_messages(aino, room, bot_id, "Alueen aikakysely suljettiin")
    assert "Kokous #1 sovittu: Kehräkokous" in body(announced_mx)
    async with app.db.session() as s:
        meetings = (await s.execute(select(mstore.Meeting))).scalars().all()
    assert sorted(m.chat_key for m in meetings) == sorted([f"telegram:{group['id']}", room_key(room)])
    assert {m.dtstart_local[-5:] for m in meetings} == {"19:00"}

    # the first reminder of each chat's meeting, now
    async with app.db.transaction() as s:
        reminders = (await s.execute(select(Job).where(Job.kind == "meetings.remind", Job.done_at.is_(None))
                                     .order_by(Job.due_at))).scalars().all()
        first = {j.chat_key: j.id for j in reversed(reminders)}
        assert len(first) == 2
        await s.execute(update(Job).where(Job.id.in_(first.values())).values(due_at=app.services.clock.now()))
    await app.jobs.run_due()
    await wait_for(lambda: has_text(emu, group, "Muistutus: Kehräkokous"))
    await bot_messages(aino, room, bot_id, "Muistutus: Kehräkokous")
    await asyncio.sleep(2)  # anything sent twice would have arrived by now
    for texts in (emu.sent_texts(group), [body(e) for e in await bot_messages(
            aino, room, bot_id, "Kehräkokous", count=99, within=0.5)]):
        assert sum("ikakysely #1 suljettiin" in t or "Alueen aikakysely suljettiin" in t for t in texts) == 1, texts
        assert sum("Muistutus: Kehräkokous" in t for t in texts) == 1, texts


def room_key(room: str) -> str:
    return f"matrix:{room}"
