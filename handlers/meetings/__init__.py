"""Meetings: schedule in chat (fi/sv/en phrases, recurrence in words), reminders that survive
restarts, RSVP by button, reaction or command, and iCalendar export.

Series are RFC 5545 RRULEs expanded with python-dateutil over Helsinki wall-clock times, so a
meeting "joka tiistai klo 18" stays at 18:00 across daylight-saving switches. Reminders are job rows
(one per meeting, occurrence, start time and offset, deduplicated); a "roll" job at each occurrence's
start schedules the next occurrence's reminders.

Where things are: ``commands`` (the command table and FEATURE), ``keys`` (button data and job
keys), ``recurrence`` (recurrence words ↔ RRULE), ``occurrences`` (expanding a series),
``reminders`` (quiet hours, when reminders are due, their jobs), ``parse`` and ``render`` (pure),
``flow`` (the commands, buttons and reactions), ``settings``, ``jobs``, ``ics``, ``digest``.
"""

from handlers.meetings.commands import FEATURE
from handlers.meetings.digest import digest, export_meetings, render_digest
from handlers.meetings.occurrences import occurrences, to_local
from handlers.meetings.recurrence import describe_rrule, parse_recurrence
from handlers.meetings.reminders import reminder_time, schedule_next

__all__ = ["FEATURE", "describe_rrule", "digest", "export_meetings", "occurrences", "parse_recurrence",
           "reminder_time", "render_digest", "schedule_next", "to_local"]
