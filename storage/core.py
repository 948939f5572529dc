"""Core tables: chats, people, scheduled jobs, processed platform events, transport state."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, UniqueConstraint, and_, bindparam, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime

log = logging.getLogger(__name__)

#: Columns, in any table, that hold a chat key: a chat whose id changes is moved in all of them.
CHAT_KEY_COLUMNS = ("chat_key", "answer_chat")


class Chat(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=255)  # "platform:native-id"
    platform: str = Field(max_length=32)
    title: str = Field(default="", max_length=255)
    language: str | None = Field(default=None, max_length=8)
    area: str | None = Field(default=None, max_length=100, index=True)
    #: feature settings as JSON text, e.g. {"polls.create": "admins"}
    settings: str = Field(default="{}")
    created_at: datetime = Field(sa_type=UTCDateTime)

    def setting(self, name: str, default: Any = None) -> Any:
        return json.loads(self.settings or "{}").get(name, default)


class Person(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=255)  # "platform:user-id"
    name: str = Field(default="", max_length=255)
    language: str | None = Field(default=None, max_length=8)


class Job(SQLModel, table=True):
    """A scheduled action (poll close, reminder, digest…). The store is the truth;
    the in-memory scheduler is rebuilt from these rows at start."""

    __table_args__ = (UniqueConstraint("dedup_key", name="uq_job_dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64, index=True)
    dedup_key: str | None = Field(default=None, max_length=255)
    chat_key: str | None = Field(default=None, max_length=255)
    payload: str = Field(default="{}")
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    #: the time the job was scheduled for (a retry moves due_at, not this): with the id it
    #: names the run, whose sends are keyed by it (bot/outbox.py)
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the lease: which instance runs the job and until when (renewed while it runs); an expired
    #: lease is taken over by the next wake-up of any instance
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled: bool = Field(default=False)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)

    def data(self) -> dict:
        return json.loads(self.payload or "{}")

    def run_key(self) -> str:
        """Names this run of the job (the same across retries and take-overs)."""
        return f"job:{self.id}:{(self.planned_at or self.due_at).isoformat()}"


class ProcessedEvent(SQLModel, table=True):
    """Platform events seen (idempotency across restarts). ``done_at`` is set once the event's
    effects and replies are committed; a row without it was being handled when the bot
    stopped, and is handled again (handlers are idempotent by the source event)."""

    platform: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=255)
    at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the process handling it, where several may (see begin_events)
    owner: str | None = Field(default=None, max_length=64)


class EventEffect(SQLModel, table=True):
    """What an event made (a poll, a meeting…), recorded in the same transaction as the thing:
    an event handled again after a crash finds it instead of making a second one."""

    __tablename__ = "event_effect"

    event_key: str = Field(primary_key=True, max_length=255)
    kind: str = Field(primary_key=True, max_length=64)
    ref: str = Field(max_length=255)
    at: datetime = Field(sa_type=UTCDateTime)


class TransportState(SQLModel, table=True):
    """Small key/value state a transport keeps (sync token, update offset, device id)."""

    platform: str = Field(primary_key=True, max_length=32)
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="")


# --- queries -----------------------------------------------------------------------------


async def add_unique(session: AsyncSession, *rows: SQLModel) -> bool:
    """Add ``rows`` (inserts and changes) in a savepoint; False, with none of them written, when a
    unique constraint says a row exists already (a concurrent request or another instance was
    first). The rest of the unit of work stands: what was pending before is flushed first, so
    its own errors raise as themselves and only ``rows`` are in the savepoint."""
    await session.flush()
    try:
        async with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        return False
    return True


async def ensure_chat(session: AsyncSession, key: str, platform: str, title: str, now: datetime) -> Chat:
    chat = await session.get(Chat, key)
    if chat is None:
        chat = Chat(key=key, platform=platform, title=title[:255], created_at=now)
        session.add(chat)
    elif title and chat.title != title[:255]:
        chat.title = title[:255]
    return chat


async def move_chat(session: AsyncSession, old: str, new: str) -> dict[str, int]:
    """Give everything of chat ``old`` to chat ``new`` (its new id on the platform) and return
    the rows moved per table; nothing if ``old`` is unknown (already moved). The old chat's
    settings win over a ``new`` chat row made by a message that arrived first. Rows that would
    clash with rows the new chat already has stay behind, with a warning. Does not commit."""
    if old == new or (await session.execute(select(Chat.key).where(Chat.key == old))).first() is None:
        return {}
    there = (await session.execute(select(Chat.title, Chat.language, Chat.area).where(Chat.key == new))).first()
    values: dict[str, Any] = {"key": new}
    if there is not None:  # the old chat's choices win; what it never chose, the new row keeps
        title, language, area = there
        values.update(title=func.coalesce(func.nullif(title, ""), Chat.title),
                      language=func.coalesce(Chat.language, language), area=func.coalesce(Chat.area, area))
        await session.execute(Chat.__table__.delete().where(Chat.key == new))
    await session.execute(update(Chat).where(Chat.key == old).values(**values))
    moved = {"chat": 1}
    for table in SQLModel.metadata.sorted_tables:
        for column in table.c:
            if column.name not in CHAT_KEY_COLUMNS:
                continue
            try:
                async with session.begin_nested():
                    result = await session.execute(table.update().where(column == old).values({column.name: new}))
            except IntegrityError:
                log.warning("chat %s moved to %s, but its %s rows clash with the new chat's; left behind",
                            old, new, table.name)
                continue
            if result.rowcount:
                moved[table.name] = moved.get(table.name, 0) + result.rowcount
    return moved


async def set_chat_setting(session: AsyncSession, chat: Chat, name: str, value: Any) -> None:
    data = json.loads(chat.settings or "{}")
    data[name] = value
    chat.settings = json.dumps(data, ensure_ascii=False)
    session.add(chat)


async def languages_for(session: AsyncSession, person_key: str, chat_key: str) -> tuple[str | None, str | None]:
    """The person's and the chat's chosen languages (None where not chosen)."""
    row = (
        await session.execute(
            select(
                select(Person.language).where(Person.key == person_key).scalar_subquery(),
                select(Chat.language).where(Chat.key == chat_key).scalar_subquery(),
            )
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


async def languages_and_settings(session: AsyncSession, person_key: str,
                                  chat_key: str) -> tuple[str | None, str | None, dict[str, Any]]:
    """``languages_for`` and the chat's settings (empty when the chat is not stored), in one read."""
    row = (
        await session.execute(
            select(
                select(Person.language).where(Person.key == person_key).scalar_subquery(),
                select(Chat.language).where(Chat.key == chat_key).scalar_subquery(),
                select(Chat.settings).where(Chat.key == chat_key).scalar_subquery(),
            )
        )
    ).first()
    if not row:
        return None, None, {}
    return row[0], row[1], json.loads(row[2] or "{}")


