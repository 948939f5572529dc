"""Polls: tables and queries.

Anonymous polls never store who voted. To still allow one vote per person, a vote row's
``voter`` is ``HMAC-SHA256(poll.salt, person_key)`` while the poll is open; the salt is a random
secret of that poll only. When the poll closes the salt is erased and the voter column is
replaced by plain sequence numbers, so afterwards nobody (not even with the database and a list
of members) can tell who voted or how.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Text, UniqueConstraint, delete, func, select, update
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import add_unique
from storage.types import UTCDateTime

OPEN, CLOSED, CANCELLED = "open", "closed", "cancelled"


class Poll(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("chat_key", "number", name="uq_poll_chat_number"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    number: int  # short number within the chat
    question: str = Field(sa_type=Text)
    options: str = Field(sa_type=Text)  # JSON list of option texts
    multiple: bool = Field(default=False)
    max_choices: int = Field(default=1)
    anonymous: bool = Field(default=False)
    hide_results: bool = Field(default=False)
    lang: str = Field(default="fi", max_length=8)  # language it was created in
    creator_key: str = Field(max_length=255)
    creator_name: str = Field(default="", max_length=255)
    idea_id: int | None = Field(default=None, foreign_key="idea.id", index=True, ondelete="SET NULL")
    status: str = Field(default=OPEN, max_length=16, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    close_at: datetime = Field(sa_type=UTCDateTime, index=True)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    closed_by: str | None = Field(default=None, max_length=255)  # None = by time
    result_posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    native_ref: str | None = Field(default=None, max_length=255, index=True)
    message_id: str | None = Field(default=None, max_length=255)
    #: last live-count edit of the poll message (edits are throttled)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: secret for anonymous voter hashes; erased at close
    salt: str | None = Field(default=None, max_length=64)
    #: final counts (JSON list), voters and known members, stored at close
    counts: str | None = Field(default=None, sa_type=Text)
    voters: int = Field(default=0)
    members: int | None = Field(default=None)
    #: an area poll: the area's name when created (its copies are PollCopy rows, one per chat)
    area: str | None = Field(default=None, max_length=100, index=True)

    def option_list(self) -> list[str]:
        return json.loads(self.options)

    def count_list(self) -> list[int] | None:
        return json.loads(self.counts) if self.counts is not None else None


class PollVote(SQLModel, table=True):
    """One person's current choices. ``voter`` is the person key for named polls, a salted
    hash (open) or a sequence number (closed) for anonymous ones; ``voter_name`` is empty then."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True, ondelete="CASCADE")
    voter: str = Field(primary_key=True, max_length=255)
    voter_name: str = Field(default="", max_length=255)
    choices: str = Field(max_length=64)  # comma-separated option indexes
    #: when it was cast: of a linked person's votes in an area poll the latest counts
    voted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PollCopy(SQLModel, table=True):
    """Where an area poll is posted: one row per chat of the area (the origin chat too), with its
    message, its native poll if the platform has one, its last live-count edit and whether the
    result is in that chat."""

    __tablename__ = "poll_copy"

    poll_id: int = Field(foreign_key="poll.id", primary_key=True, ondelete="CASCADE")
    chat_key: str = Field(primary_key=True, max_length=255)
    message_id: str | None = Field(default=None, max_length=255)
    native_ref: str | None = Field(default=None, max_length=255, index=True)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result_posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PollVoteEvent(SQLModel, table=True):
    """The button presses already counted, by the event's idempotency key: a press handled again
    after a restart is not counted twice (on a multiple-choice poll it would undo itself). Only
    the event and the poll, no voter; dropped when the poll closes."""

    poll_id: int = Field(foreign_key="poll.id", primary_key=True, ondelete="CASCADE")
    event_key: str = Field(primary_key=True, max_length=255)


def voter_id(poll: Poll, person_key: str) -> str:
    if not poll.anonymous:
        return person_key
    if poll.salt is None:
        raise ValueError("anonymous poll without salt (closed)")
    return hmac.new(poll.salt.encode(), person_key.encode(), hashlib.sha256).hexdigest()


