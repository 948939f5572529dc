"""Telegram transport (python-telegram-bot 22.8): long polling or webhook, HTML replies,
inline keyboards, native polls, reactions, admin roles and the bot's own rate limits.

Only this module touches ``telegram``; features see :mod:`bot.events` values.

Nothing lost, nothing twice
---------------------------
**Incoming, at least once.** Fetched updates are stored in the inbox (``telegram_inbox``)
together with the next getUpdates offset in one transaction, before Telegram is told they
arrived (the next getUpdates confirms them); in webhook mode Telegram's HTTP call is answered as
soon as the update is stored, and the update is handled after, in the same per-chat lanes. Each
event of an update is *begun* in ``processedevent``: ``NEW``, ``REPLAY`` (begun before a stop or a
crash but never finished) or ``DONE``. New and replayed events are dispatched with their key
(``Incoming.event_key``; replies are keyed by it, see bot/outbox.py) and ``replay``; then they are
finished, and only then does the update leave the inbox. At every start the inbox is handled
again: finished events are skipped, unfinished ones replayed. An update Telegram delivers twice
is answered once. An update python-telegram-bot cannot read (``Update.de_json`` raises) is
logged without its content, confirmed and skipped; so is a stashed one that no longer reads.

**Outgoing, never twice.** Telegram has no idempotency keys. A keyed send (``Reply.key``,
``FileOut.key``, ``PollSpec.key``; the parts of a long message ``<key>.1``, ``<key>.2`` …) is
marked ``sending`` in the delivery log once the flood limiter has granted its slot, right before
the request leaves (a hook the limiter runs, passed as ``rate_limit_args``). A key found in the
log before is not sent again (its message id is returned when it was ``sent``, None otherwise).
The outcome is recorded after the answer: ``sent`` with the message id (for a poll: the poll id);
``failed`` when Telegram certainly did not act (a 4xx, a 429, no connection); ``unknown`` when it
may have (a timeout, a 5xx, a connection lost after the request was written).

**Retries only where nothing can have been sent**: a 429 (after its ``retry_after``, pausing every
request) and a connection that could not be made (connect error or connect/pool timeout). A
timeout, a 5xx or a read error on a method that posts or changes something (``send*``,
``edit*``, ``stop*``, ``copy*``, ``forward*``, ``answerCallbackQuery``) is never repeated. Methods
that only read (getUpdates, getMe, getChatAdministrators …) and idempotent ones (setMyCommands,
deleteMessage) are retried with back-off as well. Errors reach the features as the neutral
errors of bot/transport.py: "message to edit not found", "chat not found" … → MessageGone; 403 →
Forbidden; 429 after the retries → RateLimited; no connection → Unavailable; a timeout or 5xx of
a sending method → Ambiguous; any other 400 → :class:`Refused` (a TransportError that is also
python-telegram-bot's BadRequest).

**Flood limits**: ``rate_overall`` messages per ``rate_overall_seconds`` (30/s), ``rate_group``
per ``rate_group_seconds`` in one group (20 in any 60 s), edits included, and new messages to one
chat spread out: ``rate_chat_burst`` (3) back to back, then one per ``rate_chat_seconds`` (1 s),
as Telegram asks (about one a second per chat, short bursts allowed). At start the sends of the
last minute are read back from the delivery log, so a restart in the middle of a throttled burst
does not start the windows empty (keyed sends only: edits and unkeyed sends are not logged).

``ready`` is set once getMe succeeded and polling (or the webhook) runs, cleared at the stop; the
command menus are published in the background, retried with back-off, never holding up polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import logging
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy.exc import SQLAlchemyError
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram import error as tg_error
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.config import Settings, TelegramSettings
from bot.events import FileOut, Incoming, Kind, PollOutcome, PollSpec, Reply, Role
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.markup import split
from bot.outbox import Outbox, earlier_result
from bot.transport import (
    Ambiguous,
    Dispatch,
    Forbidden,
    MessageGone,
    RateLimited,
    TransportError,
    Unavailable,
)
from storage import outbox as delivery_log
from storage import telegram as store
from storage.core import DONE, REPLAY, begin_events, finish_events, get_state

log = logging.getLogger(__name__)

PLATFORM = "telegram"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "poll_answer", "message_reaction"]
#: updates handled at the same time (different chats), and fetched but unhandled at most
MAX_CONCURRENT = 32
MAX_BACKLOG = 1000
#: API methods that post or change a message: these count against Telegram's flood limits
_COUNTED_PREFIXES = ("send", "edit", "stop", "copy", "forward", "delete")
#: … and these post a new one: spread out per chat
_SPACED_PREFIXES = ("send", "copy", "forward")
#: methods whose repetition could show twice: a timeout or 5xx is never retried
_SENDING_PREFIXES = ("send", "edit", "stop", "copy", "forward")
#: BadRequest texts that mean the message or chat is not there (any more)
_GONE = ("message to edit not found", "message to delete not found", "message to forward not found",
         "message to copy not found", "message with poll to stop not found", "message not found",
         "chat not found", "message_id_invalid")
#: event keys remembered as finished in memory (their commit may still be on its way)
_FINISHED_MEMORY = 10_000


def _seconds(exc: RetryAfter) -> float:
    value = exc._retry_after  # a timedelta in PTB 22 (the public property warns)
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _native(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id  # "@channelname"


def is_sending(endpoint: str) -> bool:
    """A method whose repetition could be seen twice (a message posted, changed, answered)."""
    return endpoint.startswith(_SENDING_PREFIXES) or endpoint == "answerCallbackQuery"


def not_sent(exc: BaseException) -> bool:
    """The request certainly never reached Telegram: the connection could not be made."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


