"""The composition root: config, store, catalogs, features, scheduler and transports are
built here and passed in. Nothing else creates them."""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.events import Incoming
from bot.i18n import Catalogs
from bot.scheduler import JobRunner
from bot.transport import Transport
from handlers import load_features
from handlers.base import Services
from handlers.router import Router
from storage.db import Database

log = logging.getLogger(__name__)


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        transports: list[Transport] | None = None,
        catalogs: Catalogs | None = None,
    ) -> None:
        self.settings = settings
        self.db = Database(settings.resolved_database_url())
        self.services = Services(
            db=self.db,
            clock=clock or SystemClock(),
            catalogs=catalogs or Catalogs(),
            features=load_features(),
            coordinators=frozenset(settings.coordinators),
            data_dir=Path(settings.data_dir),
        )
        self.router = Router(self.services)
        self.jobs = JobRunner(self.services)
        self.services.wake = self.jobs.wake
        for transport in transports or []:
            self.add_transport(transport)

    def add_transport(self, transport: Transport) -> None:
        self.services.transports[transport.platform] = transport

    async def dispatch(self, transport: Transport, event: Incoming) -> None:
        await self.router.dispatch(transport, event)

    async def open(self) -> None:
        """Migrate the store and let features prepare; no network yet."""
        await self.db.upgrade()
        for feature in self.services.features:
            if feature.on_start:
                await feature.on_start(self.services)

    async def run(self) -> None:
        """Run until the transports stop (or the task is cancelled)."""
        await self.open()
        await self.jobs.start()
        try:
            await asyncio.gather(*(t.start(self.dispatch) for t in self.services.transports.values()))
        finally:
            await self.close()

    async def close(self) -> None:
        await self.jobs.stop()
        for feature in self.services.features:
            if feature.on_stop:
                try:
                    await feature.on_stop(self.services)
                except Exception:
                    log.exception("stopping feature %s failed", feature.name)
        for transport in self.services.transports.values():
            try:
                await transport.stop()
            except Exception:
                log.exception("stopping %s failed", transport.platform)
        await self.db.close()


def build_transports(settings: Settings, services: Services, names: list[str]) -> list[Transport]:
    """Each platform module exposes ``create(settings, services) -> Transport``."""
    transports = []
    for name in names:
        module = importlib.import_module(f"bot.{name}")
        transports.append(module.create(settings, services))
    return transports
