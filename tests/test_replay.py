"""An event handled again (its handling was cut short by a stop: claimed, never finished) changes
nothing and answers the same: ideas, supports, poll votes, checklist answers. The transport's
delivery log (bot/outbox.py) keeps a reply that went out the first time from going out twice;
these tests are about the handlers' side: stored once, the same answer."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.events import Kind
from storage import checklist as checklist_store
from storage import ideas as idea_store
from storage import polls as poll_store
from storage.db import Database


def _message(text: str, key: str, *, replay: bool = False, user: str = "u1", chat: str = "group",
             private: bool = False, message_id: str | None = None) -> dict:
    return dict(chat_id=chat, sender_id=user, sender_name=user.capitalize(), text=text, chat_title=chat,
                is_private=private, message_id=message_id or f"msg-{key}", event_key=key, replay=replay,
                language_hint="en")


def _press(data: str, key: str, *, replay: bool = False, user: str = "u1", chat: str = "group",
           target_id: str | None = None) -> dict:
    return dict(chat_id=chat, sender_id=user, sender_name=user.capitalize(), kind=Kind.BUTTON, button_data=data,
                target_id=target_id, event_key=key, replay=replay, language_hint="en")


def _messages(sent) -> list[str]:
    return [s.plain for s in sent if s.kind == "message"]


async def _count(bot, model, *where) -> int:
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def cut_short(bot, monkeypatch, module, name: str, event: dict, *, after: bool) -> None:
    """Handle ``event`` until ``module.name`` is reached, then stop there as a shutdown would
    (the task is cancelled): ``after`` lets the call itself finish first (what it stored is
    committed), else it never runs."""
    original = getattr(module, name)
    reached = asyncio.Event()

    async def stuck(*args, **kwargs):
        result = await original(*args, **kwargs) if after else None
        reached.set()
        await asyncio.Event().wait()  # never
        return result

    monkeypatch.setattr(module, name, stuck)
    task = asyncio.create_task(bot.event(**event))
    await asyncio.wait_for(reached.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    monkeypatch.setattr(module, name, original)


# --- ideas -------------------------------------------------------------------------------------


async def test_idea_event_handled_twice_stores_one_idea_and_answers_once(bot):
    first = await bot.event(**_message("/idea Kesäterassi kirjaston eteen", "k1"))
    assert _messages(first)[0].startswith("💡 Idea #1 saved.")
    again = await bot.event(**_message("/idea Kesäterassi kirjaston eteen", "k1", replay=True))
    assert again == []  # the reply went out the first time (delivery log)
    assert await _count(bot, idea_store.Idea) == 1
    later = await bot.event(**_message("/idea Penkkejä puistoon", "k2"))
    assert _messages(later)[0].startswith("💡 Idea #2 saved.")  # no number was used up
    # without event keys (the console numbers its messages from 1 at every start) an equal
    # message id is no replay
    await bot.say("/idea Yksi", message_id="m1")
    await bot.say("/idea Kaksi", message_id="m1")
    assert await _count(bot, idea_store.Idea) == 4


async def test_idea_cut_short_before_the_reply_is_answered_with_the_same_number(bot, monkeypatch):
    import handlers.ideas.support as ideas

    await bot.event(**_message("/idea Ensimmäinen", "k0"))
    # stored and committed, then the bot stopped before it answered
    await cut_short(bot, monkeypatch, ideas.store, "create_idea", _message("Kasvimaa koululle #idea", "k1"),
                    after=True)
    assert await _count(bot, idea_store.Idea) == 2
    again = await bot.event(**_message("Kasvimaa koululle #idea", "k1", replay=True))
    assert len(_messages(again)) == 1 and _messages(again)[0].startswith("💡 Idea #2 saved. Kasvimaa koululle")
    assert await _count(bot, idea_store.Idea) == 2
    async with bot.services.db.session() as s:
        idea = await idea_store.by_number(s, "fake:group", 2)
    assert idea.source_event == "k1" and idea.bot_message_id == again[0].message_id


async def test_edit_handled_again_is_one_change_in_the_history(bot):
    await bot.event(**_message("/idea Penkki", "k1"))
    first = await bot.event(**_message("/edit 1 Penkkejä puistoon", "e1"))
    again = await bot.event(**_message("/edit 1 Penkkejä puistoon", "e1", replay=True))
    assert _messages(first) == ["Idea #1 updated."]
    # the card shows the new text; handled again, it is shown again (an edit repeats harmlessly)
    assert [s.kind for s in first] == ["message", "edit"] and [s.kind for s in again] == ["edit"]
    assert again[0].reply == first[1].reply
    async with bot.services.db.session() as s:
        assert [e.action for e in await idea_store.history(s, 1)] == ["edited"]


async def test_support_button_handled_again_answers_the_same(bot):
    await bot.event(**_message("/idea Aurinkovoimala", "k1"))
    idea_msg = bot.transport.sent[-1].message_id
    first = await bot.event(**_press("ideas:sup:1", "p1", user="u2", target_id=idea_msg))
    again = await bot.event(**_press("ideas:sup:1", "p1", user="u2", target_id=idea_msg, replay=True))
    [ack1], [ack2] = ([s.text for s in sent if s.kind == "ack"] for sent in (first, again))
    assert ack1 == ack2 == "👍 You support idea #1."
    assert await _count(bot, idea_store.IdeaSupport) == 1
    async with bot.services.db.session() as s:
        assert (await idea_store.by_number(s, "fake:group", 1)).support_count == 1


async def test_support_reaction_cut_short_before_the_edit_is_shown_once_stored_once(bot, monkeypatch):
    import handlers.ideas.support as ideas

    await bot.event(**_message("/idea Aurinkovoimala", "k1"))
    idea_msg = bot.transport.sent[-1].message_id
    reaction = dict(chat_id="group", sender_id="u2", sender_name="U2", kind=Kind.REACTION, reaction="👍",
                    target_id=idea_msg, event_key="r1", language_hint="en")
    await cut_short(bot, monkeypatch, ideas, "refresh_card", reaction, after=False)
    again = await bot.event(**{**reaction, "replay": True})
    assert [s.kind for s in again] == ["edit"] and "1 supporter" in again[0].plain
    assert await _count(bot, idea_store.IdeaSupport) == 1


async def test_ideas_batch_op_returns_the_idea_of_an_event_once_on_sqlite_writer(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    await db.upgrade()
    try:
        await _same_event_in_one_batch_and_after(db)
    finally:
        await db.close()


@pytest.mark.postgres
async def test_ideas_batch_op_returns_the_idea_of_an_event_once_on_postgres(pg_url):
    db = Database(pg_url)
    await db.upgrade()
    try:
        await _same_event_in_one_batch_and_after(db)
    finally:
        await db.close()


def _row(text: str, event: str | None) -> dict:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return dict(chat_key="fake:x", text=text, search="", tags="", author_key="fake:u", author_name="U",
                status="new", support_count=0, created_at=now, updated_at=now, source_message_id=None,
                source_event=event)


async def _same_event_in_one_batch_and_after(db: Database) -> None:
    made = await asyncio.gather(
        db.write(idea_store.insert_ideas, (_row("a", "e1"), ["energy"])),
        db.write(idea_store.insert_ideas, (_row("a", "e1"), ["energy"])),  # the same event, same batch
        db.write(idea_store.insert_ideas, (_row("b", "e2"), [])),
        db.write(idea_store.insert_ideas, (_row("c", None), [])),
        db.write(idea_store.insert_ideas, (_row("d", None), [])),
    )
    # (on PostgreSQL each write is its own transaction: the order of the numbers is the commits')
    assert made[0].id == made[1].id and made[0].number == made[1].number
    assert sorted([made[0].created, made[1].created]) == [False, True]
    assert sorted({m.number for m in made}) == [1, 2, 3, 4] and all(m.created for m in made[2:])
    again = await db.write(idea_store.insert_ideas, (_row("a", "e1"), ["energy"]))
    assert (again.id, again.number, again.created) == (made[0].id, made[0].number, False)
    fresh = await db.write(idea_store.insert_ideas, (_row("e", "e3"), []))
    assert (fresh.number, fresh.created) == (5, True)
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(idea_store.Idea))).scalar_one() == 5
        assert (await s.execute(select(func.count()).select_from(idea_store.IdeaTag))).scalar_one() == 1


# --- polls -------------------------------------------------------------------------------------


async def _vote_count(bot, poll_id: int = 1) -> list[str]:
    async with bot.services.db.session() as s:
        rows = await s.execute(select(poll_store.PollVote.choices).where(poll_store.PollVote.poll_id == poll_id))
        return list(rows.scalars())


async def test_multiple_choice_press_handled_again_does_not_undo_itself(bot):
    await bot.say("/poll Which? | a | b | c | multiple 2 | closes in 1 hour", lang="en")
    first = await bot.event(**_press("polls:vote:1:0", "v1", user="u2"))
    again = await bot.event(**_press("polls:vote:1:0", "v1", user="u2", replay=True))
    assert await _vote_count(bot) == ["0"]  # still chosen, one vote row
    assert [s.text for s in first if s.kind == "ack"] == [s.text for s in again if s.kind == "ack"] == [
        "Added “a” to your choices."]
    # a new press (another event) still toggles
    await bot.event(**_press("polls:vote:1:0", "v2", user="u2"))
    assert await _vote_count(bot) == []


async def test_single_choice_vote_handled_again_answers_the_same(bot):
    await bot.say("/poll Which? | a | b | closes in 1 hour", lang="en")
    first = await bot.event(**_press("polls:vote:1:1", "v1", user="u2"))
    again = await bot.event(**_press("polls:vote:1:1", "v1", user="u2", replay=True))
    assert [s.text for s in again if s.kind == "ack"] == [s.text for s in first if s.kind == "ack"] == [
        "Your vote: “b”."]
    assert await _vote_count(bot) == ["1"]


async def test_vote_events_are_forgotten_at_the_close(bot):
    await bot.say("/poll Which? | a | b | closes in 1 hour", lang="en")
    await bot.event(**_press("polls:vote:1:1", "v1", user="u2"))
    assert await _count(bot, poll_store.PollVoteEvent) == 1
    bot.clock.advance(hours=2)
    await bot.run_due()
    assert await _count(bot, poll_store.PollVoteEvent) == 0


# --- checklist ---------------------------------------------------------------------------------

TWO_TEXTS = """
id: replay
version: 1
title: {fi: Toisto, sv: Upprepning, en: Replay}
intro: {fi: Alku., sv: Början., en: Start.}
dimensions:
  - id: d
    title: {fi: Osa, sv: Del, en: Part}
    questions:
      - id: t1
        type: text
        text: {fi: "Ensimmäinen?", sv: "Första?", en: "First question?"}
      - id: t2
        type: text
        text: {fi: "Toinen?", sv: "Andra?", en: "Second question?"}
      - id: s1
        type: scale
        text: {fi: "Kolmas?", sv: "Tredje?", en: "Third question?"}
        low: {fi: Huono, sv: Dålig, en: Poor}
        high: {fi: Hyvä, sv: Bra, en: Good}
