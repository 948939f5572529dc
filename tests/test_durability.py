"""The durability primitives: job leases, jobs waiting for their transport, keyed sends that
happen once, a stop that lets running jobs finish."""

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.testing import FakeTransport, TestBot
from core.clock import ManualClock
from core.transport import Ambiguous
from handlers.base import Feature
from storage import outbox
from storage.core import Job, claim_job, schedule_job, stale_claims
from storage.ideas import Idea


def _feature(log, *, fail_after_send=0, started=None, release=None):
    async def say(services, job):
        log.append(job.attempts)
        if started is not None:
            started.set()
        if release is not None:
            await release.wait()
        await services.send("fake:group", f"hello {job.data()['n']}")
        if job.attempts <= fail_after_send:
            raise RuntimeError("the store failed after the send")

    return Feature("rec", jobs={"rec.say": say})


async def _bot(tmp_path, log, clock=None, transport=None, **kw):
    tb = TestBot(tmp_path, clock=clock or ManualClock(), transport=transport)
    tb.services.features.append(_feature(log, **kw))
    from bot.scheduler import JobRunner

    tb.app.jobs = JobRunner(tb.services, instance=tb.app.settings.instance_id())
    tb.services.wake = tb.app.jobs.wake
    return await tb.open()


async def _add(bot, n=1, minutes=0):
    async with bot.services.db.transaction() as s:
        job = await schedule_job(s, "rec.say", bot.clock.now() + timedelta(minutes=minutes), chat_key="fake:group",
                                 payload={"n": n}, dedup_key=f"rec:{n}")
        await s.commit()
        return job.id


async def _job(bot, job_id) -> Job:
    async with bot.services.db.session() as s:
        return (await s.execute(select(Job).where(Job.id == job_id))).scalar_one()


def _texts(transport):
    return [s.plain for s in transport.sent if s.kind == "message"]


async def test_a_claim_whose_lease_ran_out_is_taken_over(tmp_path):
    log = []
    bot = await _bot(tmp_path, log)
    job_id = await _add(bot)
    async with bot.services.db.transaction() as s:  # another instance took it, then died
        assert await claim_job(s, job_id, bot.clock.now(), "ghost", timedelta(seconds=60))
    assert await bot.run_due() == 0 and log == []
    bot.clock.advance(seconds=61)
    async with bot.services.db.session() as s:
        assert await stale_claims(s, bot.clock.now()) == 1
    assert await bot.run_due() == 1 and log == [2]
    job = await _job(bot, job_id)
    assert job.done_at is not None and job.lease_owner == bot.app.jobs.instance
    assert _texts(bot.transport) == ["hello 1"]
    async with bot.services.db.session() as s:
        assert await stale_claims(s, bot.clock.now()) == 0
    await bot.close()


async def test_a_restart_takes_back_its_own_claims_at_once(tmp_path):
    log, clock = [], ManualClock()
    bot = await _bot(tmp_path, log, clock)
    job_id = await _add(bot)
    async with bot.services.db.transaction() as s:  # claimed, then the process was killed
        assert await claim_job(s, job_id, clock.now(), bot.app.jobs.instance, timedelta(seconds=60))
    await bot.close()
    again = await _bot(tmp_path, log, clock)
    assert again.app.jobs.instance == bot.app.jobs.instance  # kept in the data dir
    await again.app.jobs.start()  # no time passes: the old lease has not run out
    try:
        assert log == [2] and _texts(again.transport) == ["hello 1"]
        assert (await _job(again, job_id)).done_at is not None
    finally:
        await again.app.jobs.stop()
        await again.close()


async def test_jobs_wait_until_their_transport_is_connected(tmp_path):
    log = []
    transport = FakeTransport()
    transport.ready = asyncio.Event()
    bot = await _bot(tmp_path, log, transport=transport, started=(started := asyncio.Event()))
    await _add(bot)
    await bot.app.jobs.start()
    try:
        assert log == []  # not failed into back-off: not run at all
        assert (await _job(bot, 1)).attempts == 0
        transport.ready.set()
        await asyncio.wait_for(started.wait(), 10)
        await bot.app.jobs.stop()
        assert log == [1] and _texts(transport) == ["hello 1"]
    finally:
        await bot.app.jobs.stop()
        await bot.close()


async def test_a_job_run_again_after_its_send_does_not_send_twice(tmp_path):
    log = []
    bot = await _bot(tmp_path, log, fail_after_send=1)
    await _add(bot)
    assert await bot.run_due() == 0  # sent, then failed: back in the queue
    bot.clock.advance(minutes=5)
    assert await bot.run_due() == 1
    assert log == [1, 2]
    assert _texts(bot.transport) == ["hello 1"]
    await bot.close()


async def test_a_send_of_unknown_fate_is_not_repeated_blindly(tmp_path):
    class Flaky(FakeTransport):
        async def send(self, chat_id, reply):
            if not self.sent and not getattr(self, "failed", False):
                self.failed = True
                raise Ambiguous("timed out after the request was written")
            return await super().send(chat_id, reply)

    log = []
    bot = await _bot(tmp_path, log, transport=Flaky())
    job_id = await _add(bot)
    assert await bot.run_due() == 0
    bot.clock.advance(minutes=5)
    assert await bot.run_due() == 1  # the run completes, without repeating the send
    assert _texts(bot.transport) == []
    job = await _job(bot, job_id)
    async with bot.services.db.session() as s:
        seen = await outbox.outcome(s, f"{job.run_key()}@fake:group#1")
    assert seen is not None and seen.state == outbox.UNKNOWN
    await bot.close()


