"""When reminders are due and their job rows: the chat's reminder times and quiet hours, a
day-before reminder moved out of quiet hours, and the reminders and roll job of a meeting's next
occurrence (one job per meeting, occurrence, start time and offset, deduplicated by its key)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from handlers.base import Services
from handlers.meetings.keys import REMIND, ROLL
from handlers.meetings.occurrences import Occurrence, occurrences, to_local, wall
from handlers.when import HELSINKI
from storage import meetings as store
from storage.core import Chat, Job, cancel_jobs, schedule_job

DEFAULT_REMINDERS = (1440, 60)  # minutes before: a day and an hour

DEFAULT_QUIET = (21, 8)  # no day-before reminders from 21:00 to 08:00

DAY_BEFORE_MIN = 12 * 60  # reminders at least this early obey quiet hours


def reminder_offsets(chat: Chat | None) -> list[int]:
    value = chat.setting("meetings.reminders", None) if chat else None
    return sorted({int(v) for v in (DEFAULT_REMINDERS if value is None else value)}, reverse=True)


def offsets_to_come(chat: Chat | None, meeting: store.Meeting, occ: Occurrence | None, now: datetime) -> list[int]:
    """The reminders the card may promise: a single meeting's that are still ahead (one due
    already is not sent: ``schedule_next``); a series' all, its later meetings get them."""
    offsets = reminder_offsets(chat)
    if meeting.rrule or occ is None:
        return offsets
    quiet = quiet_hours(chat)
    return [o for o in offsets if reminder_time(occ.start, o, quiet) > now]


def quiet_hours(chat: Chat | None) -> tuple[int, int] | None:
    value = chat.setting("meetings.quiet", "default") if chat else "default"
    if value == "default":
        return DEFAULT_QUIET
    return tuple(value) if value else None


def in_quiet(local: datetime, quiet: tuple[int, int] | None) -> bool:
    if not quiet:
        return False
    start, end = quiet
    h = local.hour + local.minute / 60
    return (start <= h or h < end) if start > end else (start <= h < end)


def reminder_time(start: datetime, offset: int, quiet: tuple[int, int] | None) -> datetime:
    """When to remind ``offset`` minutes before ``start``; a day-before reminder that would fall in
    quiet hours moves to the end of them, or to their start if that would be too late."""
    due = (start.astimezone(UTC) - timedelta(minutes=offset)).astimezone(HELSINKI)
    if offset < DAY_BEFORE_MIN or not in_quiet(due, quiet):
        return due
    q_start, q_end = quiet  # type: ignore[misc]
    end = due.replace(hour=q_end, minute=0)
    if end < due:
        end += timedelta(days=1)
    if end <= start - timedelta(hours=3):
        return wall(end.replace(tzinfo=None))
    begin = due.replace(hour=q_start, minute=0)
    if begin > due:
        begin -= timedelta(days=1)
    return wall(begin.replace(tzinfo=None))


async def schedule_next(session, meeting: store.Meeting, now: datetime, *, fresh: bool = False) -> Occurrence | None:
    """(Re)schedule the reminders and the roll job of the meeting's next occurrence after ``now``.
    Pending jobs of the meeting are cancelled first (not needed for a ``fresh`` meeting); sent ones
    stay sent (dedup keys)."""
    if not fresh:
        await cancel_jobs(session, REMIND.prefix(meeting=meeting.id))
        await cancel_jobs(session, ROLL.prefix(meeting=meeting.id))
    if meeting.cancelled_at is not None:
        return None
    exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
    upcoming = occurrences(meeting, exc, now, 1)
    if not upcoming:
        return None
    occ = upcoming[0]
    chat = await session.get(Chat, meeting.chat_key)
    quiet = quiet_hours(chat)
    local = to_local(occ.start)
    for offset in reminder_offsets(chat):
        due = reminder_time(occ.start, offset, quiet)
        if due <= now:
            continue
        await schedule_job(session, REMIND.kind, due.astimezone(UTC), chat_key=meeting.chat_key,
                           payload={"meeting": meeting.id, "occ": occ.key, "start": local, "offset": offset},
                           dedup_key=REMIND.key(meeting=meeting.id, occ=occ.key, start=local, offset=offset))
    await schedule_job(session, ROLL.kind, occ.start.astimezone(UTC), chat_key=meeting.chat_key,
                       payload={"meeting": meeting.id, "occ": occ.key, "start": local},
                       dedup_key=ROLL.key(meeting=meeting.id, occ=occ.key, start=local))
    return occ


async def wake_next(services: Services, meeting_id: int) -> None:
    """Tell the scheduler about the meeting's earliest pending job (after it is committed)."""
    async with services.db.session() as session:
        due = (await session.execute(
            select(func.min(Job.due_at)).where(
                or_(Job.dedup_key.startswith(REMIND.prefix(meeting=meeting_id), autoescape=True),
                    Job.dedup_key.startswith(ROLL.prefix(meeting=meeting_id), autoescape=True)),
                Job.done_at.is_(None), Job.claimed_at.is_(None), Job.cancelled.is_(False)))).scalar()
    if due is not None:
        services.wake(due)
