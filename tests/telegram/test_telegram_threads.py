"""Issue 19 on Telegram (the real transport against the Bot API emulator): forum topics — every
answer in the topic it was asked in, an idea that opens its own topic and the discussion there
counted — and reactions as support on the card and on the person's own message."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from handlers.ideas.digest import ideas_digest, render_ideas_digest
from storage.audit import AuditEvent
from storage.ideas import by_message

pytestmark = __import__("pytest").mark.integration

SENDS = ("sendMessage", "sendPoll", "sendDocument", "sendPhoto")


def _sends(emu, group) -> list:
    return [c for c in emu.calls if c.method in SENDS and c.effect and int(c.params["chat_id"]) == group["id"]]


def _thread(call) -> int | None:
    value = call.params.get("message_thread_id")
    return int(value) if value else None


async def _card_stored(app, group, card: int) -> None:
    """The card's id is stored just after it is sent (not waited for): a 👍 on it counts from then."""
    for _ in range(200):
        async with app.db.session() as session:
            if await by_message(session, f"telegram:{group['id']}", str(card)) is not None:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the card was not stored")


async def test_forum_with_two_topics_every_answer_in_its_topic(tg, emu):
    group = emu.group("Kehrä Maunula", forum=True)
    boss, alice, bob = emu.user("Boss", lang="en"), emu.user("Alice", lang="en"), emu.user("Bob", lang="en")
    emu.set_admin(group, boss, "creator")
    emu.set_admin(group, emu.bot_user)
    ideas_topic = emu.open_topic(group, alice, "Ideat")
    meetings_topic = emu.open_topic(group, boss, "Kokoukset")

    expected: list[int | None] = []

    async def say(who, text, thread, sends=1):
        """``text`` in ``thread``: what the bot sends for it (``sends`` messages) is expected there."""
        before = len(_sends(emu, group))
        emu.post(group, who, text, thread=thread)
        await emu.wait_call("getMe", within=10, where=lambda _c: len(_sends(emu, group)) >= before + sends)
        expected.extend([thread] * sends)

    await say(alice, "/idea Kesäterassi kirjaston eteen", ideas_topic)
    card = _sends(emu, group)[0].result
    assert card["message_thread_id"] == ideas_topic and card["is_topic_message"] is True
    await say(bob, "/ideas", meetings_topic)
    await say(bob, "/idea 1", meetings_topic)
    await say(bob, "/idea 99", ideas_topic)  # a refusal, too
    await say(bob, "/support 1", meetings_topic)  # the reply; the card (in its topic) is edited
    await say(boss, "/meeting tomorrow 18:00 Kehräkokous", meetings_topic)
    await say(bob, "/calendar", meetings_topic)  # a file
    await say(boss, "/poll Kumpi päivä? | ma | ti", ideas_topic, 2)  # the native poll and its card
    await say(alice, "/ideas", None)  # the General topic: no thread
    # a button pressed on the card: the toast, and the card edited where it is
    emu.press(group, alice, card["message_id"], "ideas:sup:1")
    await emu.wait_call("answerCallbackQuery")
    await emu.wait_idle()
    sends = _sends(emu, group)
    assert [_thread(c) for c in sends] == expected, "\n".join(
        f"{c.method} {_thread(c)} {(c.params.get('text') or c.params.get('question') or '')[:30]}" for c in sends)
    assert all(c.result.get("message_thread_id") == t for c, t in zip(sends, expected, strict=True) if t)
    assert "There is no idea #99" in sends[3].result["text"]


async def test_a_topic_that_is_gone_gets_its_answer_in_the_chat(tg, emu):
    group, alice = emu.group(forum=True), emu.user("Alice", lang="en")
    topic = emu.open_topic(group, alice, "Ideas")
    emu.post(group, alice, "/ideas", thread=topic)
    del emu.topics[group["id"]][topic]  # deleted before the bot answers
    sent = await emu.wait_call("sendMessage")
    refused = [c for c in emu.calls if c.method == "sendMessage" and c.status == 400]
    assert len(refused) == 1 and _thread(refused[0]) == topic
    assert "message_thread_id" not in sent.params and sent.result["text"].startswith("No ideas yet")
    polls = emu.open_topic(group, alice, "Polls")  # a native poll too
    emu.post(group, alice, "/poll Lunch? | Mon | Tue", thread=polls)
    del emu.topics[group["id"]][polls]
    poll = await emu.wait_call("sendPoll")
    assert "message_thread_id" not in poll.params
    assert [_thread(c) for c in emu.calls if c.method == "sendPoll" and c.status == 400] == [polls]


