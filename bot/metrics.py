"""Prometheus metrics of one App, in a registry of its own (no global registry): counted in the
bot layer (``App.dispatch``, ``Delivering``, the router's error hook) and, at scrape time, read
from the store. Features know nothing of them. Served at ``GET /metrics`` (bot/http.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy import func, select, text

from core.clock import Clock
from storage import outbox as delivery_log
from storage.core import Job
from storage.db import Database

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

#: the delivery log's states of a send whose outcome is not known (yet)
UNSETTLED = (delivery_log.SENDING, delivery_log.UNKNOWN)
#: seconds the store may take to answer a probe or a scrape's queries
STORE_TIMEOUT = 1.5


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter("kehrabot_updates_handled", "Platform events (messages, buttons, reactions, "
                               "votes…) handled to the end", ["platform"], registry=r)
        self.replies = Counter("kehrabot_replies_sent", "Messages, files and native polls the platform "
                               "accepted", ["platform"], registry=r)
        self.errors = Counter("kehrabot_errors", "Handler errors (an apology was sent) and failed sends "
                              "(refused, unreachable, of unknown fate)", ["platform", "kind"], registry=r)
        self.outbox = Gauge("kehrabot_outbox_unsettled", "Sends in the delivery log whose outcome is not "
                            "settled: sending (in flight, or cut off by a crash) or unknown", ["state"], registry=r)
        self.job_lag = Gauge("kehrabot_job_lag_seconds", "How long the oldest due job that nobody has claimed "
                             "is overdue (0: none)", registry=r)
        self.store_up = Gauge("kehrabot_store_up", "1 when the store answered this scrape's queries", registry=r)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes…

    def add_platform(self, platform: str) -> None:
        """Show the platform's counters from the start, at 0."""
        self.updates.labels(platform)
        self.replies.labels(platform)
        for kind in ("handler", "send"):
            self.errors.labels(platform, kind)

    # -- counted by the bot layer -----------------------------------------------------------

    def handled(self, platform: str) -> None:
        self.updates.labels(platform).inc()

    def sent(self, platform: str) -> None:
        self.replies.labels(platform).inc()

    def send_failed(self, platform: str) -> None:
        self.errors.labels(platform, "send").inc()

    def handler_failed(self, platform: str) -> None:
        self.errors.labels(platform, "handler").inc()

    # -- read at scrape time -----------------------------------------------------------------

    async def refresh(self, db: Database, now: datetime) -> None:
        """The gauges from the store; NaN (and ``store_up`` 0) when it does not answer in time."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                unsettled, lag = await store_figures(db, now)
        except Exception:  # TimeoutError too; a probe every few seconds: not logged above DEBUG
            log.debug("the store's figures could not be read for /metrics", exc_info=True)
            for state in UNSETTLED:
                self.outbox.labels(state).set(float("nan"))
            self.job_lag.set(float("nan"))
            self.store_up.set(0)
            return
        for state in UNSETTLED:
            self.outbox.labels(state).set(unsettled.get(state, 0))
        self.job_lag.set(lag)
        self.store_up.set(1)

    def endpoint(self, db: Database, clock: Clock):
        """The aiohttp handler of ``GET /metrics``: the gauges read now, then everything."""

        async def serve(_request: web.Request) -> web.Response:
            from aiohttp import web

            await self.refresh(db, clock.now())
            return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        return serve


async def ping(db: Database) -> float:
    """``SELECT 1`` on the store within STORE_TIMEOUT; milliseconds it took (raises when it
    cannot be reached)."""
    started = time.perf_counter()
    async with asyncio.timeout(STORE_TIMEOUT), db.session() as session:
        await session.execute(text("SELECT 1"))
    return round((time.perf_counter() - started) * 1000, 1)


async def store_figures(db: Database, now: datetime) -> tuple[dict[str, int], float]:
    """(unsettled sends by state, seconds the oldest due and unclaimed job is overdue)."""
    async with db.session() as session:
        rows = await session.execute(select(delivery_log.Delivery.state, func.count())
                                     .where(delivery_log.Delivery.state.in_(UNSETTLED))
                                     .group_by(delivery_log.Delivery.state))
        unsettled = {state: count for state, count in rows}
        oldest = (await session.execute(select(func.min(Job.due_at)).where(
            Job.done_at.is_(None), Job.cancelled.is_(False), Job.claimed_at.is_(None), Job.due_at <= now))).scalar()
    return unsettled, max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
