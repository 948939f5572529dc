"""The nightly retention run: a job row (claimed under a lease, so several processes on one store
run it once) that plans the next night's row when it is done."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from core.clock import HELSINKI
from handlers.base import Services
from handlers.retention.keys import NIGHTLY
from storage import retention as store
from storage.core import Job

log = logging.getLogger("handlers.retention")

#: Helsinki wall time of the nightly run
AT = time(3, 30)


def next_night(now: datetime) -> datetime:
    """The first 03:30 Helsinki time after ``now``, in UTC (on the autumn switch the first of the
    two 03:30s; on the spring one, when 03:30 is skipped, 04:30 summer time)."""
    day = now.astimezone(HELSINKI).date()
    while True:
        when = datetime.combine(day, AT, tzinfo=HELSINKI).astimezone(UTC)
        if when > now:
            return when
        day += timedelta(days=1)


async def plan(services: Services, now: datetime, running: int | None = None) -> None:
    """Add the next night's row unless one is open (nothing when everything is kept forever)."""
    if services.retention.keeps_everything:
        return
    when = next_night(now)
    async with services.db.transaction() as session:
        added = await store.plan_run(session, NIGHTLY.kind, NIGHTLY.key(night=when.astimezone(HELSINKI).date().isoformat()),
                                     when, besides=running)
    if added:
        services.wake(when)


async def on_start(services: Services) -> None:
    await plan(services, services.clock.now())


async def purge(services: Services, now: datetime) -> dict[str, int]:
    """Every kind with a retention, each in its own transaction: rows removed per kind."""
    removed = {}
    for kind, months, purge_kind in services.retention.kinds():
        if months:
            async with services.db.transaction() as session:
                removed[kind] = await purge_kind(session, store.months_before(now, months))
    return removed


async def nightly_job(services: Services, job: Job) -> None:
    now = services.clock.now()
    removed = await purge(services, now)
    log.info("retention: removed %s", ", ".join(f"{kind} {n}" for kind, n in removed.items()) or "nothing (kept forever)")
    await plan(services, now, running=job.id)
