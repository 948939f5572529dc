"""Runs due jobs from the store. The store is the truth; APScheduler only wakes us up.

Every job row is claimed atomically before it runs (``UPDATE … WHERE claimed_at IS NULL``),
so it runs once even with two instances on one database. A job whose handler fails is put
back with exponential back-off; after 8 failures it is given up and logged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from handlers.base import JobHandler, Services
from storage.core import Job, claim_job, count_pending, due_job_ids, finish_job, next_due, release_job

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, services: Services, *, concurrency: int = 16, safety_tick_seconds: int = 30) -> None:
        self.services = services
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
        self._limit = asyncio.Semaphore(concurrency)
        self._tick = safety_tick_seconds

    # -- wiring -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start APScheduler and rebuild its wake-ups from the pending rows in the store."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self.run_due, IntervalTrigger(seconds=self._tick), id="safety-tick",
                                coalesce=True, max_instances=1)
        self._scheduler.start()
        async with self.services.db.session() as session:
            pending = await count_pending(session)
        log.info("scheduler rebuilt from the store: %d pending jobs", pending)
        await self.run_due()  # runs what is due and wakes us at the next due time

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def wake(self, when: datetime) -> None:
        """Make sure run_due runs at ``when`` (wake-ups within one second share a trigger)."""
        if self._scheduler is None:
            return
        when = when.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        self._scheduler.add_job(
            self.run_due, DateTrigger(run_date=when), id=f"wake-{when.isoformat()}",
            replace_existing=True, misfire_grace_time=None, coalesce=True,
        )

    # -- running ------------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Run every job due by now; returns how many ran. Safe to call any time."""
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
            while True:
                self._again = False
                now = self.services.clock.now()
                async with self.services.db.session() as session:
                    ids = await due_job_ids(session, now)
                if ids:
                    results = await asyncio.gather(*(self._run_one(job_id) for job_id in ids))
                    ran += sum(results)
                if not ids and not self._again:
                    break
        await self._wake_next()
        return ran

    async def _wake_next(self) -> None:
        """Only the next due time is registered with APScheduler; each run registers the one
        after it (so 10,000 pending jobs cost one timer, not 10,000)."""
        if self._scheduler is None:
            return
        async with self.services.db.session() as session:
            when = await next_due(session)
        if when is not None:
            self.wake(max(when, self.services.clock.now()))

    async def _run_one(self, job_id: int) -> bool:
        async with self._limit:
            now = self.services.clock.now()
            async with self.services.db.session() as session:
                if not await claim_job(session, job_id, now):
                    return False  # another instance took it
                job = await session.get(Job, job_id)
            handler = self.handlers.get(job.kind)
            if handler is None:
                log.error("no handler for job kind %s (job %s); giving up", job.kind, job.id)
                async with self.services.db.session() as session:
                    await release_job(session, job, now, "no handler", give_up_after=0)
                return False
            try:
                await handler(self.services, job)
            except Exception as exc:
                log.exception("job %s (%s) failed, attempt %d", job.id, job.kind, job.attempts)
                async with self.services.db.session() as session:
                    # back in the queue with back-off; run_due's closing _wake_next schedules it
                    await release_job(session, job, self.services.clock.now(), repr(exc))
                return False
            async with self.services.db.session() as session:
                await finish_job(session, job.id, self.services.clock.now())
            return True