async def test_each_idea_opens_its_own_topic_and_its_discussion_counts(tg, emu):
    group = emu.group("Kehrä", forum=True)
    boss, alice, bob = emu.user("Boss", lang="en"), emu.user("Alice", lang="en"), emu.user("Bob", lang="fi")
    emu.set_admin(group, boss, "creator")
    emu.set_admin(group, emu.bot_user, can_manage_topics=False)
    emu.post(group, alice, "/ideas threads on")
    await emu.wait_call("sendMessage")
    assert emu.sent_texts(group)[-1] == "Only the chat's admins may choose whether ideas get threads of their own."
    emu.post(group, boss, "/ideas topics on")
    await emu.wait_call("sendMessage", 2)
    assert emu.sent_texts(group)[-1].startswith("Each new idea opens its own topic here.")

    # without the right to manage topics: said so, and the idea is posted in the chat as usual
    emu.post(group, alice, "Penkki lammen rantaan #idea")
    await emu.wait_call("sendMessage", 4)
    assert emu.sent_texts(group)[-2] == ("I could not open a topic for idea #1: make me an admin with the right to "
                                         "manage topics.")
    assert emu.sent_texts(group)[-1].startswith("💡 Idea #1 saved.")

    emu.set_admin(group, emu.bot_user)  # all rights
    emu.post(group, alice, "Kesäterassi kirjaston eteen #idea")
    created = await emu.wait_call("createForumTopic")  # the first call was refused
    topic = created.result["message_thread_id"]
    assert created.params["name"] == "#2 Kesäterassi kirjaston eteen"
    await emu.wait_call("sendMessage", 6)
    card, pointer = [c for c in emu.calls_of("sendMessage")][-2:]
    assert _thread(card) == topic and card.result["text"].startswith("💡 Idea #2 saved.")
    assert _thread(pointer) is None and pointer.result["text"] == (
        "💡 Idea #2 saved; it has its own topic for the discussion.")
    assert emu.buttons(group, card.result["message_id"])[0]["callback_data"] == "ideas:sup:2"
    # handled again (as after a crash before it was marked finished): no second topic, nothing twice
    [event] = [e for e in tg.events if e.text == "Kesäterassi kirjaston eteen #idea"]
    await tg.app.dispatch(tg.transport, replace(event, replay=True))
    assert len(emu.calls_of("createForumTopic")) == 1 and len(emu.calls_of("sendMessage")) == 6

    # the discussion in the topic: activity, not new ideas
    emu.post(group, bob, "Hyvä idea, kesällä tarvitaan varjoa", thread=topic)
    emu.post(group, alice, "Tehdään tästä #idea myös", thread=topic)
    await emu.wait_idle()
    emu.post(group, bob, "/idea 2", thread=topic)
    shown = await emu.wait_call("sendMessage", 7)
    assert _thread(shown) == topic
    assert "💬 2 viestiä sen ketjussa" in shown.result["text"]
    emu.post(group, bob, "/ideat", thread=topic)
    listed = await emu.wait_call("sendMessage", 8)
    assert "#3" not in listed.result["text"] and "#2" in listed.result["text"]

    # a message handled again after a stop counts once
    [said] = [e for e in tg.events if e.text == "Hyvä idea, kesällä tarvitaan varjoa"]
    await tg.app.dispatch(tg.transport, replace(said, replay=True))
    app = tg.app
    async with app.db.session() as session:
        from sqlmodel import select
        rows = (await session.execute(select(AuditEvent).where(AuditEvent.action == "ideas.threads"))).scalars().all()
    assert [(r.actor_name, r.after) for r in rows] == [("Boss", '{"threads": "on"}')]
    now = app.services.clock.now()
    data = await ideas_digest(app.services, f"telegram:{group['id']}", now - timedelta(days=7), now + timedelta(minutes=1))
    assert data["discussed"] == [{"number": 2, "messages": 2}]
    with app.services.locale("sv"):
        assert "Diskuterade i sina trådar: #2 💬 2" in render_ideas_digest(data)


async def test_reactions_on_the_card_and_on_the_own_message_support_once(tg, emu):
    group = emu.group()
    alice, bob, carol = emu.user("Alice"), emu.user("Bob"), emu.user("Carol")
    emu.set_admin(group, emu.bot_user)
    posted = emu.post(group, alice, "Kirjaston terassi #idea")["message"]["message_id"]
    card = (await emu.wait_call("sendMessage")).result["message_id"]
    await _card_stored(tg.app, group, card)

    async def supporters(edits):
        await emu.wait_call("editMessageText", edits)
        return emu.buttons(group, card)[0]["text"]

    emu.react(group, bob, card, ["👍"])
    assert (await supporters(1)).endswith("(1)")
    emu.react(group, bob, posted, ["👍"])  # the same person on the person's own message: once
    emu.react(group, carol, posted, ["❤", "👍"])
    assert (await supporters(2)).endswith("(2)")
    emu.react(group, carol, posted, ["❤"])  # the 👍 taken away: support withdrawn
    assert (await supporters(3)).endswith("(1)")
    emu.react(group, bob, card, [])  # Bob's 👍 on Alice's message still supports
    await emu.wait_idle()
    assert len(emu.calls_of("editMessageText")) == 3 and emu.buttons(group, card)[0]["text"].endswith("(1)")
    emu.react(group, bob, posted, [])  # his last one: withdrawn
    assert (await supporters(4)).endswith("(0)")


async def test_an_admin_is_told_when_reactions_cannot_reach_the_bot(tg, emu):
    group = emu.group()
    boss, alice, bob = emu.user("Boss", lang="en"), emu.user("Alice", lang="en"), emu.user("Bob")
    emu.set_admin(group, boss, "creator")
    emu.post(group, alice, "/idea Penkki")  # a member: nothing to tell them
    card = (await emu.wait_call("sendMessage")).result["message_id"]
    emu.react(group, bob, card, ["👍"])  # Telegram does not send it: the bot is no admin
    assert emu.withheld_reactions and not [u for u in emu.updates if "message_reaction" in u]
    emu.post(group, boss, "/idea Kesäterassi")
    await emu.wait_call("sendMessage", 3)
    assert emu.sent_texts(group)[-1] == (
        "For the chat's admins: 👍 reactions do not reach me in this group, so they do not count as support. "
        "Make me an admin of the group (no other rights are needed for this); until then, support ideas with "
        "the 👍 button or /support <number>.")
    emu.post(group, boss, "/idea Kolmas")  # told once a week, not at every idea
    await emu.wait_call("sendMessage", 4)
    await emu.wait_idle()
    assert len(emu.calls_of("sendMessage")) == 4
    assert emu.allowed_updates is not None and "message_reaction" in emu.allowed_updates
