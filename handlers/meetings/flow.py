"""Meetings: schedule in chat (fi/sv/en phrases, recurrence in words), reminders that survive
restarts, RSVP by button, reaction or command, and iCalendar export.

Series are RFC 5545 RRULEs expanded with python-dateutil over Helsinki wall-clock times, so a
meeting "joka tiistai klo 18" stays at 18:00 across daylight-saving switches. Reminders are job rows
(one per meeting, occurrence, start time and offset, deduplicated); a "roll" job at each occurrence's
start schedules the next occurrence's reminders.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from dateutil.rrule import rrulestr
from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vRecur
from sqlalchemy import func, or_, select

from core.events import Button, FileOut, Kind, Role
from core.i18n import N_, _, current_language, format_datetime, format_number, format_time, ngettext
from core.markup import b, esc
from handlers.base import Command, Context, Feature, Services, UserError
from handlers.when import (
    HELSINKI,
    WEEKDAY_WORDS,
    WhenError,
    clock_face,
    parse_duration,
    parse_when,
    split_when,
)
from storage import meetings as store
from storage.core import Chat, Job, cancel_jobs, effect_of, record_effect, schedule_job, set_chat_setting

log = logging.getLogger(__name__)

MAX_TITLE = 200
DEFAULT_DURATION = 120  # minutes, when no end time is given
MAX_DURATION = 12 * 60
# "18-20", "klo 17.30–19", "18:00 - 19:30": a start and an end time (not part of a date like 2026-12-01)
_TIME_RANGE = re.compile(r"(?<![\d.:\-–])(\d{1,2}(?:[:.]\d{2})?)\s*[-–]\s*(\d{1,2})(?:[:.](\d{2}))?(?![\d:]|\.\d)")
MAX_PLACE = 200
DEFAULT_REMINDERS = (1440, 60)  # minutes before: a day and an hour
DEFAULT_QUIET = (21, 8)  # no day-before reminders from 21:00 to 08:00
DAY_BEFORE_MIN = 12 * 60  # reminders at least this early obey quiet hours
LATE_GRACE = timedelta(minutes=2)
LIST_DAYS = 60
LIST_LIMIT = 15
LIST_PER_SERIES = 3  # a daily series shows its next three, so that it hides no other meeting
LOCAL_FMT = "%Y-%m-%dT%H:%M"
_DIGITS = re.compile(r"[0-9]{1,9}")

ANSWER_LABELS = {"yes": N_("Coming"), "no": N_("Not coming"), "maybe": N_("Maybe")}
ANSWER_EMOJI = {"yes": "✅", "no": "❌", "maybe": "🤔"}
REACTIONS = {"👍": "yes", "+1": "yes", ":+1:": "yes", "👎": "no", "-1": "no", ":-1:": "no", "🤔": "maybe"}
ANSWER_WORDS = {
    "yes": ("yes", "y", "kyllä", "joo", "tulen", "ja", "kommer", "1"),
    "no": ("no", "n", "ei", "nej", "entule", "0"),
    "maybe": ("maybe", "ehkä", "kanske", "?"),
}
ORDINAL_LABELS = {1: N_("first"), 2: N_("second"), 3: N_("third"), 4: N_("fourth"), -1: N_("last")}
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


# --- wall-clock helpers ------------------------------------------------------------------------


def to_local(dt: datetime) -> str:
    return dt.astimezone(HELSINKI).strftime(LOCAL_FMT)


def wall(local: str | datetime) -> datetime:
    """Helsinki wall time (naive or "YYYY-MM-DDTHH:MM") as an aware datetime."""
    naive = datetime.strptime(local, LOCAL_FMT) if isinstance(local, str) else local
    return naive.replace(tzinfo=HELSINKI)


# --- recurrence in words -----------------------------------------------------------------------

_ORDINALS = {
    "ensimmäinen": 1, "ensimmäisenä": 1, "1.": 1, "toinen": 2, "toisena": 2, "2.": 2, "kolmas": 3,
    "kolmantena": 3, "3.": 3, "neljäs": 4, "neljäntenä": 4, "4.": 4, "viimeinen": -1, "viimeisenä": -1,
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1,
    "första": 1, "andra": 2, "tredje": 3, "fjärde": 4, "sista": -1,
}


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_WD = "(?P<wd>" + _alt(WEEKDAY_WORDS) + ")"
_ORD = "(?P<ord>" + _alt(_ORDINALS) + ")"
_E = r"(?=$|\s)"
_RECURRENCE = [
    ("monthly", re.compile(r"(?:joka kuun|jokaisen kuukauden|kuukauden|kuun)\s+" + _ORD + r"\s+" + _WD + _E)),
    ("monthly", re.compile(_ORD + r"\s+" + _WD + r"\s+(?:joka kuu(?:ssa)?|jokaisessa kuussa)" + _E)),
    ("monthly", re.compile(r"(?:every|each)\s+" + _ORD + r"\s+" + _WD + r"(?:\s+of\s+(?:the|every|each)\s+month)?"
                           + _E)),
    ("monthly", re.compile(r"(?:the\s+)?" + _ORD + r"\s+" + _WD + r"\s+of\s+(?:every|each|the)\s+month" + _E)),
    ("monthly", re.compile(r"(?:varje|var)\s+månads\s+" + _ORD + r"\s+" + _WD + _E)),
    ("monthly", re.compile(_ORD + r"\s+" + _WD + r"\s+i\s+(?:varje|var)\s+månad" + _E)),
    ("biweekly", re.compile(r"(?:joka toinen|joka toisena|every other|every second|varannan|var annan|"
                            r"varje annan)\s+" + _WD + _E)),
    ("weekly", re.compile(r"(?:joka|jokainen|every|each|varje|alla)\s+" + _WD + _E)),
    ("weekly", re.compile(r"(?P<wd>(?:maanantai|tiistai|keskiviikko|torstai|perjantai|lauantai|sunnuntai)sin|"
                          r"(?:maanantai|tiistai|perjantai|lauantai|sunnuntai)isin|keskiviikkoisin)" + _E)),
    ("daily", re.compile(r"(?:joka päivä|päivittäin|every day|daily|varje dag|dagligen)" + _E)),
]
_COUNT = re.compile(r"\s*(?P<n>\d{1,3})\s+(?:kertaa|times|gånger|ggr)" + _E)


def parse_recurrence(text: str) -> tuple[str, str] | None:
    """A leading recurrence phrase as an RRULE value and the rest of the text, or None."""
    low = text.casefold()
    for kind, rx in _RECURRENCE:
        m = rx.match(low)
        if not m:
            continue
        if kind == "daily":
            rule = "FREQ=DAILY"
        else:
            wd = m["wd"]
            day = RRULE_DAYS[WEEKDAY_WORDS[wd] if wd in WEEKDAY_WORDS else _fi_plural_weekday(wd)]
            if kind == "monthly":
                rule = f"FREQ=MONTHLY;BYDAY={_ORDINALS[m['ord']]}{day}"
            elif kind == "biweekly":
                rule = f"FREQ=WEEKLY;INTERVAL=2;BYDAY={day}"
            else:
                rule = f"FREQ=WEEKLY;BYDAY={day}"
        end = m.end()
        c = _COUNT.match(low, end)
        if c:
            rule += _count_part(c)
            end = c.end()
        return rule, text[end:].strip()
    return None


def _count_part(match: re.Match) -> str:
    n = int(match["n"])
    if not 1 <= n <= 500:
        raise UserError(_("A series can have 1 to 500 meetings."))
    return f";COUNT={n}"


def count_after_time(rule: str, title: str) -> tuple[str, str]:
    """A repeat count written after the time ("joka päivä klo 9 10 kertaa Aamukahvi") joins the rule."""
    c = _COUNT.match(title.casefold())
    if c is None or "COUNT=" in rule:
        return rule, title
    return rule + _count_part(c), title[c.end():].strip()


def _fi_plural_weekday(word: str) -> int:
    for stem, i in (("maanantai", 0), ("tiistai", 1), ("keskiviikko", 2), ("torstai", 3), ("perjantai", 4),
                    ("lauantai", 5), ("sunnuntai", 6)):
        if word.startswith(stem):
            return i
    raise KeyError(word)


def _weekday_name(index: int) -> str:
    from babel.dates import format_date

    return format_date(datetime(2024, 1, 1) + timedelta(days=index), "cccc", locale=current_language())


def describe_rrule(rule: str) -> str:
    """The recurrence in words, in the current language."""
    if not rule:
        return ""
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    count = parts.get("COUNT")
    freq = parts.get("FREQ")
    if freq == "DAILY":
        text = _("every day")
    else:
        byday = parts.get("BYDAY", "MO")
        m = re.match(r"(-?\d)?([A-Z]{2})", byday)
        nth, day = (int(m[1]) if m and m[1] else None), RRULE_DAYS.index(m[2] if m else "MO")
        if freq == "MONTHLY" and nth is not None:
            text = _("every month on the {ordinal} {weekday}").format(
                ordinal=_(ORDINAL_LABELS.get(nth, "first")), weekday=_weekday_name(day))
        elif parts.get("INTERVAL") == "2":
            text = _("every other {weekday}").format(weekday=_weekday_name(day))
        else:
            text = _("every {weekday}").format(weekday=_weekday_name(day))
    if count:
        text += ", " + ngettext("{count} time", "{count} times", int(count)).format(count=format_number(int(count)))
    return text


# --- occurrences -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    meeting: store.Meeting
    key: str  # original wall time "YYYY-MM-DDTHH:MM" (stable id of the occurrence)
    start: datetime  # aware, Helsinki
    moved: bool = False

    @property
    def end(self) -> datetime:
        return (self.start.astimezone(UTC) + timedelta(minutes=self.meeting.duration_minutes)).astimezone(HELSINKI)


def _rule(meeting: store.Meeting):
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
        rule = _rule(meeting)
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
        number=meeting.number, date=esc(format_date_only(start_of_day))))


def format_date_only(dt: datetime) -> str:
    from core.i18n import format_date

    return format_date(dt)


# --- settings ------------------------------------------------------------------------------------


def reminder_offsets(chat: Chat | None) -> list[int]:
    value = chat.setting("meetings.reminders", None) if chat else None
    return sorted({int(v) for v in (DEFAULT_REMINDERS if value is None else value)}, reverse=True)


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


# --- scheduling ----------------------------------------------------------------------------------


async def schedule_next(session, meeting: store.Meeting, now: datetime, *, fresh: bool = False) -> Occurrence | None:
    """(Re)schedule the reminders and the roll job of the meeting's next occurrence after ``now``.
    Pending jobs of the meeting are cancelled first (not needed for a ``fresh`` meeting); sent ones
    stay sent (dedup keys)."""
    if not fresh:
        await cancel_jobs(session, f"meetings.remind:{meeting.id}:")
        await cancel_jobs(session, f"meetings.roll:{meeting.id}:")
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
        await schedule_job(session, "meetings.remind", due.astimezone(UTC), chat_key=meeting.chat_key,
                           payload={"meeting": meeting.id, "occ": occ.key, "start": local, "offset": offset},
                           dedup_key=f"meetings.remind:{meeting.id}:{occ.key}:{local}:{offset}")
    await schedule_job(session, "meetings.roll", occ.start.astimezone(UTC), chat_key=meeting.chat_key,
                       payload={"meeting": meeting.id, "occ": occ.key, "start": local},
                       dedup_key=f"meetings.roll:{meeting.id}:{occ.key}:{local}")
    return occ


async def _wake_next(services: Services, meeting_id: int) -> None:
    """Tell the scheduler about the meeting's earliest pending job (after it is committed)."""
    async with services.db.session() as session:
        due = (await session.execute(
            select(func.min(Job.due_at)).where(
                or_(Job.dedup_key.startswith(f"meetings.remind:{meeting_id}:"),
                    Job.dedup_key.startswith(f"meetings.roll:{meeting_id}:")),
                Job.done_at.is_(None), Job.claimed_at.is_(None), Job.cancelled.is_(False)))).scalar()
    if due is not None:
        services.wake(due)


