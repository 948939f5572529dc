"""Jobs in the store run once when due, survive restarts, retry on failure."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.testing import TestBot
from core.clock import ManualClock
from handlers.base import Feature
from storage.core import Job, schedule_job


def _recorder(log):
    async def handler(services, job):
        log.append(job.data()["n"])
        if job.data().get("fail_times", 0) >= job.attempts:
            raise ConnectionError("platform down")

    return Feature("rec", jobs={"rec.say": handler})


async def _bot(tmp_path, log, clock, url=None):
    tb = TestBot(tmp_path, clock=clock, database_url=url)
    tb.services.features.append(_recorder(log))
    from bot.scheduler import JobRunner

    tb.app.jobs = JobRunner(tb.services)
    return await tb.open()


async def _add(bot, n, minutes, **extra):
    async with bot.services.db.transaction() as s:
        await schedule_job(s, "rec.say", bot.clock.now() + timedelta(minutes=minutes), payload={"n": n, **extra},
                           dedup_key=f"rec:{n}")
        await s.commit()


async def test_due_jobs_run_once_in_order_and_survive_restart(tmp_path):
    log, clock = [], ManualClock()
    bot = await _bot(tmp_path, log, clock)
    await _add(bot, 1, 10)
    await _add(bot, 2, 5)
    await _add(bot, 3, 60)
    assert await bot.run_due() == 0
    clock.advance(minutes=11)
    assert await bot.run_due() == 2 and sorted(log) == [1, 2]
    assert await bot.run_due() == 0
    await bot.close()
    # restart: the pending job is still there, the done ones do not run again
    bot2 = await _bot(tmp_path, log, clock)
    clock.advance(hours=2)
    assert await bot2.run_due() == 1 and sorted(log) == [1, 2, 3]
    await bot2.close()


async def test_dedup_key_moves_instead_of_duplicating(bot):
    async with bot.services.db.transaction() as s:
        await schedule_job(s, "x", bot.clock.now(), dedup_key="k")
        await schedule_job(s, "x", bot.clock.now() + timedelta(hours=1), dedup_key="k")
        await s.commit()
        jobs = list((await s.execute(select(Job))).scalars())
    assert len(jobs) == 1 and jobs[0].due_at == bot.clock.now() + timedelta(hours=1)


async def test_failed_job_is_retried_with_backoff_then_succeeds(tmp_path):
    log, clock = [], ManualClock()
    bot = await _bot(tmp_path, log, clock)
    await _add(bot, 7, 0, fail_times=2)
    assert await bot.run_due() == 0 and log == [7]  # failed once, backed off
    assert await bot.run_due() == 0 and log == [7]  # not due yet
    clock.advance(seconds=16)
    assert await bot.run_due() == 0 and log == [7, 7]
    clock.advance(seconds=31)
    assert await bot.run_due() == 1 and log == [7, 7, 7]
    async with bot.services.db.session() as s:
        job = (await s.execute(select(Job))).scalar_one()
    assert job.done_at is not None and job.attempts == 3
    await bot.close()


@pytest.mark.postgres
async def test_two_instances_on_one_postgres_run_each_job_once(tmp_path, pg_url):
    log, clock = [], ManualClock()
    a = await _bot(tmp_path / "a", log, clock, pg_url)
    b = await _bot(tmp_path / "b", log, clock, pg_url)
    for n in range(60):
        await _add(a, n, 1)
    clock.advance(minutes=2)
    import asyncio

    ran = await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    assert sum(ran) == 60
    assert sorted(log) == list(range(60))
    await a.close()
    await b.close()
