"""Telegram transport state: native polls by poll id (a poll_answer update carries no chat)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import ProcessedEvent
from storage.types import UTCDateTime


class TelegramPoll(SQLModel, table=True):
    __tablename__ = "telegram_poll"

    poll_id: str = Field(primary_key=True, max_length=255)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


async def add_poll(session: AsyncSession, poll_id: str, chat_id: str, message_id: str, now: datetime) -> None:
    session.add(TelegramPoll(poll_id=poll_id, chat_id=chat_id, message_id=message_id, created_at=now))
    await session.commit()


async def get_poll(session: AsyncSession, poll_id: str) -> TelegramPoll | None:
    return await session.get(TelegramPoll, poll_id)


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


async def claim_events(session: AsyncSession, platform: str, keys: list[str], now: datetime) -> set[str]:
    """Record a batch of event ids in one transaction; return those not handled before."""
    if not keys:
        return set()
    seen = set((await session.execute(
        select(ProcessedEvent.event_id).where(ProcessedEvent.platform == platform,
                                              ProcessedEvent.event_id.in_(keys)))).scalars())
    fresh = [k for k in dict.fromkeys(keys) if k not in seen]
    for key in fresh:
        session.add(ProcessedEvent(platform=platform, event_id=key, at=now))
    await session.commit()
    return set(fresh)