# --- errors ----------------------------------------------------------------------------------


class Refused(TransportError, BadRequest):
    """Telegram refused the request (a 400 other than a missing message or chat): nothing was
    done. A neutral TransportError that is also python-telegram-bot's BadRequest."""


def neutral(exc: TelegramError, *, sending: bool) -> TransportError:
    """The bot/transport.py error for a python-telegram-bot one (see the module docstring)."""
    text = str(exc)
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, RetryAfter):
        return RateLimited(text, _seconds(exc))
    if isinstance(exc, tg_error.Forbidden):
        return Forbidden(text)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is one
        if any(gone in text.lower() for gone in _GONE):
            return MessageGone(text)
        return Refused(text)
    if isinstance(exc, NetworkError):  # timeouts, 5xx, connections
        if not sending or not_sent(exc):
            return Unavailable(text)
        return Ambiguous(text)
    return TransportError(text)  # InvalidToken, Conflict, ChatMigrated outside a send …


@contextlib.contextmanager
def _neutral_errors(*, sending: bool) -> Iterator[None]:
    try:
        yield
    except TelegramError as exc:
        if isinstance(exc, TransportError):
            raise
        raise neutral(exc, sending=sending) from exc


# --- rate limits ---------------------------------------------------------------------------


class _Window:
    """At most ``limit`` requests in any ``period`` seconds (a sliding log). A request's stamp
    is its completion time (infinite while in flight): it reached Telegram before that, so
    the next request in the window cannot arrive less than ``period`` after it."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.stamps: deque[list[float]] = deque()

    def wait_time(self, now: float) -> float:
        while self.stamps and now - self.stamps[0][0] >= self.period:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        oldest = self.stamps[0][0]
        return 0.01 if oldest == math.inf else self.period - (now - oldest) + 0.001

    def take(self) -> list[float]:
        stamp = [math.inf]
        self.stamps.append(stamp)
        return stamp

    def give_back(self, stamp: list[float]) -> None:
        """A slot taken but not used (the request never left)."""
        for n, other in enumerate(self.stamps):
            if other is stamp:
                del self.stamps[n]
                return

    def add(self, at: float) -> None:
        """A request completed at ``at`` (from before a restart), in order."""
        stamps = sorted([*self.stamps, [at]], key=lambda s: s[0])
        self.stamps = deque(stamps)

    def idle(self, now: float) -> bool:
        return all(now - s[0] >= self.period for s in self.stamps)


class _Spacing:
    """Messages to one chat: ``burst`` back to back, then one per ``interval`` seconds (a leaky
    bucket: each message adds one, the bucket drains one per interval). Telegram asks for about
    one message per second in a chat and lets short bursts through."""

    def __init__(self, burst: int, interval: float) -> None:
        self.burst = burst
        self.interval = interval
        self.period = interval * burst  # how long a message is remembered
        self.level = 0.0
        self.at = -math.inf

    def _drain(self, now: float) -> None:
        if now > self.at:
            self.level = max(0.0, self.level - (now - self.at) / self.interval) if self.at > -math.inf else 0.0
            self.at = now

    def wait_time(self, now: float) -> float:
        self._drain(now)
        over = self.level + 1 - self.burst
        return 0.0 if over <= 0 else over * self.interval + 0.001

    def take(self) -> None:
        self._drain(time.monotonic())
        self.level += 1

    def give_back(self, _stamp: None) -> None:
        self.level = max(0.0, self.level - 1)

    def add(self, at: float) -> None:
        self._drain(at)
        self.level += 1

    def idle(self, now: float) -> bool:
        self._drain(now)
        return self.level <= 0


class _ChatLimits:
    """One chat's limits: its group window (groups only) and the spacing of its messages.
    Waiters are served in arrival order (asyncio.Lock is fair), so a burst is queued, not
    dropped."""

    __slots__ = ("lock", "group", "spacing")

    def __init__(self, group: _Window | None, spacing: _Spacing | None) -> None:
        self.lock = asyncio.Lock()
        self.group = group
        self.spacing = spacing


@dataclass(eq=False)
class SendHook:
    """``rate_limit_args`` of one request: how often to retry what certainly did not arrive
    (None: the limiter's default), and ``before``, run once the slot is granted, right before
    the request first leaves; it returns False when the request must not be sent at all."""

    retries: int | None = None
    before: Callable[[], Awaitable[bool]] | None = None
    began: bool = False  # ``before`` said yes: the request is (being) sent

    def __bool__(self) -> bool:  # PTB drops falsy rate_limit_args
        return True


class NotSent(Exception):
    """Raised through python-telegram-bot when a send hook said no (sent before)."""


class FloodLimiter(BaseRateLimiter[SendHook]):
    """Telegram's limits held by the bot: ``overall`` messages per ``overall_period`` seconds,
    ``group`` messages per ``group_period`` per group chat (edits included) and new messages to
    one chat ``chat_burst`` at once, then one per ``chat_period`` seconds. A 429 pauses every request for
    ``retry_after`` and retries; a connection that could not be made backs off and retries;
    other network errors, timeouts and 5xx are retried only for methods that send nothing."""

    def __init__(self, overall: int = 30, overall_period: float = 1.0, group: int = 20,
                 group_period: float = 60.0, max_retries: int = 5, backoff: float = 0.5,
                 backoff_max: float = 30.0, chat_period: float = 0.0, chat_burst: int = 1) -> None:
        self.overall = _Window(overall, overall_period)
        self.overall_lock = asyncio.Lock()
        self.group_limit = (group, group_period)
        self.chat_period = chat_period
        self.chat_burst = chat_burst
        self.chats: dict[str, _ChatLimits] = {}
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._resume = asyncio.Event()
        self._resume.set()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def groups(self) -> dict[str, _Window]:
        """The group windows by chat id."""
        return {k: c.group for k, c in self.chats.items() if c.group is not None}

    def _chat(self, chat: str) -> _ChatLimits:
        limits = self.chats.get(chat)
        if limits is None:
            if len(self.chats) > 1000:  # forget idle chats
                now = time.monotonic()
                for k, c in list(self.chats.items()):
                    if not c.lock.locked() and all(w is None or w.idle(now) for w in (c.group, c.spacing)):
                        del self.chats[k]
            group = _Window(*self.group_limit) if chat.startswith(("-", "@")) else None
            spacing = _Spacing(self.chat_burst, self.chat_period) if self.chat_period > 0 else None
            limits = self.chats[chat] = _ChatLimits(group, spacing)
        return limits

    def preload(self, chat: str, ago: float) -> None:
        """A message went to ``chat`` ``ago`` seconds ago (read back after a restart)."""
        at = time.monotonic() - max(ago, 0.0)
        limits = self._chat(chat)
        for window in (self.overall, limits.group, limits.spacing):
            if window is not None and time.monotonic() - at < window.period:
                window.add(at)

    async def _slot(self, chat: _ChatLimits | None, spaced: bool) -> list[tuple[Any, Any]]:
        """Wait until the chat's windows and the overall one have room, then take a slot in each."""
        if chat is not None:
            await chat.lock.acquire()
        try:
            while chat is not None:
                now = time.monotonic()
                delay = max(chat.group.wait_time(now) if chat.group is not None else 0.0,
                            chat.spacing.wait_time(now) if spaced and chat.spacing is not None else 0.0)
                if delay <= 0:
                    break
                await asyncio.sleep(delay)  # a timed wait: the window opens at a known time
            async with self.overall_lock:
                while (delay := self.overall.wait_time(time.monotonic())) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(delay)
                windows = [self.overall]
                if chat is not None:
                    windows += [w for w in (chat.group, chat.spacing if spaced else None) if w is not None]
                return [(w, w.take()) for w in windows]
        finally:
            if chat is not None:
                chat.lock.release()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list[dict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendHook | None,
    ) -> bool | dict | list[dict]:
        hook = rate_limit_args if isinstance(rate_limit_args, SendHook) else None
        counted = endpoint.startswith(_COUNTED_PREFIXES) and data.get("chat_id") is not None
        chat = self._chat(str(data["chat_id"])) if counted else None
        spaced = counted and endpoint.startswith(_SPACED_PREFIXES)
        sending = is_sending(endpoint)
        retries = self.max_retries if hook is None or hook.retries is None else hook.retries
        delay = self.backoff
        for attempt in range(retries + 1):
            await self._resume.wait()
            taken = await self._slot(chat, spaced) if counted else []
            left = False
            try:
                if hook is not None and hook.before is not None and not hook.began:
                    if not await hook.before():
                        raise NotSent(endpoint)
                    hook.began = True
                left = True
                return await callback(*args, **kwargs)
            except RetryAfter as exc:  # Telegram did not act on it
                if attempt == retries:
                    raise
                wait = _seconds(exc) + 0.05
                log.warning("Telegram flood limit on %s: pausing all requests %.1f s", endpoint, wait)
                if self._resume.is_set():
                    self._resume.clear()
                    try:
                        await asyncio.sleep(wait)
                    finally:
                        self._resume.set()
            except (BadRequest, tg_error.Forbidden, InvalidToken):
                raise
            except NetworkError as exc:  # connection problems, timeouts, 5xx
                if attempt == retries or (sending and not not_sent(exc)):
                    raise  # the request may have taken effect: never repeated blindly
                log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
            finally:
                done = time.monotonic()
                for window, stamp in taken:
                    if left:
                        if stamp is not None:
                            stamp[0] = done
                    else:
                        window.give_back(stamp)
        raise AssertionError("unreachable")


# --- the transport -------------------------------------------------------------------------


class TelegramTransport:
    platform = PLATFORM
    command_prefixes: tuple[str, ...] = ("/",)
    #: Telegram drops nothing repeated: a send is logged before it leaves (bot/outbox.py) …
    idempotent_sends = False
    #: … by this transport, after the flood limiter granted its slot
    records_deliveries = True

    def __init__(self, settings: TelegramSettings, services: Any, *, token: str | None = None) -> None:
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
        self._pruned_at = -math.inf
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
        self._webhook_secret = settings.secret_webhook() or secrets.token_urlsafe(32)

    # -- lifecycle ------------------------------------------------------------------------------

    async def _ready(self) -> ExtBot:
        """The bot, initialised (getMe) on first use; errors as bot/transport.py's."""
        if not self._initialized:
            with _neutral_errors(sending=False):
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
            self._menu.cancel()
            self._menu = None
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

    async def _run_polling(self) -> None:
        """Fetch updates, store them in the inbox with the next offset (one transaction), then
        hand them to per-chat lanes. Telegram forgets an update only when the next getUpdates
        confirms it, which happens after it is stored: a crash loses nothing, and a chat held
        back by its flood limit does not hold back the others."""
        bot = self.bot
        try:
            with _neutral_errors(sending=False):
                await bot.delete_webhook()
        except TransportError:
            log.warning("deleteWebhook failed", exc_info=True)
        async with self.services.db.session() as session:
            offset = int(await get_state(session, PLATFORM, "update_offset") or 0)
        await self._replay_inbox()
        self.ready.set()
        delay = self.settings.retry_backoff
        timeout = self.settings.poll_timeout
        while not self._stopping:
            while self._inflight >= MAX_BACKLOG and not self._stopping:
                await self._pause(0.05)
            self._fetch = asyncio.ensure_future(self._get_updates(offset, timeout))
            try:
                raw = await self._fetch
                delay = self.settings.retry_backoff
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except RetryAfter as exc:
                await self._pause(_seconds(exc))
                continue
            except InvalidToken:
                raise
            except TelegramError as exc:  # network down, 5xx, timeouts, conflicts
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
                continue
            await self._prune()
            updates, last = self._read_batch(raw)
            if last is None:
                continue
            fresh = [(u, data) for u, data in updates if u.update_id not in self._queued]
            try:
                async with self.services.db.transaction() as session:
                    await store.stash_updates(session, PLATFORM, [(u.update_id, data) for u, data in fresh],
                                              last + 1, self.services.clock.now())
            except Exception:
                log.exception("could not store fetched updates; fetching them again later")
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
                continue
            offset = last + 1  # confirms the batch, unreadable updates included, at the next fetch
            for update, _data in fresh:
                self._enqueue(update)
            await self._settle({u.update_id for u, _data in fresh})

    async def _get_updates(self, offset: int, wait: int) -> Any:
        """getUpdates as raw JSON: each update is read on its own (see _read_batch), where
        ``bot.get_updates`` fails the whole batch for one update it cannot read."""
        data: dict[str, Any] = {"timeout": wait, "allowed_updates": ALLOWED_UPDATES}
        if offset:
            data["offset"] = offset
        return await self.bot._post("getUpdates", data, read_timeout=wait + 10)

    def _read_batch(self, raw: Any) -> tuple[list[tuple[Update, dict]], int | None]:
        """The updates of a getUpdates answer that python-telegram-bot can read, with their JSON,
        and the highest update id (unreadable ones included: they are confirmed and skipped)."""
        updates: list[tuple[Update, dict]] = []
        last: int | None = None
        for data in raw if isinstance(raw, list) else []:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("Telegram sent an update without an id (%s); skipped", type(data).__name__)
                continue
            last = update_id if last is None else max(last, update_id)
            update = self._parse(update_id, data)
            if update is not None:
                updates.append((update, data))
        return updates, last

    def _parse(self, update_id: int, data: dict | None) -> Update | None:
        """``Update.de_json``, or None (logged without the update's content) if it cannot be read."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            return Update.de_json(data, self.bot)
        except Exception as exc:
            log.warning("Telegram update %s cannot be read (%s: %s); confirmed and skipped", update_id,
                        _shape(data), type(exc).__name__)
            log.debug("update %s: %s", update_id, type(exc).__name__, exc_info=True)
            return None

    async def _replay_inbox(self) -> None:
        """Updates stored before a stop but not handled to the end: handled again now (their
        finished events are skipped)."""
        try:
            async with self.services.db.session() as session:
                stashed = await store.inbox(session)
        except Exception:
            log.exception("could not read the Telegram inbox; it is handled at the next start")
            return
        if stashed:
            log.info("Telegram: %d updates from before the restart are handled again", len(stashed))
        for update_id, data in stashed:
            if update_id in self._queued:
                continue
            update = self._parse(update_id, data)
            if update is None:
                await self.services.db.write_soon(store.drop_inbox, update_id)
            else:
                self._enqueue(update)

    async def _settle(self, ids: set[int]) -> None:
        """Give the batch up to ``batch_wait`` seconds before fetching more: in the usual case
        the next fetch follows the handling (as a client would expect); a chat waiting for its
        flood limit holds the others up no longer than that."""
        deadline = time.monotonic() + self.batch_wait
        while ids & self._queued and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._progress.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wait ends, and the polling loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._progress.wait()

    @staticmethod
    def _lane_key(update: Update) -> str:
        """Updates of one chat are handled in order; different chats concurrently."""
        try:
            return TelegramTransport._lane_of(update)
        except AttributeError:  # a shape PTB read but without a chat: handled (and skipped) alone
            return "other"

    @staticmethod
    def _lane_of(update: Update) -> str:
        if update.message is not None:
            return f"c{update.message.chat.id}"
        if update.edited_message is not None:
            return f"c{update.edited_message.chat.id}"
        if update.callback_query is not None and update.callback_query.message is not None:
            return f"c{update.callback_query.message.chat.id}"
        if update.message_reaction is not None:
            return f"c{update.message_reaction.chat.id}"
        if update.poll_answer is not None:
            return f"p{update.poll_answer.poll_id}"
        return "other"

    def _enqueue(self, update: Update) -> None:
        self._queued.add(update.update_id)
        self._inflight += 1
        key = self._lane_key(update)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = deque()
            task = asyncio.create_task(self._run_lane(key, lane))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        lane.append(update)

    async def _run_lane(self, key: str, lane: deque[Update]) -> None:
        try:
            while lane:
                update = lane[0]
                async with self._handlers:
                    await self.handle_update(update)
                lane.popleft()
                self._inflight -= 1
                self._queued.discard(update.update_id)
                self._progress.set()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stopping."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # see _settle
                await self._wake.wait()

    async def _prune(self) -> None:
        """Hourly: forget processed-event ids and delivery outcomes older than two days."""
        now = time.monotonic()
        if now - self._pruned_at < 3600:
            return
        self._pruned_at = now
        try:
            async with self.services.db.transaction() as session:
                await store.prune_processed(session, PLATFORM, self.services.clock.now() - dtm.timedelta(days=2))
        except Exception:
            log.warning("pruning processed Telegram events failed", exc_info=True)

    async def _run_webhook(self) -> None:
        """Telegram's call is answered once the update is stored in the inbox; it is handled
        after, in the chat's lane (a send waiting for its flood slot never holds the call)."""
        from aiohttp import web

        url = self.settings.webhook_url or ""
        path = urlparse(url).path or "/"

        async def receive(request: web.Request) -> web.Response:
            if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self._webhook_secret:
                return web.Response(status=403)
            if self._stopping or self._inflight >= MAX_BACKLOG:
                return web.Response(status=503)  # Telegram delivers it again later
            try:
                data = await request.json()
            except Exception:
                log.warning("Telegram webhook body is not JSON; dropped")
                return web.Response(text="ok")  # a poison delivery: confirmed, not again
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("Telegram webhook update without an id; dropped")
                return web.Response(text="ok")
            update = self._parse(update_id, data)
            if update is None:
                return web.Response(text="ok")
            try:
                await self.services.db.write(store.stash_inbox, (update_id, json.dumps(data, ensure_ascii=False),
                                                                 self.services.clock.now()))
            except Exception:
                log.exception("could not store webhook update %s; Telegram delivers it again", update_id)
                return web.Response(status=500)
            if update_id not in self._queued and not self._stopping:
                self._enqueue(update)
            return web.Response(text="ok")

        await self._replay_inbox()  # first: a chat's older updates stay ahead of its new ones
        app = web.Application()
        app.router.add_post(path, receive)
        self._web_runner = web.AppRunner(app)
        await self._web_runner.setup()
        site = web.TCPSite(self._web_runner, self.settings.webhook_listen, self.settings.webhook_port)
        await site.start()
        delay = self.settings.retry_backoff
        while not self._stopping:
            try:
                with _neutral_errors(sending=False):
                    await self.bot.set_webhook(url, allowed_updates=ALLOWED_UPDATES, secret_token=self._webhook_secret)
                break
            except TransportError as exc:
                log.warning("setWebhook failed (%s); retrying in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
        if self._stopping:
            return
        log.info("Telegram webhook listening on %s:%s%s", self.settings.webhook_listen,
                 self.settings.webhook_port, path)
        self.ready.set()
        await self._wake.wait()  # until stop()

    # -- incoming -------------------------------------------------------------------------------

    async def handle_updates(self, updates: list[Update]) -> None:
        """Handle updates one after the other (see :meth:`handle_update`)."""
        for update in updates:
            await self.handle_update(update)

    async def handle_update(self, update: Update) -> None:
        """Begin the update's events (NEW / REPLAY / DONE), dispatch those not done with their
        key, finish each, then take the update out of the inbox. A stop in the middle leaves
        it in the inbox: the next start handles it again, its finished events skipped."""
        try:
            pending = await self._events(update)
        except SQLAlchemyError:
            log.exception("could not read Telegram update %s: the store failed; kept for the next start",
                          update.update_id)
            return
        except Exception as exc:  # a shape this code does not expect: skipped, never retried
            log.warning("could not read Telegram update %s (%s); skipped", update.update_id, type(exc).__name__)
            log.debug("update %s", update.update_id, exc_info=True)
            pending = []
        if pending:
            states = await self._begin([key for key, _event in pending])
            if states is None:
                return  # the store failed: the update stays in the inbox for the next start
            for key, event in pending:
                state = states.get(key, DONE)
                if state == DONE:
                    continue
                if not await self._run_event(replace(event, event_key=key, replay=state == REPLAY)):
                    return  # cut short by the stop: the update stays in the inbox for the next start
                await self._finish(key)
        await self.services.db.write_soon(store.drop_inbox, update.update_id)

    async def _begin(self, keys: list[str]) -> dict[str, str] | None:
        """Each key's state; None when the store cannot be reached (after a few tries)."""
        states = {key: DONE for key in keys if key in self._finished}  # commit may be on its way
        rest = tuple(dict.fromkeys(k for k in keys if k not in states))
        if not rest:
            return states
        delay = self.settings.retry_backoff
        for attempt in range(5):
            try:
                found = await self.services.db.write(begin_events, (PLATFORM, rest, self.services.clock.now()),
                                                      durable=False)
                return {**states, **found}
            except Exception as exc:
                if attempt == 4 or self._stopping:
                    log.error("could not record Telegram events %s (%s); they are handled at the next start",
                              ", ".join(rest), exc)
                    return None
                log.warning("recording Telegram events failed (%s); again in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
        return None

    async def _finish(self, key: str) -> None:
        self._finished[key] = None
        if len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)
        await self.services.db.write_soon(finish_events, (PLATFORM, key, self.services.clock.now()))

    async def _run_event(self, event: Incoming) -> bool:
        """False when the handling could not be completed (the bot is stopping)."""
        done = True
        try:
            assert self._dispatch is not None
            done = await self._dispatch(self, event) is not False
        except Exception:
            log.exception("dispatch failed for %s in %s", event.kind, event.chat_key)
        if event.kind == Kind.BUTTON and done:
            await self._answer_callback(event, None)
        return done

    def _language(self, user: Any) -> str | None:
        code = (getattr(user, "language_code", None) or "")[:2].lower()
        return code or None

    def _base(self, chat: Any, user: Any) -> dict:
        private = chat.type == ChatType.PRIVATE
        return dict(
            platform=PLATFORM, chat_id=str(chat.id),
            sender_id=str(user.id) if user is not None else str(chat.id),
            sender_name=(user.full_name if user is not None else chat.title or "") or "",
            chat_title=(chat.title or chat.full_name or "") if not private else (chat.full_name or ""),
            is_private=private, language_hint=self._language(user),
        )

    def _migration(self, msg: Message) -> Incoming | None:
        """The service message of a group that became a supergroup (it arrives in both chats)."""
        if msg.migrate_to_chat_id:
            old, new = msg.chat.id, msg.migrate_to_chat_id
        elif msg.migrate_from_chat_id:
            old, new = msg.migrate_from_chat_id, msg.chat.id
        else:
            return None
        return Incoming(**{**self._base(msg.chat, msg.from_user), "chat_id": str(old)}, kind=Kind.CHAT_MOVED,
                        target_id=str(new), message_id=str(msg.message_id))

    async def chat_moved(self, old: str, new: str) -> None:
        """After the store moved chat ``old`` to ``new``: our own native poll map too."""
        self._moved[old] = new
        async with self.services.db.transaction() as session:
            await store.move_polls(session, old, new)

    def _native(self, chat_id: str) -> int | str:
        """Telegram's id for the chat: the new one if the group became a supergroup."""
        return _native(self._moved.get(chat_id, chat_id))

    async def _to_chat(self, chat_id: str, call: Callable[[int], Coroutine[Any, Any, Any]]) -> Any:
        """``call(native chat id)``; if Telegram says the group became a supergroup, again with
        the new id, and the chat's data is moved there (in the background)."""
        try:
            return await call(self._native(chat_id))
        except ChatMigrated as exc:
            new = str(exc.new_chat_id)
            self._moved[chat_id] = new
            log.info("Telegram chat %s is now %s", chat_id, new)
            task = asyncio.create_task(self._dispatch_move(chat_id, new))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return await call(exc.new_chat_id)

    async def _dispatch_move(self, old: str, new: str) -> None:
        try:
            assert self._dispatch is not None
            await self._dispatch(self, Incoming(platform=PLATFORM, chat_id=old, sender_id=old, kind=Kind.CHAT_MOVED,
                                                target_id=new))
        except Exception:
            log.exception("could not move chat %s to %s", old, new)

    async def _events(self, update: Update) -> list[tuple[str, Incoming]]:
        if update.message is not None:
            msg = update.message
            moved = self._migration(msg)
            if moved is not None:
                return [(f"m:{msg.chat.id}:{msg.message_id}", moved)]
            text = msg.text or msg.caption or ""
            if not text or msg.from_user is None or msg.from_user.is_bot:
                return []
            reply_to = msg.reply_to_message
            mentions = bool(self.bot_username) and f"@{self.bot_username.lower()}" in text.lower()
            if reply_to is not None and reply_to.from_user is not None and reply_to.from_user.id == self.bot.id:
                mentions = True
            event = Incoming(
                **self._base(msg.chat, msg.from_user), text=text, message_id=str(msg.message_id),
                reply_to_id=str(reply_to.message_id) if reply_to is not None else None,
                mentions_bot=mentions, raw=msg,
            )
            return [(f"m:{msg.chat.id}:{msg.message_id}", event)]
        if update.edited_message is not None:
            msg = update.edited_message
            text = msg.text or msg.caption or ""
            if not text or msg.from_user is None or msg.from_user.is_bot:
                return []
            event = Incoming(**self._base(msg.chat, msg.from_user), kind=Kind.EDIT, text=text,
                             target_id=str(msg.message_id), raw=msg)
            return [(f"e:{update.update_id}", event)]
        if update.callback_query is not None:
            cq = update.callback_query
            if cq.message is None or cq.data is None:
                await self._safe_answer(cq.id, None)
                return []
            event = Incoming(
                **self._base(cq.message.chat, cq.from_user), kind=Kind.BUTTON, button_data=cq.data,
                target_id=str(cq.message.message_id), raw=cq,
            )
            return [(f"c:{cq.id}", event)]
        if update.poll_answer is not None:
            answer = update.poll_answer
            async with self.services.db.session() as session:
                row = await store.get_poll(session, answer.poll_id)
            if row is None:
                return []  # not a poll this bot knows
            user = answer.user
            voter = str(user.id) if user is not None else str(answer.voter_chat.id if answer.voter_chat else "")
            event = Incoming(
                platform=PLATFORM, chat_id=row.chat_id, sender_id=voter,
                sender_name=user.full_name if user is not None else "", is_private=not row.chat_id.startswith("-"),
                language_hint=self._language(user), kind=Kind.POLL_VOTE, poll_ref=answer.poll_id,
                poll_choices=tuple(answer.option_ids), target_id=row.message_id, raw=answer,
            )
            return [(f"u:{update.update_id}", event)]
        if update.message_reaction is not None:
            mr = update.message_reaction
            base = self._base(mr.chat, mr.user if mr.user is not None else None)
            if mr.user is None and mr.actor_chat is not None:
                base["sender_id"] = str(mr.actor_chat.id)
            old = {r.emoji for r in mr.old_reaction if isinstance(r, ReactionTypeEmoji)}
            new = {r.emoji for r in mr.new_reaction if isinstance(r, ReactionTypeEmoji)}
            events = []
            for emoji in sorted(old - new):
                events.append((f"u:{update.update_id}:-{emoji}", Incoming(
                    **base, kind=Kind.REACTION, reaction=emoji, reaction_removed=True,
                    target_id=str(mr.message_id), raw=mr)))
            for emoji in sorted(new - old):
                events.append((f"u:{update.update_id}:+{emoji}", Incoming(
                    **base, kind=Kind.REACTION, reaction=emoji, target_id=str(mr.message_id), raw=mr)))
            return events
        return []

    # -- outgoing -------------------------------------------------------------------------------

    @staticmethod
    def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
        if not reply.buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
        )

    async def _deliver(self, key: str | None, chat_id: str,
                       request: Callable[[SendHook], Coroutine[Any, Any, Any]],
                       result: Callable[[Any], Awaitable[str | None]]) -> str | None:
        """One request that posts something, under the delivery-log rule (module docstring):
        ``request(hook)`` makes the call with ``rate_limit_args=hook``; ``result(answer)`` is
        what is returned and recorded as the message id."""
        if key is None:
            with _neutral_errors(sending=True):
                return await result(await request(SendHook()))
        chat_key = f"{PLATFORM}:{chat_id}"
        earlier: delivery_log.Outcome | None = None

        async def before() -> bool:
            nonlocal earlier
            begin = asyncio.ensure_future(self.outbox.begin(key, chat_key))
            try:
                earlier = await asyncio.shield(begin)
            except asyncio.CancelledError:  # a stop: if the key got marked, nothing left after all
                begin.add_done_callback(lambda done: self._not_left(done, key, chat_key))
                raise
            return earlier is None

        hook = SendHook(before=before)
        try:
            with _neutral_errors(sending=True):
                answer = await request(hook)
        except NotSent:
            assert earlier is not None
            return earlier_result(key, earlier)
        except BaseException as err:  # a cancellation or a bug while the request was out, too
            if hook.began:
                with contextlib.suppress(Exception):
                    await self.outbox.failed(key, chat_key, err)
            raise
        value = await result(answer)
        await self.outbox.end(key, chat_key, delivery_log.SENT, value)
        return value

    def _not_left(self, begin: asyncio.Future, key: str, chat_key: str) -> None:
        """A begin whose caller was cancelled: a key it marked as leaving never left (failed:
        it may go at the next run); an earlier outcome stays as it was."""
        if begin.cancelled() or begin.exception() is not None or begin.result() is not None:
            return
        self._spawn(self.outbox.end(key, chat_key, delivery_log.FAILED, error="stopped before the request left"))

    @staticmethod
    async def _message_id(message: Message) -> str:
        return str(message.message_id)

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        bot = await self._ready()
        parts = split(reply.html, MESSAGE_LIMIT) or [""]
        message_id: str | None = None
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            reply_params = None
            if n == 0 and reply.reply_to_id and reply.reply_to_id.isdigit():
                reply_params = ReplyParameters(int(reply.reply_to_id), allow_sending_without_reply=True)
            key = reply.key if reply.key is None or len(parts) == 1 else f"{reply.key}.{n + 1}"

            def request(hook: SendHook, part: str = part, last: bool = last,
                        rp: ReplyParameters | None = reply_params) -> Coroutine[Any, Any, Message]:
                return self._to_chat(chat_id, lambda native: bot.send_message(
                    native, part, parse_mode=ParseMode.HTML, reply_markup=self._keyboard(reply) if last else None,
                    reply_parameters=rp, link_preview_options=LinkPreviewOptions(is_disabled=True),
                    rate_limit_args=hook,
                ))

            message_id = await self._deliver(key, chat_id, request, self._message_id)
        return message_id

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        bot = await self._ready()
        html = split(reply.html, MESSAGE_LIMIT)[0]
        try:
            with _neutral_errors(sending=True):
                await bot.edit_message_text(
                    html, chat_id=self._native(chat_id), message_id=int(message_id), parse_mode=ParseMode.HTML,
                    reply_markup=self._keyboard(reply), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except Refused as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        bot = await self._ready()
        caption = file.caption_html if len(file.caption_html) <= CAPTION_LIMIT else ""
        upload = InputFile(file.data, filename=file.filename)
        send = bot.send_photo if file.is_image else bot.send_document

        def request(hook: SendHook) -> Coroutine[Any, Any, Message]:
            return self._to_chat(chat_id, lambda native: send(native, upload, caption=caption or None,
                                                              parse_mode=ParseMode.HTML, rate_limit_args=hook))

        message_id = await self._deliver(file.key, chat_id, request, self._message_id)
        if file.caption_html and not caption:  # too long for a caption: send it as a message
            await self.send(chat_id, Reply(html=file.caption_html,
                                           key=f"{file.key}.caption" if file.key else None))
        return message_id

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        """Start a native poll. The returned reference is Telegram's poll id, which is what
        poll_answer updates carry; the poll id → (chat, message) mapping is stored (before the
        send is recorded as delivered, under the poll id)."""
        if not 2 <= len(poll.options) <= 12 or len(poll.question) > 300 or any(
                not 1 <= len(o) <= 100 for o in poll.options):
            return None  # outside Telegram's limits: the feature renders buttons instead
        bot = await self._ready()

        def request(hook: SendHook) -> Coroutine[Any, Any, Message]:
            return self._to_chat(chat_id, lambda native: bot.send_poll(
                native, poll.question, list(poll.options), is_anonymous=poll.anonymous,
                allows_multiple_answers=poll.multiple or poll.max_choices > 1,
                hide_results_until_closes=True if poll.hide_results else None, rate_limit_args=hook,
            ))

        async def remember(message: Message) -> str:
            assert message.poll is not None
            async with self.services.db.transaction() as session:
                await store.add_poll(session, message.poll.id, str(message.chat.id), str(message.message_id),
                                     self.services.clock.now())
            return message.poll.id

        return await self._deliver(poll.key, chat_id, request, remember)

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        async with self.services.db.session() as session:
            row = await store.get_poll(session, poll_ref)
        if row is None:
            raise LookupError(f"unknown Telegram poll {poll_ref}")
        bot = await self._ready()
        try:
            with _neutral_errors(sending=True):
                await bot.stop_poll(_native(row.chat_id), int(row.message_id))
        except (Refused, MessageGone) as exc:
            if "closed" not in str(exc).lower():
                raise
        async with self.services.db.transaction() as session:
            await store.mark_poll_closed(session, poll_ref, self.services.clock.now())

    async def _safe_answer(self, callback_id: str, text: str | None) -> None:
        """answerCallbackQuery, once: a timeout is not repeated (a toast twice would show), and
        no failure reaches the caller (the query may be too old)."""
        try:
            await self.bot.answer_callback_query(callback_id, text=text[:200] if text else None)
        except TelegramError:
            log.debug("answerCallbackQuery failed (the query may be too old)", exc_info=True)

    async def _answer_callback(self, event: Incoming, text: str | None) -> None:
        cq = event.raw
        if cq is None or not hasattr(cq, "id") or cq.id in self._answered:
            self._answered.discard(getattr(cq, "id", None))
            return
        await self._safe_answer(cq.id, text)

    async def acknowledge(self, event: Incoming, text: str) -> None:
        cq = event.raw
        if cq is None or not hasattr(cq, "id"):
            return
        await self._ready()
        self._answered.add(cq.id)
        await self._safe_answer(cq.id, text)

    async def private_chat(self, user_id: str) -> str | None:
        """In Telegram a private chat's id is the user's id; the bot may write there only after
        the person has sent /start to it (sends before that fail with 403 Forbidden)."""
        return user_id

    async def member_count(self, chat_id: str) -> int | None:
        """Members of the chat, the bot included (used by polls for turnout)."""
        bot = await self._ready()
        with _neutral_errors(sending=False):
            return await bot.get_chat_member_count(self._native(chat_id))

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        if not chat_id.startswith("-"):
            return Role.ADMIN if chat_id == user_id else Role.MEMBER
        cached = self._admins.get(chat_id)
        now = time.monotonic()
        if cached is None or now - cached[0] >= self.settings.admin_cache_seconds:
            lock = self._admin_locks.setdefault(chat_id, asyncio.Lock())
            async with lock:
                cached = self._admins.get(chat_id)
                if cached is None or time.monotonic() - cached[0] >= self.settings.admin_cache_seconds:
                    bot = await self._ready()
                    with _neutral_errors(sending=False):
                        members = await bot.get_chat_administrators(self._native(chat_id))
                    ids = frozenset(str(m.user.id) for m in members
                                    if m.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR))
                    cached = (time.monotonic(), ids)
                    self._admins[chat_id] = cached
        return Role.ADMIN if user_id in cached[1] else Role.MEMBER

    # -- command menu ---------------------------------------------------------------------------

    def command_menu(self, lang: str, *, admin: bool, private: bool) -> list[BotCommand]:
        """The command menu in ``lang``: the name in that language and the translated help."""
        translations = self.services.catalogs.get(lang)
        menu = []
        for feature in self.services.features:
            for cmd in feature.commands:
                if cmd.hidden or (cmd.role > Role.ADMIN) or (cmd.role == Role.ADMIN and not admin):
                    continue
                if cmd.private_only and not private:
                    continue
                description = translations.gettext(cmd.help).strip() or cmd.name
                menu.append(BotCommand(cmd.shown_name(lang), description[:256]))
        return menu[:100]

    def _menus(self) -> Iterator[tuple[Any, str | None, list[BotCommand]]]:
        scopes = (
            (BotCommandScopeDefault(), False, False),
            (BotCommandScopeAllPrivateChats(), True, True),
            (BotCommandScopeAllChatAdministrators(), True, False),
        )
        for scope, admin, private in scopes:
            for lang in (None, *LANGUAGES):
                yield scope, lang, self.command_menu(lang or DEFAULT_LANGUAGE, admin=admin, private=private)

    async def publish_commands(self, *, retries: int | None = None, done: set | None = None) -> None:
        """setMyCommands for each language (and the default, in the default language), for
        members, chat admins and private chats. ``done`` (scope type, language) pairs are
        skipped and the published ones added."""
        bot = await self._ready()
        for scope, lang, menu in self._menus():
            if done is not None and (scope.type, lang) in done:
                continue
            with _neutral_errors(sending=False):
                await bot.set_my_commands(menu, scope=scope, language_code=lang,
                                          rate_limit_args=SendHook(retries=retries))
            if done is not None:
                done.add((scope.type, lang))

    async def _publish_in_background(self) -> None:
        """The command menus, retried with back-off until published (polling does not wait)."""
        done: set = set()
        delay = self.settings.retry_backoff
        while not self._stopping:
            try:
                await self.publish_commands(retries=0, done=done)
                return
            except Refused:
                log.warning("Telegram refused the command menu; it may be outdated", exc_info=True)
                return
            except TransportError as exc:
                log.warning("setMyCommands failed (%s); again in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
            except Exception:
                log.exception("publishing the command menus failed")
                return


def _shape(data: Any) -> str:
    """An update's kind and field names, never its values (for the log)."""
    if not isinstance(data, dict):
        return type(data).__name__
    kinds = [k for k in data if k != "update_id"]
    if not kinds:
        return "empty"
    body = data[kinds[0]]
    fields = ", ".join(sorted(body)) if isinstance(body, dict) else type(body).__name__
    return f"{kinds[0]}: {fields}"[:300]


def create(settings: Settings, services: Any) -> TelegramTransport:
    return TelegramTransport(settings.telegram, services)