# --- rendering -----------------------------------------------------------------------------------


def counts_line(counts: dict[str, int]) -> str:
    return _("Coming: {yes} · Not coming: {no} · Maybe: {maybe}").format(
        **{answer: format_number(n) for answer, n in counts.items()})


def rsvp_buttons(meeting_id: int) -> tuple[tuple[Button, ...], ...]:
    return (tuple(Button(f"{ANSWER_EMOJI[a]} {_(ANSWER_LABELS[a])}", f"meetings:rsvp:{meeting_id}:{a}")
                  for a in store.ANSWERS),)


def _in_words(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes >= 1440 and minutes % 1440 == 0 or minutes >= 2880:
        days = round(minutes / 1440)
        return ngettext("in {count} day", "in {count} days", days).format(count=format_number(days))
    if minutes >= 60:
        hours = round(minutes / 60)
        return ngettext("in {count} hour", "in {count} hours", hours).format(count=format_number(hours))
    return ngettext("in {count} minute", "in {count} minutes", minutes).format(count=format_number(minutes))


def offsets_text(offsets: list[int]) -> str:
    parts = []
    for m in offsets:
        if m % 1440 == 0:
            parts.append(ngettext("{count} day", "{count} days", m // 1440).format(count=format_number(m // 1440)))
        elif m % 60 == 0:
            parts.append(ngettext("{count} hour", "{count} hours", m // 60).format(count=format_number(m // 60)))
        else:
            parts.append(ngettext("{count} minute", "{count} minutes", m).format(count=format_number(m)))
    return ", ".join(parts)


def meeting_lines(meeting: store.Meeting, occ: Occurrence | None) -> list[str]:
    lines = ["📅 " + b(_("Meeting #{number}: {title}").format(number=meeting.number, title=meeting.title))]
    if occ is not None:
        when = esc(format_datetime(occ.start) + "–" + format_time(occ.end))
        lines.append("🕕 " + (when + " " + esc(_("(moved)")) if occ.moved else when))
    if meeting.place:
        lines.append("📍 " + esc(meeting.place))
    if meeting.rrule:
        lines.append("🔁 " + esc(describe_rrule(meeting.rrule)))
    return lines


# --- parsing commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingSpec:
    title: str
    place: str
    dtstart_local: str
    rrule: str
    start: datetime
    last_start: datetime | None
    duration_minutes: int = DEFAULT_DURATION


def _split_end_time(head: str) -> tuple[str, tuple[int, int] | None, re.Match | None]:
    """``head`` with a time range reduced to its start, the end (hour, minute) and the match."""
    m = _TIME_RANGE.search(head)
    if m is None:
        return head, None, None
    return head[: m.start()] + m[1] + head[m.end():], (int(m[2]), int(m[3] or 0)), m


def _duration(start: datetime, end: tuple[int, int]) -> int:
    hour, minute = end
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise UserError(_("{time} is not a time of day.").format(time=f"{hour}.{minute:02d}"), show_usage=True)
    local_start = start.astimezone(HELSINKI)
    end_at = datetime.combine(local_start.date(), time(0), tzinfo=HELSINKI) + timedelta(hours=hour, minutes=minute)
    if end_at <= local_start:
        end_at += timedelta(days=1)  # past midnight
    minutes = int((end_at.astimezone(UTC) - start.astimezone(UTC)).total_seconds() // 60)
    if minutes > MAX_DURATION:
        raise UserError(ngettext(
            "The meeting would last {hours} hour; give an end time at most 12 hours after the start.",
            "The meeting would last {hours} hours; give an end time at most 12 hours after the start.",
            minutes // 60).format(hours=format_number(minutes // 60)), show_usage=True)
    return minutes


def _clean(text: str) -> str:
    return " ".join("".join(ch for ch in text if ch.isprintable()).split())


def parse_meeting(text: str, now: datetime, lang: str) -> MeetingSpec:
    text = _clean(text)
    head, _sep, place = text.partition("@")
    head, place = head.strip(), place.strip()
    short, end, match = _split_end_time(head)
    if end is not None:
        spec = _parse_meeting(short, place, now, lang)
        if match.start() < len(short) - len(spec.title):  # the range was in the time, not in the title
            return replace(spec, duration_minutes=_duration(spec.start, end))
    return _parse_meeting(head, place, now, lang)


def _parse_meeting(head: str, place: str, now: datetime, lang: str) -> MeetingSpec:
    if not head:
        raise UserError(_("Tell me when and what, for example: {example}").format(
            example=_("tue 1.12. at 18 Kehrä meeting @ Maunula house")), show_usage=True)
    rec = parse_recurrence(head)
    if rec is None:
        start, title = split_when(head, now, lang, default_time=None)
        rule, dtstart, last = "", to_local(start), None
    else:
        rule, rest = rec
        if not rest:
            raise UserError(_("Say the time and the title too, for example: {example}").format(
                example=_("every Tuesday at 18 Kehrä meeting")), show_usage=True)
        local_now = now.astimezone(HELSINKI)
        midnight = wall(local_now.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None))
        try:  # the recurrence names the days: a weekday word after the time belongs to the title
            anchor, title = split_when(rest, midnight, lang, default_time=None, time_only=True)
        except WhenError as err:
            if err.kind == "unknown":
                raise UserError(_("At what time? For example: {example}").format(
                    example=_("every Tuesday at 18 Kehrä meeting")), show_usage=True) from None
            raise
        rule, title = count_after_time(rule, title)
        probe = store.Meeting(uid="", chat_key="", number=0, title="", dtstart_local=to_local(anchor), rrule=rule,
                              first_start=anchor, created_by="", created_at=now)
        first = occurrences(probe, {}, max(now, anchor - timedelta(seconds=1)), 1)
        if not first:
            raise UserError(_("That series has no meetings in the future."))
        dtstart = first[0].key
        probe.dtstart_local = dtstart
        start = first[0].start
        last = None
        if "COUNT=" in rule:
            *_rest, last_naive = list(_rule(probe))
            last = wall(last_naive)
    if not title:
        raise UserError(_("Give the meeting a title after the time, for example: {example}").format(
            example=_("tue 1.12. at 18 Kehrä meeting @ Maunula house")), show_usage=True)
    if len(title) > MAX_TITLE:
        raise UserError(ngettext("The title is too long: at most {limit} character.",
                                 "The title is too long: at most {limit} characters.",
                                 MAX_TITLE).format(limit=format_number(MAX_TITLE)))
    if len(place) > MAX_PLACE:
        raise UserError(ngettext("The place is too long: at most {limit} character.",
                                 "The place is too long: at most {limit} characters.",
                                 MAX_PLACE).format(limit=format_number(MAX_PLACE)))
    return MeetingSpec(title=title, place=place, dtstart_local=dtstart, rrule=rule, start=start, last_start=last)


def _number(word: str) -> int:
    word = word.strip().lstrip("#")
    if not _DIGITS.fullmatch(word):
        raise UserError(_("Give the meeting's number, for example 3."), show_usage=True)
    return int(word)


def parse_number_rest(args: str) -> tuple[int, str]:
    head, _sep, rest = args.strip().partition(" ")
    return _number(head), rest.strip()


def parse_optional_number(args: str) -> int | None:
    return _number(args) if args.strip() else None


# --- handlers ------------------------------------------------------------------------------------


async def _get(session, ctx: Context, number: int) -> store.Meeting:
    meeting = await store.by_number(session, ctx.chat_key, number)
    if meeting is None or meeting.cancelled_at is not None:
        raise UserError(_("There is no meeting #{number} in this chat.").format(number=number))
    return meeting


async def meeting_cmd(ctx: Context, args: str) -> None:
    args = args.strip()
    if not args:
        raise UserError(_("Tell me when and what, for example: {example}").format(
            example=_("tue 1.12. at 18 Kehrä meeting @ Maunula house")), show_usage=True)
    if _DIGITS.fullmatch(args.lstrip("#")):
        await show_meeting(ctx, _number(args))
        return
    await ctx.require(Role.ADMIN)
    spec = parse_meeting(args, ctx.now(), ctx.lang)
    async with ctx.db.transaction() as session:
        earlier = await effect_of(session, ctx.event.event_key, "meetings.create")
        if earlier is not None:  # this command was handled before a restart: the same meeting
            meeting = await session.get(store.Meeting, int(earlier))
            exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
            upcoming = occurrences(meeting, exc, ctx.now(), 1)
            occ = upcoming[0] if upcoming else None
        else:
            meeting = store.Meeting(
                uid=f"{uuid.uuid4().hex}@kehrabot", chat_key=ctx.chat_key, number=0, title=spec.title,
                place=spec.place, dtstart_local=spec.dtstart_local, rrule=spec.rrule, first_start=spec.start,
                last_start=spec.last_start, duration_minutes=spec.duration_minutes, created_by=ctx.sender_key,
                created_by_name=ctx.event.sender_name[:255], created_at=ctx.now(),
            )
            await store.create_meeting(session, meeting)
            occ = await schedule_next(session, meeting, ctx.now(), fresh=True)
            record_effect(session, ctx.event.event_key, "meetings.create", meeting.id, ctx.now())
        chat = await session.get(Chat, ctx.chat_key)
        offsets = reminder_offsets(chat)
    await _wake_next(ctx.services, meeting.id)
    lines = meeting_lines(meeting, occ)
    lines[0] = "📅 " + b(_("Meeting #{number} scheduled: {title}").format(number=meeting.number,
                                                                         title=meeting.title))
    if offsets:
        lines.append(esc(_("I will remind {offsets} before.").format(offsets=offsets_text(offsets))))
    lines.append(esc(_("Will you come? Answer with the buttons, react 👍 / 👎 / 🤔, or send {command}.").format(
        command=ctx.cmd("rsvp") + f" {meeting.number} " + _("yes"))))
    message_id = await ctx.reply("\n".join(lines), rsvp_buttons(meeting.id))
    async with ctx.db.transaction() as session:
        await store.add_message(session, ctx.chat_key, message_id, meeting.id, occ.key if occ else "")


async def show_meeting(ctx: Context, number: int) -> None:
    async with ctx.db.session() as session:
        meeting = await _get(session, ctx, number)
        exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
        upcoming = occurrences(meeting, exc, ctx.now() - timedelta(minutes=meeting.duration_minutes), 4)
        occ = upcoming[0] if upcoming else None
        answers = await store.rsvps(session, meeting.id, occ.key) if occ else []
    lines = meeting_lines(meeting, occ)
    if occ is None:
        lines.append(esc(_("No upcoming meetings in this series.")))
    if len(upcoming) > 1:
        lines.append(esc(_("Then: {dates}").format(dates=", ".join(format_datetime(o.start) for o in upcoming[1:]))))
    skipped = sorted(k for k, v in exc.items() if v is None and wall(k) > ctx.now())
    if skipped:
        lines.append(esc(_("Skipped: {dates}").format(dates=", ".join(format_date_only(wall(k)) for k in skipped))))
    if occ is not None:
        counts = dict.fromkeys(store.ANSWERS, 0)
        for a in answers:
            counts[a.answer] += 1
        lines.append(esc(counts_line(counts)))
        for answer in store.ANSWERS:
            names = [a.person_name or a.person_key.split(":", 1)[-1] for a in answers if a.answer == answer]
            if names:
                lines.append(f"{ANSWER_EMOJI[answer]} {esc(_(ANSWER_LABELS[answer]))}: {esc(', '.join(names))}")
    message_id = await ctx.reply("\n".join(lines), rsvp_buttons(meeting.id) if occ else ())
    if occ is not None:
        async with ctx.db.transaction() as session:
            await store.add_message(session, ctx.chat_key, message_id, meeting.id, occ.key)


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


async def list_cmd(ctx: Context, args: str) -> None:
    now = ctx.now()
    async with ctx.db.session() as session:
        every = await upcoming_in_chat(session, [ctx.chat_key], now, now + timedelta(days=LIST_DAYS))
        occs = _listed(every)
        counts = {(o.meeting.id, o.key): await store.rsvp_counts(session, o.meeting.id, o.key) for o in occs}
    if not occs:
        await ctx.reply(esc(ngettext("No meetings in the next {days} day. Schedule one with {command}.",
                                     "No meetings in the next {days} days. Schedule one with {command}.",
                                     LIST_DAYS).format(days=format_number(LIST_DAYS), command=ctx.cmd("meeting") + " " + _("<when> <title>"))))
        return
    lines = [b(_("Upcoming meetings"))]
    for o in occs:
        c = counts[(o.meeting.id, o.key)]
        line = f"#{o.meeting.number} {esc(format_datetime(o.start))} — {esc(o.meeting.title)}"
        if o.meeting.place:
            line += f" 📍 {esc(o.meeting.place)}"
        if o.meeting.rrule:
            line += " 🔁"
        line += f" · ✅ {c['yes']} ❌ {c['no']} 🤔 {c['maybe']}"
        lines.append(line)
    hidden = len(every) - len(occs)
    if hidden:
        lines.append(esc(ngettext(
            "… and {count} more meeting in the next {days} days: {command} <number> shows a series.",
            "… and {count} more meetings in the next {days} days: {command} <number> shows a series.",
            hidden).format(count=format_number(hidden), days=format_number(LIST_DAYS), command=ctx.cmd("meeting"))))
    lines.append(esc(_("Details: {command} <number>").format(command=ctx.cmd("meeting"))))
    await ctx.reply("\n".join(lines))


def _listed(occs: list[Occurrence]) -> list[Occurrence]:
    """The first LIST_LIMIT of ``occs`` (in order) with at most LIST_PER_SERIES of each meeting."""
    shown: list[Occurrence] = []
    per: dict[int, int] = {}
    for o in occs:
        if per.get(o.meeting.id, 0) < LIST_PER_SERIES:
            per[o.meeting.id] = per.get(o.meeting.id, 0) + 1
            shown.append(o)
            if len(shown) >= LIST_LIMIT:
                break
    return shown


async def _current_occurrence(session, meeting: store.Meeting, now: datetime) -> Occurrence:
    exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
    upcoming = occurrences(meeting, exc, now - timedelta(minutes=meeting.duration_minutes), 1)
    if not upcoming:
        raise UserError(_("Meeting #{number} has no upcoming meetings.").format(number=meeting.number))
    return upcoming[0]


async def _rsvp(ctx: Context, meeting: store.Meeting, answer: str, session) -> tuple[Occurrence, dict[str, int]]:
    occ = await _current_occurrence(session, meeting, ctx.now())
    await store.set_rsvp(session, meeting.id, occ.key, ctx.sender_key, ctx.event.sender_name, answer, ctx.now())
    return occ, await store.rsvp_counts(session, meeting.id, occ.key)


def _answer_text(answer: str, meeting: store.Meeting, occ: Occurrence) -> str:
    texts = {
        "yes": _("You are coming to {title} on {when}."),
        "no": _("You are not coming to {title} on {when}."),
        "maybe": _("You might come to {title} on {when}."),
    }
    return texts[answer].format(title=meeting.title, when=format_datetime(occ.start))


def parse_rsvp(args: str) -> tuple[int, str]:
    number, rest = parse_number_rest(args)
    word = rest.casefold().replace(" ", "")
    for answer, words in ANSWER_WORDS.items():
        if word in words:
            return number, answer
    raise UserError(_("Answer yes, no or maybe, for example: {example}").format(example="3 " + _("yes")),
                    show_usage=True)


async def rsvp_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, answer = parsed
    async with ctx.db.transaction() as session:
        meeting = await _get(session, ctx, number)
        occ, counts = await _rsvp(ctx, meeting, answer, session)
    await ctx.reply(esc(_answer_text(answer, meeting, occ) + " " + counts_line(counts)))


def card_html(meeting: store.Meeting, occ: Occurrence, counts: dict[str, int]) -> str:
    lines = meeting_lines(meeting, occ)
    lines.append(esc(counts_line(counts)))
    lines.append(esc(_("Will you come? Answer with the buttons or react 👍 / 👎 / 🤔.")))
    return "\n".join(lines)


async def _refresh_card(ctx: Context, meeting: store.Meeting, occ: Occurrence, counts: dict[str, int]) -> None:
    """Show the new counts on the meeting's card the person answered on (not on reminders)."""
    if not ctx.event.target_id:
        return
    async with ctx.db.session() as session:
        target = await store.message_target(session, ctx.chat_key, ctx.event.target_id)
    if target is None or target.kind != "card" or target.meeting_id != meeting.id:
        return
    with ctx.services.locale(await ctx.services.chat_language(ctx.chat_key)):  # a shared message
        html, buttons = card_html(meeting, occ, counts), rsvp_buttons(meeting.id)
    try:
        await ctx.edit(ctx.event.target_id, html, buttons)
    except Exception:  # the message may be gone or too old to edit; the answer is stored anyway
        log.info("could not refresh meeting card %s in %s", ctx.event.target_id, ctx.chat_key, exc_info=True)


async def rsvp_button(ctx: Context, args: list[str]) -> None:
    if len(args) != 2 or not _DIGITS.fullmatch(args[0]) or args[1] not in store.ANSWERS:
        raise UserError(_("This button no longer works."))
    async with ctx.db.transaction() as session:
        meeting = await session.get(store.Meeting, int(args[0]))
        if meeting is None or meeting.chat_key != ctx.chat_key or meeting.cancelled_at is not None:
            raise UserError(_("This meeting has been cancelled."))
        occ, counts = await _rsvp(ctx, meeting, args[1], session)
    await ctx.acknowledge(_answer_text(args[1], meeting, occ) + " " + counts_line(counts))
    await _refresh_card(ctx, meeting, occ, counts)


async def on_reaction(ctx: Context) -> None:
    if ctx.event.kind != Kind.REACTION or not ctx.event.target_id:
        return
    answer = REACTIONS.get((ctx.event.reaction or "").replace("\ufe0f", "").strip())
    if answer is None:
        return
    async with ctx.db.transaction() as session:
        target = await store.message_target(session, ctx.chat_key, ctx.event.target_id)
        if target is None:
            return
        meeting = await session.get(store.Meeting, target.meeting_id)
        if meeting is None or meeting.cancelled_at is not None:
            return
        try:
            occ = await _current_occurrence(session, meeting, ctx.now())
        except UserError:
            return
        if ctx.event.reaction_removed:
            changed = await store.remove_rsvp(session, meeting.id, occ.key, ctx.sender_key, answer)
        else:
            changed = await store.set_rsvp(session, meeting.id, occ.key, ctx.sender_key, ctx.event.sender_name,
                                           answer, ctx.now())
        counts = await store.rsvp_counts(session, meeting.id, occ.key)
    if changed:
        await _refresh_card(ctx, meeting, occ, counts)


async def cancel_cmd(ctx: Context, number: int) -> None:
    async with ctx.db.transaction() as session:
        meeting = await _get(session, ctx, number)
        meeting.cancelled_at = ctx.now()
        session.add(meeting)
        await schedule_next(session, meeting, ctx.now())  # cancels the pending reminders
    text = (_("The series #{number} {title} is cancelled; no more reminders.") if meeting.rrule
            else _("Meeting #{number} {title} is cancelled; no more reminders."))
    await ctx.reply("❌ " + esc(text.format(number=number, title=meeting.title)))


async def _pick_occurrence(ctx: Context, session, meeting: store.Meeting, date_text: str) -> Occurrence:
    exc = (await store.exceptions_of(session, [meeting.id]))[meeting.id]
    if not date_text:
        upcoming = occurrences(meeting, exc, ctx.now(), 1)
        if not upcoming:
            raise UserError(_("Meeting #{number} has no upcoming meetings.").format(number=meeting.number))
        return upcoming[0]
    midnight = wall(ctx.now().astimezone(HELSINKI).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None))
    day = parse_when(date_text, midnight, ctx.lang).astimezone(HELSINKI).date()
    return find_occurrence(meeting, exc, day, ctx.now())


async def skip_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, date_text = parsed
    async with ctx.db.transaction() as session:
        meeting = await _get(session, ctx, number)
        if not meeting.rrule:
            raise UserError(_("Meeting #{number} is a single meeting: cancel it with {command} {number}.").format(
                number=number, command=ctx.cmd("cancelmeeting")))
        occ = await _pick_occurrence(ctx, session, meeting, date_text)
        await store.set_exception(session, meeting.id, occ.key, None)
        await session.flush()
        nxt = await schedule_next(session, meeting, ctx.now())
    await _wake_next(ctx.services, meeting.id)
    text = _("Skipped: {title} on {when}.").format(title=meeting.title, when=format_datetime(occ.start))
    if nxt is not None:
        text += " " + _("Next: {when}.").format(when=format_datetime(nxt.start))
    await ctx.reply("⏭ " + esc(text))


_MOVE_SPLIT = re.compile(r"\s*(?:->|→|=>)\s*")


async def move_cmd(ctx: Context, parsed: tuple[int, str]) -> None:
    number, rest = parsed
    parts = _MOVE_SPLIT.split(rest, maxsplit=1)
    old_text, new_text = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    if not new_text.strip():
        raise UserError(_("Say the new time, for example: {example}").format(
            example=f"{number} " + _("thu 3.12. at 18")), show_usage=True)
    new_start = parse_when(new_text, ctx.now(), ctx.lang, default_time=None)
    async with ctx.db.transaction() as session:
        meeting = await _get(session, ctx, number)
        occ = await _pick_occurrence(ctx, session, meeting, old_text)
        if meeting.rrule:
            await store.set_exception(session, meeting.id, occ.key, to_local(new_start))
        else:
            meeting.dtstart_local = to_local(new_start)
            meeting.first_start = new_start
            session.add(meeting)
        await session.flush()
        await schedule_next(session, meeting, ctx.now())
    await _wake_next(ctx.services, meeting.id)
    await ctx.reply("🔀 " + esc(_("Moved: {title} from {old} to {new}.").format(
        title=meeting.title, old=format_datetime(occ.start), new=format_datetime(new_start))))


# --- settings command ----------------------------------------------------------------------------

_OFF = {"off", "pois", "av", "none", "ei"}
_QUIET = re.compile(r"^(\d{1,2})(?:[.:]00)?\s*-\s*(\d{1,2})(?:[.:]00)?$")


async def settings_cmd(ctx: Context, args: str) -> None:
    words = args.split(maxsplit=1)
    what = words[0].casefold() if words else ""
    value = words[1].strip() if len(words) > 1 else ""
    async with ctx.db.transaction() as session:
        chat = await session.get(Chat, ctx.chat_key)
        if what in ("reminders", "muistutukset", "muistutus", "påminnelser"):
            if value.casefold() in _OFF:
                offsets: list[int] = []
            else:
                offsets = []
                for token in re.split(r"\s*[,;]\s*|\s+(?=\d)", value):
                    d = parse_duration(token) if token else None
                    if d is None or d > timedelta(days=14) or d < timedelta(minutes=5):
                        raise UserError(_("I did not understand “{text}”. Give times before the meeting "
                                          "between 5 minutes and 14 days, for example: {example}").format(
                            text=token, example="1 d, 1 h"), show_usage=True)
                    offsets.append(int(d.total_seconds() // 60))
                if not offsets or len(offsets) > 5:
                    raise UserError(_("Give one to five reminder times, for example: {example}").format(
                        example="1 d, 1 h"), show_usage=True)
            await set_chat_setting(session, chat, "meetings.reminders", sorted(set(offsets), reverse=True))
        elif what in ("quiet", "hiljaisuus", "hiljainen", "tyst", "tysta"):
            if value.casefold() in _OFF:
                quiet: list[int] | None = None
            else:
                m = _QUIET.match(value)
                if not m or int(m[1]) > 23 or int(m[2]) > 23 or m[1] == m[2]:
                    raise UserError(_("Give the quiet hours as start-end, for example {example}, or “off”.").format(
                        example="21-8"), show_usage=True)
                quiet = [int(m[1]), int(m[2])]
            await set_chat_setting(session, chat, "meetings.quiet", quiet)
        elif what:
            raise UserError(_("Unknown setting “{word}”. Choose reminders or quiet.").format(word=what),
                            show_usage=True)
        if what:
            for meeting in await store.active_meetings(session, [ctx.chat_key]):
                await schedule_next(session, meeting, ctx.now())
        offsets_now = reminder_offsets(chat)
        quiet_now = quiet_hours(chat)
    lines = [b(_("Meeting settings"))]
    lines.append(esc(_("Reminders: {offsets} before.").format(offsets=offsets_text(offsets_now))
                     if offsets_now else _("Reminders: off.")))
    lines.append(esc(_("Quiet hours for day-before reminders: {start}–{end}.").format(
        start=clock_face(time(quiet_now[0])), end=clock_face(time(quiet_now[1]))) if quiet_now
        else _("Quiet hours: off.")))
    await ctx.reply("\n".join(lines))


# --- jobs ----------------------------------------------------------------------------------------


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
        head = _("Late reminder: {title}") if late else _("Reminder: {title}")
        lines = ["⏰ " + b(head.format(title=meeting.title))]
        lines.append("🕕 " + esc(f"{format_datetime(start)} ({_in_words(start - now)})"))
        if meeting.place:
            lines.append("📍 " + esc(meeting.place))
        if late:
            lines.append(esc(_("(sent late: I was offline when this reminder was due)")))
        lines.append(esc(counts_line(counts)))
        lines.append(esc(_("Will you come? Answer with the buttons or react 👍 / 👎 / 🤔.")))
        message_id = await services.send(meeting.chat_key, "\n".join(lines), rsvp_buttons(meeting.id))
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
    await _wake_next(services, meeting.id)


# --- iCalendar -----------------------------------------------------------------------------------


def build_ics(meetings: list[store.Meeting], exceptions: dict[int, dict[str, str | None]], now: datetime,
              name: str = "", rsvp_command: str = "/rsvp") -> bytes:
    """An RFC 5545 calendar (METHOD:PUBLISH: a copy to import, not an invitation) of the meetings, its
    texts in the current language; ``rsvp_command`` is how to answer in the chat ("/osallistun")."""
    cal = Calendar()
    cal.add("prodid", "-//kehrabot//meetings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Helsinki")
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
        ev.add("description", _("Meeting #{number}. Answer in the chat: {command}").format(
            number=m.number, command=_("{command} {number} yes|no|maybe").format(command=rsvp_command,
                                                                                number=m.number)))
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
                mv.add("sequence", 1)
                mv.add("summary", m.title)
                mv.add("dtstart", wall(moved))
                mv.add("duration", timedelta(minutes=m.duration_minutes))
                if m.place:
                    mv.add("location", m.place)
                mv.add("description", _("Meeting #{number}, moved from {when}.").format(
                    number=m.number, when=format_datetime(wall(key))))
                cal.add_component(mv)
    return cal.to_ical()


def helsinki_vtimezone() -> Timezone:
    """Europe/Helsinki as yearly rules (EU summer time since 1996), the form Outlook, Google and Apple
    write themselves: no end year (the generated list of dates stops at 2037) and a short file."""
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
            meetings = [await _get(session, ctx, number)]
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
    filename = f"{slug}-{number}.ics" if number is not None else f"{slug}.ics"
    caption = (_("Meeting #{number} as a calendar file.").format(number=number) if number is not None
               else ngettext("{count} meeting or series as a calendar file.",
                             "{count} meetings or series as a calendar file.", len(meetings)).format(
                   count=format_number(len(meetings))))
    await ctx.send_file(FileOut(filename=filename, data=data, mime="text/calendar", caption_html=esc(caption)))


# --- digest and exports --------------------------------------------------------------------------


async def digest(services: Services, chat_key: str, start: datetime, end: datetime) -> dict | None:
    async with services.db.session() as session:
        held = await upcoming_in_chat(session, [chat_key], start - timedelta(seconds=1), end, 100)
        coming = await upcoming_in_chat(session, [chat_key], end - timedelta(seconds=1), end + timedelta(days=14),
                                        100)

        async def facts(o: Occurrence) -> dict:
            c = await store.rsvp_counts(session, o.meeting.id, o.key)
            return {"number": o.meeting.number, "title": o.meeting.title, "place": o.meeting.place,
                    "start": o.start.isoformat(), "recurring": bool(o.meeting.rrule), **c}

        data = {"held": [await facts(o) for o in held], "coming": [await facts(o) for o in coming]}
    return data if data["held"] or data["coming"] else None


def render_digest(data: dict) -> list[str]:
    lines = ["📅 " + b(_("Meetings"))]
    for section, label in (("held", _("Held:")), ("coming", _("Coming up:"))):
        items = data.get(section) or []
        if not items:
            continue
        lines.append(esc(label))
        for item in items:
            when = format_datetime(datetime.fromisoformat(item["start"]))
            lines.append(f"• #{item['number']} {esc(when)} — {esc(item['title'])} · ✅ {item['yes']} ❌ {item['no']} "
                         f"🤔 {item['maybe']}")
    return lines


async def export_meetings(services: Services, chat_keys: list[str] | None, public: bool) -> list[dict]:
    now = services.clock.now()
    rows = []
    async with services.db.session() as session:
        meetings = await store.active_meetings(session, chat_keys, include_cancelled=True)
        exc = await store.exceptions_of(session, [m.id for m in meetings])
        for m in meetings:
            nxt = occurrences(m, exc[m.id], now, 1) if m.cancelled_at is None else []
            row = {
                "chat": m.chat_key, "number": m.number, "uid": m.uid, "title": m.title, "place": m.place,
                "first_start": wall(m.dtstart_local).isoformat(), "rrule": m.rrule,
                "skipped": sorted(k for k, v in exc[m.id].items() if v is None),
                "moved": {k: v for k, v in exc[m.id].items() if v},
                "cancelled": m.cancelled_at is not None,
                "next_start": nxt[0].start.isoformat() if nxt else None,
            }
            if nxt:
                row.update(await store.rsvp_counts(session, m.id, nxt[0].key))
            if not public:
                row["created_by"] = m.created_by_name or m.created_by
                row["rsvps"] = [{"occurrence": r.occurrence_local, "person": r.person_name or r.person_key,
                                 "answer": r.answer} for r in
                                (await store.rsvps(session, m.id, nxt[0].key) if nxt else [])]
            rows.append(row)
    return rows


FEATURE = Feature(
    name="meetings",
    commands=[
        Command("meeting", meeting_cmd, {"fi": ("kokous",), "sv": ("mote",), "en": ("meeting",)},
                help=N_("schedule a meeting (admins), or show meeting N with who is coming"),
                usage=N_("<when> <title> [@ place] | <number>")),
        Command("meetings", list_cmd, {"fi": ("kokoukset",), "sv": ("moten",), "en": ("meetings",)},
                help=N_("list the upcoming meetings")),
        Command("rsvp", rsvp_cmd, {"fi": ("osallistun",), "sv": ("osa",), "en": ("rsvp",)},
                help=N_("answer whether you come to a meeting"), usage=N_("<number> yes|no|maybe"),
                parse=parse_rsvp),
        Command("skipmeeting", skip_cmd, {"fi": ("ohitakokous",), "sv": ("hoppaovermote",), "en": ("skipmeeting",)},
                help=N_("skip one meeting of a series"), usage=N_("<number> [date]"), parse=parse_number_rest,
                role=Role.ADMIN),
        Command("movemeeting", move_cmd, {"fi": ("siirrakokous",), "sv": ("flyttamote",), "en": ("movemeeting",)},
                help=N_("move the next meeting (or the one on a date) to a new time"),
                usage=N_("<number> [date ->] <new time>"), parse=parse_number_rest, role=Role.ADMIN),
        Command("cancelmeeting", cancel_cmd, {"fi": ("perukokous",), "sv": ("stallinmote",),
                                              "en": ("cancelmeeting",)},
                help=N_("cancel a meeting or a whole series"), usage=N_("<number>"), parse=_number, role=Role.ADMIN),
        Command("calendar", calendar_cmd, {"fi": ("kalenteri",), "sv": ("kalender",), "en": ("calendar",)},
                help=N_("the chat's meetings as an .ics calendar file (or one meeting's)"), usage=N_("[number]"),
                parse=parse_optional_number),
        Command("meetingsettings", settings_cmd, {"fi": ("kokousasetukset",), "sv": ("motesinstallningar",),
                                                  "en": ("meetingsettings",)},
                help=N_("reminder times and quiet hours for meetings"),
                usage=N_("[reminders 1 d, 1 h | off] [quiet 21-8 | off]"), role=Role.ADMIN),
    ],
    buttons={"rsvp": rsvp_button},
    on_reaction=on_reaction,
    jobs={"meetings.remind": remind_job, "meetings.roll": roll_job},
    digest=digest,
    render_digest=render_digest,
    exports={"meetings": export_meetings},
)

