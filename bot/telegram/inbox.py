"""Incoming, at least once: polling, the inbox, per-chat lanes, and updates that cannot be read.

Fetched updates are stored in the inbox (``telegram_inbox``) together with the next getUpdates
offset in one transaction, before Telegram is told they arrived (the next getUpdates confirms
them); in webhook mode (webhook.py) Telegram's HTTP call is answered as soon as the update is
stored, and the update is handled after, in the same per-chat lanes. Each event of an update
(mapping.py) is *begun* in ``processedevent``: ``NEW``, ``REPLAY`` (begun before a stop or a crash
but never finished) or ``DONE``. New and replayed events are dispatched with their key
(``Incoming.event_key``; replies are keyed by it, see bot/outbox.py) and ``replay``; then they are
finished, and only then does the update leave the inbox. At every start the inbox is handled
again: finished events are skipped, unfinished ones replayed. An update Telegram delivers twice
is answered once. An update python-telegram-bot cannot read (``Update.de_json`` raises) is
logged without its content, confirmed and skipped; so is a stashed one that no longer reads.

A part of :class:`bot.telegram.transport.TelegramTransport`, whose ``__init__`` makes the state
used here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.telegram.errors import neutral_errors, retry_seconds
from bot.telegram.mapping import PLATFORM
from core.events import Incoming, Kind
from core.transport import TransportError
from storage import telegram as store
from storage.core import BUSY, DONE, REPLAY, begin_events, finish_events, get_state

log = logging.getLogger("bot.telegram")

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "poll_answer", "message_reaction"]
#: updates handled at the same time (different chats), and fetched but unhandled at most
MAX_CONCURRENT = 32
MAX_BACKLOG = 1000
#: event keys remembered as finished in memory (their commit may still be on its way)
_FINISHED_MEMORY = 10_000


class Inbox:
    """Polling, the inbox and its lanes, and the begun/finished rule of each event."""

    async def _run_polling(self) -> None:
        """Fetch updates, store them in the inbox with the next offset (one transaction), then
        hand them to per-chat lanes. Telegram forgets an update only when the next getUpdates
        confirms it, which happens after it is stored: a crash loses nothing, and a chat held
        back by its flood limit does not hold back the others."""
        bot = self.bot
        try:
            with neutral_errors(sending=False):
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
                await self._pause(retry_seconds(exc))
                continue
            except InvalidToken:
                raise
            except TelegramError as exc:  # network down, 5xx, timeouts, conflicts
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc, delay)
                await self._pause(delay)
                delay = min(delay * 2, self.settings.retry_backoff_max)
                continue
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

    async def _replay_inbox(self, received_before: Any = None) -> None:
        """Updates stored before a stop but not handled to the end: handled again now (their
        finished events are skipped); only those received before ``received_before`` if given."""
        try:
            async with self.services.db.session() as session:
                stashed = await store.inbox(session, received_before)
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
            return Inbox._lane_of(update)
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
            if BUSY in states.values():
                return  # another process has it in hand (webhook mode); it takes it out of the inbox
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
                found = await self.services.db.write(begin_events, (PLATFORM, rest, self.services.clock.now(),
                                                                     self.owner), durable=False)
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

