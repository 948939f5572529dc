"""Experiments: tables and queries (an experiment belongs to one idea)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint, delete, func, or_, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import add_unique
from storage.ideas import Idea
from storage.types import UTCDateTime

PHASES = ("explore", "define", "develop", "deliver")
ACTIVE, DONE, ABANDONED = "active", "done", "abandoned"
MORE, LESS = "more", "less"


class Experiment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", unique=True, ondelete="CASCADE")
    chat_key: str = Field(max_length=255, index=True)
    status: str = Field(default=ACTIVE, max_length=16, index=True)
    phase: str = Field(default="explore", max_length=16)
    owner_key: str | None = Field(default=None, max_length=255)
    owner_name: str = Field(default="", max_length=255)
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: "" (off), "weekly" or "monthly": how often the owner is asked for values
    ask_every: str = Field(default="", max_length=16)
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    outcome: str = Field(default="", sa_type=Text)


class ExperimentMember(SQLModel, table=True):
    experiment_id: int = Field(foreign_key="experiment.id", primary_key=True, ondelete="CASCADE")
    person_key: str = Field(primary_key=True, max_length=255)
    name: str = Field(default="", max_length=255)
    joined_at: datetime = Field(sa_type=UTCDateTime)


class ExperimentStep(SQLModel, table=True):
    """History: started, phase moves (with what was learned), done, abandoned."""

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    action: str = Field(max_length=16)  # started | phase | done | abandoned
    from_phase: str | None = Field(default=None, max_length=16)
    to_phase: str | None = Field(default=None, max_length=16)
    actor_key: str = Field(max_length=255)
    actor_name: str = Field(default="", max_length=255)
    note: str = Field(default="", sa_type=Text)


class Indicator(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("experiment_id", "key", name="uq_indicator_experiment_key"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True, ondelete="CASCADE")
    number: int  # 1, 2… within the experiment
    key: str = Field(max_length=100)  # casefolded name, for lookups
    name: str = Field(max_length=100)
    unit: str = Field(default="", max_length=32)
    target: float | None = None
    direction: str = Field(default=MORE, max_length=8)
    created_at: datetime = Field(sa_type=UTCDateTime)


class IndicatorValue(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True, ondelete="CASCADE")
    value: float
    measured_at: datetime = Field(sa_type=UTCDateTime, index=True)
    recorded_at: datetime = Field(sa_type=UTCDateTime, index=True)
    recorder_key: str = Field(max_length=255)
    recorder_name: str = Field(default="", max_length=255)


# --- queries ---------------------------------------------------------------------------------


async def by_idea(session: AsyncSession, idea_id: int) -> Experiment | None:
    return (await session.execute(select(Experiment).where(Experiment.idea_id == idea_id))).scalar_one_or_none()


async def create(session: AsyncSession, idea: Idea, *, actor_key: str, actor_name: str, now: datetime,
                 starts_at: datetime | None, ends_at: datetime | None) -> Experiment | None:
    """Add the experiment in the caller's transaction; None if the idea already has one."""
    exp = Experiment(idea_id=idea.id, chat_key=idea.chat_key, created_by=actor_key, created_at=now, updated_at=now,
                     starts_at=starts_at, ends_at=ends_at)
    if not await add_unique(session, exp):
        return None
    session.add(ExperimentStep(experiment_id=exp.id, at=now, action="started", to_phase=exp.phase,
                               actor_key=actor_key, actor_name=actor_name[:255]))
    return exp


async def members(session: AsyncSession, experiment_id: int) -> list[ExperimentMember]:
    return list((await session.execute(
        select(ExperimentMember).where(ExperimentMember.experiment_id == experiment_id)
        .order_by(ExperimentMember.joined_at, ExperimentMember.person_key))).scalars())


async def is_member(session: AsyncSession, experiment_id: int, person_key: str) -> bool:
    return await session.get(ExperimentMember, (experiment_id, person_key)) is not None


async def join(session: AsyncSession, exp: Experiment, person_key: str, name: str, now: datetime) -> bool:
    """Add a team member (the first becomes the owner). True if new."""
    if await is_member(session, exp.id, person_key):
        return False
    member = ExperimentMember(experiment_id=exp.id, person_key=person_key, name=name[:255], joined_at=now)
    if not await add_unique(session, member):
        return False
    if exp.owner_key is None:
        exp.owner_key, exp.owner_name = person_key, name[:255]
        session.add(exp)
    return True


async def leave(session: AsyncSession, exp: Experiment, person_key: str) -> bool:
    """Remove a member; the longest-serving remaining member becomes owner."""
    result = await session.execute(delete(ExperimentMember).where(
        ExperimentMember.experiment_id == exp.id, ExperimentMember.person_key == person_key))
    if not result.rowcount:
        return False
    if exp.owner_key == person_key:
        rest = await members(session, exp.id)
        exp.owner_key = rest[0].person_key if rest else None
        exp.owner_name = rest[0].name if rest else ""
        session.add(exp)
    return True


