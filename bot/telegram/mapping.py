"""Between Telegram and the neutral types: an update → its :class:`core.events.Incoming` events
(each with its event key), with the store lookups that needs (a native poll's chat), and chat ids
→ Telegram's (a group that became a supergroup keeps its data under the new id).

A part of :class:`bot.telegram.transport.TelegramTransport`, whose ``__init__`` makes the state
used here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Message, ReactionTypeEmoji, Update
from telegram.constants import ChatType
from telegram.error import ChatMigrated

from core.events import Incoming, Kind
from storage import telegram as store

log = logging.getLogger("bot.telegram")

PLATFORM = "telegram"


def native_id(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id  # "@channelname"



def thread_of(msg: Message | None) -> str | None:
    """The forum topic a message is in (``message_thread_id`` of a topic message); None in the
    General topic and outside forums (where message_thread_id names a reply chain, no topic)."""
    if msg is None or not getattr(msg, "is_topic_message", False) or not msg.message_thread_id:
        return None
    return str(msg.message_thread_id)


class Mapping:
    """Updates as neutral events; chat ids as Telegram's."""

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

    def _named(self, msg: Message) -> tuple[tuple[str, str], ...]:
        """The people a message names: the sender of the message it replies to, and mentions of
        people without a username (text_mention: Telegram gives their user). An @username is not
        resolved: the Bot API has no lookup for it."""
        users = []
        reply_to = msg.reply_to_message
        if reply_to is not None and reply_to.from_user is not None:
            users.append(reply_to.from_user)
        users += [e.user for e in (msg.entities or msg.caption_entities or ()) if e.type == "text_mention" and e.user]
        seen: dict[str, str] = {}
        for user in users:
            if not user.is_bot:
                seen.setdefault(str(user.id), user.full_name or "")
        return tuple(seen.items())

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
        return native_id(self._moved.get(chat_id, chat_id))

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
            if reply_to is not None and reply_to.forum_topic_created is not None:
                reply_to = None  # a message in a topic answers the topic's first one: no reply
            mentions = bool(self.bot_username) and f"@{self.bot_username.lower()}" in text.lower()
            if reply_to is not None and reply_to.from_user is not None and reply_to.from_user.id == self.bot.id:
                mentions = True
            event = Incoming(
                **self._base(msg.chat, msg.from_user), text=text, message_id=str(msg.message_id), named=self._named(msg),
                reply_to_id=str(reply_to.message_id) if reply_to is not None else None,
                mentions_bot=mentions, thread_id=thread_of(msg), raw=msg,
            )
            return [(f"m:{msg.chat.id}:{msg.message_id}", event)]
        if update.edited_message is not None:
            msg = update.edited_message
            text = msg.text or msg.caption or ""
            if not text or msg.from_user is None or msg.from_user.is_bot:
                return []
            event = Incoming(**self._base(msg.chat, msg.from_user), kind=Kind.EDIT, text=text,
                             target_id=str(msg.message_id), thread_id=thread_of(msg), raw=msg)
            return [(f"e:{update.update_id}", event)]
        if update.callback_query is not None:
            cq = update.callback_query
            if cq.message is None or cq.data is None:
                await self._safe_answer(cq.id, None)
                return []
            event = Incoming(
                **self._base(cq.message.chat, cq.from_user), kind=Kind.BUTTON, button_data=cq.data,
                target_id=str(cq.message.message_id), thread_id=thread_of(cq.message), raw=cq,
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