async def set_person_language(session: AsyncSession, key: str, name: str, language: str | None) -> None:
    person = await session.get(Person, key)
    if person is None:
        person = Person(key=key, name=name[:255])
    person.language = language
    session.add(person)


async def schedule_job(
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    *,
    chat_key: str | None = None,
    payload: dict | None = None,
    dedup_key: str | None = None,
) -> Job:
    """Add a job (in the caller's transaction). With ``dedup_key`` an existing pending job
    of that key is moved to the new time instead of duplicated."""
    if dedup_key is not None:
        existing = (await session.execute(select(Job).where(Job.dedup_key == dedup_key))).scalars().first()
        if existing is not None:
            existing.due_at = existing.planned_at = due_at
            existing.payload = json.dumps(payload or {}, ensure_ascii=False)
            existing.cancelled = False
            if existing.done_at is None:
                existing.claimed_at = None
                existing.lease_owner = existing.lease_until = None
            session.add(existing)
            return existing
    job = Job(
        kind=kind,
        due_at=due_at,
        planned_at=due_at,
        chat_key=chat_key,
        payload=json.dumps(payload or {}, ensure_ascii=False),
        dedup_key=dedup_key,
    )
    session.add(job)
    return job


async def cancel_jobs(session: AsyncSession, dedup_prefix: str) -> int:
    result = await session.execute(
        update(Job)
        .where(Job.dedup_key.startswith(dedup_prefix, autoescape=True), Job.done_at.is_(None))
        .values(cancelled=True)
    )
    return result.rowcount or 0


