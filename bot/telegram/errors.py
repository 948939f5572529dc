"""python-telegram-bot's errors as the neutral errors of core/transport.py.

"message to edit not found", "chat not found" … → MessageGone; 403 → Forbidden; 429 after the
retries → RateLimited; no connection → Unavailable; a timeout or 5xx of a sending method →
Ambiguous; any other 400 → :class:`Refused` (a TransportError that is also python-telegram-bot's
BadRequest). Which methods count as sending, and what certainly never left, is decided here too:
the flood limiter (limits.py) retries only those.
"""

from __future__ import annotations

import contextlib
import datetime as dtm
from collections.abc import Iterator

import httpx
from telegram import error as tg_error
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from core.transport import Ambiguous, Forbidden, MessageGone, RateLimited, TransportError, Unavailable

#: methods whose repetition could show twice: a timeout or 5xx is never retried
_SENDING_PREFIXES = ("send", "edit", "stop", "copy", "forward")
#: BadRequest texts that mean the message or chat is not there (any more)
_GONE = ("message to edit not found", "message to delete not found", "message to forward not found",
         "message to copy not found", "message with poll to stop not found", "message not found",
         "chat not found", "message_id_invalid")


def retry_seconds(exc: RetryAfter) -> float:
    value = exc._retry_after  # a timedelta in PTB 22 (the public property warns)
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def is_sending(endpoint: str) -> bool:
    """A method whose repetition could be seen twice (a message posted, changed, answered)."""
    return endpoint.startswith(_SENDING_PREFIXES) or endpoint == "answerCallbackQuery"


def not_sent(exc: BaseException) -> bool:
    """The request certainly never reached Telegram: the connection could not be made."""
    return isinstance(exc.__cause__, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


class Refused(TransportError, BadRequest):
    """Telegram refused the request (a 400 other than a missing message or chat): nothing was
    done. A neutral TransportError that is also python-telegram-bot's BadRequest."""


def neutral(exc: TelegramError, *, sending: bool) -> TransportError:
    """The core/transport.py error for a python-telegram-bot one (see the module docstring)."""
    text = str(exc)
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, RetryAfter):
        return RateLimited(text, retry_seconds(exc))
    if isinstance(exc, tg_error.Forbidden):
        return Forbidden(text)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is one
        if any(gone in text.lower() for gone in _GONE):
            return MessageGone(text)
        return Refused(text)
    if isinstance(exc, NetworkError):  # timeouts, 5xx, connections
        if not sending or not_sent(exc):
            return Unavailable(text)
        return Ambiguous(text)
    return TransportError(text)  # InvalidToken, Conflict, ChatMigrated outside a send …


@contextlib.contextmanager
def neutral_errors(*, sending: bool) -> Iterator[None]:
    try:
        yield
    except TelegramError as exc:
        if isinstance(exc, TransportError):
            raise
        raise neutral(exc, sending=sending) from exc

