"""Parsing the meeting commands' arguments: "<when> <title> [@ place]" with an optional end time
and a recurrence, meeting numbers, RSVP answers, a move's "old -> new", reminder times and quiet
hours. Pure functions: no store, no transport."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from core import vocabulary
from core.i18n import _, format_number, ngettext
from handlers.base import UserError
from handlers.meetings.occurrences import occurrences, rule_of, to_local, wall
from handlers.meetings.recurrence import count_after_time, parse_recurrence
from handlers.when import HELSINKI, WhenError, parse_duration, split_when
from storage import meetings as store

MAX_TITLE = 200

MAX_PLACE = 200

DEFAULT_DURATION = 120  # minutes, when no end time is given

MAX_DURATION = 12 * 60

# "18-20", "klo 17.30–19", "18:00 - 19:30": a start and an end time (not part of a date like 2026-12-01)
_TIME_RANGE = re.compile(r"(?<![\d.:\-–])(\d{1,2}(?:[:.]\d{2})?)\s*[-–]\s*(\d{1,2})(?:[:.](\d{2}))?(?![\d:]|\.\d)")

DIGITS = re.compile(r"[0-9]{1,9}")

#: yes, no, maybe (data/vocabulary/meetings.toml)
ANSWER_WORDS = vocabulary.entries("meetings", "answers")

REACTIONS = {"👍": "yes", "+1": "yes", ":+1:": "yes", "👎": "no", "-1": "no", ":-1:": "no", "🤔": "maybe"}


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
            *_rest, last_naive = list(rule_of(probe))
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


def meeting_number(word: str) -> int:
    word = word.strip().lstrip("#")
    if not DIGITS.fullmatch(word):
        raise UserError(_("Give the meeting's number, for example 3."), show_usage=True)
    return int(word)


def parse_number_rest(args: str) -> tuple[int, str]:
    head, _sep, rest = args.strip().partition(" ")
    return meeting_number(head), rest.strip()


def parse_optional_number(args: str) -> int | None:
    return meeting_number(args) if args.strip() else None


def parse_rsvp(args: str) -> tuple[int, str]:
    number, rest = parse_number_rest(args)
    word = rest.casefold().replace(" ", "")
    for answer, words in ANSWER_WORDS.items():
        if word in words:
            return number, answer
    raise UserError(_("Answer yes, no or maybe, for example: {example}").format(example="3 " + _("yes")),
                    show_usage=True)


_MOVE_SPLIT = re.compile(r"\s*(?:->|→|=>)\s*")


def split_move(rest: str) -> tuple[str, str]:
    """A move's "[old date ->] new time" as (old date or "", new time)."""
    parts = _MOVE_SPLIT.split(rest, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])

_OFF = frozenset(vocabulary.words("meetings", "off"))
_QUIET = re.compile(r"^(\d{1,2})(?:[.:]00)?\s*-\s*(\d{1,2})(?:[.:]00)?$")


def parse_offsets(value: str) -> list[int]:
    """Reminder times before a meeting ("1 d, 1 h", "2 päivää 3 tuntia") in minutes, latest first;
    [] for "off"."""
    if value.casefold() in _OFF:
        return []
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
    return sorted(set(offsets), reverse=True)


def parse_quiet(value: str) -> list[int] | None:
    """Quiet hours "21-8" as [start, end]; None for "off"."""
    if value.casefold() in _OFF:
        return None
    m = _QUIET.match(value)
    if not m or int(m[1]) > 23 or int(m[2]) > 23 or m[1] == m[2]:
        raise UserError(_("Give the quiet hours as start-end, for example {example}, or “off”.").format(
            example="21-8"), show_usage=True)
    return [int(m[1]), int(m[2])]
