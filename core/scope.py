"""The send scope: the messages sent while handling one event or running one job get keys
``<prefix>@<chat>#n`` from it (bot/outbox.py keeps what each key's send came to). A ContextVar,
so it follows the task and the tasks it starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class SendScope:
    prefix: str  # "": no keys (a scope for the thread alone)
    replay: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    #: (chat key, thread id) of the event handled: what is sent to that chat without a thread of
    #: its own goes to that thread (bot/outbox.py)
    thread: tuple[str, str] | None = None

    def next_key(self, chat_key: str) -> str:
        """``<prefix>@<chat>#n``: the n-th message to that chat. A handler run again that sends
        to other chats than the first time keeps its keys apart; one that sends several messages
        about different things to one chat should name them itself (``Reply(key=…)``)."""
        n = self.counts[chat_key] = self.counts.get(chat_key, 0) + 1
        return f"{self.prefix}@{chat_key}#{n}"


_scope: ContextVar[SendScope | None] = ContextVar("kehrabot_send_scope", default=None)


@contextmanager
def send_scope(prefix: str | None, *, replay: bool = False,
               thread: tuple[str, str] | None = None) -> Iterator[SendScope | None]:
    """Key the sends made inside (in this task and the tasks it starts) by ``prefix``; with
    ``thread`` (chat key, thread id) sends to that chat go to that thread unless they name one."""
    scope = SendScope((prefix or "")[:200], replay, thread=thread) if prefix or thread else None
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> SendScope | None:
    return _scope.get()
