"""Ideas that reach the people who answer them: a support threshold per chat or area and the role
that answers, the people holding the role in a chat, each idea that reached its threshold (a
referral), its official answers, and an answer a person has begun in a private chat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, delete, func, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import Chat, add_unique
from storage.ideas import Idea
from storage.types import UTCDateTime

#: days without an answer before the responsible people are reminded
REMIND_DAYS = 14


def role_key(role: str) -> str:
    """A role's name as compared: case and spacing do not matter."""
    return " ".join(role.casefold().split())


class IdeaRoute(SQLModel, table=True):
    """A chat's (``chat_key``) or an area's (``area``) threshold and who answers ideas that reach it:
    the people holding ``role`` in the chat (in an area: in any of its chats), or the configured
    coordinators. A chat's own rule wins over its area's."""

    __table_args__ = (Index("uq_idearoute_chat", "chat_key", unique=True),
                      Index("uq_idearoute_area", "area", unique=True))

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str | None = Field(default=None, max_length=255)
    area: str | None = Field(default=None, max_length=100)
    threshold: int
    role: str = Field(default="", max_length=100)  # as the admin wrote it; "" with coordinators
    coordinators: bool = Field(default=False)
    remind_days: int = Field(default=REMIND_DAYS)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    def describe(self) -> dict:
        return {"threshold": self.threshold, "role": self.role or None, "coordinators": self.coordinators,
                "remind_days": self.remind_days}


class IdeaResponder(SQLModel, table=True):
    """A person holding a role in a chat (assigned by an admin)."""

    chat_key: str = Field(primary_key=True, max_length=255)
    role: str = Field(primary_key=True, max_length=100)  # role_key()
    person_key: str = Field(primary_key=True, max_length=255)
    person_name: str = Field(default="", max_length=255)
    assigned_at: datetime = Field(sa_type=UTCDateTime)


class IdeaReferral(SQLModel, table=True):
    """An idea that reached its threshold and waits for (or has) an official answer."""

    idea_id: int = Field(foreign_key="idea.id", primary_key=True, ondelete="CASCADE")
    chat_key: str = Field(max_length=255, index=True)
    reached_at: datetime = Field(sa_type=UTCDateTime)
    supporters: int
    role: str = Field(default="", max_length=100)
    coordinators: bool = Field(default=False)
    #: where the rule came from: the chat's own, or its area's (then holders of the area's chats answer)
    area: str | None = Field(default=None, max_length=100)
    remind_days: int = Field(default=REMIND_DAYS)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdeaAnswer(SQLModel, table=True):
    """An official answer to an idea, with who gave it, as which role, and when."""

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="idea.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    answerer_key: str = Field(max_length=255)
    answerer_name: str = Field(default="", max_length=255)
    role: str = Field(default="", max_length=100)
    text: str = Field(sa_type=Text)
    #: the status the answer moved the idea to, if it did
    moved_to: str | None = Field(default=None, max_length=16)
    #: the bot's message of the answer in the chat (a reply to the idea's card)
    bot_message_id: str | None = Field(default=None, max_length=255)


class IdeaAnswerDraft(SQLModel, table=True):
    """A person pressed "Answer" in their private chat: their next message there is the answer."""

    person_key: str = Field(primary_key=True, max_length=255)
    idea_id: int = Field(foreign_key="idea.id", ondelete="CASCADE")
    move_to: str | None = Field(default=None, max_length=16)
    started_at: datetime = Field(sa_type=UTCDateTime)


# --- rules ------------------------------------------------------------------------------------


async def chat_route(session: AsyncSession, chat_key: str) -> IdeaRoute | None:
    return (await session.execute(select(IdeaRoute).where(IdeaRoute.chat_key == chat_key))).scalars().first()


async def area_route(session: AsyncSession, area: str) -> IdeaRoute | None:
    return (await session.execute(select(IdeaRoute).where(IdeaRoute.area == area))).scalars().first()


async def route_for(session: AsyncSession, chat_key: str) -> IdeaRoute | None:
    """The rule for a chat's ideas: its own, else its area's."""
    own = await chat_route(session, chat_key)
    if own is not None:
        return own
    chat = await session.get(Chat, chat_key)
    if chat is None or not chat.area:
        return None
    return await area_route(session, chat.area)


