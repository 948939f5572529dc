"""The Telegram transport: :class:`TelegramTransport`, its state, its start and its stop.

The class is put together from the parts beside this module (inbox.py, webhook.py, mapping.py,
sending.py, menus.py; see the package docstring); the state they share is made here, in
``__init__``.

``ready`` is set once getMe succeeded and polling (or the webhook) runs, cleared at the stop; the
command menus are published in the background, retried with back-off, never holding up polling.
At start the flood limiter learns the sends of the last minute from the delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import hashlib
import hmac
import logging
from collections import OrderedDict, deque
from collections.abc import Coroutine
from typing import Any

from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.config import Settings, TelegramSettings
from bot.outbox import Outbox
from bot.telegram.errors import neutral_errors
from bot.telegram.inbox import MAX_CONCURRENT, Inbox
from bot.telegram.limits import FloodLimiter
from bot.telegram.mapping import PLATFORM, Mapping
from bot.telegram.menus import Menus
from bot.telegram.sending import Sending
from bot.telegram.webhook import Webhook
from core.transport import Capabilities, Dispatch, TransportError
from storage import outbox as delivery_log

log = logging.getLogger("bot.telegram")


class TelegramTransport(Inbox, Webhook, Mapping, Sending, Menus):
    """The Telegram transport (core/transport.py's Transport); its parts are the base classes."""

    platform = PLATFORM
    command_prefixes: tuple[str, ...] = ("/",)
    capabilities = Capabilities(native_polls=True, reactions=True, edits=True, member_count=True,
                                keeps_chat_data=True, threads=True, topics=True, reactions_check=True)
    #: Telegram drops nothing repeated: a send is logged before it leaves (bot/outbox.py) …
    idempotent_sends = False
    #: … by this transport, after the flood limiter granted its slot
    records_deliveries = True

    def __init__(self, settings: TelegramSettings, services: Any, *, token: str | None = None,
                 instance: str | None = None) -> None:
        token = token or settings.secret_token()
        if not token:
            raise ValueError("telegram.token (or telegram.token_file) is not configured")
        self.settings = settings
        self.services = services
        self.outbox = Outbox(services.db, services.clock)
        self.limiter = FloodLimiter(
            settings.rate_overall, settings.rate_overall_seconds, settings.rate_group,
            settings.rate_group_seconds, settings.max_retries, settings.retry_backoff,
            settings.retry_backoff_max, chat_period=settings.rate_chat_seconds, chat_burst=settings.rate_chat_burst,
        )
        timeout = settings.poll_timeout
        self.bot: ExtBot = ExtBot(
            token,
            base_url=settings.base_url,
            base_file_url=settings.base_file_url,
            request=HTTPXRequest(connection_pool_size=32, read_timeout=settings.request_timeout,
                                 write_timeout=30, connect_timeout=10),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=timeout + 10),
            rate_limiter=self.limiter,
        )
        self.bot_username = ""
        #: long polling is one process's job (bot/leader.py); webhook calls go to any process
        self.consumer = None if settings.webhook_url else f"telegram:{token.split(':', 1)[0]}"
        #: in webhook mode every process takes updates: an event is handled by the one that began
        #: it (storage.core.begin_events); a polling process is the only consumer
        self.owner = (instance or "local") if settings.webhook_url else None
        #: set once getMe succeeded and polling (or the webhook) runs; cleared at the stop
        self.ready = asyncio.Event()
        self._init_lock = asyncio.Lock()
        self._initialized = False
        self._stopping = False
        self._runner: asyncio.Task | None = None
        self._dispatch: Dispatch | None = None
        self._admins: dict[str, tuple[float, frozenset[str]]] = {}
        self._admin_locks: dict[str, asyncio.Lock] = {}
        self._answered: set[str] = set()
        self._web_runner: Any = None
        self._fetch: asyncio.Future | None = None
        self._wake = asyncio.Event()  # set by stop()
        self._lanes: dict[str, deque[Update]] = {}
        self._lane_tasks: set[asyncio.Task] = set()
        self._background: set[asyncio.Task] = set()
        self._menu: asyncio.Task | None = None
        self._moved: dict[str, str] = {}  # old chat id -> new (a group that became a supergroup)
        self._queued: set[int] = set()
        self._inflight = 0
        self._handlers = asyncio.Semaphore(MAX_CONCURRENT)
        self._progress = asyncio.Event()
        self._finished: OrderedDict[str, None] = OrderedDict()  # event keys finished by this process
        self._preloaded = False
        #: seconds stop() waits for the updates in hand
        self.stop_grace = 10.0
        #: seconds a fetched batch may take before the next fetch (see _settle)
        self.batch_wait = 1.0
        # the same for every process of this bot (behind one load balancer), never the token itself
        self._webhook_secret = settings.secret_webhook() or hmac.new(
            token.encode(), b"kehrabot webhook secret", hashlib.sha256).hexdigest()

    # -- lifecycle ------------------------------------------------------------------------------

    async def _ready(self) -> ExtBot:
        """The bot, initialised (getMe) on first use; errors as core/transport.py's."""
        if not self._initialized:
            with neutral_errors(sending=False):
                async with self._init_lock:
                    if not self._initialized:
                        await self.bot.initialize()  # getMe
                        self.bot_username = self.bot.username or ""
                        self._initialized = True
        return self.bot

    async def start(self, dispatch: Dispatch) -> None:
        """Connect and handle updates until :meth:`stop`."""
        self._dispatch = dispatch
        self._stopping = False
        self._wake.clear()
        self.ready.clear()
        self._runner = asyncio.current_task()
        try:
            delay = self.settings.retry_backoff
            while not self._stopping:
                try:
                    await self._ready()
                    break
                except TransportError as exc:
                    if isinstance(exc.__cause__, InvalidToken):
                        raise exc.__cause__ from None
                    log.warning("Telegram not reachable (%s); retrying in %.1f s", exc, delay)
                    await self._pause(delay)
                    delay = min(delay * 2, self.settings.retry_backoff_max)
            if self._stopping:
                return
            await self._load_recent_sends()
            self._menu = self._spawn(self._publish_in_background(), name="telegram-command-menus")
            if self.settings.webhook_url:
                await self._run_webhook()
            else:
                await self._run_polling()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self.ready.clear()
            self._runner = None

    async def stop(self) -> None:
        """Stop fetching, let the updates in hand be handled (up to ``stop_grace`` seconds; the
        rest stay in the inbox for the next start), then close the connection."""
        self._stopping = True
        self.ready.clear()
        self._wake.set()
        if self._fetch is not None:
            self._fetch.cancel()
        if self._menu is not None:
            menu, self._menu = self._menu, None
            menu.cancel()
            await asyncio.wait({menu})  # its request ends before the connection closes
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            done, _pending = await asyncio.wait({runner}, timeout=self.stop_grace)
            if not done:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runner
        if self._lane_tasks:
            _done, pending = await asyncio.wait(set(self._lane_tasks), timeout=self.stop_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._lanes.clear()
        self._queued.clear()
        self._inflight = 0
        if self._web_runner is not None:
            await self._web_runner.cleanup()
            self._web_runner = None
        if self._initialized:
            self._initialized = False
            try:
                await self.bot.shutdown()
            except Exception:
                log.debug("bot shutdown failed", exc_info=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _load_recent_sends(self) -> None:
        """The limiter learns the sends of the last minute from the delivery log (once)."""
        if self._preloaded:
            return
        self._preloaded = True
        period = max(self.settings.rate_group_seconds, self.settings.rate_chat_seconds,
                     self.settings.rate_overall_seconds)
        now = self.services.clock.now()
        try:
            async with self.services.db.session() as session:
                sends = await delivery_log.recent_sends(session, now - dtm.timedelta(seconds=period))
        except Exception:
            log.warning("could not read the recent sends; the flood limits start empty", exc_info=True)
            return
        prefix = f"{PLATFORM}:"
        count = 0
        for chat_key, at in sends:
            if chat_key.startswith(prefix):
                self.limiter.preload(str(self._native(chat_key[len(prefix):])), (now - at).total_seconds())
                count += 1
        if count:
            log.info("Telegram flood limits: %d sends of the last %.0f s taken into account", count, period)


def create(settings: Settings, services: Any) -> TelegramTransport:
    return TelegramTransport(settings.telegram, services, instance=settings.instance_id())
