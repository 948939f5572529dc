"""The checklist conversation end to end on the fake transport: start, answer in a private chat,
back, skip, conditions, stop, restart, resume, reminders, closing."""

from datetime import timedelta

import pytest


def texts(sent):
    return [s.plain for s in sent]


def last_question(bot, chat="private-u1"):
    """The last message with buttons sent to a chat."""
    for s in reversed(bot.transport.sent):
        if s.chat_id == chat and s.kind == "message" and s.reply.buttons:
            return s
    raise AssertionError("no question sent")


def button_data(sent):
    return [btn.data for row in sent.reply.buttons for btn in row]


async def start_round(bot, *args, lang="en"):
    bot.make_admin("admin")
    return await bot.say("/checklist start " + " ".join(args), user="admin", lang=lang)


async def test_full_conversation_with_back_skip_conditions_stop_restart(bot, make_bot, tmp_path):
    replies = await start_round(bot, "closes", "7d")
    assert "Self-assessment started: Kehrä self-assessment" in replies[0]
    assert "25 questions" in replies[0]
    assert "checklist:go:1" in button_data(bot.transport.sent[-1])

    sent = await bot.press("checklist:go:1", user="u1", lang="en")
    assert [s.kind for s in sent] == ["message", "message", "ack"]
    assert sent[0].chat_id == "private-u1" and "no right or wrong answers" in sent[0].plain
    q = sent[1]
    assert "Question 1/25" in q.plain and "history and character" in q.plain
    assert "1 = Hardly at all … 5 = Very well" in q.plain
    assert button_data(q)[:5] == [f"checklist:a:1:r1:{v}" for v in range(1, 6)]
    assert "checklist:back:1" not in button_data(q)  # nothing before the first question
    assert all(len(d.encode()) <= 64 for d in button_data(q))
    assert sent[2].text == "I sent the questions to you in a private chat."

    p = {"chat": "private-u1", "user": "u1", "lang": "en"}
    sent = await bot.press("checklist:a:1:r1:4", target_id=q.message_id, **p)
    assert sent[0].kind == "message" and "Question 2/25" in sent[0].plain  # the next question
    assert any(s.kind == "edit" and "✓ 4" in s.plain for s in sent)  # the answered one lost its buttons
    # multi choice: toggles are stored as given, then Done
    q2 = sent[0]
    sent = await bot.press("checklist:t:1:r2:associations", target_id=q2.message_id, **p)
    assert "☑ Associations and communities" in [b.label for row in sent[-1].reply.buttons for b in row]
    await bot.press("checklist:t:1:r2:schools", target_id=q2.message_id, **p)
    await bot.press("checklist:d:1:r2", **p)
    sent = await bot.press("checklist:a:1:r3:yes", **p)
    assert "(optional)" in sent[0].plain and "checklist:skip:1:r4" in button_data(sent[0])
    # a required question cannot be skipped
    sent = await bot.press("checklist:skip:1:r3", **p)
    assert sent[-1].kind == "ack" and "not the current one" in sent[-1].text
    sent = await bot.press("checklist:skip:1:r4", **p)
    assert "Question 5/25" in sent[0].plain  # n1
    await bot.press("checklist:a:1:n1:upto15", **p)
    await bot.press("checklist:a:1:n2:3", **p)
    sent = await bot.press("checklist:a:1:n3:no", **p)
    assert "Question 8/25" in sent[0].plain and "Which channels" in sent[0].plain  # n4 not asked
    # back one question, change the answer: the conditional question appears
    sent = await bot.press("checklist:back:1", **p)
    assert "Question 7/25" in sent[0].plain and "Your earlier answer: no" in sent[0].plain
    sent = await bot.press("checklist:a:1:n3:yes", **p)
    assert "Question 8/26" in sent[0].plain and "most useful" in sent[0].plain
    # free text by replying in the private chat
    out = await bot.say("Yhteistyö Vallilan kanssa", chat="private-u1", private=True, user="u1", lang="en")
    assert "Question 9/26" in out[0]
    # stop
    sent = await bot.press("checklist:stop:1", **p)
    assert "Paused at question 9/26" in sent[0].plain
    await bot.close()

    # restart on the same data dir: the state is in the store
    bot2 = await make_bot(data_dir=tmp_path)
    out = await bot2.say("/checklist", chat="private-u1", private=True, user="u1", lang="en")
    assert "Question 9/26" in out[0] and "Which channels" in out[0]
    # a text message while a button question is current is not taken as an answer
    out = await bot2.say("hello", chat="private-u1", private=True, user="u1", lang="en")
    assert out == []
    out = await bot2.say("/checklist back", chat="private-u1", private=True, user="u1", lang="en")
    assert "Question 8/26" in out[0] and "Your earlier answer: Yhteistyö Vallilan kanssa" in out[0]
    await bot2.close()


async def test_private_chat_unavailable_tells_how_to_open_one(bot):
    async def no_private(user_id):
        return None

    bot.transport.private_chat = no_private
    await start_round(bot)
    out = await bot.say("/checklist", user="u2", lang="en")
    assert "I cannot write to you first" in out[0] and "@kehrabot" in out[0] and "/start" in out[0]


async def test_answers_in_group_when_the_chat_prefers(bot):
    bot.make_admin("admin")
    out = await bot.say("/checklist mode group", user="admin", lang="en")
    assert "here in the group" in out[0]
    await start_round(bot)
    sent = await bot.press("checklist:go:1", user="u3", lang="en")
    assert sent[0].chat_id == "group" and sent[1].chat_id == "group" and "U3:" in sent[1].plain


