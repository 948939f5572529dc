"""Runs due jobs from the store. The store is the truth; APScheduler only wakes us up.

Every job row is claimed atomically before it runs, under a **lease**: the claim names this
instance and lasts ``lease`` seconds, and is renewed every third of that while the job runs.
A claim whose lease ran out (its holder died) is taken over by the next wake-up of any
instance; at start an instance ends the leases it held itself before, so a restart takes its
unfinished jobs back at once. Messages a job sends are keyed by the job and its due time
(``bot/outbox.py``), so a job run again after a crash does not send twice.

Jobs of a chat whose transport is not connected yet wait for it (no failures into back-off
after a restart). A job whose handler fails is put back with exponential back-off; after 8
failures it is given up and logged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from core.scope import send_scope
from handlers.base import JobHandler, Services
from storage.core import (
    Job,
    claim_due_jobs,
    count_pending,
    drop_leases,
    finish_job,
    next_due,
    release_job,
    renew_leases,
)

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, services: Services, *, concurrency: int = 16, safety_tick_seconds: int = 30,
                 instance: str = "local", lease_seconds: float = 20.0) -> None:
        self.services = services
        self.instance = instance
        self.lease = timedelta(seconds=lease_seconds)
        self.handlers: dict[str, JobHandler] = {}
        for feature in services.features:
            for kind, handler in feature.jobs.items():
                if kind in self.handlers:
                    raise ValueError(f"job kind {kind!r} registered twice")
                self.handlers[kind] = handler
        #: features' on_tick hooks: run at every wake-up before the due jobs, not counted as jobs
        self.ticks = [f.on_tick for f in services.features if f.on_tick]
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        self._again = False
        self.concurrency = concurrency
        self._tick = safety_tick_seconds
        self._running: dict[int, asyncio.Task] = {}  # job id -> the task running it
        self._claimed: set[int] = set()  # of those, the ones this instance holds a lease on
        self._renewer: asyncio.Task | None = None
        self._waiters: list[asyncio.Task] = []
        #: wake-ups begun by APScheduler or by a transport's (re)connect (see _begin_run)
        self._runs: set[asyncio.Task] = set()
        self._stopping = False

    # -- wiring -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start APScheduler and rebuild its wake-ups from the pending rows in the store."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self._scheduled_run, IntervalTrigger(seconds=self._tick), id="safety-tick",
                                coalesce=True, max_instances=1)
        self._scheduler.start()
        self._stopping = False
        async with self.services.db.transaction() as session:
            taken_back = await drop_leases(session, self.instance, self.services.clock.now())
            pending = await count_pending(session)
        log.info("scheduler rebuilt from the store: %d pending jobs, %d taken back from before a stop",
                 pending, taken_back)
        self._renewer = asyncio.create_task(self._renew_loop(), name="job-leases")
        for platform, transport in self.services.transports.items():
            ready = getattr(transport, "ready", None)
            if isinstance(ready, asyncio.Event):
                self._waiters.append(asyncio.create_task(self._when_ready(platform, ready)))
        await self.run_due()  # runs what is due and wakes us at the next due time

    async def _when_ready(self, platform: str, ready: asyncio.Event) -> None:
        """Each time the transport (re)connects, run its chats' jobs that waited for it."""
        while not self._stopping:
            await ready.wait()
            log.info("%s is connected: running its due jobs", platform)
            try:
                await asyncio.shield(self._begin_run())  # stop() cancels this wait, not the run
            except Exception:  # e.g. the store is down as well: the next wake-up tries again
                log.warning("running the due jobs of %s failed", platform, exc_info=True)
            while ready.is_set() and not self._stopping:  # noqa: ASYNC110 (no event for "lost")
                await asyncio.sleep(1.0)

    def _begin_run(self) -> asyncio.Task:
        """``run_due`` in a task that :meth:`stop` waits for. A wake-up cancelled in the middle
        of a query would drop its store connection and go on closing it after the stop closed the
        store (with aiosqlite a close that then never ends, and the event loop's shutdown waits
        for it forever); APScheduler's executor cancels the coroutines it runs at its shutdown and
        waits for none of them."""
        task = asyncio.create_task(self.run_due(), name="job-wake-up")
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return task

    async def _scheduled_run(self) -> int:
        """What APScheduler runs: a safety tick or a wake-up."""
        return await asyncio.shield(self._begin_run())

    def _not_ready(self) -> list[str]:
        """Platforms whose transport is not connected yet: their chats' jobs wait."""
        waiting = []
        for platform, transport in self.services.transports.items():
            ready = getattr(transport, "ready", None)
            if isinstance(ready, asyncio.Event) and not ready.is_set():
                waiting.append(platform)
        return waiting

    async def _renew_loop(self) -> None:
        """Renew the leases of the running jobs every third of the lease time."""
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)  # a timed wait: leases run on wall-clock time
            if not self._claimed:
                continue
            try:
                async with self.services.db.transaction() as session:
                    await renew_leases(session, list(self._claimed), self.instance,
                                       self.services.clock.now() + self.lease)
            except Exception:
                log.warning("renewing job leases failed", exc_info=True)

    async def stop(self, deadline: float = 10.0) -> None:
        """Take no new jobs; wait up to ``deadline`` seconds for the running ones (the rest are
        cancelled and taken back at the next start)."""
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        waiters, self._waiters = self._waiters, []
        for task in waiters:  # waiting for a transport or for their run, never inside a query
            task.cancel()
        if waiters:
            await asyncio.wait(waiters)
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        try:  # a wake-up in progress (ticks and the jobs it started) ends first
            async with asyncio.timeout(deadline):
                await self._lock.acquire()
            self._lock.release()
        except TimeoutError:
            pass
        if self._runs:  # they take no new jobs now; what follows the lock (the next wake-up) ends too
            _done, late = await asyncio.wait(set(self._runs), timeout=max(0.0, until - loop.time()))
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        running = set(self._running.values())
        if running:
            _done, late = await asyncio.wait(running, timeout=max(0.0, until - loop.time()))
            for task in late:
                log.warning("a job is still running at the stop; it runs again at the next start")
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        if self._renewer is not None:
            renewer, self._renewer = self._renewer, None
            renewer.cancel()
            await asyncio.wait({renewer})  # a renewal in flight ends before the store closes

    def wake(self, when: datetime) -> None:
        """Make sure run_due runs at ``when`` (wake-ups within one second share a trigger)."""
        if self._scheduler is None:
            return
        when = when.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        self._scheduler.add_job(
            self._scheduled_run, DateTrigger(run_date=when), id=f"wake-{when.isoformat()}",
            replace_existing=True, misfire_grace_time=None, coalesce=True,
        )

    # -- running ------------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Run every job due by now; returns how many ran. Safe to call any time."""
        if self._stopping:
            return 0
        if self._lock.locked():
            self._again = True
            return 0
        ran = 0
        async with self._lock:
            for tick in self.ticks:
                try:
                    await tick(self.services)
                except Exception:
                    log.exception("scheduler tick failed")
            ran = await self._drain()
        await self._wake_next()
        return ran

    async def _wake_next(self) -> None:
        """Only the next due time is registered with APScheduler; each run registers the one
        after it (so 10,000 pending jobs cost one timer, not 10,000)."""
        if self._scheduler is None:
            return
        async with self.services.db.session() as session:
            when = await next_due(session, self._not_ready())
        if when is not None:
            self.wake(max(when, self.services.clock.now()))

    async def _drain(self) -> int:
        """Claim due jobs a batch at a time (as many as there are free slots) and run them,
        claiming more as slots free up, until none is due; returns how many ran."""
        ran = 0
        running: set[asyncio.Task] = set()
        more = True
        while not self._stopping:
            free = self.concurrency - len(running)
            if more and free > 0:
                now = self.services.clock.now()
                async with self.services.db.transaction() as session:
                    jobs = await claim_due_jobs(session, now, self.instance, self.lease, free,
                                                exclude_platforms=self._not_ready())
                more = len(jobs) == free  # a full batch: more may be due
                running.update(self._run_tracked(job, now) for job in jobs)
            if not running:
                if not self._again:
                    break
                self._again, more = False, True  # woken meanwhile: look again
                continue
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.cancelled():
                    continue
                if task.exception() is not None:  # the store failed around the job: its lease runs out
                    log.error("running a job failed", exc_info=task.exception())
                elif task.result():
                    ran += 1
            more = more or self._again
            self._again = False
        return ran

    def _run_tracked(self, job: Job, now: datetime) -> asyncio.Task:
        """Run a claimed job in a task of its own; stop() decides about cancelling it."""
        assert job.id is not None
        job_id = job.id
        self._claimed.add(job_id)
        task = asyncio.create_task(self._handle(job, now), name=f"job-{job_id}")
        self._running[job_id] = task

        def done(_task: asyncio.Task) -> None:
            self._running.pop(job_id, None)
            self._claimed.discard(job_id)

        task.add_done_callback(done)
        return asyncio.ensure_future(asyncio.shield(task))

    async def _handle(self, job: Job, now: datetime) -> bool:
        """Run a claimed job; finish or release it only while this run still holds it (it may
        have been taken over, or moved to a new time, meanwhile)."""
        handler = self.handlers.get(job.kind)
        if handler is None:
            log.error("no handler for job kind %s (job %s); giving up", job.kind, job.id)
            async with self.services.db.transaction() as session:
                await release_job(session, job, now, "no handler", give_up_after=0)
            return False
        try:
            with send_scope(job.run_key(), replay=job.attempts > 1):
                await handler(self.services, job)
        except Exception as exc:
            log.exception("job %s (%s) failed, attempt %d", job.id, job.kind, job.attempts)
            async with self.services.db.transaction() as session:
                # back in the queue with back-off; run_due's closing _wake_next schedules it
                await release_job(session, job, self.services.clock.now(), repr(exc), owner=self.instance)
            return False
        async with self.services.db.transaction() as session:
            await finish_job(session, job.id, self.services.clock.now(), owner=self.instance,
                             claimed_at=job.claimed_at)
        return True
