"""Jobs in the store run once when due, survive restarts, retry on failure."""

import asyncio
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
    ran = await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    assert sum(ran) == 60
    assert sorted(log) == list(range(60))
    await a.close()
    await b.close()


class _HeldTick:
    """An on_tick that holds every wake-up after the start's own until released, then reads
    the store; it records whether it finished or was cancelled."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.outcomes: list[str] = []

    async def __call__(self, services) -> None:
        self.calls += 1
        if self.calls == 1:
            return
        self.entered.set()
        try:
            await self.release.wait()
            async with services.db.session() as s:
                await s.execute(select(Job))
        except asyncio.CancelledError:
            self.outcomes.append("cancelled")
            raise
        self.outcomes.append("finished")


@pytest.mark.parametrize("begun_by", ["connect", "apscheduler"])
async def test_stop_lets_a_wake_up_in_progress_finish(tmp_path, begun_by):
    """A wake-up begun by a transport's (re)connect or by APScheduler (whose shutdown cancels the
    coroutines it runs, waiting for none) finishes before stop() returns instead of being
    cancelled where it stands — in a query, whose connection would then be closing after the
    store was closed — and no task of the runner outlives stop()."""
    from bot.scheduler import JobRunner

    tick = _HeldTick()
    tb = TestBot(tmp_path)
    tb.services.features.append(Feature("held", on_tick=tick))
    tb.app.jobs = JobRunner(tb.services)
    await tb.open()
    ready = tb.transport.ready
    ready.clear()
    await tb.app.jobs.start()
    wrapper = None
    if begun_by == "connect":
        ready.set()
    else:
        wrapper = asyncio.create_task(tb.app.jobs._scheduled_run())
    await tick.entered.wait()
    stop = asyncio.create_task(tb.app.jobs.stop(deadline=5))
    if wrapper is not None:
        wrapper.cancel()  # as APScheduler's executor does at the scheduler's shutdown
    await asyncio.wait({stop}, timeout=0.2)
    assert not stop.done() and tick.outcomes == []  # the stop waits for the run
    tick.release.set()
    await stop
    assert tick.outcomes == ["finished"]
    left = [t for t in asyncio.all_tasks() if not t.done()
            and getattr(t.get_coro(), "__qualname__", "").startswith("JobRunner.")]
    assert left == []
    await tb.close()
