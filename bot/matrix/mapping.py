"""Between Matrix and the neutral types: a room event → its :class:`core.events.Incoming`
(messages, edits, reactions as button presses, redactions, MSC3381 poll votes, room upgrades).

A part of :class:`bot.matrix.transport.MatrixTransport`, whose ``__init__`` makes the state used here."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any

from nio import (
    JoinError,
    MegolmEvent,
    ReactionEvent,
    RedactionEvent,
    RoomMessageText,
    RoomUpgradeEvent,
    UnknownEvent,
)

from core.events import Incoming, Kind
from storage import matrix as store
from storage.core import DONE, REPLAY, finish_events

log = logging.getLogger("bot.matrix")

PLATFORM = "matrix"
#: reaction keys offered for buttons, in order (Element shows them under the message)
BUTTON_KEYS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
POLL_START = ("m.poll.start", "org.matrix.msc3381.poll.start")
POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")
POLL_END = ("m.poll.end", "org.matrix.msc3381.poll.end")
_REPLY_FALLBACK = re.compile(r"^(> .*\n)+\n", re.M)


def poll_selections(content: dict) -> list[str] | None:
    """Answer ids of a poll response in either the stable or the unstable form."""
    if isinstance(content.get("m.selections"), list):
        return content["m.selections"]
    unstable = content.get("org.matrix.msc3381.poll.response")
    if isinstance(unstable, dict) and isinstance(unstable.get("answers"), list):
        return unstable["answers"]
    return None


def count_choices(answer_ids: list[str], max_selections: int, selections: list[Any] | None) -> tuple[int, ...]:
    """Option indexes of one response by the spec's rules: an unknown answer spoils the vote
    (empty), only the first ``max_selections`` count, duplicates once."""
    if not selections or any(s not in answer_ids for s in selections):
        return ()
    chosen: list[int] = []
    for s in selections[:max_selections]:
        index = answer_ids.index(s)
        if index not in chosen:
            chosen.append(index)
    return tuple(chosen)



def strip_mention(body: str, names: list[str]) -> str | None:
    """The text after a leading mention of the bot ("kehrabot: idea x"), or None."""
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if body[: len(name)].casefold() == name.casefold():
            rest = body[len(name):]
            if not rest or rest[0] in ":, \t\n":
                return rest.lstrip(":, \t\n")
    return None



class Mapping:
    """Room events as neutral events (with the store lookups that needs)."""

    # -- incoming -----------------------------------------------------------------------------

    def _base(self, room_id: str, sender: str) -> dict:
        room = self.client.rooms.get(room_id) if self.client else None
        return {
            "platform": PLATFORM,
            "chat_id": room_id,
            "sender_id": sender,
            "sender_name": room.user_name(sender) or sender if room else sender,
            "chat_title": room.display_name if room else "",
            "is_private": self._is_private(room_id),
        }

    def _is_private(self, room_id: str) -> bool:
        if room_id in self._direct.values():
            return True
        room = self.client.rooms.get(room_id) if self.client else None
        if room is None:
            return False
        return room.member_count <= 2 and not room.name and not room.canonical_alias

    async def _handle(self, room_id: str, event: Any) -> None:
        assert self._dispatch is not None
        if isinstance(event, MegolmEvent):
            log.warning("matrix: could not decrypt %s in %s (session %s)", event.event_id, room_id, event.session_id)
            return
        if isinstance(event, RoomMessageText):
            incoming = self._message(room_id, event)
        elif isinstance(event, ReactionEvent):
            incoming = await self._reaction(room_id, event)
        elif isinstance(event, RedactionEvent):
            incoming = await self._redaction(room_id, event)
        elif isinstance(event, UnknownEvent):
            incoming = await self._poll_event(room_id, event)
        elif isinstance(event, RoomUpgradeEvent):
            incoming = await self._upgraded(room_id, event)
        else:
            return
        if incoming is None:
            return
        state = await self._claim(event.event_id)
        if state == DONE:
            return
        if await self._dispatch(self, replace(incoming, event_key=event.event_id, replay=state == REPLAY)) is False:
            return  # cut short by the stop: handled again at the next start
        if isinstance(event, RedactionEvent):  # kept until handled: a replayed removal still finds it
            async with self.services.db.transaction() as s:
                await store.forget_reaction(s, event.redacts)
        await self.services.db.write_soon(finish_events, (PLATFORM, event.event_id, self.services.clock.now()))

    def _message(self, room_id: str, event: RoomMessageText) -> Incoming | None:
        content = event.source.get("content", {})
        relates = content.get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":  # an edit of an earlier message
            new = content.get("m.new_content") or {}
            text = new.get("body") if isinstance(new.get("body"), str) else None
            if not text or not relates.get("event_id"):
                return None
            return Incoming(**self._base(room_id, event.sender), kind=Kind.EDIT, text=text,
                            target_id=relates["event_id"], message_id=event.event_id, raw=event.source)
        body = event.body or ""
        reply_to = (relates.get("m.in_reply_to") or {}).get("event_id")
        thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        if thread and relates.get("is_falling_back"):
            reply_to = None  # the thread's fallback for older clients, no reply of the person's
        if reply_to:
            body = _REPLY_FALLBACK.sub("", body, count=1)
        mentions = (content.get("m.mentions") or {}).get("user_ids") or []
        room = self.client.rooms.get(room_id) if self.client else None
        own = self.bot_username
        names = [own, own.split(":")[0].lstrip("@"), room.user_name(own) if room else ""]
        rest = strip_mention(body, names)
        mentioned = own in mentions or rest is not None
        if rest is not None:
            body = rest if rest.startswith(self.command_prefixes) else self.command_prefixes[0] + rest
        named = tuple((user, (room.user_name(user) if room else None) or user)
                      for user in dict.fromkeys(m for m in mentions if isinstance(m, str) and m != own))
        return Incoming(**self._base(room_id, event.sender), text=body, message_id=event.event_id,
                        reply_to_id=reply_to, mentions_bot=mentioned, named=named,
                        thread_id=thread if isinstance(thread, str) else None, raw=event.source)

    async def _upgraded(self, room_id: str, event: RoomUpgradeEvent) -> Incoming | None:
        """The room was upgraded (tombstone): follow it to the new room and move the chat there.
        If the new room needs an invitation, joining waits for it; the data moves now."""
        new = event.replacement_room
        if not new or new == room_id:
            return None
        assert self.client is not None
        resp = await self.client.join(new)
        if isinstance(resp, JoinError):
            log.info("matrix: %s was replaced by %s, which I may join once invited: %s", room_id, new, resp)
        else:
            log.info("matrix: %s was replaced by %s; joined it", room_id, new)
        return Incoming(**self._base(room_id, event.sender), kind=Kind.CHAT_MOVED, target_id=new)

    async def _reaction(self, room_id: str, event: ReactionEvent) -> Incoming | None:
        async with self.services.db.transaction() as s:
            buttons = await store.buttons_of(s, event.reacts_to)
            data = buttons.get(event.key)
            if data is None:
                await store.remember_reaction(s, event.event_id, room_id, event.sender, event.key, event.reacts_to,
                                              self.services.clock.now())
        if data is not None:  # a button pressed: answered in the thread the button's message is in
            return Incoming(**self._base(room_id, event.sender), kind=Kind.BUTTON, button_data=data,
                            target_id=event.reacts_to, message_id=event.event_id,
                            thread_id=await self._thread_of(room_id, event.reacts_to), raw=event.source)
        return Incoming(**self._base(room_id, event.sender), kind=Kind.REACTION, reaction=event.key,
                        target_id=event.reacts_to, message_id=event.event_id, raw=event.source)

    async def _thread_of(self, room_id: str, event_id: str) -> str | None:
        """The thread an event is in (its ``m.thread`` relation), None on the main timeline or
        when the homeserver cannot say."""
        if self.client is None:
            return None
        try:
            resp = await self.client.room_get_event(room_id, event_id)
        except Exception:
            log.debug("matrix: could not read %s", event_id, exc_info=True)
            return None
        source = getattr(getattr(resp, "event", None), "source", None) or {}
        relates = (source.get("content") or {}).get("m.relates_to") or {}
        root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        return root if isinstance(root, str) else None

    async def _redaction(self, room_id: str, event: RedactionEvent) -> Incoming | None:
        async with self.services.db.transaction() as s:
            row = await store.reaction_of(s, event.redacts)
            if row is not None and row.sender != event.sender:
                await store.forget_reaction(s, event.redacts)
                row = None  # a moderator's clean-up
        if row is None:
            return None  # not a tracked reaction (or one whose removal was handled)
        return Incoming(**self._base(room_id, row.sender), kind=Kind.REACTION, reaction=row.key,
                        reaction_removed=True, target_id=row.target_id, message_id=event.event_id,
                        raw=event.source)

    async def _poll_event(self, room_id: str, event: UnknownEvent) -> Incoming | None:
        if event.type not in POLL_RESPONSE:
            return None
        content = event.source.get("content", {})
        start_id = (content.get("m.relates_to") or {}).get("event_id")
        if not start_id:
            return None
        ts = int(event.source.get("origin_server_ts") or 0)
        async with self.services.db.transaction() as s:
            poll = await store.get_poll(s, start_id)
            if poll is None or poll.room_id != room_id:
                return None
            if poll.ended_at is not None and ts >= int(poll.ended_at.timestamp() * 1000):
                return None  # after the end event
            if not await store.newer_vote(s, start_id, event.sender, ts):
                return None
        choices = count_choices(json.loads(poll.answer_ids), poll.max_selections, poll_selections(content))
        return Incoming(**self._base(room_id, event.sender), kind=Kind.POLL_VOTE, poll_ref=start_id,
                        poll_choices=choices, message_id=event.event_id, raw=event.source)

