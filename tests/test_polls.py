"""Polls: creation, settings, permissions, voting, anonymity, closing exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.testing import FakeTransport
from core.clock import ManualClock
from handlers import polls as feature
from handlers.base import UserError
from storage import polls as store
from storage.core import Job

CHAT = "fake:group"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 12:00 in Helsinki


@dataclass
class CountingTransport(FakeTransport):
    """A fake transport that knows how many members each chat has (bots included)."""

    members: int | None = None

    async def member_count(self, chat_id: str) -> int | None:
        return self.members


async def poll_row(bot, number: int = 1, chat: str = CHAT) -> store.Poll:
    async with bot.services.db.session() as s:
        return await store.by_number(s, chat, number)


async def tally(bot, number: int = 1):
    async with bot.services.db.session() as s:
        poll = await store.by_number(s, CHAT, number)
        counts, voters, _names = await store.tally(s, poll)
    return counts, voters


def last_message(bot) -> str:
    """The last message sent (edits not counted)."""
    return next(s.plain for s in reversed(bot.transport.sent) if s.kind == "message")


def results(bot) -> list[str]:
    return [s.plain for s in bot.transport.sent if s.kind == "message" and "#1 " in s.plain
            and ("päättyi" in s.plain or "closed:" in s.plain or "avslutad" in s.plain)]


# --- creation ----------------------------------------------------------------------------------------


async def test_create_in_finnish_with_close_time(bot):
    replies = await bot.say("/kysely Mikä ilta sopii? | tiistai | keskiviikko | sulkeutuu 2 päivän päästä")
    assert replies[0].startswith("📊 Kysely #1 Mikä ilta sopii?\n1. tiistai\n")
    assert "Sulkeutuu ke 25.11.2026 klo 12.00." in replies[0]
    assert "äänet nimellä" in replies[0]
    sent = bot.transport.sent[-1]
    assert [b.data for row in sent.reply.buttons for b in row] == ["polls:vote:1:0", "polls:vote:1:1"]
    poll = await poll_row(bot)
    assert poll.close_at == START + timedelta(days=2)
    assert poll.message_id == sent.message_id


async def test_create_in_swedish_and_english(bot):
    sv = await bot.say("/omrostning Vilken kväll? | tis | ons | stängs om 3 timmar", lang="sv")
    assert sv[0].startswith("📊 Omröstning #1 Vilken kväll?")
    assert "Stängs mån 23.11.2026 kl. 15.00." in sv[0]
    en = await bot.say("/poll Which evening? | Tue | Wed", lang="en", user="u2")
    assert en[0].startswith("📊 Poll #2 Which evening?")
    # the default: open 24 hours, echoed with weekday and date
    assert "Closes Tue 24 Nov 2026 12:00." in en[0]


async def test_every_setting_in_every_language(bot):
    await bot.say("/kysely K? | a | b | c | monivalinta 2 | nimetön | tulokset piiloon | sulkeutuu 2026-11-30 18:00")
    poll = await poll_row(bot)
    assert (poll.multiple, poll.max_choices, poll.anonymous, poll.hide_results) == (True, 2, True, True)
    assert poll.close_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert poll.salt  # secret for voter hashes while open
    await bot.say("/omrostning F? | a | b | c | flerval | anonym, dolda resultat | stängs om 2 dagar", lang="sv")
    poll = await poll_row(bot, 2)
    assert (poll.multiple, poll.max_choices, poll.anonymous, poll.hide_results) == (True, 3, True, True)
    assert poll.close_at == START + timedelta(days=2)
    en = await bot.say("/poll Q? | a | b | multiple 2, anonymous | hidden results | closes in 30 min", lang="en")
    assert "up to 2 choices · anonymous · results hidden until closed" in en[0]
    poll = await poll_row(bot, 3)
    assert poll.close_at == START + timedelta(minutes=30)


def test_settings_only_at_the_end_and_options_may_look_like_words():
    parsed = feature.parse_poll("Which? | anonymous | open to all | anonymous")
    assert parsed.options == ("anonymous", "open to all")
    assert parsed.anonymous is True
    parsed = feature.parse_poll("idea #12 | Should it become an experiment? | yes | no")
    assert (parsed.idea_number, parsed.question, parsed.options) == (12, "Should it become an experiment?",
                                                                      ("yes", "no"))


@pytest.mark.parametrize(("text", "expected"), [
    ("/kysely", "Kirjoita kysymys ja vähintään kaksi vaihtoehtoa"),
    ("/kysely Mikä ilta?", "Erota kysymys ja vaihtoehdot merkillä |"),
    ("/kysely Mikä ilta? | ti", "Kyselyssä pitää olla vähintään 2 vaihtoehtoa"),
    ("/kysely K? | " + " | ".join(str(n) for n in range(13)), "Liikaa vaihtoehtoja: 13, enintään 12."),
    ("/kysely K? | a | | b", "Yksi vaihtoehdoista on tyhjä"),
    ("/kysely K? | a | A", "Vaihtoehto ”A” on kahteen kertaan."),
    ("/kysely " + "x" * 301 + " | a | b", "Kysymys on liian pitkä: 301 merkkiä, enintään 300."),
    ("/kysely K? | a | b | monivalinta 5", "Monivalinnassa voi valita 2–2"),
    ("/kysely K? | a | b | sulkeutuu joskus", "joskus"),
    ("/kysely K? | a | b | sulkeutuu 2020-01-01 10:00", "2020"),
    ("/kysely K? | a | b | sulkeutuu klo 11", "Tarkoitatko huomenna"),
    ("/kysely K? | a | b | sulkeutuu 90 päivää", "enintään 60 päivää"),
    ("/kysely | a | b", "Kysymys puuttuu"),
    ("/kysely sulje", "Anna kyselyn numero"),
])
async def test_invalid_input_gets_a_clear_reply(bot, text, expected):
    replies = await bot.say(text)
    assert len(replies) == 1
    assert expected in replies[0]
    assert "Anteeksi" not in replies[0] and "Sorry" not in replies[0]  # not the apology for an internal error
    async with bot.services.db.session() as s:
        assert (await s.execute(select(store.Poll))).first() is None


async def test_invalid_input_in_english_shows_usage_with_example(bot):
    replies = await bot.say("/poll Which evening?", lang="en")
    assert "Separate the question and the options with |, for example: Which evening suits?" in replies[0]
    assert "Usage: /poll <question> | <option> | <option>" in replies[0]


# --- permissions -------------------------------------------------------------------------------------


async def test_who_may_create_is_a_chat_setting(bot):
    assert "Vain ryhmän ylläpitäjät voivat muuttaa" in (await bot.say("/kysely asetukset ylläpitäjät", user="u2"))[0]
    bot.make_admin("admin")
    assert "vain ylläpitäjät" in (await bot.say("/kysely asetukset ylläpitäjät", user="admin"))[0]
    assert "vain ylläpitäjät" in (await bot.say("/kysely K? | a | b", user="u2"))[0].casefold()
    assert (await bot.say("/kysely K? | a | b", user="admin"))[0].startswith("📊 Kysely #1")
    assert "kaikki" in (await bot.say("/kysely asetukset kaikki", user="admin"))[0]
    assert (await bot.say("/kysely K? | a | b", user="u2"))[0].startswith("📊 Kysely #2")
    assert "Kyselyjä saavat aloittaa" in (await bot.say("/kysely asetukset", user="admin"))[0]


async def test_creator_and_admins_manage_others_do_not(bot):
    await bot.say("/kysely K? | a | b", user="creator")
    await bot.say("/kysely L? | a | b", user="creator")
    await bot.say("/kysely M? | a | b", user="creator")
    assert "Vain kyselyn tekijä" in (await bot.say("/kysely sulje 1", user="u3"))[0]
    assert "Vain kyselyn tekijä" in (await bot.say("/kysely jatka 1 2 päivää", user="u3"))[0]
    assert "Vain kyselyn tekijä" in (await bot.say("/kysely peru 1", user="u3"))[0]
    assert (await bot.say("/kysely jatka 1", user="creator")) == [
        "Kerro mihin asti, esimerkiksi: /kysely jatka 1 2 päivää"]
    bot.make_admin("admin")
    assert "sulkeutuu nyt" in (await bot.say("/kysely jatka 1 3 päivää", user="admin"))[0]
    assert (await poll_row(bot)).close_at == START + timedelta(days=1 + 3)  # added to the default day
    closed = await bot.say("/kysely sulje 2", user="creator")
    assert any(r.startswith("📊 Kysely #2 päättyi: L?") for r in closed)
    assert "perutt" in (await bot.say("/kysely peru 3", user="admin"))[-1]
    assert (await poll_row(bot, 3)).status == store.CANCELLED
    assert "on jo päättynyt" in (await bot.say("/kysely sulje 2", user="creator"))[0]
    # a cancelled poll is called that, whatever is asked of it
    for command in ("/kysely 3", "/kysely jatka 3 2 päivää", "/kysely sulje 3"):
        assert (await bot.say(command, user="creator")) == ["Kysely #3 peruttiin."], command


# --- voting ------------------------------------------------------------------------------------------


async def test_revote_latest_counts_with_buttons(bot):
    await bot.say("/kysely K? | a | b")
    acks = await bot.press("polls:vote:1:0", user="u2", target_id="b1")
    assert acks[0].text == "Äänesi: ”a”."
    assert "1 henkilö on äänestänyt." in acks[1].plain
    await bot.press("polls:vote:1:1", user="u2", target_id="b1")
    again = await bot.press("polls:vote:1:1", user="u2", target_id="b1")
    assert again[0].text == "Olet jo äänestänyt vaihtoehtoa ”b”."
    assert await tally(bot) == ([0, 1], 1)


async def test_multiple_choice_respects_the_maximum(bot):
    await bot.say("/kysely K? | a | b | c | monivalinta 2")
    await bot.press("polls:vote:1:0", user="u2")
    await bot.press("polls:vote:1:2", user="u2")
    refused = await bot.press("polls:vote:1:1", user="u2")
    assert refused[0].kind == "ack" and "enintään 2" in refused[0].text
    assert await tally(bot) == ([1, 0, 1], 1)
    await bot.press("polls:vote:1:0", user="u2")  # pressing again removes the choice
    await bot.press("polls:vote:1:1", user="u2")
    assert await tally(bot) == ([0, 1, 1], 1)


async def test_native_poll_votes_revote_retract_and_close(make_bot):
    bot = await make_bot(transport=FakeTransport(native_polls=True))
    replies = await bot.say("/poll Which? | a | b | c | multiple 2 | closes in 1 hour", lang="en")
    native = next(s for s in bot.transport.sent if s.kind == "poll")
    assert native.poll.options == ("a", "b", "c") and native.poll.max_choices == 2 and native.poll.multiple
    assert "Closes Mon 23 Nov 2026 13:00. Results are posted here then." in replies[-1]
    ref = native.message_id
    await bot.vote(ref, 0, user="u1")
    await bot.vote(ref, 0, 1, user="u2")
    await bot.vote(ref, 1, user="u3")
    await bot.vote(ref, 2, user="u3")  # changed their mind
    await bot.vote(ref, user="u1")  # retracted
    await bot.vote(ref, 0, 1, 2, user="u4")  # over the maximum: ignored
    await bot.vote(ref, 7, user="u5")  # no such option: ignored
    assert await tally(bot) == ([1, 1, 1], 2)
    bot.clock.advance(hours=1)
    await bot.vote(ref, 0, user="u6")  # after the closing time: ignored
    await bot.run_due()
    closes = [s for s in bot.transport.sent if s.kind == "close_poll"]
    assert len(closes) == 1 and closes[0].outcome.counts == (1, 1, 1) and closes[0].outcome.winners == (0, 1, 2)
    assert "🤝 Tie: a, b, c" in last_message(bot)


async def test_anonymous_polls_use_buttons_even_with_native_polls(make_bot):
    bot = await make_bot(transport=FakeTransport(native_polls=True))
    await bot.say("/poll Q? | a | b | anonymous", lang="en")
    assert [s.kind for s in bot.transport.sent] == ["message"]
    assert bot.transport.sent[0].reply.buttons


async def test_votes_after_close_are_ignored(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.press("polls:vote:1:0", user="u2")
    bot.clock.advance(hours=1, seconds=1)  # past the time, the job has not run yet
    late = await bot.press("polls:vote:1:1", user="u3")
    assert late[0].text == "Tämä kysely on päättynyt."
    await bot.run_due()
    late = await bot.press("polls:vote:1:1", user="u3")
    assert late[0].text == "Tämä kysely on päättynyt."
    assert (await poll_row(bot)).count_list() == [1, 0]


# --- anonymity and hidden results --------------------------------------------------------------------


def _all_text(db_file) -> str:
    conn = sqlite3.connect(db_file)
    try:
        parts = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                parts.append(" ".join(str(v) for v in row))
        return "\n".join(parts)
    finally:
        conn.close()


async def test_anonymous_poll_stores_and_shows_no_voter(bot, tmp_path):
    await bot.say("/kysely K? | a | b | nimetön", user="creator")
    for user in ("secretvoter1", "secretvoter2"):
        sent = await bot.press("polls:vote:1:0", user=user, target_id="b1")
        assert all("Secretvoter" not in s.plain for s in sent)
    # a second vote by the same person replaces the first: one vote per person
    await bot.press("polls:vote:1:1", user="secretvoter2", target_id="b1")
    assert await tally(bot) == ([1, 1], 2)
    db_file = next(tmp_path.rglob("*.sqlite3"))
    assert "secretvoter" not in _all_text(db_file).casefold()
    bot.clock.advance(days=1)
    await bot.run_due()
    text = _all_text(db_file).casefold()
    assert "secretvoter" not in text
    poll = await poll_row(bot)
    assert poll.salt is None  # the hashes can no longer be recomputed
    async with bot.services.db.session() as s:
        voters = [v.voter for v in (await s.execute(select(store.PollVote))).scalars()]
    assert sorted(voters) == ["1", "2"]
    assert all("secretvoter" not in s.plain.casefold() for s in bot.transport.sent)
    assert "Tasapeli: a, b" in last_message(bot)


async def test_named_poll_shows_names_in_the_result(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.press("polls:vote:1:0", user="anna")
    await bot.press("polls:vote:1:0", user="bert")
    await bot.run_due(START + timedelta(hours=2))
    assert "   Anna, Bert" in last_message(bot)
    assert "🏆 Voittaja: a" in last_message(bot)


async def test_hidden_results_show_no_counts_until_closed(bot):
    await bot.say("/kysely K? | a | b | tulokset piiloon | sulkeutuu 1 h")
    sent = await bot.press("polls:vote:1:0", user="u2", target_id="b1")
    sent += await bot.press("polls:vote:1:0", user="u3", target_id="b1")
    edits = [s.plain for s in sent if s.kind == "edit"]
    assert edits and all("▓" not in e and "%" not in e for e in edits)
    assert all("2 henkilöä on äänestänyt." in e or "1 henkilö on äänestänyt." in e for e in edits)
    assert "tulokset piilossa" in edits[0]
    shown = await bot.say("/kysely 1")
    assert "%" not in shown[0]
    await bot.run_due(START + timedelta(hours=1))
    assert "▓▓▓▓▓▓▓▓▓▓ 2 (100\xa0%)" in last_message(bot)
    await bot.run_due(START + timedelta(hours=2))
    assert "▓▓▓▓▓▓▓▓▓▓ 2 (100\xa0%)" in bot.transport.sent[-1].plain  # the poll message, once closed


# --- results: tie, zero votes, turnout --------------------------------------------------------------


async def test_tie_and_percentages(bot):
    await bot.say("/kysely K? | a | b | c | sulkeutuu 1 h")
    for user, choice in (("u1", 0), ("u2", 1), ("u3", 0), ("u4", 1)):
        await bot.press(f"polls:vote:1:{choice}", user=user)
    await bot.run_due(START + timedelta(hours=1))
    result = last_message(bot)
    assert "1. a\n   ▓▓▓▓▓░░░░░ 2 (50\xa0%)" in result
    assert "3. c\n   ░░░░░░░░░░ 0 (0\xa0%)" in result
    assert "🤝 Tasapeli: a, b" in result
    assert result.endswith("\n4 henkilöä äänesti.")


async def test_zero_votes(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.run_due(START + timedelta(hours=1))
    assert "🏆" not in last_message(bot) and "🤝" not in last_message(bot)
    assert last_message(bot).endswith("\nKukaan ei äänestänyt.")  # one sentence, no "0 äänestäjää."
    assert "äänestäjää" not in last_message(bot)
    assert (await poll_row(bot)).count_list() == [0, 0]


async def test_result_in_the_creators_language_unless_the_chat_has_one(bot):
    await bot.say("/poll Q? | a | b | closes in 1 h", lang="sv")
    await bot.run_due(START + timedelta(hours=1))
    assert "Ingen röstade." in last_message(bot)
    await bot.say("/poll R? | a | b | closes in 1 h", lang="sv", chat="other")
    bot.make_admin("u1", "other")
    await bot.say("/lang chat en", chat="other")
    await bot.run_due(START + timedelta(hours=2))
    assert "Nobody voted." in last_message(bot)


async def test_turnout_of_known_members(make_bot):
    bot = await make_bot(transport=CountingTransport(members=5))  # 4 people and the bot
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.press("polls:vote:1:0", user="u2")
    await bot.run_due(START + timedelta(hours=1))
    assert "Äänestysaktiivisuus: 1/4 jäsentä (25\xa0%)." in last_message(bot)
    assert (await poll_row(bot)).members == 4


# --- closing on time, once -------------------------------------------------------------------------


async def test_closes_at_the_time_exactly_once(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 2 h")
    await bot.press("polls:vote:1:1", user="u2", target_id="b1")
    bot.clock.advance(hours=1, minutes=59)
    assert await bot.run_due() == 0
    assert results(bot) == []
    bot.clock.advance(minutes=1)
    assert await bot.run_due() == 1
    assert len(results(bot)) == 1
    assert bot.transport.sent[-1].kind == "message"  # the result first
    bot.clock.advance(minutes=2)
    assert await bot.run_due() == 1  # then the poll message shows the final state, without buttons
    tidy = bot.transport.sent[-1]
    assert tidy.kind == "edit" and tidy.message_id == "b1" and not tidy.reply.buttons
    assert "Suljettu. 1 henkilö on äänestänyt." in tidy.plain and "Sulkeutuu" not in tidy.plain
    bot.clock.advance(days=1)
    assert await bot.run_due() == 0
    assert len(results(bot)) == 1
    poll = await poll_row(bot)
    assert (poll.status, poll.closed_by, poll.closed_at) == (store.CLOSED, None, START + timedelta(hours=2))


async def test_restart_between_creation_and_close(make_bot, tmp_path):
    first = await make_bot()
    await first.say("/kysely K? | a | b | sulkeutuu 1 h")
    await first.press("polls:vote:1:1", user="u2")
    await first.close()
    # down for a day; a new process on the same data dir catches up
    later = ManualClock(START + timedelta(days=1))
    second = await make_bot(clock=later, data_dir=tmp_path)
    assert await second.run_due() == 1
    assert "🏆 Voittaja: b" in last_message(second)
    assert results(first) == []
    await second.close()


async def test_early_close_then_the_job_does_nothing(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 2 h")
    await bot.say("/kysely sulje 1")
    assert len(results(bot)) == 1
    await bot.run_due(START + timedelta(hours=3))
    assert len(results(bot)) == 1
    assert (await poll_row(bot)).closed_by == "fake:u1"


async def test_cancelled_poll_posts_no_result(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.say("/kysely peru 1")
    await bot.run_due(START + timedelta(hours=2))
    assert results(bot) == []
    assert "Peruttu." in [s for s in bot.transport.sent if s.kind == "edit"][-1].plain


async def test_extend_moves_the_close(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    reply = await bot.say("/kysely jatka 1 sulkeutuu 2026-11-24 18:00")
    assert reply[0] == "Kysely #1 sulkeutuu nyt ti 24.11.2026 klo 18.00."
    assert "Sulkeutuu ti 24.11.2026 klo 18.00." in reply[1]  # the poll message, edited
    await bot.run_due(START + timedelta(hours=2))
    assert results(bot) == []
    await bot.run_due(datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    assert len(results(bot)) == 1


async def test_failed_send_is_retried_and_posted_once(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    bot.transport.fail_sends = 1
    await bot.run_due(START + timedelta(hours=1))
    assert results(bot) == []
    assert (await poll_row(bot)).result_posted_at is None
    await bot.run_due(START + timedelta(hours=1, minutes=1))
    assert len(results(bot)) == 1


async def test_a_result_given_up_on_is_posted_by_closing_again(bot):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    await bot.press("polls:vote:1:1", user="u2")
    bot.transport.fail_sends = 8  # the platform refuses for longer than the job keeps trying
    when = START + timedelta(hours=1)
    for _ in range(8):
        await bot.run_due(when)
        when += timedelta(hours=2)
    assert results(bot) == []
    async with bot.services.db.session() as s:
        job = (await s.execute(select(Job).where(Job.kind == "polls.close"))).scalar_one()
    assert job.cancelled and job.done_at is not None  # given up
    poll = await poll_row(bot)
    assert poll.status == store.CLOSED and poll.result_posted_at is None
    reply = await bot.say("/kysely sulje 1")
    assert len(results(bot)) == 1 and "🏆 Voittaja: b" in reply[0]
    assert "on jo päättynyt" in (await bot.say("/kysely sulje 1"))[0]


async def test_a_close_run_again_after_posting_posts_nothing_more(bot, monkeypatch):
    await bot.say("/kysely K? | a | b | sulkeutuu 1 h")
    real = store.mark_result_posted

    async def crash(*_a, **_k):  # the process died right after the result went out
        raise RuntimeError("killed")

    monkeypatch.setattr(store, "mark_result_posted", crash)
    await bot.run_due(START + timedelta(hours=1))
    assert len(results(bot)) == 1
    monkeypatch.setattr(store, "mark_result_posted", real)
    await bot.run_due(START + timedelta(hours=1, minutes=1))
    assert len(results(bot)) == 1
    assert (await poll_row(bot)).result_posted_at is not None


async def _two_instances_close_once(make_bot, **kw):
    clock = ManualClock(START)
    one = await make_bot(clock=clock, **kw)
    two = await make_bot(clock=clock, **kw)
    for n in range(5):
        await one.say(f"/kysely K{n}? | a | b | sulkeutuu 1 h", chat=f"c{n}")
        await two.press(f"polls:vote:{n + 1}:0", user="u9", chat=f"c{n}")
    clock.advance(hours=1)
    ran = await asyncio.gather(one.run_due(), two.run_due(), one.run_due())
    assert sum(ran) == 5
    posted = [s for b in (one, two) for s in b.transport.sent if s.kind == "message" and "päättyi" in s.plain]
    assert sorted(s.chat_id for s in posted) == [f"c{n}" for n in range(5)]
    async with one.services.db.session() as s:
        jobs = list((await s.execute(select(Job).where(Job.kind == "polls.close"))).scalars())
    assert len(jobs) == 5 and all(j.done_at is not None and j.attempts == 1 for j in jobs)
    for b in (one, two):
        await b.close()


async def test_two_instances_close_once_sqlite(make_bot):
    await _two_instances_close_once(make_bot)


@pytest.mark.postgres
async def test_two_instances_close_once_postgres(make_bot, pg_url, tmp_path):
    await _two_instances_close_once(make_bot, database_url=pg_url, data_dir=tmp_path / "pg")


# --- ideas, listing, digest, export ------------------------------------------------------------------


async def test_poll_attached_to_an_idea(bot):
    await bot.say("/idea Kesäterassi kirjaston eteen")
    reply = await bot.say("/kysely idea 1 | Tehdäänkö kokeilu? | kyllä | ei")
    assert reply[0].startswith("📊 Kysely #1 (ideasta) Tehdäänkö kokeilu?")
    poll = await poll_row(bot)
    assert poll.idea_id is not None
    assert (await feature.export_polls(bot.services, [CHAT], True))[0]["idea_number"] == 1
    assert "Tässä ryhmässä ei ole ideaa #9." in (await bot.say("/kysely idea 9 | K? | a | b"))[0]


async def test_polls_lists_open_and_recently_closed(bot):
    assert "Ei avoimia eikä äskettäin päättyneitä kyselyjä." in (await bot.say("/kyselyt"))[0]
    await bot.say("/kysely Eka? | a | b | sulkeutuu 1 h")
    await bot.say("/kysely Toka? | a | b | sulkeutuu 3 päivää")
    await bot.press("polls:vote:1:1", user="u2")
    await bot.run_due(START + timedelta(hours=2))
    listing = (await bot.say("/kyselyt"))[0]
    assert "Avoimet kyselyt\n#2 Toka? — sulkeutuu to 26.11.2026 klo 12.00" in listing
    assert "Äskettäin päättyneet\n#1 Eka? — voittaja: b" in listing
    await bot.run_due(START + timedelta(days=20))
    listing = (await bot.say("/kyselyt"))[0]
    assert "Eka?" not in listing and "Toka?" in listing  # closed long ago
    assert "Toka?" in listing


async def test_digest_and_public_export(bot):
    await bot.say("/kysely Eka? | a | b | sulkeutuu 1 h", user="creator", name="Creator Person")
    await bot.press("polls:vote:1:0", user="u2")
    await bot.say("/kysely Toka? | a | b | sulkeutuu 5 päivää")
    await bot.run_due(START + timedelta(hours=2))
    facts = await feature.digest(bot.services, CHAT, START, START + timedelta(days=7))
    assert facts["counts"] == {"opened": 2, "closed": 1, "votes": 1}
    assert [p["number"] for p in facts["opened"]] == [1, 2]
    assert facts["closed"] == [{"number": 1, "question": "Eka?", "options": ["a", "b"], "counts": [1, 0],
                                "voter_count": 1, "member_count": None, "winners": [0]}]
    assert await feature.digest(bot.services, CHAT, START + timedelta(days=7), START + timedelta(days=8)) is None
    with bot.services.locale("fi"):
        lines = feature.render_digest(facts)
    assert lines[0].endswith("2 avattu, 1 päättynyt")
    assert "#1 Eka? — voittaja: a (1 äänestäjä)" in lines[1]
    rows = await feature.export_polls(bot.services, [CHAT], True)
    assert [r["counts"] for r in rows] == [[1, 0], None]  # open results are not published early
    assert rows[0]["result"] == "a 1 | b 0"
    assert all("creator_name" not in r and "chat_key" not in r and "Creator" not in str(r) for r in rows)
    private = await feature.export_polls(bot.services, None, False)
    assert private[0]["creator_name"] == "Creator Person" and private[0]["chat_key"] == CHAT


async def test_poll_unknown_button_and_other_chat(bot):
    await bot.say("/kysely K? | a | b")
    other = await bot.press("polls:vote:1:0", chat="elsewhere")
    assert other[0].text == "Tämä kysely ei ole enää saatavilla."
    broken = await bot.press("polls:vote:x:0")
    assert broken[0].text == "Tämä painike ei ole enää käytössä."


async def test_closing_time_phrases_from_the_shared_parser(bot):
    fi = await bot.say("/kysely K? | a | b | sulkeutuu perjantaina klo 18")
    assert "Sulkeutuu pe 27.11.2026 klo 18.00." in fi[0]
    sv = await bot.say("/omrostning F? | a | b | stängs i morgon kl 18", lang="sv")
    assert "Stängs tis 24.11.2026 kl. 18.00." in sv[0]
    en = await bot.say("/poll Q? | a | b | closes in 3 hours", lang="en")
    assert "Closes Mon 23 Nov 2026 15:00." in en[0]
    fi = await bot.say("/kysely K? | a | b | auki 2 päivää")
    assert "Sulkeutuu ke 25.11.2026 klo 12.00." in fi[0]


def test_parse_errors_are_user_errors():
    with pytest.raises(UserError):
        feature.parse_poll("K? | a")


async def test_native_vote_found_by_reference_when_the_event_has_no_chat(make_bot):
    # Telegram's poll_answer carries only the poll id and the voter
    bot = await make_bot(transport=FakeTransport(native_polls=True))
    await bot.say("/poll Q? | a | b", lang="en")
    ref = next(s for s in bot.transport.sent if s.kind == "poll").message_id
    await bot.vote(ref, 1, user="u2", chat="")
    assert await tally(bot) == ([0, 1], 1)


async def test_user_text_is_escaped(bot):
    await bot.say("/kysely <b>K</b> & co? | <i>a</i> | b")
    html = bot.transport.sent[-1].reply.html
    assert "&lt;b&gt;K&lt;/b&gt; &amp; co?" in html and "&lt;i&gt;a&lt;/i&gt;" in html
    assert "<i>" not in html


async def test_live_edits_are_throttled_with_a_trailing_edit(bot):
    await bot.say("/kysely K? | a | b")
    first = await bot.press("polls:vote:1:0", user="u2", target_id="b1")
    assert [s.kind for s in first] == ["ack", "edit"]
    second = await bot.press("polls:vote:1:1", user="u3", lang="sv", target_id="b1")
    assert [s.kind for s in second] == ["ack"]  # inside the window: no edit now
    assert second[0].text == "Din röst: ”b”."
    await bot.press("polls:vote:1:1", user="u4", target_id="b1")
    bot.clock.advance(seconds=5)
    assert await bot.run_due() == 1  # one trailing edit for both votes
    edit = bot.transport.sent[-1]
    assert edit.kind == "edit" and "3 henkilöä on äänestänyt." in edit.plain  # in the poll's language
    assert "2 (67\xa0%)" in edit.plain
    bot.clock.advance(seconds=10)
    later = await bot.press("polls:vote:1:0", user="u5", target_id="b1")
    assert [s.kind for s in later] == ["ack", "edit"]


# --- issue 18: extend adds, settings words, the past, examples, one sentence for no votes, native votes ---


async def test_extend_adds_to_the_closing_time_and_refuses_a_shorter_one(bot):
    bot.clock.set(datetime(2026, 12, 3, 8, 34, tzinfo=UTC))  # Thu 3.12. 10.34 in Helsinki
    await bot.say("/kysely K? | a | b | sulkeutuu pe 4.12. klo 18")
    assert (await poll_row(bot)).close_at == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert (await bot.say("/kysely jatka 1 2 päivää"))[0] == "Kysely #1 sulkeutuu nyt su 6.12.2026 klo 18.00."
    assert (await bot.say("/poll extend 1 3 hours", lang="en"))[0] == "Poll #1 now closes Sun 6 Dec 2026 21:00."
    await bot.run_due(datetime(2026, 12, 3, 8, 35, tzinfo=UTC))  # the poll message's edit, a moment later
    refused = await bot.say("/kysely jatka 1 sulkeutuu la 5.12. klo 12")
    assert refused == ["Kysely #1 sulkeutuu jo su 6.12.2026 klo 21.00, myöhemmin kuin la 5.12.2026 klo 12.00. "
                       "Jatkaaksesi anna myöhäisempi aika tai kesto, joka lisätään, esimerkiksi ”2 päivää”."]
    assert (await poll_row(bot)).close_at == datetime(2026, 12, 6, 19, 0, tzinfo=UTC)
    # the poll message says the new closing time too
    edits = [s.plain for s in bot.transport.sent if s.kind == "edit"]
    assert edits and "Sulkeutuu su 6.12.2026 klo 21.00." in edits[-1]
    await bot.run_due(datetime(2026, 12, 6, 16, 1, tzinfo=UTC))
    assert results(bot) == []  # not at the old time plus two days from now
    await bot.run_due(datetime(2026, 12, 6, 19, 0, tzinfo=UTC))
    assert len(results(bot)) == 1


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("/kysely K? | a | b | monivalinta x", "fi",
     "”monivalinta x”: kirjoita sanan ”monivalinta” perään, montako vaihtoehtoa kukin saa valita, esimerkiksi "
     "”monivalinta 2”."),
    ("/kysely K? | a | b | c | monivalinta 0", "fi", "Monivalinnassa voi valita 2–3 vaihtoehtoa"),
    ("/poll Q? | a | b | multiple choice lots", "en", "after “multiple choice” write how many options"),
    ("/omrostning F? | a | b | flerval x", "sv", "skriv efter ”flerval” hur många alternativ"),
    ("/kysely K? | a | b | sulkeutuu eilen", "fi", "su 22.11.2026 on jo mennyt."),
    ("/kysely K? | a | b | sulkeutuu eilen klo 18", "fi", "su 22.11.2026 on jo mennyt."),
    ("/poll Q? | a | b | closes yesterday", "en", "Sun 22 Nov 2026 is already past."),
    ("/omrostning F? | a | b | stängs igår", "sv", "sön 22.11.2026 har redan passerat."),
    ("/poll Q? | a | b | closes sometime", "en", "for example as “Tue 1 Dec at 6pm”, “tomorrow at 17:30”"),
    ("/omrostning F? | a | b | stängs någon gång", "sv", "till exempel som ”tis 1.12. kl. 18”, ”i morgon kl. 17.30”"),
])
async def test_bad_settings_and_past_closing_times_are_explained(bot, text, lang, expected):
    replies = await bot.say(text, lang=lang)
    assert len(replies) == 1 and expected in replies[0]
    assert "ti 1.12. klo 18" not in replies[0] or lang == "fi"  # examples in the person's language
    async with bot.services.db.session() as s:
        assert (await s.execute(select(store.Poll))).first() is None


def test_multiple_choice_words_are_settings_only_with_a_count():
    assert feature.parse_poll("Q | a | b | c | monivalinta kaksi").max_choices == 2
    assert feature.parse_poll("Q | a | b | c | multiple").max_choices == 3  # no count: any number
    parsed = feature.parse_poll("How often? | Once | Multiple times")
    assert parsed.options == ("Once", "Multiple times") and not parsed.multiple


async def test_no_votes_is_one_sentence_with_the_member_count(make_bot):
    bot = await make_bot(transport=CountingTransport(members=13))  # 12 people and the bot
    await bot.say("/poll Q? | a | b | closes in 1 h", lang="en")
    assert "Nobody has voted yet." in bot.transport.sent[0].plain
    await bot.run_due(START + timedelta(hours=1))
    assert last_message(bot).endswith("\nNone of the chat's 12 members voted.")
    tidy = await bot.run_due(START + timedelta(hours=1, minutes=5))
    assert tidy and bot.transport.sent[-1].plain.endswith("Closed. Nobody voted.")
    single = await make_bot(transport=CountingTransport(members=2), data_dir=bot.app.settings.data_dir / "one")
    await single.say("/kysely K? | a | b | sulkeutuu 1 h")
    await single.run_due(START + timedelta(hours=1))
    assert last_message(single).endswith("\nRyhmän ainoa jäsen ei äänestänyt.")
    await single.say("/kysely L? | a | b | sulkeutuu 1 h")
    await single.press("polls:vote:2:0", user="u1")
    await single.run_due(START + timedelta(hours=2))
    assert last_message(single).endswith("\nÄänestysaktiivisuus: 1/1 jäsen (100\xa0%).")


async def test_a_native_vote_gets_a_reply_where_the_platform_shows_none(make_bot):
    transport = FakeTransport(native_polls=True)
    bot = await make_bot(transport=transport)
    await bot.say("/poll Which? | a | b | c | multiple 2", lang="en")
    ref = next(s for s in bot.transport.sent if s.kind == "poll").message_id
    assert [s.kind for s in await bot.vote(ref, 0, user="u1")] == []  # Telegram, Matrix: the client shows it
    transport.confirm_poll_votes = True  # as the console does
    assert [s.text for s in await bot.vote(ref, 1, user="u2")] == ["Äänesi: ”b”."]
    assert [s.text for s in await bot.vote(ref, 0, 2, user="u2")] == ["Valintasi: a, c."]
    assert [s.text for s in await bot.vote(ref, user="u2")] == ["Äänesi kyselyssä #1 on peruttu."]
    from bot.console import ConsoleTransport

    assert ConsoleTransport.confirm_poll_votes is True


async def test_an_invalid_native_vote_is_explained_in_the_chat(make_bot):
    bot = await make_bot(transport=FakeTransport(native_polls=True))
    await bot.say("/kysely Mikä? | a | b | c | monivalinta 2")
    ref = next(s for s in bot.transport.sent if s.kind == "poll").message_id
    await bot.vote(ref, 0, user="u1")
    sent = await bot.vote(ref, 0, 1, 2, user="u1")  # Telegram lets a person tick all three
    assert [s.plain for s in sent] == [
        "U1, ääntäsi kyselyssä #1 ei laskettu: valitse enintään 2 vaihtoehtoa. Aiempi äänesi on yhä voimassa, "
        "jos annoit sellaisen."]
    assert await tally(bot) == ([1, 0, 0], 1)
    assert "Sorry" not in sent[0].plain and "Anteeksi" not in sent[0].plain


# --- subcommands are declared (issue 15) ----------------------------------------------------------


async def test_a_question_that_starts_with_a_subcommand_word_is_a_new_poll(bot):
    """With a | the message is a poll whatever its first word: close, extend, cancel and
    settings are subcommands only without one."""
    closed = await bot.say("/poll Close the gate at night? | yes | no", lang="en")
    assert closed[0].startswith("📊 Poll #1 Close the gate at night?")
    cancel = await bot.say("/kysely Peru kesäjuhla? | kyllä | ei")
    assert cancel[0].startswith("📊 Kysely #2 Peru kesäjuhla?")
    assert "numero" in (await bot.say("/kysely sulje"))[0]  # without a |: the subcommand


async def test_help_lists_the_poll_subcommands_for_the_persons_role(bot):
    bot.make_admin("admin")
    admin = await bot.say("/help poll", user="admin", lang="en")
    assert "/poll close <number> — close now and post the result" in admin[0]
    assert "/poll settings everyone|admins — who may start polls" in admin[0]
    member = (await bot.say("/help kysely", lang="fi"))[0]
    assert "/kysely jatka <numero> <milloin>" in member and "/kysely asetukset" not in member


async def test_cancelling_poll_1_leaves_the_close_of_poll_12(bot):
    """The close job of poll 1 is cancelled by its exact key, not by a prefix that poll 12 shares."""
    for n in range(12):
        await bot.say(f"/kysely K{n + 1}? | a | b")
    await bot.say("/kysely peru 1")
    async with bot.services.db.session() as s:
        jobs = {j.dedup_key: j.cancelled for j in (await s.execute(select(Job))).scalars()
                if j.kind == "polls.close"}
    assert jobs["polls.close:1"] is True
    assert jobs["polls.close:12"] is False and jobs["polls.close:10"] is False
