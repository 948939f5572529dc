"""Platform-neutral event and message types shared by transports and handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Kind(StrEnum):
    MESSAGE = "message"
    BUTTON = "button"
    REACTION = "reaction"
    POLL_VOTE = "poll_vote"
    # a person edited a message of theirs: text is the new text, target_id the message
    EDIT = "edit"
    # the platform gave the chat a new id (a Telegram group upgraded to a supergroup): target_id
    CHAT_MOVED = "chat_moved"


class Role(IntEnum):
    """Each role is everything the one before it is (what each may do: handlers/permissions.py)."""

    MEMBER = 0
    ADMIN = 1  # a chat's admin, as the platform says
    COORDINATOR = 2  # configured: coordinators
    OPERATOR = 3  # configured: operators


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a person did in a chat, as every feature sees it."""

    platform: str
    chat_id: str
    sender_id: str
    text: str = ""
    kind: Kind = Kind.MESSAGE
    sender_name: str = ""
    chat_title: str = ""
    is_private: bool = False
    language_hint: str | None = None
    message_id: str | None = None
    reply_to_id: str | None = None
    # BUTTON: the data of the pressed button; target_id is the message that carried it.
    button_data: str | None = None
    # REACTION: key such as "👍"; target_id is the message reacted to.
    reaction: str | None = None
    reaction_removed: bool = False
    target_id: str | None = None
    # POLL_VOTE: platform poll reference and the chosen option indexes (empty = vote retracted).
    poll_ref: str | None = None
    poll_choices: tuple[int, ...] = ()
    mentions_bot: bool = False
    #: people the message names, as the platform resolved them: (user id, name) of the sender of
    #: the message it replies to and of mentions (Telegram: a reply, a mention of someone without a
    #: username; Matrix: m.mentions). The bot itself is left out.
    named: tuple[tuple[str, str], ...] = ()
    #: the thread the event happened in (a Telegram forum topic's message_thread_id, a Matrix
    #: thread's root event id); None: the chat's main timeline. Replies go back there.
    thread_id: str | None = None
    #: the transport's idempotency key of the event ("m:<chat>:<message>"); replies to it are
    #: keyed by it, so handling it again after a crash answers once
    event_key: str | None = None
    #: True when the event was seen before but its handling never finished (a restart)
    replay: bool = False
    raw: Any = field(default=None, compare=False, repr=False)

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"

    @property
    def sender_key(self) -> str:
        return f"{self.platform}:{self.sender_id}"


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # at most 64 bytes (Telegram's callback_data limit)


@dataclass(frozen=True, slots=True)
class Reply:
    """An outgoing message. ``html`` uses the safe subset in :mod:`core.markup`;
    newlines are line breaks. All user text in it must be escaped."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to_id: str | None = None
    notice: bool = True
    #: idempotency key (see storage/outbox.py): a transport sends one key once; Matrix uses it
    #: as the transaction id, so the homeserver drops a repeated request too
    key: str | None = None
    #: post it in this thread (Incoming.thread_id); None: the main timeline, or the thread of the
    #: event being handled when sent to its chat (bot/outbox.py, core/scope.py)
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class FileOut:
    filename: str
    data: bytes
    mime: str
    caption_html: str = ""
    is_image: bool = False
    key: str | None = None  # idempotency key, as Reply.key
    thread_id: str | None = None  # as Reply.thread_id


@dataclass(frozen=True, slots=True)
class PollSpec:
    question: str
    options: tuple[str, ...]
    multiple: bool = False
    max_choices: int = 1
    anonymous: bool = False
    hide_results: bool = False
    close_at: datetime | None = None
    key: str | None = None  # idempotency key, as Reply.key
    thread_id: str | None = None  # as Reply.thread_id


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """Final counts the transport shows when it ends a native poll."""

    options: tuple[str, ...]
    counts: tuple[int, ...]
    winners: tuple[int, ...]
