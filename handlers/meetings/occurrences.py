"""A meeting's occurrences: the RRULE expanded with python-dateutil over Helsinki wall-clock
times (so "joka tiistai klo 18" stays at 18:00 across daylight-saving switches), skipped and moved
ones applied; and the chat's upcoming occurrences read from the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dateutil.rrule import rrulestr

from core.i18n import _
from handlers.base import UserError
from handlers.when import HELSINKI
from storage import meetings as store

LOCAL_FMT = "%Y-%m-%dT%H:%M"


def to_local(dt: datetime) -> str:
    return dt.astimezone(HELSINKI).strftime(LOCAL_FMT)


def wall(local: str | datetime) -> datetime:
    """Helsinki wall time (naive or "YYYY-MM-DDTHH:MM") as an aware datetime."""
    naive = datetime.strptime(local, LOCAL_FMT) if isinstance(local, str) else local
    return naive.replace(tzinfo=HELSINKI)


@dataclass(frozen=True)
class Occurrence:
    meeting: store.Meeting
    key: str  # original wall time "YYYY-MM-DDTHH:MM" (stable id of the occurrence)
    start: datetime  # aware, Helsinki
    moved: bool = False

    @property
    def end(self) -> datetime:
        return (self.start.astimezone(UTC) + timedelta(minutes=self.meeting.duration_minutes)).astimezone(HELSINKI)


def rule_of(meeting: store.Meeting):
    return rrulestr("RRULE:" + meeting.rrule, dtstart=datetime.strptime(meeting.dtstart_local, LOCAL_FMT))


def occurrences(meeting: store.Meeting, exceptions: dict[str, str | None], after: datetime,
                limit: int = 1, before: datetime | None = None) -> list[Occurrence]:
    """Occurrences starting strictly after ``after`` (and before ``before``), skips left out and
    moved ones at their new time, in order; at most ``limit``."""
    found: list[Occurrence] = []
    for key, moved in exceptions.items():
        if moved:
            start = wall(moved)
            if start > after and (before is None or start < before):
                found.append(Occurrence(meeting, key, start, moved=True))
    if not meeting.rrule:
        key = meeting.dtstart_local
        start = wall(key)
        if key not in exceptions and start > after and (before is None or start < before):
            found.append(Occurrence(meeting, key, start))
    else:
        rule = rule_of(meeting)
        naive_after = after.astimezone(HELSINKI).replace(tzinfo=None) - timedelta(days=1)
        regular = 0
        for naive in rule.xafter(naive_after, inc=True):
            start = wall(naive)
            if before is not None and start >= before:
                break
            key = naive.strftime(LOCAL_FMT)
            if start <= after or key in exceptions:
                continue
            found.append(Occurrence(meeting, key, start))
            regular += 1
            if regular >= limit:
                break
    found.sort(key=lambda o: o.start)
    return found[:limit]


def find_occurrence(meeting: store.Meeting, exceptions: dict[str, str | None], day, now: datetime) -> Occurrence:
    """The upcoming occurrence on a given local date."""
    start_of_day = datetime.combine(day, time(0, 0), tzinfo=HELSINKI)
    for occ in occurrences(meeting, exceptions, max(now, start_of_day - timedelta(seconds=1)), 5,
                           start_of_day + timedelta(days=1)):
        if occ.start.date() == day:
            return occ
    raise UserError(_("Meeting #{number} has no meeting on {date}.").format(
        number=meeting.number, date=format_date_only(start_of_day)))


def format_date_only(dt: datetime) -> str:
    from core.i18n import format_date

    return format_date(dt)


async def upcoming_in_chat(session, chat_keys: list[str] | None, after: datetime, before: datetime,
                           limit: int = 1000, include_cancelled: bool = False) -> list[Occurrence]:
    meetings = [m for m in await store.active_meetings(session, chat_keys, include_cancelled)
                if m.last_start is None or m.last_start > after or m.rrule == ""]
    exc = await store.exceptions_of(session, [m.id for m in meetings])
    found: list[Occurrence] = []
    for m in meetings:
        found.extend(occurrences(m, exc[m.id], after, limit, before))
    found.sort(key=lambda o: (o.start, o.meeting.number))
    return found[:limit]


async def current_occurrence(session, meeting: store.Meeting, now: datetime) -> Occurrence:
    exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
    upcoming = occurrences(meeting, exc, now - timedelta(minutes=meeting.duration_minutes), 1)
    if not upcoming:
        raise UserError(_("Meeting #{number} has no upcoming meetings.").format(number=meeting.number))
    return upcoming[0]
