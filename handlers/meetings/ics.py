"""iCalendar export: the chat's meetings (or one) as an RFC 5545 file, with Europe/Helsinki as
yearly rules, skipped occurrences as EXDATE and moved ones as RECURRENCE-ID overrides."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.events import FileOut
from core.i18n import _, format_datetime, format_number, ngettext
from core.markup import esc
from handlers.base import Context, UserError
from handlers.meetings.flow import get_meeting
from handlers.meetings.occurrences import occurrences, wall
from storage import meetings as store
from storage.core import Chat

if TYPE_CHECKING:  # icalendar is imported when a calendar is made, not at every start
    from icalendar import Timezone

#: names Windows reserves for devices, with any extension ("CON.ics" too)
WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))})


def build_ics(meetings: list[store.Meeting], exceptions: dict[int, dict[str, str | None]], now: datetime,
              name: str = "", rsvp_command: str = "/rsvp", *, feed: bool = False, public: bool = False) -> bytes:
    """An RFC 5545 calendar (METHOD:PUBLISH: a copy to import, not an invitation) of the meetings, its
    texts in the current language; ``rsvp_command`` is how to answer in the chat ("/osallistun").
    A ``feed`` (a subscribed calendar) also says how often to look again, each event's SEQUENCE
    (raised by every move, skip and cancel) and STATUS (CANCELLED for a cancelled meeting or series,
    which calendars then strike out); a ``public`` one has no description (no chat commands)."""
    from icalendar import Calendar, Event, vRecur

    cal = Calendar()
    cal.add("prodid", "-//kehrabot//meetings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Helsinki")
    if feed:
        cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")
    cal.add_component(helsinki_vtimezone())  # before the events that name it (older Outlook reads in order)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for m in meetings:
        start = wall(m.dtstart_local)
        ev = Event()
        ev.add("uid", m.uid)
        ev.add("dtstamp", stamp)
        ev.add("summary", m.title)
        ev.add("dtstart", start)
        ev.add("duration", timedelta(minutes=m.duration_minutes))
        if m.place:
            ev.add("location", m.place)
        if not public:
            ev.add("description", _("Meeting #{number}. Answer in the chat: {command}").format(
                number=m.number, command=_("{command} {number} yes|no|maybe").format(command=rsvp_command,
                                                                                    number=m.number)))
        if feed:
            ev.add("sequence", m.sequence)
            ev.add("status", "CANCELLED" if m.cancelled_at is not None else "CONFIRMED")
        exc = exceptions.get(m.id, {})
        if m.rrule:
            ev.add("rrule", vRecur.from_ical(m.rrule))
            skipped = sorted(k for k, v in exc.items() if v is None)
            if skipped:
                ev.add("exdate", [wall(k) for k in skipped])
        cal.add_component(ev)
        for key, moved in sorted(exc.items()):
            if moved and m.rrule:
                # A moved occurrence overrides the series' instance (same UID, RECURRENCE-ID).
                mv = Event()
                mv.add("uid", m.uid)
                mv.add("recurrence-id", wall(key))
                mv.add("dtstamp", stamp)
                mv.add("sequence", max(1, m.sequence))
                mv.add("summary", m.title)
                mv.add("dtstart", wall(moved))
                mv.add("duration", timedelta(minutes=m.duration_minutes))
                if m.place:
                    mv.add("location", m.place)
                if feed:
                    mv.add("status", "CANCELLED" if m.cancelled_at is not None else "CONFIRMED")
                mv.add("description", _("Meeting #{number}, moved from {when}.").format(
                    number=m.number, when=format_datetime(wall(key))))
                cal.add_component(mv)
    return cal.to_ical()


def helsinki_vtimezone() -> Timezone:
    """Europe/Helsinki as yearly rules (EU summer time since 1996), the form Outlook, Google and Apple
    write themselves: no end year (the generated list of dates stops at 2037) and a short file."""
    from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

    tz = Timezone()
    tz.add("tzid", "Europe/Helsinki")
    for kind, start, month, before, after, name in (
            (TimezoneDaylight, datetime(1996, 3, 31, 3, 0), 3, 2, 3, "EEST"),
            (TimezoneStandard, datetime(1996, 10, 27, 4, 0), 10, 3, 2, "EET")):
        part = kind()
        part.add("dtstart", start)
        part.add("rrule", {"freq": "yearly", "bymonth": month, "byday": "-1su"})
        part.add("tzoffsetfrom", timedelta(hours=before))
        part.add("tzoffsetto", timedelta(hours=after))
        part.add("tzname", name)
        tz.add_component(part)
    return tz


async def calendar_cmd(ctx: Context, number: int | None) -> None:
    now = ctx.now()
    async with ctx.db.session() as session:
        if number is not None:
            meetings = [await get_meeting(session, ctx, number)]
        else:
            meetings = await store.active_meetings(session, [ctx.chat_key])
        exc = await store.exceptions_of(session, [m.id for m in meetings])
        meetings = [m for m in meetings if number is not None or occurrences(m, exc[m.id], now, 1)]
        chat = await session.get(Chat, ctx.chat_key)
    if not meetings:
        raise UserError(_("There are no upcoming meetings to put in a calendar."))
    title = (chat.title if chat and chat.title else ctx.chat_key.split(":", 1)[-1])
    chat_lang = await ctx.services.chat_language(ctx.chat_key)
    with ctx.services.locale(chat_lang):  # the file is the chat's, whoever asked for it
        data = build_ics(meetings, exc, now, title, ctx.transport.command_prefixes[0]
                         + ctx.services.command("rsvp").shown_name(chat_lang))
    slug = re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:40] or "kehra"
    if slug in WINDOWS_DEVICES:  # "con.ics" cannot be saved on Windows
        slug = f"kehra-{slug}"
    filename = f"{slug}-{number}.ics" if number is not None else f"{slug}.ics"
    caption = (_("Meeting #{number} as a calendar file.").format(number=number) if number is not None
               else ngettext("{count} meeting or series as a calendar file.",
                             "{count} meetings or series as a calendar file.", len(meetings)).format(
                   count=format_number(len(meetings))))
    await ctx.send_file(FileOut(filename=filename, data=data, mime="text/calendar", caption_html=esc(caption)))