"""


async def _answering(bot, checklist: str | None = None) -> None:
    if checklist:
        (bot.services.data_dir / "checklists").mkdir(exist_ok=True)
        (bot.services.data_dir / "checklists" / "replay.yaml").write_text(checklist, encoding="utf-8")
    bot.make_admin("admin")
    await bot.say("/checklist start " + ("replay" if checklist else ""), user="admin", lang="en")
    await bot.press("checklist:go:1", user="u1", lang="en")


async def _current(bot) -> str | None:
    async with bot.services.db.session() as s:
        return (await checklist_store.response_of(s, 1, "fake:u1")).current


async def test_text_answer_handled_again_does_not_answer_the_next_question(bot):
    await _answering(bot, TWO_TEXTS)
    answer = _message("Kirjasto", "a1", chat="private-u1", private=True)
    first = await bot.event(**answer)
    assert "Second question?" in _messages(first)[0]
    again = await bot.event(**{**answer, "replay": True})
    assert again == []  # the second question was delivered already
    assert await _current(bot) == "t2"
    async with bot.services.db.session() as s:
        answers = await checklist_store.answers_of(s, 1, "fake:u1")
    assert {q: a.data() for q, a in answers.items()} == {"t1": "Kirjasto"}


async def test_answer_cut_short_before_the_next_question_asks_it_once(bot, monkeypatch):
    import handlers.checklist.flow as checklist

    await _answering(bot)
    q1 = next(s for s in reversed(bot.transport.sent) if s.chat_id == "private-u1" and s.reply and s.reply.buttons)
    press = _press("checklist:a:1:r1:4", "a1", chat="private-u1", target_id=q1.message_id)
    await cut_short(bot, monkeypatch, checklist, "_ask", press, after=False)  # stored, not asked yet
    assert await _current(bot) == "r2"
    again = await bot.event(**{**press, "replay": True})
    assert [s.kind for s in again] == ["message", "edit"]
    assert "Question 2/25" in again[0].plain and "✓ 4" in again[1].plain
    assert await _current(bot) == "r2"
    # and once more (the stop came again after the question went out): nothing new is sent
    assert [s.kind for s in await bot.event(**{**press, "replay": True})] == ["edit"]


async def test_multi_choice_toggle_handled_again_does_not_undo_itself(bot):
    await _answering(bot)
    p = {"chat": "private-u1"}
    await bot.event(**_press("checklist:a:1:r1:4", "a1", **p))
    await bot.event(**_press("checklist:t:1:r2:schools", "t1", **p))
    await bot.event(**_press("checklist:t:1:r2:schools", "t1", replay=True, **p))
    async with bot.services.db.session() as s:
        answers = await checklist_store.answers_of(s, 1, "fake:u1")
    assert answers["r2"].data() == ["schools"]


async def test_a_meeting_command_handled_again_makes_one_meeting(bot):
    from storage.core import Job
    from storage.meetings import Meeting

    bot.make_admin("u1")
    event = dict(chat_id="group", sender_id="u1", sender_name="Aino", text="/kokous huomenna klo 18 Kehräilta",
                 message_id="m7", event_key="m:group:7")
    first = await bot.event(**event)
    again = await bot.event(**event, replay=True)
    assert len(first) == 1 and again == []  # answered once
    async with bot.services.db.session() as s:
        meetings = (await s.execute(select(Meeting))).scalars().all()
        reminders = (await s.execute(select(Job).where(Job.kind == "meetings.remind"))).scalars().all()
    assert [m.title for m in meetings] == ["Kehräilta"]
    assert len(reminders) == 2  # the day before and the hour before, once each


async def test_a_poll_command_handled_again_makes_one_poll(bot):
    from storage.core import Job
    from storage.polls import Poll

    event = dict(chat_id="group", sender_id="u1", sender_name="Aino", text="/kysely Milloin? | ti | ke | sulkeutuu 1 h",
                 message_id="m8", event_key="m:group:8")
    first = await bot.event(**event)
    again = await bot.event(**event, replay=True)
    assert len(first) == 1 and again == []
    async with bot.services.db.session() as s:
        polls = (await s.execute(select(Poll))).scalars().all()
        closes = (await s.execute(select(Job).where(Job.kind == "polls.close"))).scalars().all()
    assert [(p.number, p.question, p.message_id) for p in polls] == [(1, "Milloin?", first[0].message_id)]
    assert len(closes) == 1
