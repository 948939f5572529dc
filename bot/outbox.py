"""Sends that happen once: every message sent while handling an event or running a job gets an
idempotency key, and its outcome is kept in the delivery log (``storage/outbox.py``).

The keys come from a *send scope* (a ContextVar) that the router opens per event and the
scheduler per job run: ``<event key>@<chat>#1``, ``#2``… in the order the handler sends to that
chat (a feature may name a message's key itself, ``Reply(key=…)``, where what it sends depends on
the state: one reminder per person). A handler run
again (an update whose handling never finished, a job whose lease ran out) sends the same
messages under the same keys, and the log says which of them already went out.

The rule per platform (``transport.idempotent_sends``):
- Matrix: the key is the transaction id, so the homeserver itself drops a repeated request;
  the send is recorded after it succeeded, and repeated freely.
- Telegram and others, with no idempotency key: a committed ``sending`` row is written right
  before the request leaves; a key found ``sent`` is not sent again (its message id is
  returned), and one found ``sending`` or ``unknown`` (the bot died during the request, or the
  request timed out) is not repeated blindly: it is logged and skipped. Only a send that
  certainly did not arrive (``failed``: refused, rate limited, connection refused) is retried.

A transport that records outcomes itself at the moment the request leaves (Telegram waits for
its flood limits first) says so with ``records_deliveries = True``; for the others the
:class:`Delivering` wrapper records around the call.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from core.events import FileOut, PollSpec, Reply
from core.scope import current_scope, send_scope
from core.transport import Ambiguous, TransactionRuleError, Transport, TransportError
from storage import outbox as log_store

if TYPE_CHECKING:
    from bot.metrics import Metrics

__all__ = ["Delivering", "Outbox", "TransactionRuleError", "earlier_result", "send_scope"]

log = logging.getLogger(__name__)


class Outbox:
    """The delivery log as transports use it."""

    def __init__(self, db: Any, clock: Any) -> None:
        self.db = db
        self.clock = clock

    async def begin(self, key: str, chat_key: str) -> log_store.Outcome | None:
        """Mark ``key`` as leaving now, committed before the request; None to go ahead, else the
        earlier outcome (do not send). The mark guards against a crash of the bot, which a
        PostgreSQL commit that does not wait for the disk survives (``durable=False``)."""
        try:
            return await self.db.write(log_store.begin_sends, (key, chat_key, self.clock.now()), durable=False)
        except IntegrityError:  # another sender of the same key (PostgreSQL) was a moment faster
            return await self.earlier(key) or log_store.Outcome(log_store.SENDING, None)

    async def end(self, key: str, chat_key: str, state: str, message_id: str | None = None,
                  error: str | None = None) -> None:
        """Record the outcome (committed a moment later; a crash before that reads as unknown)."""
        await self.db.write_soon(log_store.end_sends, (key, chat_key, state, message_id, self.clock.now(), error))

    async def failed(self, key: str, chat_key: str, err: BaseException) -> None:
        """Record a send that raised: ``failed`` where the platform certainly did not act on it
        (a TransportError other than Ambiguous), ``unknown`` otherwise (it may have left)."""
        certain = isinstance(err, TransportError) and not isinstance(err, Ambiguous)
        await self.end(key, chat_key, log_store.FAILED if certain else log_store.UNKNOWN,
                       error=f"{type(err).__name__}: {err}"[:500])

    async def earlier(self, key: str) -> log_store.Outcome | None:
        async with self.db.session() as session:
            return await log_store.outcome(session, key)

    async def recorded(self, key: str | None, chat_key: str, send: Any, *, idempotent: bool) -> Any:
        """Run ``send()`` under ``key`` with the rule above; returns its message id (the earlier
        one when the key was delivered before, None when its fate is unknown)."""
        if key is None:
            return await send()
        if not idempotent:
            earlier = await self.begin(key, chat_key)
            if earlier is not None:
                return earlier_result(key, earlier)
        try:
            result = await send()
        except BaseException as err:  # a cancellation or a bug too: the request may have left
            await self.failed(key, chat_key, err)
            raise
        await self.end(key, chat_key, log_store.SENT, _message_id(result))
        return result


def _message_id(result: Any) -> str | None:
    return result if isinstance(result, str) or result is None else str(result)


def earlier_result(key: str, earlier: log_store.Outcome) -> str | None:
    """What a send found in the log returns instead of sending: the message id if it was sent."""
    if earlier.state == log_store.SENT:
        log.info("%s was delivered before; not sent again", key)
        return earlier.message_id
    log.warning("%s may have been delivered before (%s); not sent again", key, earlier.state)
    return None


#: the transport methods that talk to the platform (checked against open transactions)
PLATFORM_CALLS = frozenset({"send", "send_file", "send_poll", "edit", "close_poll", "acknowledge", "private_chat",
                            "role_of", "member_count"})


class Delivering:
    """A transport as features see it: sends get keys from the current send scope. With
    ``violations`` (the tests) a platform call made inside an open store transaction raises
    and is recorded there (a handler may catch the error; the record stays)."""

    def __init__(self, inner: Transport, outbox: Outbox, *, violations: list[str] | None = None,
                 metrics: Metrics | None = None) -> None:
        self.inner = inner
        self.outbox = outbox
        self.violations = violations  # strict when given: each one is recorded and raised
        self.metrics = metrics  # counts the sends made and failed

    def _check(self, name: str) -> None:
        if self.violations is not None and self.outbox.db.in_transaction():
            where = "".join(traceback.format_stack(limit=6)[:-2])
            self.violations.append(f"{self.inner.platform}.{name}\n{where}")
            raise TransactionRuleError(f"{self.inner.platform}.{name} awaited inside an open transaction")

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        value = getattr(self.inner, name)
        if name in PLATFORM_CALLS and callable(value):
            self._check(name)
        return value

    @property
    def idempotent(self) -> bool:
        return bool(getattr(self.inner, "idempotent_sends", False))

    async def _keyed(self, chat_id: str, item: Any, send: Any) -> Any:
        self._check("send")
        scope = current_scope()
        chat_key = f"{self.inner.platform}:{chat_id}"
        if item.thread_id is None and scope is not None and scope.thread is not None and scope.thread[0] == chat_key:
            item = replace(item, thread_id=scope.thread[1])  # the event's thread (core/scope.py)
        if item.key is None and scope is not None and scope.prefix:
            item = replace(item, key=scope.next_key(chat_key))
        key = item.key
        if key is not None and scope is not None and scope.replay and self.idempotent:
            # the homeserver forgets transaction ids after a day: what is known sent is not sent
            # again; what may have been (unknown) goes again under the same transaction id
            earlier = await self.outbox.earlier(key)
            if earlier is not None and earlier.state == log_store.SENT:
                return earlier_result(key, earlier)
        if self.metrics is not None:
            send = self._counted(send)
        if getattr(self.inner, "records_deliveries", False):
            return await send(item)
        return await self.outbox.recorded(key, chat_key, lambda: send(item), idempotent=self.idempotent)

    def _counted(self, send: Any) -> Any:
        """``send`` counted: a message id back is a send made (a poll the platform does not run
        natively, or a Telegram send of unknown earlier fate, returns None: nothing went out), a
        raise is a failed send. Only what was actually attempted gets here (a key found sent in
        the log is answered before), except on Telegram, whose transport consults the log itself."""
        metrics, platform = self.metrics, self.inner.platform

        async def counted(item: Any) -> Any:
            try:
                result = await send(item)
            except Exception:
                metrics.send_failed(platform)
                raise
            if result is not None:
                metrics.sent(platform)
            return result

        return counted

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        return await self._keyed(chat_id, reply, lambda r: self.inner.send(chat_id, r))

    async def send_file(self, chat_id: str, file: FileOut) -> str | None:
        return await self._keyed(chat_id, file, lambda f: self.inner.send_file(chat_id, f))

    async def send_poll(self, chat_id: str, poll: PollSpec) -> str | None:
        return await self._keyed(chat_id, poll, lambda p: self.inner.send_poll(chat_id, p))

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> None:
        self._check("edit")
        await self.inner.edit(chat_id, message_id, reply)  # an edit repeated changes nothing