async def test_a_failed_send_is_tried_again(tmp_path):
    log = []
    transport = FakeTransport(fail_sends=1)  # refused: certainly not sent
    bot = await _bot(tmp_path, log, transport=transport)
    await _add(bot)
    assert await bot.run_due() == 0
    bot.clock.advance(minutes=5)
    assert await bot.run_due() == 1
    assert _texts(transport) == ["hello 1"]
    await bot.close()


async def test_stop_lets_a_running_job_finish(tmp_path):
    log = []
    started, release = asyncio.Event(), asyncio.Event()
    bot = await _bot(tmp_path, log, started=started, release=release)
    await bot.app.jobs.start()
    job_id = await _add(bot)
    runner = asyncio.create_task(bot.app.jobs.run_due())
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(bot.app.jobs.stop(deadline=30))
    await asyncio.sleep(0)  # let stop() begin waiting
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, 30)
    await runner
    assert _texts(bot.transport) == ["hello 1"]
    assert (await _job(bot, job_id)).done_at is not None
    await bot.close()


async def test_an_event_handled_again_is_answered_once(bot):
    sent = await bot.event(chat_id="group", sender_id="u1", text="/apua", event_key="m:group:1")
    assert len(sent) == 1
    again = await bot.event(chat_id="group", sender_id="u1", text="/apua", event_key="m:group:1", replay=True)
    assert again == []
    other = await bot.event(chat_id="group", sender_id="u1", text="/apua", event_key="m:group:2")
    assert len(other) == 1


async def test_postgres_writes_nobody_waits_for_are_read_back_in_order(pg_url):
    from storage.db import Database

    db = Database(pg_url)
    await db.upgrade()
    try:
        now = ManualClock().now()
        await db.write(outbox.begin_sends, ("k1", "fake:g", now))
        await db.write_soon(outbox.end_sends, ("k1", "fake:g", outbox.SENT, "m1", now, None))
        await db.write_soon(outbox.end_sends, ("k2", "fake:g", outbox.UNKNOWN, None, now, "timeout"))
        await db.write_soon(outbox.begin_sends, ("k2", "fake:g", now, "not a valid item"))  # fails alone
        async with db.session() as s:  # a session waits for what was queued before it
            assert await outbox.outcome(s, "k1") == outbox.Outcome(outbox.SENT, "m1")
            assert await outbox.outcome(s, "k2") == outbox.Outcome(outbox.UNKNOWN, None)
    finally:
        await db.close()


async def test_a_reply_of_unknown_fate_gets_no_apology_on_top(tmp_path):
    class TimingOut(FakeTransport):
        async def send(self, chat_id, reply):
            await super().send(chat_id, reply)  # it arrived, but the answer was lost
            raise Ambiguous("timed out after the request was written")

    bot = await TestBot(tmp_path, transport=TimingOut()).open()
    sent = await bot.say("/apua")
    assert len(sent) == 1 and not sent[0].startswith("Anteeksi")
    await bot.close()


async def test_a_job_moved_while_it_runs_still_runs_at_its_new_time(tmp_path):
    runs = []

    async def again(services, job):  # e.g. a meeting moved while its reminder was being sent
        runs.append(job.planned_at)
        if len(runs) == 1:
            async with services.db.transaction() as s:
                await schedule_job(s, "rec.move", services.clock.now() + timedelta(hours=1), dedup_key="move")
                await s.commit()

    tb = TestBot(tmp_path, clock=ManualClock())
    tb.services.features.append(Feature("mv", jobs={"rec.move": again}))
    from bot.scheduler import JobRunner

    tb.app.jobs = JobRunner(tb.services, instance="here")
    bot = await tb.open()
    async with bot.services.db.transaction() as s:
        await schedule_job(s, "rec.move", bot.clock.now(), dedup_key="move")
        await s.commit()
    await bot.run_due()
    assert len(runs) == 1
    bot.clock.advance(hours=1, seconds=1)
    assert await bot.run_due() == 1  # the finish of the first run did not mark the moved job done
    assert len(runs) == 2 and runs[1] > runs[0]
    await bot.close()


async def test_two_senders_of_one_key_on_postgres_send_once(pg_url):
    from bot.outbox import Outbox
    from storage.db import Database

    db = Database(pg_url)
    await db.upgrade()
    try:
        box = Outbox(db, ManualClock())
        results = await asyncio.gather(*(box.begin("polls:1:result@fake:g#1", "fake:g") for _ in range(4)))
        assert results.count(None) == 1  # exactly one may go ahead
        assert all(r == outbox.Outcome(outbox.SENDING, None) for r in results if r is not None)
    finally:
        await db.close()


async def test_a_command_whose_reply_cannot_reach_the_platform_is_answered_when_it_is_back(tmp_path):
    transport = FakeTransport(fail_sends=2)  # the platform refuses connections for a moment
    bot = await TestBot(tmp_path, transport=transport).open()
    sent = await bot.event(chat_id="group", sender_id="u1", sender_name="Aino", text="/idea Penkki puistoon",
                           message_id="m1", event_key="m:group:1")
    assert [s.plain.split("\n")[0] for s in sent] == ["💡 Idea #1 tallennettu. Penkki puistoon"]  # once, no apology
    async with bot.services.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Idea))).scalar_one() == 1
    await bot.close()