async def set_route(session: AsyncSession, *, chat_key: str | None = None, area: str | None = None,
                    threshold: int | None = None, role: str | None = None, coordinators: bool | None = None,
                    remind_days: int | None = None, now: datetime) -> tuple[dict | None, IdeaRoute]:
    """Set (or change part of) a chat's or an area's rule; returns the rule as it was and the rule."""
    route = await (chat_route(session, chat_key) if chat_key else area_route(session, area or ""))
    before = route.describe() if route is not None else None
    if route is None:
        route = IdeaRoute(chat_key=chat_key, area=area, threshold=threshold or 0, updated_at=now)
    if threshold is not None:
        route.threshold = threshold
    if role is not None:
        route.role, route.coordinators = role, False
    if coordinators:
        route.role, route.coordinators = "", True
    if remind_days is not None:
        route.remind_days = remind_days
    route.updated_at = now
    session.add(route)
    return before, route


async def clear_route(session: AsyncSession, *, chat_key: str | None = None, area: str | None = None) -> dict | None:
    route = await (chat_route(session, chat_key) if chat_key else area_route(session, area or ""))
    if route is None:
        return None
    before = route.describe()
    await session.delete(route)
    return before


# --- role holders -----------------------------------------------------------------------------


async def holders(session: AsyncSession, chat_keys: list[str], role: str | None = None) -> list[IdeaResponder]:
    """The people holding ``role`` (any role when None) in these chats."""
    query = select(IdeaResponder).where(IdeaResponder.chat_key.in_(chat_keys))
    if role is not None:
        query = query.where(IdeaResponder.role == role_key(role))
    return list((await session.execute(query.order_by(IdeaResponder.role, IdeaResponder.assigned_at,
                                                      IdeaResponder.person_key))).scalars())


async def holders_of(session: AsyncSession, person_key: str) -> list[IdeaResponder]:
    """The roles a person holds, in any chat."""
    return list((await session.execute(select(IdeaResponder).where(IdeaResponder.person_key == person_key)
                                       .order_by(IdeaResponder.chat_key))).scalars())


async def add_holder(session: AsyncSession, chat_key: str, role: str, person_key: str, person_name: str,
                     now: datetime) -> bool:
    """True when the person did not hold the role here yet."""
    row = await session.get(IdeaResponder, (chat_key, role_key(role), person_key))
    if row is not None:
        if person_name and row.person_name != person_name[:255]:
            row.person_name = person_name[:255]
            session.add(row)
        return False
    return await add_unique(session, IdeaResponder(chat_key=chat_key, role=role_key(role), person_key=person_key,
                                                   person_name=person_name[:255], assigned_at=now))


async def remove_holder(session: AsyncSession, chat_key: str, person_key: str, role: str | None = None) -> int:
    query = delete(IdeaResponder).where(IdeaResponder.chat_key == chat_key, IdeaResponder.person_key == person_key)
    if role is not None:
        query = query.where(IdeaResponder.role == role_key(role))
    return (await session.execute(query)).rowcount or 0


async def area_chats(session: AsyncSession, area: str) -> list[str]:
    return list((await session.execute(select(Chat.key).where(Chat.area == area).order_by(Chat.key))).scalars())


async def responsible(session: AsyncSession, referral: IdeaReferral) -> list[IdeaResponder]:
    """The holders of the referral's role where its rule applies (none when coordinators answer)."""
    if referral.coordinators or not referral.role:
        return []
    chats = await area_chats(session, referral.area) if referral.area else [referral.chat_key]
    if referral.chat_key not in chats:
        chats.append(referral.chat_key)
    found: dict[str, IdeaResponder] = {}
    for row in await holders(session, chats, referral.role):
        found.setdefault(row.person_key, row)  # the idea's own chat first is not needed: one message each
    return list(found.values())


# --- referrals and answers --------------------------------------------------------------------


async def referral(session: AsyncSession, idea_id: int) -> IdeaReferral | None:
    return await session.get(IdeaReferral, idea_id)


