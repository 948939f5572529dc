"""The composition root: config, store, catalogs, features, scheduler and transports are
built here and passed in. Nothing else creates them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings
from bot.http import HttpServer, NotReady
from bot.leader import Leadership
from bot.metrics import Metrics, ping
from bot.outbox import Delivering, Outbox, send_scope
from bot.scheduler import JobRunner
from core.clock import Clock, SystemClock
from core.events import Incoming
from core.i18n import Catalogs
from core.transport import Transport
from handlers import load_features
from handlers.base import HttpRoute, Limits, Services
from handlers.router import Router
from storage import outbox as delivery_log
from storage.core import prune_events
from storage.db import Database
from storage.retention import Policy as RetentionPolicy

if TYPE_CHECKING:  # the HTTP server's aiohttp is imported when it starts (bot/http.py)
    from aiohttp import web

log = logging.getLogger(__name__)

HANDLED_KEPT = timedelta(days=2)  # see App.prune
UNSETTLED_KEPT = timedelta(days=30)


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transports: list[Transport] | None = None,
        catalogs: Catalogs | None = None,
        strict: bool = False,
    ) -> None:
        """``strict`` (tests): a platform call inside an open store transaction raises, and is
        recorded in ``violations``; so does a session or a hot write started inside one."""
        self.violations: list[str] | None = [] if strict else None
        self.settings = settings
        self.db = Database(settings.resolved_database_url())
        self.db.strict = strict
        self.services = Services(
            db=self.db,
            clock=clock or SystemClock(),
            catalogs=catalogs or Catalogs(),
            features=load_features(),
            coordinators=frozenset(settings.coordinators),
            operators=frozenset(settings.operators),
            data_dir=Path(settings.data_dir),
            limits=Limits(per_person_per_minute=settings.limits.per_person_per_minute,
                          per_chat_per_minute=settings.limits.per_chat_per_minute,
                          min_respondents=settings.min_respondents),
            retention=RetentionPolicy(**settings.retention.model_dump()),
            # feeds are offered only where they are served
            public_url=settings.http.public_url.rstrip("/") if settings.http.port else "",
        )
        self.outbox = Outbox(self.db, self.services.clock)
        self.router = Router(self.services)
        self.metrics = Metrics()
        self.router.on_error = self.metrics.handler_failed
        #: /healthz, /readyz, /metrics (bot/http.py); other components add routes and checks
        self.http = HttpServer(settings.http.listen, settings.http.port)
        self.http.add_route("GET", "/metrics", self.metrics.endpoint(self.db, self.services.clock))
        self.http.add_check("state", self._ready_state)
        self.http.add_check("store", self._ready_store)
        self.http.add_check("transports", self._ready_transports)
        self.http.add_check("role", self._ready_role)
        for feature in self.services.features:
            for route in feature.http_routes:
                self.http.add_route(route.method, route.path, self._serve(route))
        self._opened = self._closing = False
        self.jobs = JobRunner(self.services, instance=settings.instance_id())
        self.services.wake = self.jobs.wake
        self._stop = asyncio.Event()
        #: per platform with a one-process consumer: "leader" or "follower" (see _consume)
        self.roles: dict[str, str] = {}
        for transport in transports or []:
            self.add_transport(transport)

    def _serve(self, route: HttpRoute):
        """An aiohttp handler around a feature's neutral one (handlers/ knows no aiohttp)."""
        async def handle(request: web.Request) -> web.Response:
            from aiohttp import web

            status, content_type, body = await route.handler(self.services, dict(request.match_info))
            return web.Response(body=body, status=status, content_type=content_type.split(";")[0].strip(),
                                charset="utf-8" if content_type.startswith("text/") else None,
                                headers={"Cache-Control": "no-cache"})
        return handle

    def add_transport(self, transport: Transport) -> None:
        """Features see the transport through :class:`Delivering` (keyed, logged sends)."""
        self.services.transports[transport.platform] = Delivering(transport, self.outbox, violations=self.violations,
                                                                  metrics=self.metrics)
        self.metrics.add_platform(transport.platform)

    async def dispatch(self, transport: Transport, event: Incoming) -> bool:
        """Handle one event; its sends are keyed by the event (see bot/outbox.py). While the
        platform cannot be reached for its replies the event is handled again, with back-off
        (the chat's next events wait: order kept); False if the bot stopped first — the event is
        then not finished, and is handled at the next start."""
        wrapped = self.services.transports.get(transport.platform)
        if getattr(wrapped, "inner", None) is not transport:  # a transport the app was not given
            wrapped = Delivering(transport, self.outbox, violations=self.violations, metrics=self.metrics)
        prefix = f"{event.platform}:{event.event_key}" if event.event_key else None
        delay = 0.5
        while True:
            thread = (event.chat_key, event.thread_id) if event.thread_id else None
            with send_scope(prefix, replay=event.replay, thread=thread):
                if await self.router.dispatch(wrapped, event):
                    self.metrics.handled(event.platform)
                    return True
            if self.stopping or not event.event_key:
                return False
            try:
                async with asyncio.timeout(delay):
                    await self._stop.wait()
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)
            event = replace(event, replay=True)  # some of its replies may have gone out

    async def prune(self) -> int:
        """Forget finished events, what they made and delivery outcomes older than two days,
        for every platform (Telegram redelivers for a day; a Matrix sync resumes past finished
        events); a send of unknown fate is kept for a month. Returns the rows removed."""
        now = self.services.clock.now()
        async with self.db.transaction() as session:
            removed = await prune_events(session, now - HANDLED_KEPT)
            removed += await delivery_log.prune(session, now - HANDLED_KEPT, unsettled_before=now - UNSETTLED_KEPT)
        return removed

    async def _housekeeping(self) -> None:
        """Hourly, while running."""
        while not self._stop.is_set():
            try:
                removed = await self.prune()
                if removed:
                    log.info("forgot %d handled events and delivery outcomes", removed)
            except Exception:  # e.g. the store is briefly unreachable: the next hour tries again
                log.warning("pruning handled events failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3600):
                    await self._stop.wait()

    async def open(self) -> None:
        """Migrate the store and let features prepare; no network yet."""
        await self.db.upgrade()
        for feature in self.services.features:
            if feature.on_start:
                await feature.on_start(self.services)
        self._opened = True

    async def _ready_state(self) -> str:
        """/readyz: "starting" (migrating, features preparing), "running", "stopping"."""
        state = "stopping" if self._closing or self.stopping else "running" if self._opened else "starting"
        if state != "running":
            raise NotReady(state)
        return state

    async def _ready_store(self) -> dict:
        """/readyz: the store answers a ``SELECT 1`` in time."""
        backend = "sqlite" if self.db.is_sqlite else "postgresql"
        try:
            ms = await ping(self.db)
        except Exception as err:  # TimeoutError too
            error = type(getattr(err, "orig", None) or err).__name__
            raise NotReady({"reachable": False, "backend": backend, "error": error}) from None
        return {"reachable": True, "backend": backend, "ms": ms}

    async def _ready_transports(self) -> dict:
        """/readyz: each transport is connected (``Transport.ready``); a standby's transport
        (another process holds its consumer, see _consume) is not started, and waits ready."""
        shown = {platform: {"ready": t.ready.is_set(), **({"role": self.roles[platform]}
                                                          if platform in self.roles else {})}
                 for platform, t in self.services.transports.items()}
        if not all(s["ready"] or s.get("role") == "follower" for s in shown.values()):
            raise NotReady(shown)
        return shown

    async def _ready_role(self) -> str:
        """/readyz: "leader" while this process runs every one-process consumer it has,
        "follower" while another process runs one of them, "single" with none (see _consume)."""
        if not self.roles:
            return "single"
        return "follower" if "follower" in self.roles.values() else "leader"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Begin a clean stop (SIGTERM/SIGINT): see :meth:`run`."""
        self._stop.set()

    async def run(self, *, stop_deadline: float = 10.0) -> None:
        """Run until the transports stop or :meth:`request_stop`. A stop takes no new updates,
        lets in-flight handlers, jobs and sends finish within ``stop_deadline`` seconds, flushes
        the features' buffers and closes the store."""
        running: list[asyncio.Task] = []
        housekeeping: asyncio.Task | None = None
        stop = asyncio.create_task(self._stop.wait(), name="stop-request")
        try:
            if self.settings.http.port:  # first: /healthz answers while the store is migrated
                try:
                    await self.http.start()
                except OSError as err:  # a port in use: one line, as a wrong setting (exit 2)
                    reason = os.strerror(err.errno) if err.errno else str(err)
                    raise ConfigError(f"config error: http.port (KEHRABOT_HTTP__PORT): cannot listen on "
                                      f"{self.http.listen}:{self.http.port}: {reason}") from None
            await self.open()
            if self._stop.is_set():
                return
            await self.jobs.start()
            transports = [getattr(t, "inner", t) for t in self.services.transports.values()]
            running = [asyncio.create_task(self._consume(t), name=f"transport-{t.platform}") for t in transports]
            housekeeping = asyncio.create_task(self._housekeeping(), name="housekeeping")
            done, _ = await asyncio.wait({*running, stop}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stop}:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()
        finally:
            stop.cancel()
            if housekeeping is not None:
                housekeeping.cancel()
                await asyncio.wait({housekeeping})  # a prune in flight ends before the store closes
            await self.close(deadline=stop_deadline, running=running)

    async def _consume(self, transport: Transport) -> None:
        """Run the transport; one whose consumer only one process may run (``consumer``, see
        bot/leader.py) runs while this process holds its lock, and stops if the lock is lost
        (another process takes over; this one stands by to take it back)."""
        name = getattr(transport, "consumer", None)
        if name is None:
            await transport.start(self.dispatch)
            return
        lock = Leadership(self.db.url, name, owner=self.jobs.instance)
        self.roles[transport.platform] = "follower"
        try:
            while await lock.acquire(self._stop):
                self.roles[transport.platform] = "leader"
                started = asyncio.create_task(transport.start(self.dispatch), name=f"start-{transport.platform}")
                lost = asyncio.create_task(lock.lost.wait())
                await asyncio.wait({started, lost}, return_when=asyncio.FIRST_COMPLETED)
                lost.cancel()
                if started.done():
                    started.result()  # a transport that failed raises here
                    return
                self.roles[transport.platform] = "follower"
                await self._stop_transport(transport)
                await asyncio.wait({started})
        finally:
            await lock.release()

    async def close(self, *, deadline: float = 10.0, running: list[asyncio.Task] | None = None) -> None:
        """Jobs first (no new ones; running ones finish and may still send), then the transports
        (no new updates; the ones in hand finish), all within ``deadline`` seconds."""
        self._closing = True  # /readyz says "stopping" from now on
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        # a tenth of the deadline is kept for flushing the features' buffers and closing the store
        work_until = until - deadline / 10
        await self.jobs.stop(deadline=deadline / 2)
        inners = [getattr(t, "inner", t) for t in self.services.transports.values()]
        for inner in inners:
            if hasattr(inner, "stop_grace"):
                inner.stop_grace = max(0.1, work_until - loop.time())
        await asyncio.gather(*(self._stop_transport(inner) for inner in inners))  # side by side
        for task in running or []:
            if not task.done():
                task.cancel()
        if running:
            await asyncio.wait(running, timeout=max(0.1, work_until - loop.time()))
        for feature in self.services.features:
            if feature.on_stop:
                try:
                    async with asyncio.timeout(max(0.1, until - loop.time())):
                        await feature.on_stop(self.services)
                except Exception:  # TimeoutError included: what was not flushed is logged, the stop goes on
                    log.exception("stopping feature %s failed", feature.name)
        await self.http.stop()  # before the store: no probe opens a connection after it closed
        try:  # an unreachable store must not hold the stop: what was not written is done again
            async with asyncio.timeout(max(0.1, until - loop.time())):
                await self.db.close()
        except TimeoutError:
            log.error("the store did not close within the stop deadline; unwritten marks are redone at the next start")

    @staticmethod
    async def _stop_transport(transport: Transport) -> None:
        try:
            await transport.stop()
        except Exception:
            log.exception("stopping %s failed", transport.platform)


def build_transports(settings: Settings, services: Services, names: list[str]) -> list[Transport]:
    """Each platform module exposes ``create(settings, services) -> Transport``."""
    transports = []
    for name in names:
        module = importlib.import_module(f"bot.{name}")
        transports.append(module.create(settings, services))
    return transports
