"""The meetings' button data and job keys, each declared once (see handlers/keys.py). The wire
formats are those the bot has always written, so buttons already in chats and jobs already in the
store keep working:

- ``meetings:rsvp:<meeting id>:<yes|no|maybe>``, the RSVP buttons under a card or reminder;
- ``meetings.remind:<meeting id>:<occurrence>:<start>:<minutes before>``, one reminder of an
  occurrence (its key ends with the offset, e.g. ``…:1440`` the day before);
- ``meetings.roll:<meeting id>:<occurrence>:<start>``, at an occurrence's start: schedule the next.

``<occurrence>`` and ``<start>`` are Helsinki wall times "YYYY-MM-DDTHH:MM". ``prefix(meeting=…)``
names every job of one meeting and ends with ':', so meeting 1 never matches meeting 12."""

from __future__ import annotations

from handlers.keys import ButtonKind, JobKey

RSVP = ButtonKind("meetings", "rsvp", ("meeting", int), ("answer", 5))
REMIND = JobKey("meetings.remind", "meeting", "occ", "start", "offset")
ROLL = JobKey("meetings.roll", "meeting", "occ", "start")

#: ``meetings:time:<time poll id>:<option, 0-based>:<yes|maybe|no>``, an answer to one time of a time poll
TIME = ButtonKind("meetings", "time", ("poll", int), ("option", int), ("answer", 5))
#: ``meetings.timepoll:<time poll id>``, the close of a time poll
CLOSE_TIME_POLL = JobKey("meetings.timepoll", "poll")
#: ``meetings.timepoll.announce:<time poll id>``, a while after the close: announce it if the run that
#: closed it could not (it died between the commit and the announcement)
ANNOUNCE_TIME_POLL = JobKey("meetings.timepoll.announce", "poll")
#: ``meetings.timepoll.refresh:<time poll id>:<window>``, the live counts of an area time poll in
#: every chat, once per window
REFRESH_TIME_POLL = JobKey("meetings.timepoll.refresh", "poll", "at")
#: ``meetings.timepoll.copies:<time poll id>``, post an area time poll where it could not be posted
TIME_POLL_COPIES = JobKey("meetings.timepoll.copies", "poll")
#: ``meetings.timepoll.announce:<time poll id>:<chat key>`` and ``meetings.timepoll.copies:<id>:<chat
#: key>``: an area time poll's check that it was announced, and its post, in one chat of the area —
#: one job per chat, so a chat whose platform is down waits for it without holding up the others
ANNOUNCE_TIME_POLL_IN = JobKey("meetings.timepoll.announce", "poll", "chat")
TIME_POLL_COPY_IN = JobKey("meetings.timepoll.copies", "poll", "chat")