async def cancel_job(session: AsyncSession, dedup_key: str) -> int:
    """Cancel the open job whose dedup key is exactly ``dedup_key`` (``cancel_jobs`` takes a prefix,
    and ``kind:1`` is a prefix of ``kind:12``)."""
    result = await session.execute(
        update(Job).where(Job.dedup_key == dedup_key, Job.done_at.is_(None)).values(cancelled=True)
    )
    return result.rowcount or 0


def _open():
    return and_(Job.done_at.is_(None), Job.cancelled.is_(False))


def _pending():
    """Not claimed (leases aside)."""
    return and_(_open(), Job.claimed_at.is_(None))


def _runnable(now: datetime):
    """Not claimed, or claimed under a lease that has run out."""
    return and_(_open(), or_(Job.claimed_at.is_(None), Job.lease_until <= now))


async def pending_jobs(session: AsyncSession) -> list[Job]:
    return list((await session.execute(select(Job).where(_pending()).order_by(Job.due_at))).scalars())


async def count_pending(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Job).where(_pending()))).scalar_one()


def _not_on(platforms: Iterable[str]):
    return and_(true(), *(or_(Job.chat_key.is_(None), Job.chat_key.not_like(f"{p}:%")) for p in platforms))


async def due_job_ids(session: AsyncSession, now: datetime, limit: int = 500,
                      exclude_platforms: Iterable[str] = ()) -> list[int]:
    """Jobs due by ``now`` that nobody holds, oldest first; jobs of chats on the platforms in
    ``exclude_platforms`` (not connected yet) are left for later."""
    query = select(Job.id).where(_runnable(now), Job.due_at <= now, _not_on(exclude_platforms))
    rows = await session.execute(query.order_by(Job.due_at).limit(limit))
    return list(rows.scalars())


async def claim_due_jobs(session: AsyncSession, now: datetime, owner: str, lease: timedelta, limit: int,
                         exclude_platforms: Iterable[str] = ()) -> list[Job]:
    """Take up to ``limit`` due jobs nobody holds (oldest first) under a lease, in one statement.
    On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: processes claiming at the same
    time take different jobs instead of queueing for the same rows; on SQLite the write
    transaction (BEGIN IMMEDIATE) already makes claims one at a time."""
    due = (select(Job.id).where(_runnable(now), Job.due_at <= now, _not_on(exclude_platforms))
           .order_by(Job.due_at).limit(limit).with_for_update(skip_locked=True))
    claimed = (update(Job).where(Job.id.in_(due.scalar_subquery()), _runnable(now))
               .values(claimed_at=now, lease_owner=owner, lease_until=now + lease, attempts=Job.attempts + 1)
               .returning(Job))
    jobs = list((await session.execute(select(Job).from_statement(claimed))).scalars())
    return sorted(jobs, key=lambda job: (job.due_at, job.id))


async def claim_job(session: AsyncSession, job_id: int, now: datetime, owner: str = "",
                    lease: timedelta = timedelta(seconds=60)) -> bool:
    """Atomically take a job under a lease; True for exactly one caller, even across processes.
    A job whose lease ran out can be taken again (its holder died)."""
    result = await session.execute(
        update(Job).where(Job.id == job_id, _runnable(now))
        .values(claimed_at=now, lease_owner=owner, lease_until=now + lease, attempts=Job.attempts + 1)
    )
    return (result.rowcount or 0) == 1


async def renew_leases(session: AsyncSession, job_ids: list[int], owner: str, until: datetime) -> int:
    """Extend the leases this owner still holds; returns how many."""
    if not job_ids:
        return 0
    result = await session.execute(
        update(Job).where(Job.id.in_(job_ids), Job.lease_owner == owner, Job.done_at.is_(None))
        .values(lease_until=until)
    )
    return result.rowcount or 0


