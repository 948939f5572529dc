"""Outgoing, never twice: sends, edits, files, native polls, button answers and roles.

Telegram has no idempotency keys. A keyed send (``Reply.key``, ``FileOut.key``, ``PollSpec.key``;
the parts of a long message ``<key>.1``, ``<key>.2`` …) is marked ``sending`` in the delivery log
once the flood limiter (limits.py) has granted its slot, right before the request leaves (a hook
the limiter runs, passed as ``rate_limit_args``). A key found in the log before is not sent again
(its message id is returned when it was ``sent``, None otherwise). The outcome is recorded after
the answer: ``sent`` with the message id (for a poll: the poll id); ``failed`` when Telegram
certainly did not act (a 4xx, a 429, no connection); ``unknown`` when it may have (a timeout, a
5xx, a connection lost after the request was written).

A part of :class:`bot.telegram.transport.TelegramTransport`, whose ``__init__`` makes the state
used here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import TelegramError

from bot.outbox import earlier_result
from bot.telegram.errors import Refused, neutral_errors
from bot.telegram.limits import NotSent, SendHook
from bot.telegram.mapping import PLATFORM, native_id
from core.events import FileOut, Incoming, PollOutcome, PollSpec, Reply, Role
from core.markup import split
from core.transport import MessageGone
from storage import outbox as delivery_log
from storage import telegram as store

log = logging.getLogger("bot.telegram")

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024


class Sending:
    """Everything that posts or asks something, under the delivery-log rule."""

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
            with neutral_errors(sending=True):
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
            with neutral_errors(sending=True):
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

    @staticmethod
    def _thread(item: Reply | FileOut | PollSpec) -> int | None:
        """The forum topic to post in (``message_thread_id``), if any."""
        return int(item.thread_id) if item.thread_id and item.thread_id.isdecimal() else None

    async def _in_topic(self, chat_id: str, item: Any, post: Callable[[str, Any], Awaitable[str | None]]) -> str | None:
        """``post(chat_id, item)``; if its forum topic is gone ("message thread not found": nothing
        was sent), again to the chat itself."""
        try:
            return await post(chat_id, item)
        except Refused as exc:
            if item.thread_id is None or "thread not found" not in str(exc).lower():
                raise
            log.info("Telegram topic %s of %s is gone; sending to the chat", item.thread_id, chat_id)
            return await post(chat_id, replace(item, thread_id=None))

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        return await self._in_topic(chat_id, reply, self._send)

    async def _send(self, chat_id: str, reply: Reply) -> str | None:
        bot = await self._ready()
        thread = self._thread(reply)
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
                    message_thread_id=thread, rate_limit_args=hook,
                ))

            message_id = await self._deliver(key, chat_id, request, self._message_id)
        return message_id

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        bot = await self._ready()
        html = split(reply.html, MESSAGE_LIMIT)[0]
        try:
            with neutral_errors(sending=True):
                await bot.edit_message_text(
                    html, chat_id=self._native(chat_id), message_id=int(message_id), parse_mode=ParseMode.HTML,
                    reply_markup=self._keyboard(reply), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except Refused as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        return await self._in_topic(chat_id, file, self._send_file)

    async def _send_file(self, chat_id: str, file: FileOut) -> str | None:
        bot = await self._ready()
        caption = file.caption_html if len(file.caption_html) <= CAPTION_LIMIT else ""
        upload = InputFile(file.data, filename=file.filename)
        send = bot.send_photo if file.is_image else bot.send_document

        def request(hook: SendHook) -> Coroutine[Any, Any, Message]:
            return self._to_chat(chat_id, lambda native: send(native, upload, caption=caption or None,
                                                              parse_mode=ParseMode.HTML,
                                                              message_thread_id=self._thread(file),
                                                              rate_limit_args=hook))

        message_id = await self._deliver(file.key, chat_id, request, self._message_id)
        if file.caption_html and not caption:  # too long for a caption: send it as a message
            await self.send(chat_id, Reply(html=file.caption_html, thread_id=file.thread_id,
                                           key=f"{file.key}.caption" if file.key else None))
        return message_id

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        """Start a native poll. The returned reference is Telegram's poll id, which is what
        poll_answer updates carry; the poll id → (chat, message) mapping is stored (before the
        send is recorded as delivered, under the poll id)."""
        return await self._in_topic(chat_id, poll, self._send_poll)

    async def _send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        if not 2 <= len(poll.options) <= 12 or len(poll.question) > 300 or any(
                not 1 <= len(o) <= 100 for o in poll.options):
            return None  # outside Telegram's limits: the feature renders buttons instead
        bot = await self._ready()

        def request(hook: SendHook) -> Coroutine[Any, Any, Message]:
            return self._to_chat(chat_id, lambda native: bot.send_poll(
                native, poll.question, list(poll.options), is_anonymous=poll.anonymous,
                allows_multiple_answers=poll.multiple or poll.max_choices > 1,
                hide_results_until_closes=True if poll.hide_results else None,
                message_thread_id=self._thread(poll), rate_limit_args=hook,
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
            with neutral_errors(sending=True):
                await bot.stop_poll(native_id(row.chat_id), int(row.message_id))
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

    async def open_topic(self, chat_id: str, title: str) -> str | None:
        """A new forum topic (createForumTopic, the bot needs the can_manage_topics right);
        None when the chat is no forum. Its id is the message_thread_id to send to."""
        if not chat_id.startswith("-"):
            return None
        bot = await self._ready()
        try:
            with neutral_errors(sending=True):
                topic = await self._to_chat(chat_id, lambda native: bot.create_forum_topic(native, title[:128]))
        except Refused as exc:
            if "not a forum" in str(exc).lower():
                return None
            raise
        return str(topic.message_thread_id)

    async def reactions_arrive(self, chat_id: str) -> bool:
        """Telegram sends message_reaction updates of a group only to a bot that is its admin
        (and asks for them in allowed_updates, inbox.py)."""
        if not chat_id.startswith("-"):
            return True
        bot = await self._ready()
        with neutral_errors(sending=False):
            member = await bot.get_chat_member(self._native(chat_id), bot.id)
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

    async def private_chat(self, user_id: str) -> str | None:
        """In Telegram a private chat's id is the user's id; the bot may write there only after
        the person has sent /start to it (sends before that fail with 403 Forbidden)."""
        return user_id

    async def member_count(self, chat_id: str) -> int | None:
        """Members of the chat, the bot included (used by polls for turnout)."""
        bot = await self._ready()
        with neutral_errors(sending=False):
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
                    with neutral_errors(sending=False):
                        members = await bot.get_chat_administrators(self._native(chat_id))
                    ids = frozenset(str(m.user.id) for m in members
                                    if m.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR))
                    cached = (time.monotonic(), ids)
                    self._admins[chat_id] = cached
        return Role.ADMIN if user_id in cached[1] else Role.MEMBER
