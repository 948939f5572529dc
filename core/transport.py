"""The neutral transport interface every platform adapter implements."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.events import FileOut, Incoming, PollOutcome, PollSpec, Reply, Role

#: handle an event; False when its handling was cut short (do not mark it finished)
Dispatch = Callable[["Transport", Incoming], Awaitable[bool | None]]


class TransportError(Exception):
    """A platform call failed. Transports raise these subclasses so that features and the
    outbox know what happened without knowing the platform."""

    #: True when the platform certainly did not act on the request (safe to try again)
    retryable = False


class MessageGone(TransportError):
    """The message or chat does not exist (any more)."""


class Forbidden(TransportError):
    """The bot may not do this here (not a member, blocked by the person, no rights)."""


class RateLimited(TransportError):
    """The platform refused the request for now; nothing was done."""

    retryable = True

    def __init__(self, message: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(TransportError):
    """The platform could not be reached (connection refused, not connected yet): nothing was sent."""

    retryable = True


class Ambiguous(TransportError):
    """The request may or may not have taken effect (a timeout, a 5xx after sending): not to be
    repeated blindly on a platform without idempotency keys."""


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do, declared by its transport (``Transport.capabilities``): features
    ask this instead of probing the transport for attributes. The defaults are the least a
    transport does (messages, edits of its own messages, files, buttons)."""

    #: ``send_poll`` starts a poll people vote in on the platform (Kind.POLL_VOTE events); without
    #: it (or outside the platform's limits) ``send_poll`` returns None and the feature renders buttons
    native_polls: bool = False
    #: the platform shows a voter their own native vote; where it shows none (the console), a
    #: feature confirms the vote with ``acknowledge``
    shows_own_vote: bool = True
    #: people's reactions arrive as Kind.REACTION events
    reactions: bool = False
    #: people's edits of their messages arrive as Kind.EDIT events
    edits: bool = False
    #: events carry ``Incoming.thread_id`` and sends honour ``Reply.thread_id`` (also FileOut,
    #: PollSpec): Telegram forum topics, Matrix threads
    threads: bool = False
    #: ``open_topic(chat_id, title) -> str | None`` opens a named thread before its first message
    #: (a Telegram forum topic; None where the chat has no topics). Without it, but with
    #: ``threads``, any message can start a thread: its id is the thread's (Matrix)
    topics: bool = False
    #: ``reactions_arrive(chat_id) -> bool``: whether people's reactions in the chat reach the bot
    #: (Telegram sends them only to admin bots)
    reactions_check: bool = False
    #: ``send_file`` delivers a file (an image, a .ics, a CSV)
    files: bool = True
    #: the most buttons one message can carry (None: as many as a feature sends; Matrix: one
    #: reaction key each, ten)
    max_buttons: int | None = None
    #: ``member_count(chat_id) -> int | None`` tells how many members a chat has, the bot included
    member_count: bool = False
    #: the transport keeps data of its own under chat ids (Telegram: native poll -> chat) and moves
    #: it in ``chat_moved(old, new)`` once the store moved a chat to its new id (Kind.CHAT_MOVED)
    keeps_chat_data: bool = False


@runtime_checkable
class Transport(Protocol):
    platform: str
    #: how commands are written here, the first one is shown in help texts
    command_prefixes: tuple[str, ...]
    #: the bot's own user name (for /cmd@name on Telegram, mentions on Matrix)
    bot_username: str
    #: what the platform can do; the optional methods (member_count, chat_moved) are there
    #: when it says so
    capabilities: Capabilities
    #: set while connected to the platform (cleared while it cannot be reached and at the stop);
    #: scheduled work for the platform waits for it, /readyz reports it. A transport that is
    #: always connected (the console, the tests' fake) has one that is always set.
    ready: asyncio.Event
    # Optional attributes of the app's own machinery (bot/app.py, bot/scheduler.py, bot/outbox.py):
    #   idempotent_sends: bool — a repeated send with the same Reply.key is dropped by the platform
    #   records_deliveries: bool — the transport writes the delivery log itself (bot/outbox.py)
    #   consumer: str | None — the name of what only one process may run at a time for this
    #     account (Telegram long polling, the Matrix sync loop); several processes on one store
    #     start the transport in the one that holds its lock (bot/leader.py). None: any process.

    async def start(self, dispatch: Dispatch) -> None:
        """Connect and deliver every incoming event to ``dispatch`` until stopped."""

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Send a message; return its platform message id."""

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None: ...

    async def send_file(self, chat_id: str, file: FileOut) -> str | None: ...

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        """Start a native poll and return its reference, or None when the platform
        has no native polls (the feature then renders buttons)."""

    async def close_poll(self, chat_id: str, poll_ref: str, outcome: PollOutcome) -> None: ...

    async def acknowledge(self, event: Incoming, text: str) -> None:
        """Answer a button press briefly (Telegram: a toast; elsewhere: a short notice)."""

    async def private_chat(self, user_id: str) -> str | None:
        """The chat id of a private (direct) chat with this person, opening one if the platform
        allows it; None when the bot may not write to them first (Telegram before /start)."""

    async def role_of(self, chat_id: str, user_id: str) -> Role:
        """The person's role in the chat as the platform knows it (admin or member)."""


def always_ready() -> asyncio.Event:
    """``Transport.ready`` of a transport that is connected from the start."""
    event = asyncio.Event()
    event.set()
    return event


class TransactionRuleError(RuntimeError):
    """A platform call inside an open store transaction (see ``Database.in_transaction``)."""
