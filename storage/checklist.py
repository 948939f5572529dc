"""Self-assessment checklists: rounds, each person's progress, answers, per-area sharing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint, and_, delete, or_, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import Chat
from storage.types import UTCDateTime


class ChecklistRound(SQLModel, table=True):
    """One run of a checklist in a chat; keeps the checklist it was started with."""

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    area: str = Field(max_length=100, index=True)
    checklist_id: str = Field(max_length=64)
    checklist_version: str = Field(default="", max_length=32)
    definition: str = Field(sa_type=Text)  # the checklist as JSON, frozen at start
    in_group: bool = Field(default=False)  # answered in the group instead of private chats
    started_by: str = Field(max_length=255)
    started_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChecklistResponse(SQLModel, table=True):
    """A person's progress through a round (the conversation state, survives restarts)."""

    __table_args__ = (UniqueConstraint("round_id", "person_key", name="uq_checklistresponse_person"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="checklistround.id", index=True, ondelete="CASCADE")
    person_key: str = Field(max_length=255)
    person_name: str = Field(default="", max_length=255)
    answer_chat: str = Field(max_length=255, index=True)  # chat key where questions are asked
    current: str | None = Field(default=None, max_length=32)  # question id; None when done
    status: str = Field(default="active", max_length=16)  # active | stopped | done
    show_name: bool = Field(default=False)  # name shown with free-text answers
    started_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChecklistAnswer(SQLModel, table=True):
    round_id: int = Field(foreign_key="checklistround.id", primary_key=True, ondelete="CASCADE")
    person_key: str = Field(primary_key=True, max_length=255)
    question_id: str = Field(primary_key=True, max_length=32)
    value: str = Field(default="null", sa_type=Text)  # JSON; null when skipped
    skipped: bool = Field(default=False)
    answered_at: datetime = Field(sa_type=UTCDateTime)
    #: the event that set this answer last (Incoming.event_key): the same event handled again
    #: after a restart finds its answer given and does not move the conversation on twice
    event_key: str | None = Field(default=None, max_length=255)

    def data(self) -> Any:
        return json.loads(self.value)


class ChecklistArea(SQLModel, table=True):
    """Per-area opt-in: the area's profiles may be shown to other sharing areas."""

    area: str = Field(primary_key=True, max_length=100)
    share: bool = Field(default=False)
    updated_by: str = Field(default="", max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)


# --- rounds --------------------------------------------------------------------------------------


async def open_round(session: AsyncSession, chat_key: str) -> ChecklistRound | None:
    return (await session.execute(
        select(ChecklistRound).where(ChecklistRound.chat_key == chat_key, ChecklistRound.closed_at.is_(None))
        .order_by(ChecklistRound.id.desc())
    )).scalars().first()


async def get_round(session: AsyncSession, round_id: int) -> ChecklistRound | None:
    return await session.get(ChecklistRound, round_id)


async def rounds_of_chat(session: AsyncSession, chat_key: str) -> list[ChecklistRound]:
    return list((await session.execute(
        select(ChecklistRound).where(ChecklistRound.chat_key == chat_key).order_by(ChecklistRound.id)
    )).scalars())


async def rounds_of_area(session: AsyncSession, area: str, checklist_id: str | None = None, *,
                         chat_key: str | None = None) -> list[ChecklistRound]:
    """The rounds of the chats that are in ``area`` now: a chat's rounds go with it when it joins,
    changes or leaves an area (``ChecklistRound.area`` only records where it was started). A chat
    outside any area is its own area under its title: its rounds are found by the name they were
    started under. ``chat_key``: that chat's own rounds are always included (the asking chat)."""
    in_area = or_(Chat.area == area, and_(Chat.area.is_(None), ChecklistRound.area == area))
    if chat_key is not None:
        in_area = or_(ChecklistRound.chat_key == chat_key, in_area)
    query = (select(ChecklistRound).outerjoin(Chat, Chat.key == ChecklistRound.chat_key).where(in_area))
    if checklist_id:
        query = query.where(ChecklistRound.checklist_id == checklist_id)
    return list((await session.execute(query.order_by(ChecklistRound.started_at, ChecklistRound.id))).scalars())


async def rounds_for_chats(session: AsyncSession, chat_keys: list[str] | None) -> list[ChecklistRound]:
    query = select(ChecklistRound).order_by(ChecklistRound.id)
    if chat_keys is not None:
        query = query.where(ChecklistRound.chat_key.in_(chat_keys))
    return list((await session.execute(query)).scalars())


async def close_round(session: AsyncSession, round_id: int, now: datetime) -> bool:
    """Close once: True only for the caller that closed it."""
    result = await session.execute(
        update(ChecklistRound).where(ChecklistRound.id == round_id, ChecklistRound.closed_at.is_(None))
        .values(closed_at=now)
    )
    return (result.rowcount or 0) == 1


# --- responses and answers ----------------------------------------------------------------------


async def response_of(session: AsyncSession, round_id: int, person_key: str) -> ChecklistResponse | None:
    return (await session.execute(
        select(ChecklistResponse).where(ChecklistResponse.round_id == round_id,
                                        ChecklistResponse.person_key == person_key)
    )).scalars().first()


async def waiting_in_chat(session: AsyncSession, person_key: str, chat_key: str) -> list[tuple[ChecklistResponse, ChecklistRound]]:
    """Active responses of a person whose questions are asked in this chat, in open rounds."""
    rows = await session.execute(
        select(ChecklistResponse, ChecklistRound)
        .join(ChecklistRound, ChecklistRound.id == ChecklistResponse.round_id)
        .where(ChecklistResponse.person_key == person_key, ChecklistResponse.answer_chat == chat_key,
               ChecklistResponse.status == "active", ChecklistRound.closed_at.is_(None))
        .order_by(ChecklistResponse.updated_at.desc())
    )
    return [(r, rd) for r, rd in rows.all()]


async def unfinished_of_person(session: AsyncSession, person_key: str) -> list[tuple[ChecklistResponse, ChecklistRound]]:
    rows = await session.execute(
        select(ChecklistResponse, ChecklistRound)
        .join(ChecklistRound, ChecklistRound.id == ChecklistResponse.round_id)
        .where(ChecklistResponse.person_key == person_key, ChecklistResponse.status != "done",
               ChecklistRound.closed_at.is_(None))
        .order_by(ChecklistResponse.updated_at.desc())
    )
    return [(r, rd) for r, rd in rows.all()]


async def answers_of(session: AsyncSession, round_id: int, person_key: str) -> dict[str, ChecklistAnswer]:
    rows = await session.execute(
        select(ChecklistAnswer).where(ChecklistAnswer.round_id == round_id, ChecklistAnswer.person_key == person_key)
    )
    return {a.question_id: a for a in rows.scalars()}


async def put_answer(session: AsyncSession, round_id: int, person_key: str, question_id: str, value: Any,
                     now: datetime, *, skipped: bool = False, event_key: str | None = None) -> None:
    """Insert or replace one answer (in the caller's transaction); ``event_key`` is the event
    that gave it."""
    row = await session.get(ChecklistAnswer, (round_id, person_key, question_id))
    if row is None:
        row = ChecklistAnswer(round_id=round_id, person_key=person_key, question_id=question_id, answered_at=now)
    row.value = json.dumps(None if skipped else value, ensure_ascii=False)
    row.skipped = skipped
    row.answered_at = now
    row.event_key = event_key[:255] if event_key else None
    session.add(row)


async def answer_by_event(session: AsyncSession, person_key: str, event_key: str) -> ChecklistAnswer | None:
    """The answer this event gave, if it gave one (for an event handled again; rare, so a scan
    of the person's answers is fine)."""
    return (await session.execute(
        select(ChecklistAnswer).where(ChecklistAnswer.person_key == person_key,
                                      ChecklistAnswer.event_key == event_key[:255])
    )).scalars().first()


async def drop_answers(session: AsyncSession, round_id: int, person_key: str, question_ids: list[str]) -> None:
    if question_ids:
        await session.execute(delete(ChecklistAnswer).where(
            ChecklistAnswer.round_id == round_id, ChecklistAnswer.person_key == person_key,
            ChecklistAnswer.question_id.in_(question_ids)))


async def round_answers(session: AsyncSession, round_ids: list[int]) -> list[ChecklistAnswer]:
    if not round_ids:
        return []
    rows = await session.execute(
        select(ChecklistAnswer).where(ChecklistAnswer.round_id.in_(round_ids))
        .order_by(ChecklistAnswer.round_id, ChecklistAnswer.answered_at, ChecklistAnswer.person_key)
    )
    return list(rows.scalars())


async def round_responses(session: AsyncSession, round_ids: list[int]) -> list[ChecklistResponse]:
    if not round_ids:
        return []
    rows = await session.execute(select(ChecklistResponse).where(ChecklistResponse.round_id.in_(round_ids)))
    return list(rows.scalars())


async def claim_reminder(session: AsyncSession, response_id: int, now: datetime, idle_before: datetime,
                         reminded_before: datetime) -> bool:
    """Mark a reminder as sent, once a day at most, even with two instances."""
    result = await session.execute(
        update(ChecklistResponse).where(
            ChecklistResponse.id == response_id, ChecklistResponse.status != "done",
            ChecklistResponse.updated_at <= idle_before,
            or_(ChecklistResponse.reminded_at.is_(None), ChecklistResponse.reminded_at <= reminded_before),
        ).values(reminded_at=now)
    )
    return (result.rowcount or 0) == 1


async def to_remind(session: AsyncSession, round_id: int, idle_before: datetime,
                    reminded_before: datetime) -> list[ChecklistResponse]:
    rows = await session.execute(select(ChecklistResponse).where(
        ChecklistResponse.round_id == round_id, ChecklistResponse.status != "done",
        ChecklistResponse.updated_at <= idle_before,
        or_(ChecklistResponse.reminded_at.is_(None), ChecklistResponse.reminded_at <= reminded_before),
    ))
    return list(rows.scalars())


# --- areas ---------------------------------------------------------------------------------------


async def area_shares(session: AsyncSession, area: str) -> bool:
    row = await session.get(ChecklistArea, area)
    return bool(row and row.share)


async def set_area_share(session: AsyncSession, area: str, share: bool, by: str, now: datetime) -> None:
    row = await session.get(ChecklistArea, area)
    if row is None:
        row = ChecklistArea(area=area, updated_at=now)
    row.share, row.updated_by, row.updated_at = share, by[:255], now
    session.add(row)


async def sharing_areas(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(ChecklistArea.area).where(ChecklistArea.share.is_(True)).order_by(ChecklistArea.area))
    return list(rows.scalars())
