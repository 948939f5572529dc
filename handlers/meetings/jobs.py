"""Scheduled work: a reminder (not sent for a skipped, moved or cancelled occurrence, nor after
its start) and the roll at each occurrence's start that schedules the next one's reminders."""

from __future__ import annotations

import logging
from datetime import timedelta

from handlers.base import Services
from handlers.meetings.occurrences import wall
from handlers.meetings.reminders import schedule_next, wake_next
from handlers.meetings.render import reminder_html, rsvp_buttons
from storage import meetings as store
from storage.core import Job

log = logging.getLogger(__name__)

LATE_GRACE = timedelta(minutes=2)


async def remind_job(services: Services, job: Job) -> None:
    data = job.data()
    now = services.clock.now()
    async with services.db.session() as session:
        meeting = await session.get(store.Meeting, data["meeting"])
        if meeting is None or meeting.cancelled_at is not None:
            return
        exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
        start = wall(data["start"])
        moved = exc.get(data["occ"], "absent")
        if moved is None or (moved != "absent" and moved != data["start"]):
            return  # skipped or moved since
        if now >= start:
            log.info("reminder for meeting %s at %s missed (bot was down); not sent", meeting.id, data["start"])
            return
        counts = await store.rsvp_counts(session, meeting.id, data["occ"])
    late = now - job.due_at > LATE_GRACE
    with services.locale(await services.chat_language(meeting.chat_key)):
        message_id = await services.send(meeting.chat_key, reminder_html(meeting, start, now, late, counts),
                                         rsvp_buttons(meeting.id))
    async with services.db.transaction() as session:
        await store.add_message(session, meeting.chat_key, message_id, meeting.id, data["occ"], kind="reminder")


async def roll_job(services: Services, job: Job) -> None:
    """At an occurrence's start: schedule the next occurrence's reminders."""
    data = job.data()
    async with services.db.transaction() as session:
        meeting = await session.get(store.Meeting, data["meeting"])
        if meeting is None or meeting.cancelled_at is not None or not meeting.rrule:
            return
        after = max(services.clock.now(), wall(data["start"]))
        await schedule_next(session, meeting, after)
    await wake_next(services, meeting.id)
