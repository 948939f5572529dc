"""An idea's own thread (a Telegram forum topic, a Matrix thread rooted at its card) and the
discussion in it: each message there is one activity row (no person is kept: only when); and the
👍 reactions that support an idea, one row per person and message (the card, the posting
message), so that taking one away withdraws the support only when the other is gone too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, delete, func, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import add_unique
from storage.types import UTCDateTime


class IdeaThread(SQLModel, table=True):
    __tablename__ = "idea_thread"
    __table_args__ = (Index("uq_idea_thread_chat_thread", "chat_key", "thread_id", unique=True),)

    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    chat_key: str = Field(max_length=255)
    thread_id: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)


class IdeaActivity(SQLModel, table=True):
    __tablename__ = "idea_activity"
    #: one row per message: a message handled again after a stop is not counted twice
    __table_args__ = (Index("uq_idea_activity_event", "idea_id", "event", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    event: str | None = Field(default=None, max_length=255)  # the message's event key


class IdeaReaction(SQLModel, table=True):
    __tablename__ = "idea_reaction"

    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    person_key: str = Field(primary_key=True, max_length=255)
    message_id: str = Field(primary_key=True, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)


async def add_reaction(session: AsyncSession, idea_id: int, person_key: str, message_id: str, now: datetime) -> None:
    await add_unique(session, IdeaReaction(idea_id=idea_id, person_key=person_key, message_id=message_id,
                                           created_at=now))


async def drop_reaction(session: AsyncSession, idea_id: int, person_key: str, message_id: str) -> bool:
    """Forget the person's 👍 on that message; True when they still have one on the idea's other."""
    await session.execute(delete(IdeaReaction).where(
        IdeaReaction.idea_id == idea_id, IdeaReaction.person_key == person_key, IdeaReaction.message_id == message_id))
    return (await session.execute(select(func.count()).select_from(IdeaReaction).where(
        IdeaReaction.idea_id == idea_id, IdeaReaction.person_key == person_key))).scalar_one() > 0


async def add_thread(session: AsyncSession, idea_id: int, chat_key: str, thread_id: str, now: datetime) -> None:
    if await session.get(IdeaThread, idea_id) is None:
        session.add(IdeaThread(idea_id=idea_id, chat_key=chat_key, thread_id=thread_id, created_at=now))


async def thread_of(session: AsyncSession, idea_id: int) -> IdeaThread | None:
    return await session.get(IdeaThread, idea_id)


async def idea_of_thread(session: AsyncSession, chat_key: str, thread_id: str) -> int | None:
    return (await session.execute(select(IdeaThread.idea_id).where(
        IdeaThread.chat_key == chat_key, IdeaThread.thread_id == thread_id))).scalar_one_or_none()


async def add_activity(session: AsyncSession, idea_id: int, now: datetime, event: str | None = None) -> None:
    await add_unique(session, IdeaActivity(idea_id=idea_id, at=now, event=event[:255] if event else None))


async def activity_count(session: AsyncSession, idea_id: int) -> int:
    return int((await session.execute(select(func.count()).select_from(IdeaActivity).where(
        IdeaActivity.idea_id == idea_id))).scalar_one())


async def activity_between(session: AsyncSession, chat_key: str, start: datetime, end: datetime,
                           limit: int = 5) -> list[tuple[int, int]]:
    """(idea number, messages in its thread) of the chat's ideas discussed in [start, end), the
    most discussed first."""
    from storage.ideas import Idea

    n = func.count(IdeaActivity.id)
    rows = await session.execute(
        select(Idea.number, n).join(Idea, Idea.id == IdeaActivity.idea_id)
        .where(Idea.chat_key == chat_key, Idea.status != "withdrawn", IdeaActivity.at >= start, IdeaActivity.at < end)
        .group_by(Idea.number).order_by(n.desc(), Idea.number).limit(limit))
    return [(int(number), int(count)) for number, count in rows.all()]
