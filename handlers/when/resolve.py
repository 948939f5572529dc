"""Parsed parts to one future instant in Europe/Helsinki: days from day words, weekdays and
dates, the time of day, the daylight-saving checks; and the public entry points ``parse_when``,
``split_when`` (a time phrase at the start of a text) and ``parse_duration``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.i18n import _, format_date, format_datetime, format_time
from handlers.when.grammar import (
    DURATION,
    Parts,
    WhenError,
    as_delta,
    as_number,
    normalize,
    tokenize,
    unknown,
)
from handlers.when.words import EVENING_WORDS, MONTH_WORDS, UNITS, WEEKDAY_WORDS

__all__ = ["DEFAULT_TIME", "EVENING_TIME", "HELSINKI", "MONTH_WORDS", "WEEKDAY_WORDS", "WhenError", "clock_face",
           "parse_duration", "parse_when", "split_when"]

HELSINKI = ZoneInfo("Europe/Helsinki")
DEFAULT_TIME = time(12, 0)
#: "tonight" without a time of day
EVENING_TIME = time(18, 0)
#: dates further ahead than this are refused (catches "2118")
MAX_YEARS_AHEAD = 10
#: a yearless date this many days past or less is an error, not next year
PAST_DATE_GRACE_DAYS = 60



def _local_date(now: datetime) -> date:
    return now.astimezone(HELSINKI).date()


def _weekday_date(today: date, weekday: int, mode: str) -> date:
    if mode == "nextweek":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=weekday)
    if mode == "last":
        return today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise WhenError(_("There is no date {day}.{month}.{year}. Please check the day and the month.").format(
            day=day, month=month, year=year), "invalid") from None


def _wall(d: date, t: time) -> datetime:
    """Attach Helsinki to a wall-clock time; refuse times skipped or repeated by DST."""
    naive = datetime.combine(d, t)
    first = naive.replace(tzinfo=HELSINKI, fold=0)
    second = naive.replace(tzinfo=HELSINKI, fold=1)
    back = first.astimezone(UTC).astimezone(HELSINKI).replace(tzinfo=None)
    if back != naive:
        raise WhenError(
            _("{time} does not exist on {date}: the clocks jump forward an hour that night. "
              "Please choose another time.").format(time=clock_face(t), date=format_date(first)),
            "invalid")
    if first.utcoffset() != second.utcoffset():
        raise WhenError(
            _("{time} happens twice on {date} because the clocks turn back an hour that night. "
              "Please choose another time.").format(time=clock_face(t), date=format_date(first)),
            "ambiguous")
    return first


def _resolve_time(p: Parts, lang: str | None) -> time | None:
    if p.hour is None:
        return None
    hour = p.hour
    if p.ampm:
        if not 1 <= hour <= 12:
            raise WhenError(_("{hour} {ampm} is not a valid time.").format(hour=hour, ampm=p.ampm + "m"), "invalid")
        hour = hour % 12 + (12 if p.ampm == "p" else 0)
    elif p.daypart:
        if p.daypart in EVENING_WORDS and 1 <= hour < 12:
            hour += 12
    elif lang == "en" and not p.time_prefixed and 1 <= hour <= 11:
        raise WhenError(
            _("Do you mean {hour}.00 in the morning or {evening}.00 in the evening? "
              "Write for example {hour}am, {hour}pm or {evening}:00.").format(hour=hour, evening=hour + 12),
            "ambiguous")
    if hour == 24 and p.minute == 0:
        raise WhenError(_("Write midnight as 00.00 of the next day, or 23.59."), "ambiguous")
    if not (0 <= hour <= 23 and 0 <= p.minute <= 59):
        raise WhenError(_("{hour}.{minute:02d} is not a valid time of day.").format(hour=p.hour, minute=p.minute),
                        "invalid")
    return time(hour, p.minute)


def parse_when(text: str, now: datetime, lang: str | None = None, *,
               default_time: time | None = DEFAULT_TIME) -> datetime:
    """The future instant ``text`` means at ``now``, in Europe/Helsinki (an aware datetime).

    Raises :class:`WhenError` with a localized message for phrases it does not understand and for
    invalid, ambiguous or past times."""
    return _parse(text, now, lang, default_time)[0]


def _parse(text: str, now: datetime, lang: str | None, default_time: time | None) -> tuple[datetime, Parts]:
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    original = " ".join(text.split())
    norm = normalize(text)
    if not norm:
        raise WhenError(_("Please tell me when, for example “Tue 1 Dec at 6pm”."), "unknown")
    if len(norm) > 200:
        raise unknown(original[:60] + "…")
    p = tokenize(norm)
    try:
        return _resolve(p, now, lang, default_time, original), p
    except WhenError:
        raise
    except (ValueError, OverflowError):
        raise unknown(original) from None


def _resolve(p: Parts, now: datetime, lang: str | None, default_time: time | None, original: str) -> datetime:
    today = _local_date(now)
    # A pure offset in hours or minutes is an instant, not a wall-clock time.
    if p.rel is not None and p.rel_unit in ("hours", "minutes"):
        if len(p.seen) > 1:
            raise unknown(original)
        if p.rel <= timedelta(0):
            raise WhenError(_("That time is already past."), "past")
        return (now.astimezone(UTC) + p.rel).astimezone(HELSINKI)
    if p.ambiguous_slash and lang != "fi" and lang != "sv":
        raise WhenError(
            _("Is {text} the {a}.{b}. or the {b}.{a}.? Please write the date as day.month., "
              "for example {a}.{b}.").format(text=f"{p.day}/{p.month}", a=p.day, b=p.month),
            "ambiguous")
    t = _resolve_time(p, lang)

    candidates: list[tuple[str, date]] = []
    if p.day_offset is not None:
        candidates.append(("dayword", today + timedelta(days=p.day_offset)))
    if p.rel is not None:  # days or weeks
        candidates.append(("rel", today + timedelta(days=round(p.rel.total_seconds() / 86400))))
    if "date" in p.seen:
        assert p.day is not None and p.month is not None
        if p.year is not None:
            if not now.year - 1 <= p.year <= now.year + MAX_YEARS_AHEAD:
                raise WhenError(_("The year {year} is too far from now.").format(year=p.year), "invalid")
            d = _make_date(p.year, p.month, p.day, original)
        else:
            if p.month == 2 and p.day == 29:
                year = next(y for y in range(today.year, today.year + 5)
                            if _is_leap(y) and date(y, 2, 29) >= today - timedelta(days=PAST_DATE_GRACE_DAYS))
                d = date(year, 2, 29)
            else:
                d = _make_date(today.year, p.month, p.day, original)
            if d < today - timedelta(days=PAST_DATE_GRACE_DAYS):
                d = _make_date(d.year + 1, p.month, p.day, original)
            elif d < today:
                raise WhenError(
                    _("{date} is already past. If you mean next year, write the year too, for example {example}.")
                    .format(date=format_date(_wall_safe(d)), example=f"{d.day}.{d.month}.{d.year + 1}"), "past")
        candidates.append(("date", d))
    if p.weekday is not None:
        if "date" in p.seen or p.day_offset is not None:
            d = candidates[0][1]
            if d.weekday() != p.weekday:
                raise WhenError(
                    _("{date} is not a {weekday}. Which day do you mean?").format(
                        date=format_date(_wall_safe(d)), weekday=_weekday_name(p.weekday)),
                    "ambiguous")
        else:
            candidates.append(("weekday", _weekday_date(today, p.weekday, p.weekday_mode)))
    if len({d for _k, d in candidates}) > 1:
        raise WhenError(_("“{text}” names two different days. Which one do you mean?").format(text=original),
                        "ambiguous")

    if candidates:
        d = candidates[0][1]
        if d < today:  # "eilen", "last Friday": past whatever the time
            raise WhenError(_("{when} is already past.").format(when=format_date(_wall_safe(d))), "past")
        if t is None and [k for k, _d in candidates] == ["rel"]:
            t = now.astimezone(HELSINKI).time().replace(second=0, microsecond=0)
        if t is None:
            if default_time is None:
                raise WhenError(_("At what time on {date}? For example “{example}”.").format(
                    date=format_date(_wall_safe(d)), example=_("{text} at 6pm").format(text=original)), "missing_time")
            t = default_time
            if p.daypart in EVENING_WORDS and t < EVENING_TIME:  # "sulkeutuu tänä iltana": not at noon
                t = EVENING_TIME
        result = _wall(d, t)
    else:
        if t is None:
            raise unknown(original)
        result = _wall(today, t)
        if result <= now:
            raise WhenError(
                _("{time} today has already passed. Do you mean tomorrow, {tomorrow}?").format(
                    time=clock_face(t), tomorrow=format_datetime(_wall(today + timedelta(days=1), t))),
                "past")
    if result <= now:
        raise WhenError(_("{when} is already past.").format(when=format_datetime(result)), "past")
    if result.year > now.year + MAX_YEARS_AHEAD:
        raise WhenError(_("The year {year} is too far from now.").format(year=result.year), "invalid")
    return result


def _names_a_day(phrase: str, now: datetime, lang: str | None) -> bool:
    try:
        parts = tokenize(normalize(phrase))
    except WhenError:
        return False
    return bool(parts.seen & {"dayword", "weekday", "rel"})


def clock_face(t: time) -> str:
    """A time of day as the current language writes it ("18.00", "18:00"), whatever day it is."""
    return format_time(datetime.combine(date(2024, 1, 10), t, tzinfo=HELSINKI))  # a day without a switch


def _is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _wall_safe(d: date) -> datetime:
    return datetime.combine(d, time(12, 0), tzinfo=HELSINKI)


def _weekday_name(weekday: int) -> str:
    from babel.dates import format_date as babel_format_date

    from core.i18n import current_language

    return babel_format_date(date(2024, 1, 1) + timedelta(days=weekday), "cccc", locale=current_language())


def parse_duration(text: str) -> timedelta | None:
    """A length of time ("2 päivää", "3 h", "in 3 hours", "2 tunnin päästä", "om 2 veckor");
    None if ``text`` is not one."""
    m = DURATION.match(normalize(text))
    if not m:
        return None
    try:
        value = as_number(m["n"])
    except ValueError:
        return None
    delta = as_delta(value, UNITS[m["u"]])
    return delta if delta > timedelta(0) else None


def split_when(text: str, now: datetime, lang: str | None = None, *,
               default_time: time | None = DEFAULT_TIME, time_only: bool = False) -> tuple[datetime, str]:
    """The longest leading phrase of ``text`` that is a time, and the rest ("ti 1.12. klo 18 Kokous"
    -> (that instant, "Kokous")). A longer phrase that is a time but invalid, past or ambiguous wins
    over a shorter valid one, so "huomenna klo 25 X" is an error rather than tomorrow noon, unless
    the shorter one already has a day and a time of day ("tomorrow 6pm Friday club": the title is
    "Friday club"). With ``time_only`` (a series, whose days the recurrence names) a phrase that
    names a day (a weekday, "huomenna", "in 2 days") is not taken: "6pm Tuesday group" is 18:00
    and "Tuesday group"."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    words = [text[a:b] for a, b in spans]
    first_error: WhenError | None = None
    for n in range(min(len(words), 12), 0, -1):
        phrase = " ".join(words[:n])
        try:
            when, parts = _parse(phrase, now, lang, default_time)
        except WhenError as err:
            if err.kind != "unknown" and first_error is None:
                if not time_only or not _names_a_day(phrase, now, lang):
                    first_error = err
            continue
        if time_only and parts.seen & {"dayword", "weekday", "rel"}:
            continue
        if first_error is not None and not (parts.hour is not None and parts.seen & {"dayword", "weekday", "date"}):
            raise first_error
        return when, text[spans[n - 1][1]:].strip()
    if first_error is not None:
        raise first_error
    raise unknown(" ".join(words[:6]))
