"""Telegram transport state: native polls by poll id (a poll_answer update carries no chat) and
the inbox of fetched updates not yet handled (stored before Telegram is told they arrived)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Text, delete, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import ProcessedEvent, TransportState
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
    data: str = Field(sa_type=Text)  # the update as JSON
    received_at: datetime = Field(sa_type=UTCDateTime)


async def stash_updates(session: AsyncSession, platform: str, updates: list[tuple[int, dict]],
                        offset: int, now: datetime) -> None:
    """Store fetched updates and the next offset in one transaction (before confirming them)."""
    for update_id, data in updates:
        if await session.get(TelegramInbox, update_id) is None:
            session.add(TelegramInbox(update_id=update_id, data=json.dumps(data, ensure_ascii=False),
                                      received_at=now))
    state = await session.get(TransportState, (platform, "update_offset"))
    if state is None:
        state = TransportState(platform=platform, name="update_offset")
    state.value = str(offset)
    session.add(state)
    await session.commit()


async def inbox(session: AsyncSession) -> list[tuple[int, dict]]:
    rows = (await session.execute(select(TelegramInbox).order_by(TelegramInbox.update_id))).scalars()
    return [(row.update_id, json.loads(row.data)) for row in rows]


async def add_poll(session: AsyncSession, poll_id: str, chat_id: str, message_id: str, now: datetime) -> None:
    session.add(TelegramPoll(poll_id=poll_id, chat_id=chat_id, message_id=message_id, created_at=now))
    await session.commit()


async def get_poll(session: AsyncSession, poll_id: str) -> TelegramPoll | None:
    return await session.get(TelegramPoll, poll_id)


async def move_polls(session: AsyncSession, old_chat_id: str, new_chat_id: str) -> None:
    """A group became a supergroup: its native polls' votes belong to the new chat id."""
    await session.execute(update(TelegramPoll).where(TelegramPoll.chat_id == old_chat_id)
                          .values(chat_id=new_chat_id))
    await session.commit()


async def mark_poll_closed(session: AsyncSession, poll_id: str, now: datetime) -> None:
    row = await session.get(TelegramPoll, poll_id)
    if row is not None and row.closed_at is None:
        row.closed_at = now
        session.add(row)
        await session.commit()


async def prune_processed(session: AsyncSession, platform: str, before: datetime) -> int:
    """Forget processed-event ids older than ``before`` (Telegram redelivers for at most a day)."""
    result = await session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.platform == platform, ProcessedEvent.at < before)
    )
    await session.commit()
    return result.rowcount or 0


async def claim_events(session: AsyncSession, platform: str, keys: list[str], now: datetime,
                       inbox_ids: list[int] | None = None) -> set[str]:
    """Record event ids in one transaction (taking their updates out of the inbox: once
    claimed they are never handled again); return the ids not handled before."""
    if inbox_ids:
        await session.execute(delete(TelegramInbox).where(TelegramInbox.update_id.in_(inbox_ids)))
    if not keys:
        await session.commit()
        return set()
    seen = set((await session.execute(
        select(ProcessedEvent.event_id).where(ProcessedEvent.platform == platform,
                                              ProcessedEvent.event_id.in_(keys)))).scalars())
    fresh = [k for k in dict.fromkeys(keys) if k not in seen]
    for key in fresh:
        session.add(ProcessedEvent(platform=platform, event_id=key, at=now))
    await session.commit()
    return set(fresh)
