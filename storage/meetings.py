"""Meetings: tables and queries. Times of a series are stored as Helsinki wall-clock times
(``dtstart_local``, exceptions) so that daylight-saving switches never move a meeting; single
instants (created_at, RSVP times) are UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime

ANSWERS = ("yes", "no", "maybe")


class Meeting(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("chat_key", "number", name="uq_meeting_chat_number"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=100, unique=True)  # iCalendar UID, stable
    chat_key: str = Field(max_length=255, index=True)
    number: int
    title: str = Field(max_length=300)
    place: str = Field(default="", max_length=300)
    description: str = Field(default="", sa_type=Text)
    #: first occurrence, Helsinki wall time "YYYY-MM-DDTHH:MM"
    dtstart_local: str = Field(max_length=16)
    duration_minutes: int = Field(default=120)
    #: RFC 5545 RRULE value without "RRULE:", "" for a single meeting
    rrule: str = Field(default="", max_length=255)
    #: the first occurrence as an instant, for ordering and queries
    first_start: datetime = Field(sa_type=UTCDateTime, index=True)
    #: the last occurrence's start as an instant (None = open-ended series)
    last_start: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=255)
    created_by_name: str = Field(default="", max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: iCalendar SEQUENCE: raised on every change a subscribed calendar must follow (move, skip, cancel)
    sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class MeetingException(SQLModel, table=True):
    """One occurrence of a series skipped (moved_to_local None) or moved."""

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True, ondelete="CASCADE")
    occurrence_local: str = Field(primary_key=True, max_length=16)
    moved_to_local: str | None = Field(default=None, max_length=16)


class MeetingRsvp(SQLModel, table=True):
    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True, ondelete="CASCADE")
    #: which occurrence (its original wall time); a single meeting has one
    occurrence_local: str = Field(primary_key=True, max_length=16)
    person_key: str = Field(primary_key=True, max_length=255)
    person_name: str = Field(default="", max_length=255)
    answer: str = Field(max_length=8)
    at: datetime = Field(sa_type=UTCDateTime)


class MeetingMessage(SQLModel, table=True):
    """Bot messages about a meeting (announcement, reminders): reactions on them are RSVPs."""

    chat_key: str = Field(primary_key=True, max_length=255)
    message_id: str = Field(primary_key=True, max_length=255)
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    occurrence_local: str = Field(default="", max_length=16)
    #: "card" (announcement, /meeting N: re-rendered with fresh counts after an RSVP) or "reminder"
    kind: str = Field(default="card", max_length=16, sa_column_kwargs={"server_default": "card"})


#: a time poll's answers per time: yes, if need be, no
TIME_ANSWERS = ("yes", "maybe", "no")


class TimePoll(SQLModel, table=True):
    """A poll of times ("/meeting propose …"); at its close the best time becomes a meeting."""

    __table_args__ = (UniqueConstraint("chat_key", "number", name="uq_timepoll_chat_number"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_key: str = Field(max_length=255, index=True)
    number: int
    title: str = Field(max_length=300)
    place: str = Field(default="", max_length=300)
    duration_minutes: int = Field(default=120)
    #: the times offered, Helsinki wall times "YYYY-MM-DDTHH:MM" separated by spaces, in order
    options: str = Field(sa_type=Text)
    created_by: str = Field(max_length=255)
    created_by_name: str = Field(default="", max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the option picked (0-based) and the meeting made of it; None: none suited anyone
    picked: int | None = None
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", ondelete="SET NULL")
    #: the poll's message (its buttons), and whether the outcome was announced
    message_id: str | None = Field(default=None, max_length=255)
    announced: bool = Field(default=False)
    #: an area time poll (``/kokous ehdota alue …``): posted in every chat of this area, a copy each
    area: str | None = Field(default=None, max_length=100, index=True)

    def option_list(self) -> list[str]:
        return self.options.split()


class TimePollCopy(SQLModel, table=True):
    """Where an area time poll is posted (the chat it was started in too): the message with its
    buttons, the meeting made in that chat at the close, and whether the close was announced there."""

    __tablename__ = "timepoll_copy"

    poll_id: int = Field(foreign_key="timepoll.id", primary_key=True, ondelete="CASCADE")
    chat_key: str = Field(primary_key=True, max_length=255)
    message_id: str | None = Field(default=None, max_length=255)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", ondelete="SET NULL")
    announced: bool = Field(default=False)


class TimePollAnswer(SQLModel, table=True):
    """One person's answer to one time of a time poll (a later answer replaces it)."""

    poll_id: int = Field(foreign_key="timepoll.id", primary_key=True, ondelete="CASCADE")
    option: int = Field(primary_key=True)
    person_key: str = Field(primary_key=True, max_length=255)
    answer: str = Field(max_length=8)
    at: datetime = Field(sa_type=UTCDateTime)


