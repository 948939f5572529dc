"""Weekly digests: immutable records, activity counters, per-area publication choices."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Text, UniqueConstraint, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import HELSINKI
from storage.core import Chat, add_unique
from storage.types import UTCDateTime

#: what an admin may publish for an area as open data
PUBLISHABLE = ("ideas", "polls", "meetings", "profile", "experiments")


class Digest(SQLModel, table=True):
    """One chat's digest of one ISO week. Written once, never changed (except the posting state)."""

    __table_args__ = (UniqueConstraint("chat_key", "week", name="uq_digest_chat_week"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    platform: str = Field(default="", max_length=32)
    title: str = Field(default="", max_length=255)
    area: str | None = Field(default=None, max_length=100, index=True)
    week: str = Field(max_length=8, index=True)  # "2026-W48"
    start: datetime = Field(sa_type=UTCDateTime)
    end: datetime = Field(sa_type=UTCDateTime)
    language: str = Field(default="fi", max_length=8)
    content: str = Field(default="{}", sa_type=Text)  # structured JSON
    text: str = Field(default="", sa_type=Text)  # rendered HTML in the chat's language
    created_at: datetime = Field(sa_type=UTCDateTime)
    #: set when a poster claims the post; cleared again if sending failed
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    post_error: str | None = Field(default=None, max_length=500)

    def data(self) -> dict:
        return json.loads(self.content or "{}")


class ActivityCount(SQLModel, table=True):
    """Messages to the bot per chat and ISO week (counts only)."""

    chat_key: str = Field(primary_key=True, max_length=255)
    week: str = Field(primary_key=True, max_length=8)
    messages: int = Field(default=0)


def activity_mark(chat_key: str, week: str, person_key: str) -> str:
    """A person's weekly activity mark in a chat: counts who took part without storing who."""
    return hashlib.blake2b(f"{chat_key}|{week}|{person_key}".encode(), digest_size=8).hexdigest()


class ActivityPerson(SQLModel, table=True):
    """Pseudonymous marks for counting distinct active people per chat and week; deleted a
    week after the digest. ``person`` is a truncated hash, never a platform id."""

    chat_key: str = Field(primary_key=True, max_length=255)
    week: str = Field(primary_key=True, max_length=8)
    person: str = Field(primary_key=True, max_length=32)


class AreaPublication(SQLModel, table=True):
    """What an area publishes as open data (space-separated subset of PUBLISHABLE)."""

    area: str = Field(primary_key=True, max_length=100)
    publish: str = Field(default="", max_length=255)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=255)

    def choices(self) -> list[str]:
        return [p for p in self.publish.split() if p in PUBLISHABLE]


# --- ISO weeks in Helsinki -----------------------------------------------------------------


def week_of(when: datetime) -> str:
    year, week, _day = when.astimezone(HELSINKI).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> str:
    """Normalise "2026-W48" / "2026W48" / "2026-w48"; ValueError if not a real ISO week."""
    raw = text.strip().upper().replace(" ", "")
    if "W" not in raw:
        raise ValueError(text)
    year_s, _w, week_s = raw.partition("W")
    year_s = year_s.rstrip("-")
    if not (year_s.isdigit() and week_s.isdigit() and len(year_s) == 4 and 1 <= len(week_s) <= 2):
        raise ValueError(text)
    year, week = int(year_s), int(week_s)
    datetime.fromisocalendar(year, week, 1)  # raises ValueError for week 53 in a 52-week year
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) Helsinki time, as aware UTC datetimes."""
    year, _w, num = week.partition("-W")
    monday = datetime.fromisocalendar(int(year), int(num), 1)
    start = monday.replace(tzinfo=HELSINKI)
    end = (monday + timedelta(days=7)).replace(tzinfo=HELSINKI)
    return start.astimezone(UTC), end.astimezone(UTC)


def shift_week(week: str, weeks: int) -> str:
    start, _end = week_bounds(week)
    return week_of(start + timedelta(days=7 * weeks, hours=12))


def weeks_between(first: str, last: str) -> list[str]:
    out, week = [], first
    while week <= last and len(out) < 600:
        out.append(week)
        week = shift_week(week, 1)
    return out


# --- records --------------------------------------------------------------------------------


async def insert_digest(session: AsyncSession, digest: Digest) -> bool:
    """Store the record; False (and nothing changed) if this chat's week exists already."""
    return await add_unique(session, digest)


async def existing_weeks(
    session: AsyncSession, chat_keys: list[str] | None = None, since_week: str | None = None
) -> set[tuple[str, str]]:
    query = select(Digest.chat_key, Digest.week)
    if since_week is not None:
        query = query.where(Digest.week >= since_week)
    if chat_keys is not None:
        query = query.where(Digest.chat_key.in_(chat_keys))
    return {(c, w) for c, w in (await session.execute(query)).all()}


async def claim_post(session: AsyncSession, digest_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(Digest).where(Digest.id == digest_id, Digest.posted_at.is_(None)).values(posted_at=now)
    )
    return (result.rowcount or 0) == 1


