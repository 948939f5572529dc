"""The delivery log: every message the bot sends on behalf of an event or a job, by an
idempotency key, with its outcome. A handler run again after a crash (an update handled
again, a job whose lease ran out) sends under the same keys, and what was delivered is not
delivered twice.

States: ``sending`` (the request left, no answer recorded — after a crash this reads as
unknown), ``sent`` (with the platform's message id), ``unknown`` (the request failed in a way
that does not tell whether the message arrived: a timeout, a 5xx), ``failed`` (the platform
said no, or the request never left: safe to try again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime

SENDING, SENT, UNKNOWN, FAILED = "sending", "sent", "unknown", "failed"


class Delivery(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=255)
    chat_key: str = Field(max_length=255, index=True)
    state: str = Field(max_length=16)
    message_id: str | None = Field(default=None, max_length=255)
    at: datetime = Field(sa_type=UTCDateTime, index=True)  # when the state was last set
    error: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    message_id: str | None


async def outcome(session: AsyncSession, key: str) -> Outcome | None:
    row = (await session.execute(select(Delivery.state, Delivery.message_id).where(Delivery.key == key))).first()
    return Outcome(row[0], row[1]) if row else None


# Built once: these run for every reply (building a statement costs more than running it).
_SEEN = select(Delivery.key, Delivery.state, Delivery.message_id).where(Delivery.key == bindparam("k"))
_INSERT = insert(Delivery)
_SET = (update(Delivery).where(Delivery.key == bindparam("k"))
        .values(state=bindparam("state"), message_id=bindparam("message_id"), at=bindparam("at"),
                error=bindparam("error")))


def _seen(conn: Connection, keys: list[str]) -> dict[str, Outcome]:
    found = {}
    for key in dict.fromkeys(keys):
        row = conn.execute(_SEEN, {"k": key}).first()
        if row is not None:
            found[key] = Outcome(row[1], row[2])
    return found


def begin_sends(conn: Connection, items: list[tuple[str, str, datetime]]) -> list[Outcome | None]:
    """Batch op: (key, chat_key, now) → None where the send may go ahead (now ``sending``), or
    the earlier outcome where the key was seen before and may not be sent again."""
    seen = _seen(conn, [key for key, _chat, _now in items])
    results: list[Outcome | None] = []
    fresh, retry = [], []
    for key, chat_key, now in items:
        before = seen.get(key)
        if before is not None and before.state != FAILED:
            results.append(before)
            continue
        (retry if before is not None else fresh).append({"key": key, "chat_key": chat_key, "at": now})
        seen[key] = Outcome(SENDING, None)  # a key twice in one batch: the second waits its turn
        results.append(None)
    if fresh:
        conn.execute(_INSERT, [{**row, "state": SENDING, "message_id": None, "error": None} for row in fresh])
    if retry:
        conn.execute(_SET, [{"k": row["key"], "state": SENDING, "message_id": None, "at": row["at"], "error": None}
                            for row in retry])
    return results


def end_sends(conn: Connection, items: list[tuple[str, str, str, str | None, datetime, str | None]]) -> list[None]:
    """Batch op: (key, chat_key, state, message_id, now, error) — record a send's outcome (also
    for a key never begun: an idempotent platform needs no ``sending`` row first)."""
    known = set(_seen(conn, [item[0] for item in items]))
    updates, inserts = [], []
    for key, chat_key, state, message_id, now, error in items:
        values = {"state": state, "message_id": message_id, "at": now, "error": (error or "")[:500] or None}
        if key in known:
            updates.append({"k": key, **values})
        else:
            inserts.append({"key": key, "chat_key": chat_key, **values})
            known.add(key)
    if inserts:
        conn.execute(_INSERT, inserts)
    if updates:  # after the inserts: a key twice in one batch is inserted, then updated
        conn.execute(_SET, updates)
    return [None] * len(items)


async def recent_sends(session: AsyncSession, since: datetime) -> list[tuple[str, datetime]]:
    """(chat key, time) of the sends since ``since`` — what a rate limiter needs after a restart."""
    rows = await session.execute(
        select(Delivery.chat_key, Delivery.at).where(Delivery.at >= since, Delivery.state != FAILED)
        .order_by(Delivery.at))
    return [(row[0], row[1]) for row in rows]


async def prune(session: AsyncSession, before: datetime, *, unsettled_before: datetime) -> int:
    """Forget outcomes older than ``before`` (nothing is handled again after that long); a send
    whose fate is unknown (``sending``, ``unknown``) is kept until ``unsettled_before``, for an
    event that stayed unfinished while the bot was down."""
    result = await session.execute(delete(Delivery).where(
        Delivery.at < before, (Delivery.state.not_in((SENDING, UNKNOWN))) | (Delivery.at < unsettled_before)))
    return result.rowcount or 0
