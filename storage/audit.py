"""The audit log: who changed what in a chat, when, with the value before and after.

A unit of work records an admin's or coordinator's action in its own transaction, so the record
commits with the change (or with nothing)::

    async with ctx.db.transaction() as session:
        ...                                    # the change
        await audit.record(session, chat_key=ctx.chat_key, actor=ctx.event, action="idea.status",
                           target=f"idea:{number}", before={"status": old}, after={"status": new}, at=ctx.now())

``record`` writes nothing when ``before`` equals ``after``: an action repeated (a replayed event,
a setting set to what it was) changed nothing and is not recorded twice. Never commits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, func, select
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from core.events import Incoming
from storage.types import UTCDateTime


class Actor(NamedTuple):
    """Who acted: a person's key ("telegram:42") and name, or the bot itself."""

    key: str
    name: str = ""


#: the bot itself (a platform moved the chat, a job)
SYSTEM = Actor("system", "")


class AuditEvent(SQLModel, table=True):
    """One recorded action. ``before`` and ``after`` are JSON texts (None: nothing there)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_key: str = Field(default="", max_length=255, index=True)
    actor_name: str = Field(default="", max_length=255)
    action: str = Field(max_length=64)  # "idea.status", "poll.close", "chat.language" …
    target: str = Field(default="", max_length=255)  # "idea:5", "poll:3", "chat"
    before: str | None = Field(default=None, sa_type=Text)
    after: str | None = Field(default=None, sa_type=Text)

    def before_data(self) -> Any:
        return json.loads(self.before) if self.before is not None else None

    def after_data(self) -> Any:
        return json.loads(self.after) if self.after is not None else None


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # one moment, one text: in UTC (exports show it in Helsinki time)
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def _actor(actor: Actor | Incoming | tuple[str, str]) -> Actor:
    if isinstance(actor, Incoming):
        return Actor(actor.sender_key, actor.sender_name or "")
    return Actor(*actor)


async def record(session: AsyncSession, *, chat_key: str, actor: Actor | Incoming | tuple[str, str], action: str,
                 target: str = "", before: Any = None, after: Any = None, at: datetime) -> AuditEvent | None:
    """Add one action to the log in ``session``'s transaction; None (nothing added) when
    ``before`` and ``after`` are the same. ``actor`` is an event (its sender), an Actor or SYSTEM."""
    old, new = _json(before), _json(after)
    if old == new:
        return None
    who = _actor(actor)
    row = AuditEvent(chat_key=chat_key, at=at, actor_key=who.key, actor_name=who.name[:255], action=action,
                     target=target[:255], before=old, after=new)
    session.add(row)
    await session.flush()
    return row


async def page(session: AsyncSession, chat_key: str, *, page: int = 1, per_page: int = 10
               ) -> tuple[list[AuditEvent], int]:
    """One page of a chat's log, newest first, and how many records it has in all."""
    total = (await session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.chat_key == chat_key))).scalar_one()
    rows = (await session.execute(
        select(AuditEvent).where(AuditEvent.chat_key == chat_key)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset((max(page, 1) - 1) * per_page).limit(per_page))).scalars().all()
    return list(rows), total


async def events(session: AsyncSession, chat_keys: list[str] | None = None) -> list[AuditEvent]:
    """Every record of these chats (None: of all chats), oldest first."""
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if chat_keys is not None:
        query = query.where(AuditEvent.chat_key.in_(chat_keys))
    return list((await session.execute(query)).scalars().all())