async def add_step(session: AsyncSession, exp: Experiment, action: str, *, actor_key: str, actor_name: str,
                   note: str, now: datetime, to_phase: str | None = None) -> None:
    session.add(ExperimentStep(experiment_id=exp.id, at=now, action=action, from_phase=exp.phase,
                               to_phase=to_phase or exp.phase, actor_key=actor_key, actor_name=actor_name[:255],
                               note=note))
    if to_phase:
        exp.phase = to_phase
    exp.updated_at = now
    session.add(exp)


async def steps(session: AsyncSession, experiment_id: int) -> list[ExperimentStep]:
    return list((await session.execute(
        select(ExperimentStep).where(ExperimentStep.experiment_id == experiment_id)
        .order_by(ExperimentStep.at, ExperimentStep.id))).scalars())


async def indicators(session: AsyncSession, experiment_id: int) -> list[Indicator]:
    return list((await session.execute(
        select(Indicator).where(Indicator.experiment_id == experiment_id).order_by(Indicator.number))).scalars())


async def add_indicator(session: AsyncSession, exp: Experiment, *, name: str, unit: str, target: float | None,
                        direction: str, now: datetime) -> Indicator | None:
    """Add an indicator; None if the experiment already has one of that name."""
    number = (await session.execute(select(func.coalesce(func.max(Indicator.number), 0) + 1)
                                    .where(Indicator.experiment_id == exp.id))).scalar_one()
    ind = Indicator(experiment_id=exp.id, number=number, key=name.casefold()[:100], name=name[:100], unit=unit[:32],
                    target=target, direction=direction, created_at=now)
    return ind if await add_unique(session, ind) else None


async def find_indicator(session: AsyncSession, experiment_id: int, ref: str) -> Indicator | None:
    ref = ref.strip().casefold()
    cond = Indicator.key == ref
    if ref.lstrip("#").isdecimal() and len(ref) < 6:
        cond = or_(cond, Indicator.number == int(ref.lstrip("#")))
    return (await session.execute(
        select(Indicator).where(Indicator.experiment_id == experiment_id, cond).order_by(Indicator.number)
    )).scalars().first()


async def add_value(session: AsyncSession, ind: Indicator, value: float, *, measured_at: datetime,
                    recorder_key: str, recorder_name: str, now: datetime) -> IndicatorValue:
    row = IndicatorValue(indicator_id=ind.id, value=value, measured_at=measured_at, recorded_at=now,
                         recorder_key=recorder_key, recorder_name=recorder_name[:255])
    session.add(row)
    return row


async def last_recorded(session: AsyncSession, indicator_id: int) -> IndicatorValue | None:
    """The value recorded last for an indicator (by recording order, whatever day it was measured)."""
    return (await session.execute(
        select(IndicatorValue).where(IndicatorValue.indicator_id == indicator_id)
        .order_by(IndicatorValue.id.desc()).limit(1))).scalars().first()


async def values(session: AsyncSession, indicator_ids: list[int]) -> dict[int, list[IndicatorValue]]:
    """Values per indicator, oldest first (by measurement date, then recording order)."""
    out: dict[int, list[IndicatorValue]] = {i: [] for i in indicator_ids}
    if not indicator_ids:
        return out
    rows = (await session.execute(
        select(IndicatorValue).where(IndicatorValue.indicator_id.in_(indicator_ids))
        .order_by(IndicatorValue.measured_at, IndicatorValue.id))).scalars()
    for row in rows:
        out[row.indicator_id].append(row)
    return out


async def latest_values(session: AsyncSession, indicator_id: int, n: int = 2) -> list[IndicatorValue]:
    """The last ``n`` values of one indicator, oldest first (enough for the latest value and its trend)."""
    rows = (await session.execute(
        select(IndicatorValue).where(IndicatorValue.indicator_id == indicator_id)
        .order_by(IndicatorValue.measured_at.desc(), IndicatorValue.id.desc()).limit(n))).scalars()
    return list(rows)[::-1]


async def for_chats(session: AsyncSession, chat_keys: list[str] | None) -> list[tuple[Experiment, Idea]]:
    query = select(Experiment, Idea).join(Idea, Idea.id == Experiment.idea_id)
    if chat_keys is not None:
        query = query.where(Experiment.chat_key.in_(chat_keys))
    return [(e, i) for e, i in (await session.execute(query.order_by(Experiment.chat_key, Idea.number))).all()]


async def steps_in(session: AsyncSession, experiment_ids: list[int], start: datetime,
                   end: datetime) -> list[ExperimentStep]:
    if not experiment_ids:
        return []
    return list((await session.execute(
        select(ExperimentStep).where(ExperimentStep.experiment_id.in_(experiment_ids), ExperimentStep.at >= start,
                                     ExperimentStep.at < end).order_by(ExperimentStep.at, ExperimentStep.id)
    )).scalars())


async def values_recorded_in(session: AsyncSession, indicator_ids: list[int], start: datetime,
                             end: datetime) -> list[IndicatorValue]:
    if not indicator_ids:
        return []
    return list((await session.execute(
        select(IndicatorValue).where(IndicatorValue.indicator_id.in_(indicator_ids),
                                     IndicatorValue.recorded_at >= start, IndicatorValue.recorded_at < end)
        .order_by(IndicatorValue.recorded_at, IndicatorValue.id))).scalars())