async def create_poll(session: AsyncSession, **fields) -> Poll:
    """Insert a poll with the chat's next number (flushed; in the caller's unit of work)."""
    chat_key = fields["chat_key"]
    if fields.get("anonymous"):
        fields["salt"] = secrets.token_hex(32)
    for _attempt in range(5):
        number = (
            await session.execute(select(func.coalesce(func.max(Poll.number), 0)).where(Poll.chat_key == chat_key))
        ).scalar_one() + 1
        poll = Poll(number=number, **fields)
        if await add_unique(session, poll):
            return poll
    raise RuntimeError("could not allocate a poll number")


async def by_id(session: AsyncSession, poll_id: int) -> Poll | None:
    return await session.get(Poll, poll_id)


async def by_number(session: AsyncSession, chat_key: str, number: int) -> Poll | None:
    return (
        await session.execute(select(Poll).where(Poll.chat_key == chat_key, Poll.number == number))
    ).scalar_one_or_none()


async def by_native_ref(session: AsyncSession, chat_key: str, ref: str) -> Poll | None:
    """The poll with this platform reference, in this chat or, for platforms whose vote events do
    not say the chat (Telegram's poll_answer), anywhere on the same platform."""
    poll = (
        await session.execute(select(Poll).where(Poll.chat_key == chat_key, Poll.native_ref == ref))
    ).scalars().first()
    if poll is None:
        platform = chat_key.split(":", 1)[0] + ":"
        poll = (
            await session.execute(select(Poll).where(Poll.native_ref == ref,
                                                     Poll.chat_key.startswith(platform, autoescape=True)))
        ).scalars().first()
    return poll


async def get_vote(session: AsyncSession, poll: Poll, person_key: str) -> tuple[int, ...] | None:
    row = await session.get(PollVote, (poll.id, voter_id(poll, person_key)))
    return parse_choices(row.choices) if row else None


