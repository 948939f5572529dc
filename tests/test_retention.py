"""Retention: a nightly job (03:30 Helsinki) deletes raw records older than ``[retention]`` says;
what a stored result or digest shows stays; 0 keeps forever; several processes run it once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, RetentionSettings, load_settings
from bot.testing import TestBot
from core.clock import HELSINKI
from handlers.digest.activity import flush_activity
from handlers.digest.documents import render_export
from handlers.retention.jobs import next_night
from storage import audit, digest, meetings, polls
from storage.core import Job
from storage.retention import months_before

W48 = "2026-W48"  # Mon 23.11.–Sun 29.11.2026: the clock starts on its Monday at 12:00 Helsinki


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=HELSINKI).astimezone(UTC)


async def rows(bot: TestBot, table, *where) -> int:
    async with bot.services.db.session() as s:
        return (await s.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def retention_jobs(bot: TestBot) -> list[Job]:
    async with bot.services.db.session() as s:
        return list((await s.execute(select(Job).where(Job.kind == "retention.nightly").order_by(Job.id))).scalars())


async def seed(bot: TestBot) -> None:
    """In week 48: an idea moved by an admin (audit), a named poll with two votes closed and
    posted, a meeting with two RSVPs, and messages counted for the digest."""
    bot.make_admin("admin")
    await bot.say("/idea Yhteinen kasvimaa", user="u1", name="Aino")
    await bot.say("/tila 1 käsitelty", user="admin")
    await bot.say("/kysely Mikä ilta? | ti | ke | sulkeutuu 2 päivän päästä", user="u1")
    await bot.press("polls:vote:1:0", user="u2")
    await bot.press("polls:vote:1:1", user="u3")
    await bot.say("/kokous huomenna klo 18 Kevätsiivous @ Kirjasto", user="admin")
    await bot.say("/osallistun 1 kyllä", user="u2")
    await bot.say("/osallistun 1 ei", user="u3")
    await bot.run_due(at(2026, 11, 26, 12, 0))  # the poll closed and its result posted
    await bot.run_due(at(2026, 12, 1, 12, 0))   # week 48's digest made on Monday 30.11.


async def counts(bot: TestBot) -> dict[str, int]:
    await flush_activity(bot.services)  # the messages counted so far, buffered
    return {"votes": await rows(bot, polls.PollVote),
            "activity": await rows(bot, digest.ActivityCount, digest.ActivityCount.week < "2027"),
            "rsvps": await rows(bot, meetings.MeetingRsvp), "audit": await rows(bot, audit.AuditEvent)}


async def _old_records_go_and_what_is_shown_stays(bot: TestBot) -> None:
    await seed(bot)
    result = await bot.say("/kysely 1")
    assert "ti" in result[0] and "1" in result[0]
    export = await render_export(bot.services, "digests", "md", first=W48, last=W48, lang="en")
    assert b"Activity: messages to the bot" in export
    before = await counts(bot)
    assert before["votes"] == 2 and before["activity"] == 2 and before["rsvps"] == 2 and before["audit"] >= 2

    # 13 months on: the closed poll's votes are past their 12 months, nothing else is
    await bot.run_due(at(2027, 12, 24, 12, 0))
    after = await counts(bot)
    assert after == {**before, "votes": 0}
    assert await bot.say("/kysely 1") == result  # the result as counted, without its votes
    # 25 months on: activity, RSVPs and the audit log of 2026 too; a new audit record stays
    bot.clock.set(at(2028, 12, 28, 12, 0))
    await bot.say("/tila 1 uusi", user="admin")
    await bot.run_due()
    assert await counts(bot) == {"votes": 0, "activity": 0, "rsvps": 0, "audit": 1}
    assert await rows(bot, digest.Digest) >= 1
    assert await render_export(bot.services, "digests", "md", first=W48, last=W48, lang="en") == export
    assert await bot.say("/kysely 1") == result


async def test_old_records_go_recent_ones_and_results_stay(tmp_path):
    bot = await TestBot(tmp_path, retention=RetentionSettings()).open()
    try:
        await _old_records_go_and_what_is_shown_stays(bot)
    finally:
        await bot.close()


@pytest.mark.postgres
async def test_old_records_go_recent_ones_and_results_stay_on_postgresql(tmp_path, pg_url):
    bot = await TestBot(tmp_path, database_url=pg_url, retention=RetentionSettings()).open()
    try:
        await _old_records_go_and_what_is_shown_stays(bot)
    finally:
        await bot.close()


async def test_zero_keeps_forever(tmp_path):
    bot = await TestBot(tmp_path, retention=RetentionSettings(audit_months=0, rsvp_months=0)).open()
    await seed(bot)
    before = await counts(bot)
    await bot.run_due(at(2031, 1, 5, 12, 0))
    assert await counts(bot) == {**before, "votes": 0, "activity": 0}
    await bot.close()

    nothing = await TestBot(tmp_path / "forever", retention=RetentionSettings(
        activity_months=0, poll_votes_months=0, rsvp_months=0, audit_months=0)).open()
    await seed(nothing)
    before = await counts(nothing)
    await nothing.run_due(at(2036, 1, 5, 12, 0))
    assert await counts(nothing) == before
    assert await retention_jobs(nothing) == []  # kept forever: no nightly job at all
    await nothing.close()


async def test_runs_once_a_night_and_plans_the_next(make_bot, tmp_path, caplog):
    one = await make_bot(retention=RetentionSettings())
    [job] = await retention_jobs(one)
    assert job.dedup_key == "retention.nightly:2026-11-24" and job.due_at == at(2026, 11, 24, 3, 30)
    again = await make_bot(retention=RetentionSettings())  # a restart (or a second process) plans no second
    assert len(await retention_jobs(again)) == 1
    await again.app.db.close()

    assert await one.run_due(at(2026, 11, 24, 3, 29)) == 0
    with caplog.at_level(logging.INFO, logger="handlers.retention"):
        assert await one.run_due(at(2026, 11, 24, 3, 30)) == 1
    assert "retention: removed activity 0, poll_votes 0, rsvps 0, audit 0" in caplog.text
    assert await one.run_due() == 0
    jobs = await retention_jobs(one)
    assert [j.done_at is not None for j in jobs] == [True, False]
    assert jobs[1].dedup_key == "retention.nightly:2026-11-25" and jobs[1].due_at == at(2026, 11, 25, 3, 30)

    # two processes on one store at the next night: one of them runs it
    two = await make_bot(data_dir=tmp_path / "two", database_url=one.app.settings.resolved_database_url(),
                         retention=RetentionSettings())
    for bot in (one, two):
        bot.clock.set(at(2026, 11, 25, 3, 31))
    ran = await asyncio.gather(one.app.jobs.run_due(), two.app.jobs.run_due())
    assert sum(ran) == 1
    jobs = await retention_jobs(one)
    assert [j.dedup_key for j in jobs if j.done_at is None] == ["retention.nightly:2026-11-26"]

    # a bot down for a week runs the missed night once, then plans the next one
    assert await one.run_due(at(2026, 12, 2, 12, 0)) == 1
    assert [j.dedup_key for j in await retention_jobs(one) if j.done_at is None] == ["retention.nightly:2026-12-03"]


def test_nights_and_months_in_helsinki_time():
    assert next_night(at(2026, 11, 24, 3, 29)) == at(2026, 11, 24, 3, 30)
    assert next_night(at(2026, 11, 24, 3, 30)) == at(2026, 11, 25, 3, 30)
    # the spring switch (03:00 → 04:00 on 29.3.2026) and the autumn one (04:00 → 03:00 on 25.10.2026)
    assert next_night(at(2026, 3, 28, 12, 0)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert next_night(datetime(2026, 10, 25, 0, 0, tzinfo=UTC)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert months_before(at(2027, 3, 31, 12, 0), 1) == at(2027, 2, 28, 12, 0)
    assert months_before(at(2027, 1, 15, 3, 30), 24) == at(2025, 1, 15, 3, 30)


def test_the_settings_and_their_limits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert RetentionSettings() == RetentionSettings(activity_months=24, poll_votes_months=12, rsvp_months=24,
                                                    audit_months=24)
    monkeypatch.setenv("KEHRABOT_RETENTION__AUDIT_MONTHS", "0")
    assert load_settings().retention.audit_months == 0
    monkeypatch.setenv("KEHRABOT_RETENTION__ACTIVITY_MONTHS", "2")  # the digest may still need them
    with pytest.raises(ConfigError, match=r"retention\.activity_months"):
        load_settings()
