"""Retention: raw records older than the configured months are deleted, one kind at a time.

Only what no stored result still needs goes: a closed poll keeps its counted result (``Poll.counts``,
``voters``) when its votes go, a week's digest keeps its activity figures when the counts go.
Self-assessment answers are not a kind here: a round's profile is computed from them whenever it
is shown. Each ``purge_*`` deletes in the caller's transaction and returns the rows removed; it
never commits. The nightly job (``handlers/retention``) calls one per kind, each in its own
transaction."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.clock import HELSINKI
from storage import audit, digest, meetings, polls
from storage.core import Job, add_unique


@dataclass(frozen=True)
class Policy:
    """Months each kind is kept; 0 keeps it forever (the default here: the configuration gives
    the product's figures, bot/config.py ``RetentionSettings``)."""

    activity_months: int = 0
    poll_votes_months: int = 0
    rsvp_months: int = 0
    audit_months: int = 0

    def kinds(self) -> list[tuple[str, int, Purge]]:
        """(kind, months, purge) of every kind, in a fixed order."""
        return [("activity", self.activity_months, purge_activity),
                ("poll_votes", self.poll_votes_months, purge_poll_votes),
                ("rsvps", self.rsvp_months, purge_rsvps),
                ("audit", self.audit_months, purge_audit)]

    @property
    def keeps_everything(self) -> bool:
        return not any(months for _kind, months, _purge in self.kinds())


Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


def months_before(now: datetime, months: int) -> datetime:
    """The same Helsinki wall time ``months`` calendar months earlier (the 31st becomes the last
    day of a shorter month), as an aware datetime."""
    local = now.astimezone(HELSINKI)
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


async def purge_activity(session: AsyncSession, before: datetime) -> int:
    """Message counts and activity marks of the ISO weeks that ended before ``before``."""
    week = digest.week_of(before)  # the week holding ``before`` stays whole
    removed = 0
    for table in (digest.ActivityCount, digest.ActivityPerson):
        removed += (await session.execute(delete(table).where(table.week < week))).rowcount or 0
    return removed


async def purge_poll_votes(session: AsyncSession, before: datetime) -> int:
    """Each vote of polls closed (their result counted, stored and posted) or cancelled before
    ``before``."""
    P = polls.Poll
    done = select(P.id).where(P.closed_at < before, or_(
        and_(P.status == polls.CLOSED, P.counts.is_not(None), P.result_posted_at.is_not(None)),
        P.status == polls.CANCELLED))
    result = await session.execute(delete(polls.PollVote).where(polls.PollVote.poll_id.in_(done)))
    return result.rowcount or 0


async def purge_rsvps(session: AsyncSession, before: datetime) -> int:
    """RSVPs of meeting occurrences that began before ``before`` (a moved one counts at its new
    time), every RSVP of a meeting cancelled before then, and the answers of time polls closed
    before then (the meeting they made stays)."""
    R, E, M = meetings.MeetingRsvp, meetings.MeetingException, meetings.Meeting
    local = before.astimezone(HELSINKI).isoformat(timespec="minutes")[:16]  # occurrences: Helsinki wall times
    moved_later = exists().where(E.meeting_id == R.meeting_id, E.occurrence_local == R.occurrence_local,
                                 E.moved_to_local.is_not(None), E.moved_to_local >= local)
    cancelled = select(M.id).where(M.cancelled_at < before)
    result = await session.execute(delete(R).where(or_(
        and_(R.occurrence_local < local, ~moved_later), R.meeting_id.in_(cancelled))))
    T = meetings.TimePoll
    answers = await session.execute(delete(meetings.TimePollAnswer).where(
        meetings.TimePollAnswer.poll_id.in_(select(T.id).where(T.closed_at < before))))
    return (result.rowcount or 0) + (answers.rowcount or 0)


async def purge_audit(session: AsyncSession, before: datetime) -> int:
    """Audit records of actions before ``before``."""
    result = await session.execute(delete(audit.AuditEvent).where(audit.AuditEvent.at < before))
    return result.rowcount or 0


# --- the nightly job's row ---------------------------------------------------------------------


async def plan_run(session: AsyncSession, kind: str, dedup_key: str, due: datetime,
                   besides: int | None = None) -> bool:
    """Add the job row of the next run unless an open one of ``kind`` exists (other than
    ``besides``, the run now going on); False when there was one. Several processes planning at
    once add one row (the dedup key is unique), and a run in progress is never moved."""
    query = select(Job.id).where(Job.kind == kind, Job.done_at.is_(None), Job.cancelled.is_(False))
    if besides is not None:
        query = query.where(Job.id != besides)
    if (await session.execute(query.limit(1))).first() is not None:
        return False
    return await add_unique(session, Job(kind=kind, dedup_key=dedup_key, due_at=due, planned_at=due))