async def test_only_admins_start_and_close(bot):
    out = await bot.say("/checklist start", user="u1", lang="en")
    assert out == ["Only the chat's admins may do this."]
    await start_round(bot)
    out = await bot.say("/checklist start", user="admin", lang="en")
    assert "already open" in out[0]
    out = await bot.say("/checklist close", user="admin", lang="en")
    assert "Self-assessment closed" in out[0] and "Respondents: 0" in out[0]
    sent = await bot.press("checklist:go:1", user="u1", lang="en")
    assert sent[-1].kind == "ack" and sent[-1].text == "This self-assessment round is closed."


async def test_bad_input_gets_clear_replies(bot):
    bot.make_admin("admin")
    out = await bot.say("/checklist start nosuch", user="admin", lang="en")
    assert out[0].startswith("There is no checklist called nosuch. Available: kehra")
    out = await bot.say("/checklist start closes someday", user="admin", lang="en")
    assert "I did not understand the closing time someday" in out[0]
    out = await bot.say("/checklist frobnicate", user="admin", lang="en")
    assert "I don't know what frobnicate means here." in out[0] and "Usage:" in out[0]
    out = await bot.say("/checklist", user="u1", lang="en")
    assert "No self-assessment round is open here" in out[0]
    sent = await bot.press("checklist:a:x", user="u1")
    assert sent[-1].kind == "ack"


async def test_reminder_once_a_day_and_close_job(bot):
    await start_round(bot, "closes", "3d")
    await bot.press("checklist:go:1", user="u1", lang="en")
    await bot.press("checklist:a:1:r1:5", user="u1", chat="private-u1")
    await bot.press("checklist:go:1", user="u2", lang="sv")
    out = await bot.say("/sprak sv", user="u2", chat="private-u2", private=True)
    assert out
    before = len(bot.transport.sent)
    await bot.run_due(bot.clock.now() + timedelta(hours=25))
    reminders = [s for s in bot.transport.sent[before:] if s.kind == "message"]
    assert {s.chat_id for s in reminders} == {"private-u1", "private-u2"}
    by_chat = {s.chat_id: s.plain for s in reminders}
    assert "1/25" in by_chat["private-u1"]
    assert "Påminnelse" in by_chat["private-u2"] and "0/25" in by_chat["private-u2"]
    # the next day's job does not remind twice within a day, but does after one
    before = len(bot.transport.sent)
    await bot.run_due(bot.clock.now() + timedelta(hours=2))
    assert [s for s in bot.transport.sent[before:] if s.kind == "message"] == []
    await bot.run_due(bot.clock.now() + timedelta(hours=23))
    assert len([s for s in bot.transport.sent[before:] if s.kind == "message"]) == 2
    # the round closes on time and posts the profile to the group
    before = len(bot.transport.sent)
    await bot.run_due(bot.clock.now() + timedelta(days=2))
    closed = [s for s in bot.transport.sent[before:] if s.chat_id == "group"]
    assert len(closed) == 1 and "Vastaajia: 1 (valmiita 0)" in closed[0].plain  # the chat's language
    sent = await bot.press("checklist:a:1:r2:x", user="u1", chat="private-u1", lang="en")
    assert sent[-1].text == "This self-assessment round is closed."


@pytest.mark.parametrize("lang, expected", [
    ("fi", ["Kysymys 1/25", "Kuinka hyvin alueen historiaa", "1 = Tuskin lainkaan … 5 = Erittäin hyvin", "⏸ Tauko"]),
    ("sv", ["Fråga 1/25", "Hur väl används områdets historia", "1 = Knappast alls … 5 = Mycket väl", "⏸ Paus"]),
    ("en", ["Question 1/25", "How well are the area's history", "1 = Hardly at all … 5 = Very well", "⏸ Pause"]),
])
async def test_questions_in_each_language(bot, lang, expected):
    await start_round(bot, lang=lang)
    sent = await bot.press("checklist:go:1", user="u5", lang=lang)
    q = sent[1]
    labels = [btn.label for row in q.reply.buttons for btn in row]
    for text in expected[:3]:
        assert text in q.plain
    assert expected[3] in labels


async def test_finish_offers_name_consent_and_back(bot):
    bot.make_admin("admin")
    await bot.say("/checklist start", user="admin", lang="en")
    await bot.press("checklist:go:1", user="u1", lang="en")
    p = {"chat": "private-u1", "user": "u1", "lang": "en"}
    for _ in range(60):  # always the first choice: every condition is met, all 28 questions asked
        q = last_question(bot)
        if "Thank you" in q.plain:
            break
        data = button_data(q)
        action = data[0].split(":")[1]
        if action == "t":
            await bot.press(data[0], **p)
            await bot.press(next(d for d in data if d.startswith("checklist:d:")), **p)
        elif action == "a":
            await bot.press(data[0], **p)
        else:  # a free-text question has only navigation buttons
            await bot.say("Vapaa vastaus", private=True, **p)
    q = last_question(bot)
    assert "Thank you! Your self-assessment is complete." in q.plain
    assert "You answered 28 questions." in q.plain
    assert "Your written answers are shown without your name." in q.plain
    assert "checklist:name:1:1" in button_data(q) and "checklist:back:1" in button_data(q)
    out = await bot.say("/checklist", user="u1", lang="en")
    assert out == ["You have already answered this self-assessment. Thank you!"]
    sent = await bot.press("checklist:back:1", **p)
    assert "Question 28/28" in sent[0].plain