class CalendarFeed(SQLModel, table=True):
    """A secret iCalendar feed URL of a chat ("chat:<key>") or an area ("area:<name>")."""

    scope: str = Field(primary_key=True, max_length=255)
    secret: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


# --- queries -------------------------------------------------------------------------------


async def create_meeting(session: AsyncSession, meeting: Meeting) -> Meeting:
    """Insert with the chat's next number (retried on a number clash), in the caller's
    transaction: the caller commits it together with the meeting's reminders."""
    for _attempt in range(5):
        meeting.number = (
            await session.execute(
                select(func.coalesce(func.max(Meeting.number), 0)).where(Meeting.chat_key == meeting.chat_key))
        ).scalar_one() + 1
        try:
            async with session.begin_nested():  # a clash rolls back just this (and takes the row out)
                session.add(meeting)
            return meeting
        except IntegrityError:
            continue
    raise RuntimeError("could not number the meeting")


async def by_number(session: AsyncSession, chat_key: str, number: int) -> Meeting | None:
    return (await session.execute(
        select(Meeting).where(Meeting.chat_key == chat_key, Meeting.number == number))).scalars().first()


async def active_meetings(session: AsyncSession, chat_keys: list[str] | None = None,
                          include_cancelled: bool = False) -> list[Meeting]:
    q = select(Meeting)
    if chat_keys is not None:
        q = q.where(Meeting.chat_key.in_(chat_keys))
    if not include_cancelled:
        q = q.where(Meeting.cancelled_at.is_(None))
    return list((await session.execute(q.order_by(Meeting.first_start, Meeting.id))).scalars())


async def exceptions_of(session: AsyncSession, meeting_ids: list[int]) -> dict[int, dict[str, str | None]]:
    out: dict[int, dict[str, str | None]] = {mid: {} for mid in meeting_ids}
    if not meeting_ids:
        return out
    rows = await session.execute(select(MeetingException).where(MeetingException.meeting_id.in_(meeting_ids)))
    for row in rows.scalars():
        out[row.meeting_id][row.occurrence_local] = row.moved_to_local
    return out


async def set_exception(session: AsyncSession, meeting_id: int, occurrence_local: str,
                        moved_to_local: str | None) -> None:
    row = await session.get(MeetingException, (meeting_id, occurrence_local))
    if row is None:
        row = MeetingException(meeting_id=meeting_id, occurrence_local=occurrence_local)
    row.moved_to_local = moved_to_local
    session.add(row)


async def set_rsvp(session: AsyncSession, meeting_id: int, occurrence_local: str, person_key: str,
                   person_name: str, answer: str, now: datetime) -> bool:
    """Store an answer; False if it was already the person's answer."""
    row = await session.get(MeetingRsvp, (meeting_id, occurrence_local, person_key))
    if row is not None and row.answer == answer:
        return False
    if row is None:
        row = MeetingRsvp(meeting_id=meeting_id, occurrence_local=occurrence_local, person_key=person_key)
    row.person_name = person_name[:255]
    row.answer = answer
    row.at = now
    session.add(row)
    return True