async def drop_leases(session: AsyncSession, owner: str, now: datetime) -> int:
    """At start: the leases this instance held before it stopped run out now (it runs nothing
    yet), so its unfinished jobs are taken over at once instead of after the lease time."""
    result = await session.execute(
        update(Job).where(Job.lease_owner == owner, Job.claimed_at.is_not(None), _open()).values(lease_until=now)
    )
    return result.rowcount or 0


async def stale_claims(session: AsyncSession, now: datetime) -> int:
    """Jobs claimed under a lease that has run out (a holder died and nobody took over yet)."""
    return (await session.execute(select(func.count()).select_from(Job).where(
        _open(), Job.claimed_at.is_not(None), Job.lease_until <= now))).scalar_one()


def _held(job_id: int, owner: str | None, claimed_at: datetime | None = None):
    """The job, as long as this claim still holds it (not taken over, not moved to a new time)."""
    held = Job.id == job_id
    if owner is not None:
        held = and_(held, Job.lease_owner == owner)
    if claimed_at is not None:
        held = and_(held, Job.claimed_at == claimed_at)
    return held


async def finish_job(session: AsyncSession, job_id: int, now: datetime, *, owner: str | None = None,
                     claimed_at: datetime | None = None) -> bool:
    """Done, if this claim (``owner``, ``claimed_at``) still holds the job; False (and nothing
    changed) when it was taken over or moved meanwhile."""
    result = await session.execute(update(Job).where(_held(job_id, owner, claimed_at))
                                   .values(done_at=now, last_error=None, lease_until=None))
    if not result.rowcount:
        log.warning("job %s was taken over or moved while it ran; left as it is", job_id)
    return bool(result.rowcount)


async def release_job(session: AsyncSession, job: Job, now: datetime, error: str, give_up_after: int = 8,
                      *, owner: str | None = None) -> None:
    """Put a failed job back with exponential back-off, or give up after a number of tries (as
    long as this claim still holds it)."""
    if job.attempts >= give_up_after:
        values: dict = {"done_at": now, "cancelled": True, "last_error": error[:500], "lease_until": None}
    else:
        delay = timedelta(seconds=min(3600, 15 * 2 ** max(0, job.attempts - 1)))
        values = {"claimed_at": None, "lease_owner": None, "lease_until": None, "due_at": now + delay,
                  "last_error": error[:500]}
    await session.execute(update(Job).where(_held(job.id, owner, job.claimed_at if owner else None)).values(**values))


async def next_due(session: AsyncSession, exclude_platforms: Iterable[str] = ()) -> datetime | None:
    """The next time something becomes runnable: a due time, or a held lease running out."""
    others = _not_on(exclude_platforms)
    due = (await session.execute(select(func.min(Job.due_at)).where(_pending(), others))).scalar()
    lease = (await session.execute(select(func.min(Job.lease_until)).where(
        _open(), Job.claimed_at.is_not(None), others))).scalar()
    times = [t for t in (due, lease) if t is not None]
    return min(times) if times else None


NEW, REPLAY, DONE, BUSY = "new", "replay", "done", "busy"
#: an event another process began less than this ago is in its hands (BUSY); older, it is
#: taken over (that process died or stalled)
EVENT_LEASE = timedelta(seconds=120)


_EVENT_ROW = select(ProcessedEvent.done_at, ProcessedEvent.owner, ProcessedEvent.at).where(
    ProcessedEvent.platform == bindparam("p"), ProcessedEvent.event_id == bindparam("e"))
_EVENT_INSERT = insert(ProcessedEvent)
_EVENT_TAKE = (update(ProcessedEvent).where(ProcessedEvent.platform == bindparam("p"),
                                            ProcessedEvent.event_id == bindparam("e"))
               .values(owner=bindparam("o"), at=bindparam("now")))


