"""Issue 17 "Trust": small groups stay private. A checklist profile or an anonymous poll's counts
from fewer respondents than ``min_respondents`` (default 3) would tell one person's answers."""

from __future__ import annotations

import json

from handlers.checklist.digest import export_records

WITHHELD = "The answers are shown once at least 3 people have answered"


async def _answer_first(bot, user, value=4):
    sent = await bot.press("checklist:go:1", user=user, lang="en")
    question = [s for s in sent if s.reply and s.reply.buttons][-1]
    data = [btn.data for row in question.reply.buttons for btn in row]
    await bot.press(data[value - 1], user=user, lang="en", chat=f"private-{user}")


async def test_a_profile_of_one_or_two_shows_no_figures_and_no_chart(make_bot):
    bot = await make_bot(min_respondents=3)
    bot.make_admin("admin")
    await bot.say("/checklist start", user="admin", lang="en")
    await _answer_first(bot, "u1", 5)
    for who in ("u1", "u9"):  # the respondent and anyone else in the group
        sent = await bot.event(chat_id="group", sender_id=who, sender_name=who, text="/checklist profile",
                               language_hint="en")
        assert [s.kind for s in sent] == ["message"]  # no chart
        assert WITHHELD in sent[0].plain and "mean" not in sent[0].plain and "5.0" not in sent[0].plain
        assert "Respondents: 1" in sent[0].plain
    assert await export_records(bot.services, None, True) == []  # open data: no rows either
    exported = await bot.say("/checklist export json", lang="en")
    data = json.loads(bot.transport.sent[-1].file.data)
    assert exported == ["checklist.json"] and data["rounds"][0]["dimensions"] == []
    assert data["rounds"][0]["choices"] == {} and data["rounds"][0]["respondents"] == 1
    await _answer_first(bot, "u2", 3)
    assert WITHHELD in (await bot.say("/checklist profile", lang="en"))[0]
    await _answer_first(bot, "u3", 4)
    shown = await bot.say("/checklist profile", lang="en")
    assert "mean 4.0 (spread" in shown[0] and WITHHELD not in shown[0] and shown[1] == "checklist-1.png"
    assert {r["respondents"] for r in await export_records(bot.services, None, True)} >= {3}


async def test_the_closing_message_and_finnish_follow_the_rule(make_bot):
    bot = await make_bot(min_respondents=3)
    bot.make_admin("admin")
    await bot.say("/checklist start", user="admin", lang="fi")
    await _answer_first(bot, "u1", 2)
    closed = "\n".join(await bot.say("/checklist sulje", user="admin", lang="fi"))
    assert "Vastaukset näytetään, kun vähintään 3 on vastannut" in closed
    assert "ka 2" not in closed and "keskiarvo" not in closed


async def test_the_minimum_is_a_setting(make_bot):
    bot = await make_bot(min_respondents=1)
    bot.make_admin("admin")
    await bot.say("/checklist start", user="admin", lang="en")
    await _answer_first(bot, "u1", 5)
    assert "mean 5.0" in (await bot.say("/checklist profile", lang="en"))[0]


async def test_an_open_anonymous_poll_shows_no_counts_until_enough_have_voted(make_bot):
    bot = await make_bot(min_respondents=3)
    await bot.say("/poll Lunch? | soup | salad | anonymous", lang="en")
    await bot.press("polls:vote:1:0", user="u2")
    shown = (await bot.say("/poll 1", lang="en"))[0]
    assert "The counts are shown once 3 people have voted" in shown and "1 has voted." in shown
    assert "100" not in shown and "1. soup\n2. salad" in shown
    await bot.press("polls:vote:1:1", user="u3")
    assert "(50" not in (await bot.say("/poll 1", lang="en"))[0]
    await bot.press("polls:vote:1:1", user="u4")
    shown = (await bot.say("/poll 1", lang="en"))[0]
    assert "The counts are shown once" not in shown and "3 have voted." in shown and "2 (67" in shown


async def test_a_closed_anonymous_poll_and_a_named_poll_show_their_counts(make_bot):
    bot = await make_bot(min_respondents=3)
    await bot.say("/poll Lunch? | soup | salad | anonymous | closes in 1 h", lang="en")
    await bot.say("/poll Dinner? | pasta | rice", lang="en")
    await bot.press("polls:vote:1:0", user="u2")
    await bot.press("polls:vote:2:1", user="u2")
    named = (await bot.say("/poll 2", lang="en"))[0]
    assert "1 (100" in named  # a named poll shows its votes (and names at the close) by design
    bot.clock.advance(hours=1, seconds=1)
    await bot.run_due()
    result = (await bot.say("/poll 1", lang="en"))[0]
    assert "1 (100" in result and "Winner: soup" in result  # the poll asked for its result