async def remove_rsvp(session: AsyncSession, meeting_id: int, occurrence_local: str, person_key: str,
                      answer: str | None = None) -> bool:
    q = delete(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting_id,
                                  MeetingRsvp.occurrence_local == occurrence_local,
                                  MeetingRsvp.person_key == person_key)
    if answer is not None:
        q = q.where(MeetingRsvp.answer == answer)
    return ((await session.execute(q)).rowcount or 0) > 0


async def rsvps(session: AsyncSession, meeting_id: int, occurrence_local: str) -> list[MeetingRsvp]:
    return list((await session.execute(
        select(MeetingRsvp).where(MeetingRsvp.meeting_id == meeting_id,
                                  MeetingRsvp.occurrence_local == occurrence_local)
        .order_by(MeetingRsvp.at))).scalars())


async def rsvp_counts(session: AsyncSession, meeting_id: int, occurrence_local: str) -> dict[str, int]:
    rows = await session.execute(
        select(MeetingRsvp.answer, func.count()).where(
            MeetingRsvp.meeting_id == meeting_id, MeetingRsvp.occurrence_local == occurrence_local)
        .group_by(MeetingRsvp.answer))
    counts = dict.fromkeys(ANSWERS, 0)
    for answer, n in rows:
        counts[answer] = n
    return counts


async def rsvp_counts_of(session: AsyncSession, occurrences: list[tuple[int, str]]) -> dict[tuple[int, str], dict[str, int]]:
    """``rsvp_counts`` of many (meeting id, occurrence) at once: one query, not one per occurrence."""
    out = {pair: dict.fromkeys(ANSWERS, 0) for pair in occurrences}
    if not out:
        return out
    rows = await session.execute(
        select(MeetingRsvp.meeting_id, MeetingRsvp.occurrence_local, MeetingRsvp.answer, func.count()).where(
            MeetingRsvp.meeting_id.in_({m for m, _o in out}),
            MeetingRsvp.occurrence_local.in_({o for _m, o in out}))
        .group_by(MeetingRsvp.meeting_id, MeetingRsvp.occurrence_local, MeetingRsvp.answer))
    for meeting_id, occurrence_local, answer, n in rows:
        if (meeting_id, occurrence_local) in out:  # the IN lists also admit other pairs of the same ids
            out[meeting_id, occurrence_local][answer] = n
    return out


async def add_message(session: AsyncSession, chat_key: str, message_id: str | None, meeting_id: int,
                      occurrence_local: str, kind: str = "card") -> None:
    if not message_id:
        return
    await session.merge(MeetingMessage(chat_key=chat_key, message_id=message_id, meeting_id=meeting_id,
                                       occurrence_local=occurrence_local, kind=kind))


async def message_target(session: AsyncSession, chat_key: str, message_id: str) -> MeetingMessage | None:
    return await session.get(MeetingMessage, (chat_key, message_id))


# --- time polls ----------------------------------------------------------------------------


async def create_time_poll(session: AsyncSession, poll: TimePoll) -> TimePoll:
    """Insert with the chat's next time-poll number (retried on a clash)."""
    for _attempt in range(5):
        poll.number = (await session.execute(
            select(func.coalesce(func.max(TimePoll.number), 0)).where(TimePoll.chat_key == poll.chat_key))
        ).scalar_one() + 1
        try:
            async with session.begin_nested():
                session.add(poll)
            return poll
        except IntegrityError:
            continue
    raise RuntimeError("could not number the time poll")


async def time_poll_by_number(session: AsyncSession, chat_key: str, number: int) -> TimePoll | None:
    return (await session.execute(
        select(TimePoll).where(TimePoll.chat_key == chat_key, TimePoll.number == number))).scalars().first()


async def claim_close(session: AsyncSession, poll_id: int, now: datetime) -> bool:
    """Mark the poll closed unless it already is (one statement: of two closes at once, one wins)."""
    result = await session.execute(update(TimePoll).where(TimePoll.id == poll_id, TimePoll.closed_at.is_(None))
                                   .values(closed_at=now))
    return (result.rowcount or 0) == 1