def begin_events(conn: Connection, items: list[tuple]) -> list[dict[str, str]]:
    """Batch op: record that events are being handled. (platform, event keys, now[, owner]) →
    each key's state: ``NEW`` (recorded now); ``REPLAY``, begun before but never finished (the
    bot stopped during it: handle it again); ``DONE``, handled to the end before. A key asked
    for twice in one batch is ``DONE`` the second time (it is in hand).

    ``owner`` (this process's instance) is given where several processes take the same
    platform's events (Telegram webhook mode): an unfinished event begun by another owner less
    than ``EVENT_LEASE`` ago is ``BUSY`` — in its hands, not to be handled here. Without an
    owner the caller is the platform's only consumer (bot/leader.py) and takes over every
    unfinished event."""
    seen: dict[tuple[str, str], str] = {}  # (platform, key) -> state for a second ask
    fresh, taken, results = [], [], []
    for platform, keys, now, *rest in items:
        owner = rest[0] if rest else None
        states: dict[str, str] = {}
        for key in keys:
            if key in states:
                continue
            if (platform, key) in seen:
                states[key] = DONE if seen[(platform, key)] != BUSY else BUSY
                continue
            row = conn.execute(_EVENT_ROW, {"p": platform, "e": key}).first()
            if row is None:
                states[key] = NEW
                fresh.append({"platform": platform, "event_id": key, "at": now, "done_at": None, "owner": owner})
            elif row[0] is not None:
                states[key] = DONE
            elif owner is not None and row[1] not in (None, owner) and _aware(row[2]) > now - EVENT_LEASE:
                states[key] = BUSY
            else:
                states[key] = REPLAY
                if owner is not None:
                    taken.append({"p": platform, "e": key, "o": owner, "now": now})
            seen[(platform, key)] = states[key]
        results.append(states)
    if fresh:
        conn.execute(_EVENT_INSERT, fresh)
    if taken:
        conn.execute(_EVENT_TAKE, taken)
    return results


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


_EVENT_FINISH = (update(ProcessedEvent).where(ProcessedEvent.platform == bindparam("p"),
                                              ProcessedEvent.event_id == bindparam("e"))
                 .values(done_at=bindparam("done")))


def finish_events(conn: Connection, items: list[tuple[str, str, datetime]]) -> list[None]:
    """Batch op: (platform, event id, now) — the event's effects and replies are committed."""
    conn.execute(_EVENT_FINISH, [{"p": platform, "e": event_id, "done": now} for platform, event_id, now in items])
    return [None] * len(items)


async def effect_of(session: AsyncSession, event_key: str | None, kind: str) -> str | None:
    """The ref an event's ``kind`` of effect was recorded with, if the event made one before."""
    if not event_key:
        return None
    row = await session.get(EventEffect, (event_key[:255], kind))
    return row.ref if row is not None else None


def record_effect(session: AsyncSession, event_key: str | None, kind: str, ref: str | int, now: datetime) -> None:
    """Record what the event made, in the caller's transaction (no commit)."""
    if event_key:
        session.add(EventEffect(event_key=event_key[:255], kind=kind, ref=str(ref), at=now))


async def prune_events(session: AsyncSession, before: datetime) -> int:
    """Forget finished events and what they made older than ``before`` (no platform delivers an
    event again after that long); an unfinished event stays until it is handled."""
    done = await session.execute(ProcessedEvent.__table__.delete().where(
        ProcessedEvent.at < before, ProcessedEvent.done_at.is_not(None)))
    effects = await session.execute(EventEffect.__table__.delete().where(EventEffect.at < before))
    return (done.rowcount or 0) + (effects.rowcount or 0)


async def get_state(session: AsyncSession, platform: str, name: str) -> str | None:
    row = await session.get(TransportState, (platform, name))
    return row.value if row else None


async def set_state(session: AsyncSession, platform: str, name: str, value: str) -> None:
    row = await session.get(TransportState, (platform, name))
    if row is None:
        row = TransportState(platform=platform, name=name, value=value)
    row.value = value
    session.add(row)
