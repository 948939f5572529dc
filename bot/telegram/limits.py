"""The bot's own flood limits for Telegram, and the retries of what certainly did not arrive.

**Flood limits**: ``rate_overall`` messages per ``rate_overall_seconds`` (30/s), ``rate_group``
per ``rate_group_seconds`` in one group (20 in any 60 s), edits included, and new messages to one
chat spread out: ``rate_chat_burst`` (3) back to back, then one per ``rate_chat_seconds`` (1 s),
as Telegram asks (about one a second per chat, short bursts allowed). At start the sends of the
last minute are read back from the delivery log (transport.py), so a restart in the middle of a
throttled burst does not start the windows empty (keyed sends only: edits and unkeyed sends are
not logged).

**Retries only where nothing can have been sent**: a 429 (after its ``retry_after``, pausing every
request) and a connection that could not be made (connect error or connect/pool timeout). A
timeout, a 5xx or a read error on a method that posts or changes something (``send*``,
``edit*``, ``stop*``, ``copy*``, ``forward*``, ``answerCallbackQuery``) is never repeated. Methods
that only read (getUpdates, getMe, getChatAdministrators …) and idempotent ones (setMyCommands,
deleteMessage) are retried with back-off as well.

A keyed send is marked ``sending`` in the delivery log once the limiter has granted its slot,
right before the request leaves: a :class:`SendHook` passed as ``rate_limit_args`` (sending.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import error as tg_error
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.errors import is_sending, not_sent, retry_seconds

log = logging.getLogger("bot.telegram")

#: API methods that post or change a message: these count against Telegram's flood limits
_COUNTED_PREFIXES = ("send", "edit", "stop", "copy", "forward", "delete")
#: … and these post a new one: spread out per chat
_SPACED_PREFIXES = ("send", "copy", "forward")


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
                wait = retry_seconds(exc) + 0.05
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