async def set_time_answer(session: AsyncSession, poll_id: int, option: int, person_key: str, answer: str,
                          now: datetime) -> bool:
    """Store (or replace) a person's answer to one time; False if it was already that. The answer
    replaces one the person gave to that time as an identity linked with this one (storage.links)."""
    from storage import links

    others = await links.linked_keys(session, person_key)
    if others:
        await session.execute(delete(TimePollAnswer).where(
            TimePollAnswer.poll_id == poll_id, TimePollAnswer.option == option, TimePollAnswer.person_key.in_(others)))
    row = await session.get(TimePollAnswer, (poll_id, option, person_key))
    if row is not None and row.answer == answer:
        return False
    if row is None:
        row = TimePollAnswer(poll_id=poll_id, option=option, person_key=person_key)
    row.answer, row.at = answer, now
    session.add(row)
    return True


async def time_counts(session: AsyncSession, poll_id: int, options: int) -> list[dict[str, int]]:
    """Per time (in order): how many answered yes, maybe (if need be) and no. A person who linked
    their identities on two platforms (storage.links) counts once per time, by their latest answer."""
    from storage import links

    rows = (await session.execute(
        select(TimePollAnswer.option, TimePollAnswer.person_key, TimePollAnswer.answer, TimePollAnswer.at)
        .where(TimePollAnswer.poll_id == poll_id).order_by(TimePollAnswer.at))).all()
    person = await links.canonical(session, list({r.person_key for r in rows}))
    latest: dict[tuple[int, str], str] = {}
    for option, person_key, answer, _at in rows:  # oldest first: the latest answer stays
        latest[(option, person.get(person_key, person_key))] = answer
    counts = [dict.fromkeys(TIME_ANSWERS, 0) for _ in range(options)]
    for (option, _who), answer in latest.items():
        if 0 <= option < options and answer in TIME_ANSWERS:
            counts[option][answer] += 1
    return counts


async def add_time_copy(session: AsyncSession, poll_id: int, chat_key: str, message_id: str | None) -> None:
    row = await session.get(TimePollCopy, (poll_id, chat_key)) or TimePollCopy(poll_id=poll_id, chat_key=chat_key)
    row.message_id = message_id
    session.add(row)


async def time_copies(session: AsyncSession, poll_id: int) -> list[TimePollCopy]:
    return list((await session.execute(select(TimePollCopy).where(TimePollCopy.poll_id == poll_id)
                                       .order_by(TimePollCopy.chat_key))).scalars())


async def from_area_time_polls(session: AsyncSession, meeting_ids: list[int]) -> dict[int, int]:
    """Of these meetings, those made by an area time poll: meeting id → time poll id."""
    if not meeting_ids:
        return {}
    return dict((await session.execute(select(TimePollCopy.meeting_id, TimePollCopy.poll_id)
                                       .where(TimePollCopy.meeting_id.in_(meeting_ids)))).all())


# --- calendar feeds ------------------------------------------------------------------------


async def feed_secret(session: AsyncSession, scope: str, new_secret: str, now: datetime) -> str:
    """The scope's secret, made (as ``new_secret``) if it has none yet."""
    row = await session.get(CalendarFeed, scope)
    if row is None:
        row = CalendarFeed(scope=scope, secret=new_secret, created_at=now)
        session.add(row)
    return row.secret


async def rotate_feed(session: AsyncSession, scope: str, new_secret: str, now: datetime) -> bool:
    """Give the scope a new secret (the old one stops working); False if it had none."""
    row = await session.get(CalendarFeed, scope)
    had = row is not None
    if row is None:
        row = CalendarFeed(scope=scope, secret=new_secret, created_at=now)
    row.secret, row.created_at = new_secret, now
    session.add(row)
    return had


async def feed_scope(session: AsyncSession, secret: str) -> str | None:
    return (await session.execute(select(CalendarFeed.scope).where(CalendarFeed.secret == secret))).scalar()