def parse_choices(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


async def set_vote(session: AsyncSession, poll: Poll, person_key: str, name: str, choices: tuple[int, ...],
                   event_key: str | None = None, now: datetime | None = None) -> None:
    """Replace a person's vote (empty choices = retract), remembering the event that did it (see
    :class:`PollVoteEvent`) in the same transaction."""
    voter = voter_id(poll, person_key)
    text = ",".join(str(c) for c in sorted(set(choices)))
    await session.execute(delete(PollVote).where(PollVote.poll_id == poll.id, PollVote.voter == voter))
    status = (await session.execute(select(Poll.status).where(Poll.id == poll.id))).scalar()
    if text and status == OPEN:  # a vote racing the close is dropped
        session.add(PollVote(poll_id=poll.id, voter=voter, voter_name="" if poll.anonymous else name[:255],
                             choices=text, voted_at=now))
    if event_key and status == OPEN and await session.get(PollVoteEvent, (poll.id, event_key[:255])) is None:
        session.add(PollVoteEvent(poll_id=poll.id, event_key=event_key[:255]))


async def vote_counted(session: AsyncSession, poll: Poll, event_key: str | None) -> bool:
    """Whether this event's vote was counted already (its handling is being repeated)."""
    if not event_key:
        return False
    return await session.get(PollVoteEvent, (poll.id, event_key[:255])) is not None


async def _forget_vote_events(session: AsyncSession, poll_id: int) -> None:
    await session.execute(delete(PollVoteEvent).where(PollVoteEvent.poll_id == poll_id))


async def tally(session: AsyncSession, poll: Poll) -> tuple[list[int], int, list[list[str]]]:
    """Counts per option, number of voters, and voter names per option (named polls)."""
    options = len(poll.option_list())
    counts = [0] * options
    names: list[list[str]] = [[] for _ in range(options)]
    rows = (await session.execute(select(PollVote.voter_name, PollVote.choices).where(PollVote.poll_id == poll.id))).all()
    for name, choices in rows:
        for c in parse_choices(choices):
            if 0 <= c < options:
                counts[c] += 1
                if name:
                    names[c].append(name)
    return counts, len(rows), names


@dataclass(frozen=True)
class AreaTally:
    counts: list[int]
    voters: int  # people, a linked person once
    names: list[list[str]]
    #: linked people who voted from more than one identity: only their latest vote counts
    merged: int = 0


async def area_tally(session: AsyncSession, poll: Poll) -> AreaTally:
    """The tally of an area poll: a linked person (storage.links) counts once, by their latest
    vote. (Anonymous polls hash the linked identity when voting: one row per person already.)"""
    from storage import links

    options = len(poll.option_list())
    rows = (await session.execute(select(PollVote.voter, PollVote.voter_name, PollVote.choices, PollVote.voted_at)
                                  .where(PollVote.poll_id == poll.id))).all()
    person = await links.canonical(session, [r.voter for r in rows]) if not poll.anonymous else {}
    latest: dict[str, tuple] = {}
    seen: dict[str, int] = {}
    floor = datetime.min.replace(tzinfo=UTC)
    for row in rows:
        who = person.get(row.voter, row.voter)
        seen[who] = seen.get(who, 0) + 1
        if who not in latest or (row.voted_at or floor) >= (latest[who].voted_at or floor):
            latest[who] = row
    counts = [0] * options
    names: list[list[str]] = [[] for _ in range(options)]
    for row in latest.values():
        for c in parse_choices(row.choices):
            if 0 <= c < options:
                counts[c] += 1
                if row.voter_name:
                    names[c].append(row.voter_name)
    return AreaTally(counts, len(latest), names, sum(1 for n in seen.values() if n > 1))


async def add_copy(session: AsyncSession, poll_id: int, chat_key: str, message_id: str | None,
                   native_ref: str | None) -> None:
    row = await session.get(PollCopy, (poll_id, chat_key))
    if row is None:
        row = PollCopy(poll_id=poll_id, chat_key=chat_key)
    row.message_id, row.native_ref = message_id, native_ref
    session.add(row)


async def copies(session: AsyncSession, poll_id: int) -> list[PollCopy]:
    return list((await session.execute(select(PollCopy).where(PollCopy.poll_id == poll_id)
                                       .order_by(PollCopy.chat_key))).scalars())


async def copy_in(session: AsyncSession, poll_id: int, chat_key: str) -> PollCopy | None:
    return await session.get(PollCopy, (poll_id, chat_key))


async def by_copy_ref(session: AsyncSession, chat_key: str, ref: str) -> tuple[Poll, PollCopy] | None:
    """The area poll whose copy has this native reference (in this chat, or on the same platform:
    see :func:`by_native_ref`)."""
    platform = chat_key.split(":", 1)[0] + ":"
    for where in (PollCopy.chat_key == chat_key, PollCopy.chat_key.startswith(platform, autoescape=True)):
        found = (await session.execute(select(Poll, PollCopy).join(PollCopy, PollCopy.poll_id == Poll.id)
                                       .where(PollCopy.native_ref == ref, where))).first()
        if found is not None:
            return found[0], found[1]
    return None


async def claim_copy_edit(session: AsyncSession, poll_id: int, chat_key: str, now: datetime,
                          every: timedelta) -> bool:
    """The right to edit one copy's message now (at most one edit per chat per ``every``)."""
    result = await session.execute(
        update(PollCopy).where(PollCopy.poll_id == poll_id, PollCopy.chat_key == chat_key,
                               (PollCopy.edited_at.is_(None)) | (PollCopy.edited_at <= now - every))
        .values(edited_at=now))
    return (result.rowcount or 0) == 1


async def mark_copy_posted(session: AsyncSession, poll_id: int, chat_key: str, now: datetime) -> None:
    await session.execute(update(PollCopy).where(PollCopy.poll_id == poll_id, PollCopy.chat_key == chat_key,
                                                 PollCopy.result_posted_at.is_(None)).values(result_posted_at=now))


async def close(session: AsyncSession, poll_id: int, now: datetime, by: str | None) -> bool:
    """Open -> closed, atomically; True for exactly one caller."""
    result = await session.execute(
        update(Poll).where(Poll.id == poll_id, Poll.status == OPEN).values(status=CLOSED, closed_at=now, closed_by=by)
    )
    return (result.rowcount or 0) == 1


async def cancel(session: AsyncSession, poll_id: int, now: datetime, by: str) -> bool:
    result = await session.execute(
        update(Poll).where(Poll.id == poll_id, Poll.status == OPEN)
        .values(status=CANCELLED, closed_at=now, closed_by=by, salt=None)
    )
    await _forget_vote_events(session, poll_id)
    return (result.rowcount or 0) == 1


async def claim_edit(session: AsyncSession, poll_id: int, now: datetime, every: timedelta) -> bool:
    """Take the right to edit the poll message now; False if it was edited less than ``every`` ago.
   """
    result = await session.execute(
        update(Poll).where(Poll.id == poll_id, (Poll.edited_at.is_(None)) | (Poll.edited_at <= now - every))
        .values(edited_at=now)
    )
    return (result.rowcount or 0) == 1


async def mark_result_posted(session: AsyncSession, poll_id: int, now: datetime) -> None:
    """The result is in the chat."""
    await session.execute(update(Poll).where(Poll.id == poll_id, Poll.result_posted_at.is_(None))
                          .values(result_posted_at=now))


async def store_result(session: AsyncSession, poll: Poll, counts: list[int], voters: int, members: int | None) -> None:
    """Keep the final result and, for anonymous polls, cut every link to voters."""
    values: dict = {"counts": json.dumps(counts), "voters": voters, "members": members}
    await _forget_vote_events(session, poll.id)  # votes after the close are refused anyway
    if poll.anonymous:
        values["salt"] = None
        rows = list((await session.execute(select(PollVote).where(PollVote.poll_id == poll.id))).scalars())
        await session.execute(delete(PollVote).where(PollVote.poll_id == poll.id))
        for n, row in enumerate(rows, 1):
            session.add(PollVote(poll_id=poll.id, voter=str(n), voter_name="", choices=row.choices))
    await session.execute(update(Poll).where(Poll.id == poll.id).values(**values))
    await session.refresh(poll)


async def extend(session: AsyncSession, poll: Poll, close_at: datetime) -> None:
    poll.close_at = close_at
    session.add(poll)


async def list_polls(session: AsyncSession, chat_key: str, closed_since: datetime, limit: int = 20) -> list[Poll]:
    """The chat's open and recently closed polls, and the area polls posted here, newest first."""
    here = (Poll.chat_key == chat_key) | Poll.id.in_(select(PollCopy.poll_id).where(PollCopy.chat_key == chat_key))
    query = (
        select(Poll)
        .where(here, (Poll.status == OPEN) | ((Poll.status == CLOSED) & (Poll.closed_at >= closed_since)))
        .order_by(Poll.created_at.desc(), Poll.number.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def in_period(session: AsyncSession, chat_key: str, start: datetime, end: datetime) -> tuple[list[Poll], list[Poll]]:
    """Polls opened, and polls closed with a result, in [start, end)."""
    opened = (await session.execute(
        select(Poll).where(Poll.chat_key == chat_key, Poll.created_at >= start, Poll.created_at < end,
                           Poll.status != CANCELLED).order_by(Poll.number))).scalars()
    closed = (await session.execute(
        select(Poll).where(Poll.chat_key == chat_key, Poll.status == CLOSED, Poll.closed_at >= start,
                           Poll.closed_at < end).order_by(Poll.number))).scalars()
    return list(opened), list(closed)


async def for_export(session: AsyncSession, chat_keys: list[str] | None) -> list[Poll]:
    query = select(Poll).order_by(Poll.chat_key, Poll.number)
    if chat_keys is not None:
        query = query.where(Poll.chat_key.in_(chat_keys))
    return list((await session.execute(query)).scalars())
