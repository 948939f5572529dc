"""Fixtures for the Telegram tests: the Bot API emulator and a real App with the real
Telegram transport (python-telegram-bot, unmodified) talking to it."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.app import App
from bot.config import Settings, TelegramSettings
from bot.telegram import TelegramTransport
from bot.testing import KEEP_FOREVER
from core.clock import ManualClock
from tests.telegram.emulator import BotApiEmulator


@pytest.fixture
async def emu():
    emulator = await BotApiEmulator().start()
    yield emulator
    await emulator.stop()


class Running:
    """A running bot: the App, its Telegram transport and the task that polls."""

    def __init__(self, app: App, transport: TelegramTransport) -> None:
        self.app, self.transport = app, transport
        self.events: list = []  # every Incoming the transport delivered
        self.task: asyncio.Task | None = None

    async def dispatch(self, transport, event) -> None:
        self.events.append(event)
        await self.app.dispatch(transport, event)

    async def stop(self) -> None:
        if self.task is None or self.task.done():
            return
        await self.transport.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.app.jobs.stop()
        await self.app.db.close()


def telegram_settings(emu: BotApiEmulator, **overrides) -> TelegramSettings:
    values = dict(token=emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url, poll_timeout=1,
                  retry_backoff=0.05, retry_backoff_max=0.5, admin_cache_seconds=300)
    values.update(overrides)
    return TelegramSettings(**values)


@pytest.fixture
async def start_bot(tmp_path, emu):
    """``await start_bot(**telegram_overrides)`` starts a bot on tmp_path's store (call again
    after ``stop()`` for a restart on the same store)."""
    running: list[Running] = []

    async def start(*, data_dir=None, database_url=None, clock=None, scheduler=True, **overrides) -> Running:
        settings = Settings.model_construct(**{
            **dict(Settings.model_construct()), "data_dir": data_dir or tmp_path, "database_url": database_url,
            "telegram": telegram_settings(emu, **overrides),
            # a test on a ManualClock counts the jobs it runs: no nightly retention job among them
            **({"retention": KEEP_FOREVER} if clock is not None else {})})
        app = App(settings, clock=clock, strict=True)
        transport = TelegramTransport(settings.telegram, app.services)
        app.add_transport(transport)
        await app.open()
        if scheduler:  # tests with a ManualClock run the due jobs themselves
            await app.jobs.start()
        bot = Running(app, transport)
        bot.task = asyncio.create_task(transport.start(bot.dispatch))
        running.append(bot)
        ready = "setWebhook" if overrides.get("webhook_url") else "getUpdates"
        await emu.wait_call(ready, len(emu.calls_of(ready)) + 1)  # polling (or the webhook) has begun
        return bot

    yield start
    for bot in running:  # whatever a test left running
        await bot.stop()
    violations = [v for bot in running for v in bot.app.violations or []]
    assert not violations, "platform calls inside an open transaction:\n" + "\n".join(violations)


@pytest.fixture
async def clocked(start_bot):
    """A bot on a ManualClock whose due jobs the test runs itself: ``(app, clock)``."""
    clock = ManualClock()
    bot = await start_bot(clock=clock, scheduler=False)
    yield bot.app, clock
    await bot.stop()


@pytest.fixture
async def tg(start_bot):
    bot = await start_bot()
    yield bot
    await bot.stop()
