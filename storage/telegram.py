"""Telegram transport state: native polls by poll id (a poll_answer update carries no chat) and
the inbox of fetched updates not yet handled to the end (stored before Telegram is told they
arrived; an update leaves the inbox only once its events are finished)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Connection, Text, delete, insert, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import TransportState
from storage.types import UTCDateTime


class TelegramPoll(SQLModel, table=True):
    __tablename__ = "telegram_poll"

    poll_id: str = Field(primary_key=True, max_length=255)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TelegramInbox(SQLModel, table=True):
    __tablename__ = "telegram_inbox"

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    data: str = Field(sa_type=Text)  # the update as JSON, as Telegram sent it
    received_at: datetime = Field(sa_type=UTCDateTime)


# --- the inbox ---------------------------------------------------------------------------------


async def stash_updates(session: AsyncSession, platform: str, updates: list[tuple[int, dict]],
                        offset: int, now: datetime) -> None:
    """Store fetched updates and the next offset in one transaction (before confirming them)."""
    ids = [update_id for update_id, _data in updates]
    known = set((await session.execute(
        select(TelegramInbox.update_id).where(TelegramInbox.update_id.in_(ids)))).scalars()) if ids else set()
    for update_id, data in updates:
        if update_id not in known:
            known.add(update_id)
            session.add(TelegramInbox(update_id=update_id, data=json.dumps(data, ensure_ascii=False),
                                      received_at=now))
    state = await session.get(TransportState, (platform, "update_offset"))
    if state is None:
        state = TransportState(platform=platform, name="update_offset")
    state.value = str(offset)
    session.add(state)


def stash_inbox(conn: Connection, items: list[tuple[int, str, datetime]]) -> list[bool]:
    """Batch op (webhook mode): (update id, JSON, now) into the inbox; True where it is new."""
    ids = [update_id for update_id, _data, _now in items]
    known = set(conn.execute(select(TelegramInbox.update_id).where(TelegramInbox.update_id.in_(ids))).scalars())
    rows, results = [], []
    for update_id, data, now in items:
        results.append(update_id not in known)
        if update_id not in known:
            known.add(update_id)
            rows.append({"update_id": update_id, "data": data, "received_at": now})
    if rows:
        conn.execute(insert(TelegramInbox), rows)
    return results


def drop_inbox(conn: Connection, items: list[int]) -> list[None]:
    """Batch op: the updates are handled to the end (or cannot be read): out of the inbox."""
    conn.execute(delete(TelegramInbox).where(TelegramInbox.update_id.in_(set(items))))
    return [None] * len(items)


async def inbox(session: AsyncSession, received_before: datetime | None = None) -> list[tuple[int, dict | None]]:
    """The stashed updates in order (those received before ``received_before`` if given); None
    for one whose stored JSON cannot be read."""
    query = select(TelegramInbox.update_id, TelegramInbox.data)
    if received_before is not None:
        query = query.where(TelegramInbox.received_at < received_before)
    rows = (await session.execute(query.order_by(TelegramInbox.update_id))).all()
    out: list[tuple[int, dict | None]] = []
    for update_id, data in rows:
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        out.append((update_id, value if isinstance(value, dict) else None))
    return out


# --- events: begun, finished -------------------------------------------------------------------


# --- native polls ------------------------------------------------------------------------------


async def add_poll(session: AsyncSession, poll_id: str, chat_id: str, message_id: str, now: datetime) -> None:
    if await session.get(TelegramPoll, poll_id) is None:
        session.add(TelegramPoll(poll_id=poll_id, chat_id=chat_id, message_id=message_id, created_at=now))


async def get_poll(session: AsyncSession, poll_id: str) -> TelegramPoll | None:
    return await session.get(TelegramPoll, poll_id)


async def move_polls(session: AsyncSession, old_chat_id: str, new_chat_id: str) -> None:
    """A group became a supergroup: its native polls' votes belong to the new chat id."""
    await session.execute(update(TelegramPoll).where(TelegramPoll.chat_id == old_chat_id)
                          .values(chat_id=new_chat_id))


async def mark_poll_closed(session: AsyncSession, poll_id: str, now: datetime) -> None:
    row = await session.get(TelegramPoll, poll_id)
    if row is not None and row.closed_at is None:
        row.closed_at = now
        session.add(row)
