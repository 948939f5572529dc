"""Native MSC3381 polls at the transport level: start, responses by the spec's rules, end."""

from __future__ import annotations

import asyncio

import pytest

from core.events import Kind, PollOutcome, PollSpec
from tests.matrix.conftest import body, content, event_type

pytestmark = pytest.mark.integration


def _ref(start_id: str) -> dict:
    return {"rel_type": "m.reference", "event_id": start_id}


async def _votes(bot, count: int) -> list:
    for _ in range(200):
        votes = [e for e in bot.seen if e.kind == Kind.POLL_VOTE]
        if len(votes) >= count:
            return votes
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} votes, got {votes}")


async def test_poll_three_voters(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino, bertil, cecilia = [await matrix_users(n) for n in ("aino", "bertil", "cecilia")]
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id, cecilia.user_id])
    await aino.wait_joined(room, bot.user_id)
    for u in (bertil, cecilia):
        await u.join(room)

    start_id = await bot.transport.send_poll(room, PollSpec("Mikä ilta sopii?", ("ma", "ti", "ke")))
    for u in (aino, bertil, cecilia):
        [start] = await u.expect(room, bot.user_id, types=("org.matrix.msc3381.poll.start",))
        assert start.event_id == start_id
        poll = content(start)["org.matrix.msc3381.poll.start"]
        assert [a["org.matrix.msc1767.text"] for a in poll["answers"]] == ["ma", "ti", "ke"]
        assert poll["max_selections"] == 1
    answers = [a["id"] for a in poll["answers"]]

    # stable form
    await aino.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": _ref(start_id)})
    # unstable form, then a change of mind (only the latest counts)
    await bertil.send(room, "org.matrix.msc3381.poll.response",
                      {"org.matrix.msc3381.poll.response": {"answers": [answers[0]]}, "m.relates_to": _ref(start_id)})
    await bertil.send(room, "org.matrix.msc3381.poll.response",
                      {"org.matrix.msc3381.poll.response": {"answers": [answers[2]]}, "m.relates_to": _ref(start_id)})
    # an unknown answer spoils the vote; two answers where one is allowed: the first counts
    await cecilia.send(room, "m.poll.response", {"m.selections": ["nonsense"], "m.relates_to": _ref(start_id)})
    await cecilia.send(room, "m.poll.response", {"m.selections": [answers[2], answers[0]], "m.relates_to": _ref(start_id)})

    votes = await _votes(bot, 5)
    assert {v.poll_ref for v in votes} == {start_id}
    # people are handled concurrently; each person's responses in order
    by_voter = {u.user_id: [v.poll_choices for v in votes if v.sender_id == u.user_id] for u in (aino, bertil, cecilia)}
    assert by_voter == {aino.user_id: [(1,)], bertil.user_id: [(0,), (2,)], cecilia.user_id: [(), (2,)]}

    await bot.transport.close_poll(room, start_id, PollOutcome(("ma", "ti", "ke"), (0, 1, 2), (2,)))
    for u in (aino, bertil, cecilia):
        [end] = await u.expect(room, bot.user_id, types=("org.matrix.msc3381.poll.end",))
        assert content(end)["m.relates_to"] == _ref(start_id)
        assert "ke: 2" in content(end)["body"]
    # no vote counts after the end
    await aino.send(room, "m.poll.response", {"m.selections": [answers[0]], "m.relates_to": _ref(start_id)})
    await aino.say(room, "!idea Kysely on ohi")
    await aino.expect(room, bot.user_id)
    assert len([e for e in bot.seen if e.kind == Kind.POLL_VOTE]) == 5
    assert event_type(end) == "org.matrix.msc3381.poll.end"


async def test_poll_feature_end_to_end(matrix_bot, matrix_users):
    bot = await matrix_bot()
    aino, bertil, cecilia = [await matrix_users(n) for n in ("aino", "bertil", "cecilia")]
    room = await aino.create_room(invite=[bot.user_id, bertil.user_id, cecilia.user_id])
    await aino.wait_joined(room, bot.user_id)
    for u in (bertil, cecilia):
        await u.join(room)

    await aino.say(room, "!kysely Mikä ilta sopii? | ma | ti | ke")
    [start] = await aino.expect(room, bot.user_id, types=("org.matrix.msc3381.poll.start",))
    [info] = await aino.expect(room, bot.user_id)
    assert body(info).startswith("📊") and "#1" in body(info)
    answers = [a["id"] for a in content(start)["org.matrix.msc3381.poll.start"]["answers"]]
    await aino.send(room, "m.poll.response", {"m.selections": [answers[1]], "m.relates_to": _ref(start.event_id)})
    for u in (bertil, cecilia):
        await u.send(room, "org.matrix.msc3381.poll.response", {
            "org.matrix.msc3381.poll.response": {"answers": [answers[2]]}, "m.relates_to": _ref(start.event_id)})
    await _votes(bot, 3)
    await bot.transport.drain()

    await aino.say(room, "!kysely sulje 1")
    for u in (aino, bertil, cecilia):
        [end] = await u.expect(room, bot.user_id, types=("org.matrix.msc3381.poll.end",))
        assert content(end)["m.relates_to"] == _ref(start.event_id)
        assert content(end)["body"].splitlines() == ["ma: 0", "ti: 1", "ke: 2"]
    [result] = await aino.expect(room, bot.user_id)
    assert bot.tr("Poll #{number} closed:").format(number=1) in body(result)
    assert bot.tr("Winner: {option}").format(option="ke") in body(result)
