"""Polls end to end on Matrix: the polls feature with the real transport on a real Synapse.
Three people vote in an MSC3381 poll, it closes when due, the result appears exactly once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from storage import polls as store
from storage.core import Job
from tests.matrix.conftest import body, content

pytestmark = pytest.mark.integration

START_TYPES = ("org.matrix.msc3381.poll.start", "m.poll.start")
END_TYPES = ("org.matrix.msc3381.poll.end", "m.poll.end")


async def _voters(bot, chat_key: str, want: int) -> tuple[list[int], int]:
    for _ in range(200):
        async with bot.app.db.session() as s:
            poll = await store.by_number(s, chat_key, 1)
            counts, voters, _names = await store.tally(s, poll)
        if voters >= want:
            return counts, voters
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {want} voters, got {voters}")


async def test_poll_three_voters_closes_when_due_once(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino, bertil, cecilia = [await matrix_users(n) for n in ("aino", "bertil", "cecilia")]
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id, cecilia.user_id])
    await aino.wait_joined(room, bot.user_id)
    for u in (bertil, cecilia):
        await u.join(room)

    await aino.say(room, "!kysely Mikä ilta sopii? | ma | ti | ke | sulkeutuu 2 h")
    [start] = await aino.expect(room, bot.user_id, types=START_TYPES)
    [info] = await aino.expect(room, bot.user_id)
    assert "Sulkeutuu" in body(info)
    poll = content(start).get("org.matrix.msc3381.poll.start") or content(start)["m.poll"]
    answers = [a["id"] for a in poll["answers"]]
    ref = {"rel_type": "m.reference", "event_id": start.event_id}
    await aino.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": ref})
    await bertil.send(room, "m.poll.response", {"m.selections": [answers[0]], "m.relates_to": ref})
    await bertil.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": ref})  # changed
    await cecilia.send(room, "m.poll.response", {"m.selections": [answers[2]], "m.relates_to": ref})
    chat_key = f"matrix:{room}"
    await _voters(bot, chat_key, 3)
    for _ in range(100):  # bertil's change of mind is the latest event
        counts, _n = await _voters(bot, chat_key, 3)
        if counts == [0, 2, 1]:
            break
        await asyncio.sleep(0.05)
    assert counts == [0, 2, 1]

    # the closing time comes (the close job is due now); two runners race for it
    async with bot.app.db.transaction() as s:
        await s.execute(update(Job).where(Job.kind == "polls.close").values(due_at=bot.app.services.clock.now()))
        await s.commit()
    ran = await asyncio.gather(bot.app.jobs.run_due(), bot.app.jobs.run_due())
    assert sum(ran) == 1
    [end] = await aino.expect(room, bot.user_id, types=END_TYPES)
    assert content(end)["m.relates_to"] == ref
    [result] = await aino.expect(room, bot.user_id)
    assert "Kysely #1 päättyi: Mikä ilta sopii?" in body(result) and "🏆 Voittaja: ti" in body(result)
    assert await aino.quiet(room, bot.user_id, 2) == []  # no second result
    await aino.send(room, "m.poll.response", {"m.selections": [answers[0]], "m.relates_to": ref})  # too late
    await asyncio.sleep(1)
    async with bot.app.db.session() as s:
        assert (await store.by_number(s, chat_key, 1)).count_list() == [0, 2, 1]
