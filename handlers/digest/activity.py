"""Activity counts (messages to the bot, distinct people per chat and week) and which chats are
a person's private chat with the bot; the digest's own "activity" section."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from core.i18n import _, format_number
from core.markup import esc
from handlers.base import Context, Services
from storage import digest as store
from storage import links
from storage.core import Chat, ensure_chat, set_chat_setting

log = logging.getLogger("handlers.digest")


class ActivityBuffer:
    """Counts messages and distinct people per chat and week in memory; ``flush`` adds them to the
    store (one upsert per chat-week, one insert-or-ignore for new people). Per message this is a
    few dict operations; the price is that up to ``flush_seconds`` of counts are lost if the
    process is killed without a clean stop."""

    def __init__(self, flush_seconds: float = 60, max_pending: int = 5000) -> None:
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self.counts: dict[tuple[str, str], int] = {}
        self.new_people: dict[tuple[str, str], set[str]] = {}
        self.known: dict[tuple[str, str], set[str]] = {}  # senders already counted (memory only)
        self.pending = 0
        self.last_flush: datetime | None = None
        self._week = ""
        self._week_end: datetime | None = None
        self._lock = asyncio.Lock()

    def week(self, now: datetime) -> str:
        if self._week_end is None or now >= self._week_end or now < self._week_end - timedelta(days=7):
            self._week = store.week_of(now)
            self._week_end = store.week_bounds(self._week)[1]
        return self._week

    def note(self, chat_key: str, sender_key: str, message: bool, now: datetime) -> bool:
        """Count one event; True when a flush is due."""
        key = (chat_key, self.week(now))
        if message:
            self.counts[key] = self.counts.get(key, 0) + 1
        known = self.known.setdefault(key, set())
        if sender_key not in known:
            known.add(sender_key)
            self.new_people.setdefault(key, set()).add(store.activity_mark(key[0], key[1], sender_key))
        self.pending += 1
        if self.last_flush is None:
            self.last_flush = now
        return self.pending >= self.max_pending or (now - self.last_flush).total_seconds() >= self.flush_seconds

    async def flush(self, services: Services) -> None:
        async with self._lock:
            counts, people = self.counts, self.new_people
            self.counts, self.new_people, self.pending = {}, {}, 0
            self.last_flush = services.clock.now()
            current = self._week
            self.known = {k: v for k, v in self.known.items() if k[1] == current}
            if not counts and not people:
                return
            try:
                async with services.db.transaction() as session:
                    await store.add_activity(session, counts, people)
            except Exception:
                log.exception("could not store activity counts; keeping them for the next flush")
                for key, n in counts.items():
                    self.counts[key] = self.counts.get(key, 0) + n
                for key, ps in people.items():
                    self.new_people.setdefault(key, set()).update(ps)


class DigestState:
    """This instance's runtime state: the activity buffer and when to sweep next (a cache: the
    digest records are the truth, so a restart sweeps at once)."""

    def __init__(self) -> None:
        self.activity = ActivityBuffer()
        self.next_sweep: datetime | None = None
        #: private chats already marked as such in the store by this instance
        self.private: set[str] = set()


#: a chat setting: the chat is a person's private chat with the bot (no digest is posted there)
PRIVATE_SETTING = "chat.private"


def is_private(chat: Chat) -> bool:
    """A person's private chat with the bot: marked when the bot saw it, else known by its id
    (Telegram's private chats have positive ids, the console's are "private-…")."""
    if chat.setting(PRIVATE_SETTING, False):
        return True
    native = chat.key.split(":", 1)[1] if ":" in chat.key else chat.key
    return (chat.platform == "telegram" and native.isdigit()) or (
        chat.platform == "console" and native.startswith("private-"))


def state_of(services: Services) -> DigestState | None:
    return services.extensions.get("digest")


def _buffer(services: Services) -> ActivityBuffer | None:
    state = state_of(services)
    return state.activity if state else None


async def on_event(ctx: Context) -> None:
    state = state_of(ctx.services)
    if state is None:
        return
    if ctx.event.is_private and ctx.chat_key not in state.private:  # once per private chat and start
        state.private.add(ctx.chat_key)
        await _mark_private(ctx)
    buffer = state.activity
    now = ctx.now()
    if buffer.note(ctx.chat_key, ctx.sender_key, ctx.event.kind == "message", now):
        await buffer.flush(ctx.services)


async def _mark_private(ctx: Context) -> None:
    try:
        async with ctx.db.transaction() as session:
            chat = await ensure_chat(session, ctx.chat_key, ctx.event.platform, ctx.event.chat_title, ctx.now())
            if not chat.setting(PRIVATE_SETTING, False):
                await set_chat_setting(session, chat, PRIVATE_SETTING, True)
    except Exception:  # the id tells most platforms' private chats apart anyway
        log.warning("could not mark %s as a private chat", ctx.chat_key, exc_info=True)
        ctx.services.extensions["digest"].private.discard(ctx.chat_key)


async def flush_activity(services: Services) -> None:
    buffer = _buffer(services)
    if buffer is not None:
        await buffer.flush(services)


async def activity_digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    await flush_activity(services)
    week = store.week_of(start)
    async with services.db.session() as session:
        messages, people = await store.activity(session, chat_key, week)
        chat = await session.get(Chat, chat_key)
        area = chat.area if chat is not None else None
        if area and people:  # a person linked across platforms (storage/links.py) counts once in the area
            earlier = [c for c in await store.chats_in_area(session, area) if c < chat_key]
            twice = await links.counted_before(session, chat_key, earlier, week)
    if not messages and not people:
        return None
    counts = {"messages": messages, "people": people}
    if area and people:
        counts["area_people"] = people - twice
    return {"counts": counts}


def render_activity(data: dict) -> list[str]:
    counts = data.get("counts", {})
    return ["📊 " + esc(_("Activity: messages to the bot {messages}, active people {people}").format(
        messages=format_number(counts.get("messages", 0)), people=format_number(counts.get("people", 0))))]