async def refer(session: AsyncSession, idea: Idea, route: IdeaRoute, area: str | None, now: datetime) -> IdeaReferral | None:
    """Record that the idea reached its threshold; None when it had before (it is referred once)."""
    if await session.get(IdeaReferral, idea.id) is not None:
        return None
    row = IdeaReferral(idea_id=idea.id, chat_key=idea.chat_key, reached_at=now, supporters=idea.support_count,
                       role=route.role, coordinators=route.coordinators, area=area if route.area else None,
                       remind_days=route.remind_days)
    return row if await add_unique(session, row) else None


async def waiting(session: AsyncSession, chat_key: str) -> list[tuple[IdeaReferral, Idea]]:
    """The chat's referred ideas without an answer yet, the longest waiting first."""
    rows = await session.execute(
        select(IdeaReferral, Idea).join(Idea, Idea.id == IdeaReferral.idea_id).where(
            IdeaReferral.chat_key == chat_key, IdeaReferral.answered_at.is_(None),
            Idea.status.not_in(("withdrawn", "archived", "done"))).order_by(IdeaReferral.reached_at, Idea.number))
    return [(r, i) for r, i in rows.all()]


async def waiting_for_coordinators(session: AsyncSession) -> list[tuple[IdeaReferral, Idea]]:
    """Referred ideas the coordinators answer, without an answer yet, in every chat."""
    rows = await session.execute(
        select(IdeaReferral, Idea).join(Idea, Idea.id == IdeaReferral.idea_id).where(
            IdeaReferral.coordinators.is_(True), IdeaReferral.answered_at.is_(None)).order_by(IdeaReferral.reached_at))
    return [(r, i) for r, i in rows.all()]


async def add_answer(session: AsyncSession, idea: Idea, *, answerer_key: str, answerer_name: str, role: str,
                     text: str, moved_to: str | None, now: datetime) -> IdeaAnswer:
    answer = IdeaAnswer(idea_id=idea.id, at=now, answerer_key=answerer_key, answerer_name=answerer_name[:255],
                        role=role[:100], text=text, moved_to=moved_to)
    session.add(answer)
    ref = await session.get(IdeaReferral, idea.id)
    if ref is not None and ref.answered_at is None:
        ref.answered_at = now
        session.add(ref)
    await session.flush()
    return answer


async def answers_of(session: AsyncSession, idea_ids: list[int]) -> dict[int, list[IdeaAnswer]]:
    out: dict[int, list[IdeaAnswer]] = {}
    if not idea_ids:
        return out
    rows = await session.execute(select(IdeaAnswer).where(IdeaAnswer.idea_id.in_(idea_ids))
                                 .order_by(IdeaAnswer.at, IdeaAnswer.id))
    for answer in rows.scalars():
        out.setdefault(answer.idea_id, []).append(answer)
    return out


async def answers_between(session: AsyncSession, chat_key: str, start: datetime, end: datetime) -> list[tuple[IdeaAnswer, Idea]]:
    rows = await session.execute(
        select(IdeaAnswer, Idea).join(Idea, Idea.id == IdeaAnswer.idea_id).where(
            Idea.chat_key == chat_key, IdeaAnswer.at >= start, IdeaAnswer.at < end).order_by(IdeaAnswer.at))
    return [(a, i) for a, i in rows.all()]


async def count_answers(session: AsyncSession, idea_id: int) -> int:
    return (await session.execute(select(func.count()).where(IdeaAnswer.idea_id == idea_id))).scalar_one()


# --- an answer begun in a private chat --------------------------------------------------------


async def begin_draft(session: AsyncSession, person_key: str, idea_id: int, move_to: str | None, now: datetime) -> None:
    row = await session.get(IdeaAnswerDraft, person_key)
    if row is None:
        row = IdeaAnswerDraft(person_key=person_key, idea_id=idea_id, started_at=now)
    row.idea_id, row.move_to, row.started_at = idea_id, move_to, now
    session.add(row)


async def draft_of(session: AsyncSession, person_key: str) -> IdeaAnswerDraft | None:
    return await session.get(IdeaAnswerDraft, person_key)


async def drop_draft(session: AsyncSession, person_key: str) -> None:
    await session.execute(delete(IdeaAnswerDraft).where(IdeaAnswerDraft.person_key == person_key))