async def release_post(session: AsyncSession, digest_id: int, error: str) -> None:
    await session.execute(update(Digest).where(Digest.id == digest_id).values(posted_at=None, post_error=error[:500]))


async def unposted(session: AsyncSession, since: datetime) -> list[Digest]:
    """Records made since ``since`` and not yet posted (a send failed or an instance stopped
    mid-way), newest week first. Only a chat's newest due week is posted, and it is at most two
    weeks before the week it is made in (older ones made late are stored as skipped): so the
    records are found by the week's index, not by reading every record (each sweep does this)."""
    return list((await session.execute(
        select(Digest).where(Digest.week >= shift_week(week_of(since), -2), Digest.posted_at.is_(None),
                             Digest.created_at >= since).order_by(Digest.week.desc())
    )).scalars())


async def mark_skipped(session: AsyncSession, digest_id: int, now: datetime, reason: str) -> None:
    await session.execute(update(Digest).where(Digest.id == digest_id).values(posted_at=now, post_error=reason))


async def load_digests(session: AsyncSession, first: str, last: str, area: str | None = None) -> list[Digest]:
    query = select(Digest).where(Digest.week >= first, Digest.week <= last)
    if area is not None:
        query = query.where(Digest.area == area)
    return list((await session.execute(query.order_by(Digest.area, Digest.week, Digest.chat_key))).scalars())


# --- chats and areas ------------------------------------------------------------------------


async def all_chats(session: AsyncSession) -> list[Chat]:
    return list((await session.execute(select(Chat).order_by(Chat.key))).scalars())


async def chats_by_area(session: AsyncSession) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for key, area in (await session.execute(select(Chat.key, Chat.area).order_by(Chat.area, Chat.key))).all():
        out.setdefault(area, []).append(key)
    return out


async def chats_in_area(session: AsyncSession, area: str) -> list[str]:
    """The keys of an area's chats (one area's: ``chats_by_area`` reads every chat)."""
    return list((await session.execute(select(Chat.key).where(Chat.area == area).order_by(Chat.key))).scalars())


async def area_chat_count(session: AsyncSession, area: str) -> int:
    return (await session.execute(select(func.count()).select_from(Chat).where(Chat.area == area))).scalar_one()


async def publications(session: AsyncSession) -> dict[str, list[str]]:
    rows = (await session.execute(select(AreaPublication))).scalars()
    return {row.area: row.choices() for row in rows}


async def set_publication(session: AsyncSession, area: str, choices: list[str], by: str, now: datetime) -> None:
    row = await session.get(AreaPublication, area)
    if row is None:
        row = AreaPublication(area=area, updated_at=now)
    row.publish, row.updated_at, row.updated_by = " ".join(choices), now, by[:255]
    session.add(row)


# --- activity -------------------------------------------------------------------------------


def _insert(session: AsyncSession, table):
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


#: activity marks inserted by one statement (three parameters each)
MARKS_PER_STATEMENT = 5000


async def add_activity(
    session: AsyncSession, counts: dict[tuple[str, str], int], people: dict[tuple[str, str], set[str]]
) -> None:
    """Add buffered counts in one transaction: an upsert per chat-week, insert-or-ignore per person."""
    for (chat_key, week), n in counts.items():
        if not n:
            continue
        stmt = _insert(session, ActivityCount).values(chat_key=chat_key, week=week, messages=n)
        stmt = stmt.on_conflict_do_update(
            index_elements=["chat_key", "week"], set_={"messages": ActivityCount.messages + stmt.excluded.messages}
        )
        await session.execute(stmt)
    rows = [{"chat_key": c, "week": w, "person": p} for (c, w), ps in people.items() for p in ps]
    # in statements of MARKS_PER_STATEMENT rows: a statement takes at most 32,767 parameters on
    # PostgreSQL, and marks kept through a store outage can be more than 10,922 (three a mark)
    for k in range(0, len(rows), MARKS_PER_STATEMENT):
        await session.execute(_insert(session, ActivityPerson).values(rows[k:k + MARKS_PER_STATEMENT])
                              .on_conflict_do_nothing())


async def activity(session: AsyncSession, chat_key: str, week: str) -> tuple[int, int]:
    messages = (await session.execute(
        select(ActivityCount.messages).where(ActivityCount.chat_key == chat_key, ActivityCount.week == week)
    )).scalar() or 0
    people = (await session.execute(
        select(func.count()).select_from(ActivityPerson).where(
            ActivityPerson.chat_key == chat_key, ActivityPerson.week == week)
    )).scalar_one()
    return messages, people


async def forget_people(session: AsyncSession, before_week: str) -> int:
    """Drop the per-person marks of weeks before ``before_week`` (their counts are in the digests)."""
    result = await session.execute(delete(ActivityPerson).where(ActivityPerson.week < before_week))
    return result.rowcount or 0

