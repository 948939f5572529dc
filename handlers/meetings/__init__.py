"""Meetings: schedule in chat, reminders that survive restarts, RSVP, iCalendar export.

The feature's declarations are ``FEATURE`` below; the names other code uses are re-exported here."""

from handlers.meetings.flow import (
    FEATURE,
    describe_rrule,
    digest,
    export_meetings,
    occurrences,
    parse_recurrence,
    reminder_time,
    render_digest,
    schedule_next,
    to_local,
)

__all__ = ["FEATURE", "describe_rrule", "digest", "export_meetings", "occurrences", "parse_recurrence",
           "reminder_time", "render_digest", "schedule_next", "to_local"]
