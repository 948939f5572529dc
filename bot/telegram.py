"""Telegram transport (python-telegram-bot 22.8): long polling or webhook, HTML replies,
inline keyboards, native polls, reactions, admin roles and the bot's own rate limits.

Only this module touches ``telegram``; features see :mod:`bot.events` values.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlparse

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
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.config import Settings, TelegramSettings
from bot.events import FileOut, Incoming, Kind, PollOutcome, PollSpec, Reply, Role
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES
from bot.markup import split
from bot.transport import Dispatch
from storage import telegram as store
from storage.core import get_state

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


def _seconds(exc: RetryAfter) -> float:
    value = exc._retry_after  # a timedelta in PTB 22 (the public property warns)
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _native(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id  # "@channelname"


# --- rate limits ---------------------------------------------------------------------------


class _Window:
    """At most ``limit`` requests in any ``period`` seconds (a sliding log). A request's stamp
    is its completion time (infinite while in flight): it reached Telegram before that, so
    the next request in the window cannot arrive less than ``period`` after it. Waiters are
    served in arrival order (asyncio.Lock is fair), so a burst is queued, not dropped."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.stamps: deque[list[float]] = deque()
        self.lock = asyncio.Lock()

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


class FloodLimiter(BaseRateLimiter[int]):
    """Telegram's limits held by the bot: ``overall`` messages per ``overall_period`` seconds
    and ``group`` messages per ``group_period`` per group chat, edits included. A 429 pauses
    every request for ``retry_after`` and retries; network errors and 5xx back off and retry."""

    def __init__(self, overall: int = 30, overall_period: float = 1.0, group: int = 20,
                 group_period: float = 60.0, max_retries: int = 5, backoff: float = 0.5,
                 backoff_max: float = 30.0) -> None:
        self.overall = _Window(overall, overall_period)
        self.group_limit = (group, group_period)
        self.groups: dict[str, _Window] = {}
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._resume = asyncio.Event()
        self._resume.set()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _group(self, key: str) -> _Window:
        window = self.groups.get(key)
        if window is None:
            if len(self.groups) > 1000:  # forget idle groups
                now = time.monotonic()
                for k, w in list(self.groups.items()):
                    if not w.lock.locked() and (not w.stamps or now - max(s[0] for s in w.stamps) >= w.period):
                        del self.groups[k]
            window = self.groups[key] = _Window(*self.group_limit)
        return window

    async def _slot(self, group: _Window | None) -> list[list[float]]:
        """Wait until both the group's and the overall window have room, then take a slot in each."""
        if group is not None:
            await group.lock.acquire()
        try:
            while group is not None and (delay := group.wait_time(time.monotonic())) > 0:  # noqa: ASYNC110
                await asyncio.sleep(delay)  # a timed wait: the window opens at a known time
            async with self.overall.lock:
                while (delay := self.overall.wait_time(time.monotonic())) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(delay)
                stamps = [self.overall.take()]
                if group is not None:
                    stamps.append(group.take())
                return stamps
        finally:
            if group is not None:
                group.lock.release()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list[dict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict | list[dict]:
        counted = endpoint.startswith(_COUNTED_PREFIXES) and data.get("chat_id") is not None
        group = None
        if counted:
            chat = str(data["chat_id"])
            if chat.startswith(("-", "@")):
                group = self._group(chat)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        delay = self.backoff
        for attempt in range(retries + 1):
            await self._resume.wait()
            stamps = await self._slot(group) if counted else []
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
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
            except (BadRequest, Forbidden, InvalidToken):
                raise
            except NetworkError as exc:  # connection problems, timeouts, 5xx
                if attempt == retries:
                    raise
                log.warning("Telegram %s failed (%s); retrying in %.1f s", endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
            finally:
                done = time.monotonic()
                for stamp in stamps:
                    stamp[0] = done
        raise AssertionError("unreachable")


# --- the transport -------------------------------------------------------------------------


class TelegramTransport:
    platform = PLATFORM
    command_prefixes: tuple[str, ...] = ("/",)

    def __init__(self, settings: TelegramSettings, services: Any, *, token: str | None = None) -> None:
        token = token or settings.secret_token()
        if not token:
            raise ValueError("telegram.token (or telegram.token_file) is not configured")
        self.settings = settings
        self.services = services
        self.limiter = FloodLimiter(
            settings.rate_overall, settings.rate_overall_seconds, settings.rate_group,
            settings.rate_group_seconds, settings.max_retries, settings.retry_backoff,
            settings.retry_backoff_max,
        )
        timeout = settings.poll_timeout
        self.bot: ExtBot = ExtBot(
            token,
            base_url=settings.base_url,
            base_file_url=settings.base_file_url,
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15, write_timeout=30, connect_timeout=10),
            get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=timeout + 10),
            rate_limiter=self.limiter,
        )
        self.bot_username = ""
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
        self._moved: dict[str, str] = {}  # old chat id -> new (a group that became a supergroup)
        self._queued: set[int] = set()
        self._inflight = 0
        self._handlers = asyncio.Semaphore(MAX_CONCURRENT)
        self._progress = asyncio.Event()
        #: seconds stop() waits for the updates in hand
        self.stop_grace = 10.0
        #: seconds a fetched batch may take before the next fetch (see _settle)
        self.batch_wait = 1.0
        self._webhook_secret = settings.secret_webhook() or secrets.token_urlsafe(32)

    # -- lifecycle ------------------------------------------------------------------------------

    async def _ready(self) -> ExtBot:
        if not self._initialized:
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
        self._runner = asyncio.current_task()
        try:
            delay = self.settings.retry_backoff
            while not self._stopping:
                try:
                    await self._ready()
                    break
                except InvalidToken:
                    raise
                except TelegramError as exc:
                    log.warning("Telegram not reachable (%s); retrying in %.1f s", exc, delay)
                    await self._pause(delay)
                    delay = min(delay * 2, self.settings.retry_backoff_max)
            if self._stopping:
                return
            try:
                await self.publish_commands()
            except TelegramError:
                log.warning("setMyCommands failed; the command menu may be outdated", exc_info=True)
            if self.settings.webhook_url:
                await self._run_webhook()
            else:
                await self._run_polling()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
        finally:
            self._runner = None

    async def stop(self) -> None:
        """Stop fetching, let the updates in hand be handled (up to ``stop_grace`` seconds; the
        rest stay in the inbox for the next start), then close the connection."""
        self._stopping = True
        self._wake.set()
        if self._fetch is not None:
            self._fetch.cancel()
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

    async def _run_polling(self) -> None:
        """Fetch updates, store them in the inbox with the next offset (one transaction), then
        hand them to per-chat lanes. Telegram forgets an update only when the next getUpdates
        confirms it, which happens after it is stored: a crash loses nothing, and a chat held
        back by its flood limit does not hold back the others."""
        bot = self.bot
        try:
            await bot.delete_webhook()
        except TelegramError:
            log.warning("deleteWebhook failed", exc_info=True)
        async with self.services.db.session() as session:
            offset = int(await get_state(session, PLATFORM, "update_offset") or 0)
            stashed = await store.inbox(session)
        for _update_id, data in stashed:  # fetched before a restart but not handled
            self._enqueue(Update.de_json(data, bot))
        delay = self.settings.retry_backoff
        timeout = self.settings.poll_timeout
        while not self._stopping:
            while self._inflight >= MAX_BACKLOG and not self._stopping:
                await self._pause(0.05)
            self._fetch = asyncio.ensure_future(bot.get_updates(
                offset=offset or None, timeout=timeout, allowed_updates=ALLOWED_UPDATES,
                read_timeout=timeout + 10,
            ))
            try:
                updates = await self._fetch
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
            if not updates:
                continue
            fresh = [u for u in updates if u.update_id not in self._queued]
            try:
                async with self.services.db.session() as session:
                    await store.stash_updates(session, PLATFORM, [(u.update_id, u.to_dict()) for u in fresh],
                                              updates[-1].update_id + 1, self.services.clock.now())
            except Exception:
                log.exception("could not store fetched updates; fetching them again later")
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
                continue
            offset = updates[-1].update_id + 1
            for update in fresh:
                self._enqueue(update)
            await self._settle({u.update_id for u in fresh})

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
                    await self.handle_updates([update], from_inbox=True)
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
        """Hourly: forget processed-event ids older than two days."""
        now = time.monotonic()
        if now - self._pruned_at < 3600:
            return
        self._pruned_at = now
        try:
            async with self.services.db.session() as session:
                await store.prune_processed(session, PLATFORM, self.services.clock.now() - dtm.timedelta(days=2))
        except Exception:
            log.warning("pruning processed Telegram events failed", exc_info=True)

    async def _run_webhook(self) -> None:
        from aiohttp import web

        url = self.settings.webhook_url or ""
        path = urlparse(url).path or "/"

        async def receive(request: web.Request) -> web.Response:
            if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self._webhook_secret:
                return web.Response(status=403)
            try:
                update = Update.de_json(await request.json(), self.bot)
            except Exception:
                log.warning("bad webhook body", exc_info=True)
                return web.Response(status=400)
            await self.handle_updates([update])
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post(path, receive)
        self._web_runner = web.AppRunner(app)
        await self._web_runner.setup()
        site = web.TCPSite(self._web_runner, self.settings.webhook_listen, self.settings.webhook_port)
        await site.start()
        await self.bot.set_webhook(url, allowed_updates=ALLOWED_UPDATES, secret_token=self._webhook_secret)
        log.info("Telegram webhook listening on %s:%s%s", self.settings.webhook_listen,
                 self.settings.webhook_port, path)
        await self._wake.wait()  # until stop()

    # -- incoming -------------------------------------------------------------------------------

    async def handle_updates(self, updates: list[Update], *, from_inbox: bool = False) -> None:
        """Handle updates: chats concurrently, each chat's events in order. Each event is claimed
        in the store first, so a redelivered update is not handled twice."""
        pending: list[tuple[str, Incoming]] = []
        for update in updates:
            try:
                pending.extend(await self._events(update))
            except Exception:
                log.exception("could not read update %s", update.update_id)
        try:
            async with self.services.db.session() as session:
                fresh = await store.claim_events(
                    session, PLATFORM, [k for k, _e in pending], self.services.clock.now(),
                    inbox_ids=[u.update_id for u in updates] if from_inbox else None)
        except Exception:
            log.exception("could not claim %d Telegram events; handling them anyway", len(pending))
            fresh = {k for k, _e in pending}
        by_chat: dict[str, list[Incoming]] = {}
        for key, event in pending:
            if key in fresh:
                fresh.discard(key)
                by_chat.setdefault(event.chat_id, []).append(event)
        if by_chat:
            await asyncio.gather(*(self._run_chat(events) for events in by_chat.values()))

    async def _run_chat(self, events: list[Incoming]) -> None:
        for event in events:
            try:
                assert self._dispatch is not None
                await self._dispatch(self, event)
            except Exception:
                log.exception("dispatch failed for %s in %s", event.kind, event.chat_key)
            if event.kind == Kind.BUTTON:
                await self._answer_callback(event, None)

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
        async with self.services.db.session() as session:
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

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        bot = await self._ready()
        parts = split(reply.html, MESSAGE_LIMIT) or [""]
        message: Message | None = None
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            reply_params = None
            if n == 0 and reply.reply_to_id and reply.reply_to_id.isdigit():
                reply_params = ReplyParameters(int(reply.reply_to_id), allow_sending_without_reply=True)
            message = await self._to_chat(chat_id, lambda native, part=part, last=last, rp=reply_params: bot.send_message(
                native, part, parse_mode=ParseMode.HTML, reply_markup=self._keyboard(reply) if last else None,
                reply_parameters=rp, link_preview_options=LinkPreviewOptions(is_disabled=True),
            ))
        return str(message.message_id) if message is not None else None

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        bot = await self._ready()
        html = split(reply.html, MESSAGE_LIMIT)[0]
        try:
            await bot.edit_message_text(
                html, chat_id=self._native(chat_id), message_id=int(message_id), parse_mode=ParseMode.HTML,
                reply_markup=self._keyboard(reply), link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        bot = await self._ready()
        caption = file.caption_html if len(file.caption_html) <= CAPTION_LIMIT else ""
        upload = InputFile(file.data, filename=file.filename)
        send = bot.send_photo if file.is_image else bot.send_document
        message = await self._to_chat(chat_id, lambda native: send(native, upload, caption=caption or None,
                                                                   parse_mode=ParseMode.HTML))
        if file.caption_html and not caption:  # too long for a caption: send it as a message
            await self.send(chat_id, Reply(html=file.caption_html))
        return str(message.message_id)

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        """Start a native poll. The returned reference is Telegram's poll id, which is what
        poll_answer updates carry; the poll id → (chat, message) mapping is stored."""
        if not 2 <= len(poll.options) <= 12 or len(poll.question) > 300 or any(
                not 1 <= len(o) <= 100 for o in poll.options):
            return None  # outside Telegram's limits: the feature renders buttons instead
        bot = await self._ready()
        message = await self._to_chat(chat_id, lambda native: bot.send_poll(
            native, poll.question, list(poll.options), is_anonymous=poll.anonymous,
            allows_multiple_answers=poll.multiple or poll.max_choices > 1,
            hide_results_until_closes=True if poll.hide_results else None,
        ))
        assert message.poll is not None
        async with self.services.db.session() as session:
            await store.add_poll(session, message.poll.id, str(message.chat.id), str(message.message_id),
                                 self.services.clock.now())
        return message.poll.id

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None:
        async with self.services.db.session() as session:
            row = await store.get_poll(session, poll_ref)
        if row is None:
            raise LookupError(f"unknown Telegram poll {poll_ref}")
        bot = await self._ready()
        try:
            await bot.stop_poll(_native(row.chat_id), int(row.message_id))
        except BadRequest as exc:
            if "closed" not in str(exc).lower():
                raise
        async with self.services.db.session() as session:
            await store.mark_poll_closed(session, poll_ref, self.services.clock.now())

    async def _safe_answer(self, callback_id: str, text: str | None) -> None:
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

    async def publish_commands(self) -> None:
        """setMyCommands for each language (and the default, in the default language), for
        members, chat admins and private chats."""
        bot = await self._ready()
        scopes = (
            (BotCommandScopeDefault(), False, False),
            (BotCommandScopeAllPrivateChats(), True, True),
            (BotCommandScopeAllChatAdministrators(), True, False),
        )
        for scope, admin, private in scopes:
            for lang in (None, *LANGUAGES):
                menu = self.command_menu(lang or DEFAULT_LANGUAGE, admin=admin, private=private)
                await bot.set_my_commands(menu, scope=scope, language_code=lang)


def create(settings: Settings, services: Any) -> TelegramTransport:
    return TelegramTransport(settings.telegram, services)
