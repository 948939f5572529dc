"""Matrix transport bookkeeping: reactions (to map redactions back), reaction buttons, native polls."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Connection, delete, insert, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime


class MatrixReaction(SQLModel, table=True):
    """A reaction someone sent, so that its later redaction can be reported as a removal."""

    event_id: str = Field(primary_key=True, max_length=255)
    room_id: str = Field(max_length=255, index=True)
    sender: str = Field(max_length=255)
    key: str = Field(max_length=64)
    target_id: str = Field(max_length=255)
    at: datetime = Field(sa_type=UTCDateTime)


class MatrixButton(SQLModel, table=True):
    """A button rendered as a reaction key on one of the bot's messages."""

    message_id: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=32)
    room_id: str = Field(max_length=255)
    data: str = Field(max_length=64)


class MatrixPoll(SQLModel, table=True):
    """A native (MSC3381) poll the bot started."""

    start_id: str = Field(primary_key=True, max_length=255)
    room_id: str = Field(max_length=255, index=True)
    answer_ids: str = Field(default="[]")  # JSON list, index = option number
    max_selections: int = Field(default=1)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MatrixPollVote(SQLModel, table=True):
    """The timestamp of each voter's latest counted response (older ones are ignored)."""

    start_id: str = Field(primary_key=True, max_length=255)
    voter: str = Field(primary_key=True, max_length=255)
    ts: int = Field(default=0, sa_type=BigInteger)  # origin_server_ts in ms


# --- queries -----------------------------------------------------------------------------


async def remember_reaction(session: AsyncSession, event_id: str, room_id: str, sender: str, key: str,
                            target_id: str, now: datetime) -> None:
    if await session.get(MatrixReaction, event_id) is None:
        session.add(MatrixReaction(event_id=event_id, room_id=room_id, sender=sender, key=key[:64],
                                   target_id=target_id, at=now))


async def reaction_of(session: AsyncSession, event_id: str) -> MatrixReaction | None:
    return await session.get(MatrixReaction, event_id)


async def forget_reaction(session: AsyncSession, event_id: str) -> None:
    """The reaction's removal is handled (kept until then, so that a removal handled again after
    a restart still finds it)."""
    await session.execute(delete(MatrixReaction).where(MatrixReaction.event_id == event_id))


async def set_buttons(session: AsyncSession, room_id: str, message_id: str, buttons: list[tuple[str, str]]) -> None:
    """Replace the key → data map of one message."""
    await session.execute(delete(MatrixButton).where(MatrixButton.message_id == message_id))
    for key, data in buttons:
        session.add(MatrixButton(message_id=message_id, key=key, room_id=room_id, data=data))


def set_buttons_soon(conn: Connection, items: list[tuple[str, str, list[tuple[str, str]]]]) -> list[None]:
    """Batch op (``Database.write_soon``): ``set_buttons`` for (room, message, buttons) items; a
    message given twice gets its last map."""
    table = MatrixButton.__table__
    last = {message_id: (room_id, buttons) for room_id, message_id, buttons in items}
    conn.execute(delete(table).where(table.c.message_id.in_(list(last))))
    rows = [{"message_id": message_id, "key": key, "room_id": room_id, "data": data}
            for message_id, (room_id, buttons) in last.items() for key, data in buttons]
    if rows:
        conn.execute(insert(table), rows)
    return [None] * len(items)


async def buttons_of(session: AsyncSession, message_id: str) -> dict[str, str]:
    rows = await session.execute(select(MatrixButton).where(MatrixButton.message_id == message_id))
    return {row.key: row.data for row in rows.scalars()}


async def add_poll(session: AsyncSession, start_id: str, room_id: str, answer_ids: list[str], max_selections: int) -> None:
    """Remember a poll the bot started (again: a poll sent again under its key is the same event)."""
    if await session.get(MatrixPoll, start_id) is None:
        session.add(MatrixPoll(start_id=start_id, room_id=room_id, answer_ids=json.dumps(answer_ids),
                               max_selections=max_selections))


async def get_poll(session: AsyncSession, start_id: str) -> MatrixPoll | None:
    return await session.get(MatrixPoll, start_id)


async def end_poll(session: AsyncSession, start_id: str, now: datetime) -> None:
    poll = await session.get(MatrixPoll, start_id)
    if poll is not None and poll.ended_at is None:
        poll.ended_at = now
        session.add(poll)


async def newer_vote(session: AsyncSession, start_id: str, voter: str, ts: int) -> bool:
    """Record a response's timestamp; False when a later response of this voter was already counted."""
    row = await session.get(MatrixPollVote, (start_id, voter))
    if row is not None and row.ts > ts:
        return False
    if row is None:
        row = MatrixPollVote(start_id=start_id, voter=voter, ts=ts)
    row.ts = ts
    session.add(row)
    return True
