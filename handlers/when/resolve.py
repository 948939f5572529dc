"""Dates and times as people type them in Finnish, Swedish and English (not a feature).

``parse_when("ensi tiistaina klo 18", now)`` returns the instant (aware, UTC-comparable) that the
phrase means in Europe/Helsinki. The grammar is a small set of regex tokens (relative offsets,
day words, weekdays with case endings, numeric and named dates, clock times) consumed left to right;
each kind may appear once. Wall-clock times are built first and Helsinki is attached afterwards,
so "klo 18" stays 18:00 across the daylight-saving switches. Invalid, ambiguous and past times raise
:class:`WhenError` (a ``UserError``) with a localized question instead of a guess.

Conventions (documented in docs/meetings.md):
- a bare weekday or "ensi/next/nästa" + weekday is the first such day after today (1–7 days ahead);
  "ensi viikon"/"next week's" + weekday is that day in next week (Monday-based);
- a date without a year is this year's, or next year's if it is more than 60 days past (closer to
  today it is an error: probably a typo);
- a time without a date is today's; if it has passed today the person is asked;
- a date without a time uses ``default_time`` (noon) or, with ``default_time=None``, asks for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.i18n import _, format_date, format_datetime, format_time
from handlers.base import UserError

HELSINKI = ZoneInfo("Europe/Helsinki")
DEFAULT_TIME = time(12, 0)
#: "tonight" without a time of day
EVENING_TIME = time(18, 0)
#: dates further ahead than this are refused (catches "2118")
MAX_YEARS_AHEAD = 10
#: a yearless date this many days past or less is an error, not next year
PAST_DATE_GRACE_DAYS = 60


class WhenError(UserError):
    """The phrase could not be turned into one future instant. ``kind`` is one of
    unknown, invalid, ambiguous, past, missing_time."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


# --- vocabulary ------------------------------------------------------------------------------

_FI_WEEKDAYS = ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai")
_FI_ABBR = ("ma", "ti", "ke", "to", "pe", "la", "su")
_SV_WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
_SV_ABBR = (("mån", "må"), ("tis",), ("ons",), ("tors", "tor"), ("fre",), ("lör",), ("sön",))
_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EN_ABBR = (("mon",), ("tue", "tues"), ("wed",), ("thu", "thur", "thurs"), ("fri",), ("sat",), ("sun",))
_FI_CASES = ("", "na", "n", "sta", "hin", "ksi", "lle", "ista", "isin", "sin", "ta", "it", "ina")

WEEKDAY_WORDS: dict[str, int] = {}
for _i, _w in enumerate(_FI_WEEKDAYS):
    for _c in _FI_CASES:
        WEEKDAY_WORDS[_w + _c] = _i
    WEEKDAY_WORDS[_FI_ABBR[_i]] = _i
for _i, _w in enumerate(_SV_WEEKDAYS):
    for _c in ("", "en", "ar", "arna", "s"):
        WEEKDAY_WORDS[_w + _c] = _i
    for _a in _SV_ABBR[_i]:
        WEEKDAY_WORDS[_a] = _i
for _i, _w in enumerate(_EN_WEEKDAYS):
    WEEKDAY_WORDS[_w] = _i
    WEEKDAY_WORDS[_w + "s"] = _i
    for _a in _EN_ABBR[_i]:
        WEEKDAY_WORDS[_a] = _i

_FI_MONTHS = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka", "marras", "joulu")
_SV_MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
              "november", "december")
_EN_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
              "november", "december")
_ABBR_MONTHS = ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "", "nov", "")

MONTH_WORDS: dict[str, int] = {}
for _i, _w in enumerate(_FI_MONTHS, 1):
    for _c in ("kuu", "kuuta", "kuun", "kuussa", "kuulla", "k", "k."):
        MONTH_WORDS[_w + _c] = _i
for _months in (_SV_MONTHS, _EN_MONTHS):
    for _i, _w in enumerate(_months, 1):
        MONTH_WORDS[_w] = _i
for _i, _w in enumerate(_ABBR_MONTHS, 1):
    if _w:
        MONTH_WORDS[_w] = _i
MONTH_WORDS.update({"sept": 9, "okt": 10, "oct": 10, "dec": 12})

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10,
    "yksi": 1, "yhden": 1, "kaksi": 2, "kahden": 2, "kolme": 3, "kolmen": 3, "neljä": 4, "neljän": 4,
    "viisi": 5, "viiden": 5, "kuusi": 6, "kuuden": 6, "kymmenen": 10,
    "en": 1, "ett": 1, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "tio": 10,
    "puoli": 0.5, "puolen": 0.5, "half": 0.5, "halv": 0.5, "halvtimme": 0.5,
}
_UNITS: dict[str, str] = {}
for _unit, _words in {
    "minutes": ("m", "min", "mins", "minute", "minutes", "minuutti", "minuuttia", "minuutin", "minuutiksi",
                "minuuttiin", "minuutissa", "minuter", "minut", "minuten", "minuters"),
    "hours": ("h", "t", "hr", "hrs", "hour", "hours", "tunti", "tuntia", "tunnin", "tunniksi", "tuntiin",
              "tunnissa", "timme", "timmar", "timmen", "tim", "timmars"),
    "days": ("d", "day", "days", "päivä", "päivää", "päivän", "päiväksi", "päivässä", "vrk", "vuorokauden",
             "vuorokautta", "dag", "dagar", "dagen", "dygn", "dagars"),
    "weeks": ("vk", "w", "wk", "week", "weeks", "viikko", "viikkoa", "viikon", "viikoksi", "viikossa", "vecka",
              "veckor", "veckan", "v", "veckors"),
}.items():
    for _w in _words:
        _UNITS[_w] = _unit

_DAY_WORDS = {
    "tänään": 0, "today": 0, "idag": 0, "i dag": 0,
    "huomenna": 1, "huomisna": 1, "tomorrow": 1, "imorgon": 1, "i morgon": 1, "imorrn": 1, "i morrn": 1,
    "ylihuomenna": 2, "day after tomorrow": 2, "the day after tomorrow": 2, "i övermorgon": 2, "iövermorgon": 2,
    # past days: understood, so that the answer is "that is past" rather than "I did not understand"
    "eilen": -1, "yesterday": -1, "igår": -1, "i går": -1,
    "toissapäivänä": -2, "toissa päivänä": -2, "the day before yesterday": -2, "day before yesterday": -2,
    "i förrgår": -2, "iförrgår": -2,
}
#: a day and a part of it in one phrase ("tänä iltana", "ikväll", "tonight"): today, in the evening
_DAY_PARTS = {
    "tänä iltana": (0, "evening"), "tänään illalla": (0, "evening"), "tänä iltapäivänä": (0, "evening"),
    "tänä aamuna": (0, "morning"), "huomisiltana": (1, "evening"), "huomisaamuna": (1, "morning"),
    "ikväll": (0, "evening"), "i kväll": (0, "evening"), "i eftermiddag": (0, "evening"),
    "i morgon kväll": (1, "evening"), "imorgon kväll": (1, "evening"),
    "i morgon bitti": (1, "morning"), "imorgon bitti": (1, "morning"),
    "tonight": (0, "evening"), "this evening": (0, "evening"), "this afternoon": (0, "evening"),
    "this morning": (0, "morning"), "tomorrow evening": (1, "evening"), "tomorrow night": (1, "evening"),
    "tomorrow afternoon": (1, "evening"), "tomorrow morning": (1, "morning"),
}


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_END = r"(?=$|[\s,;!?)])"
_NUM = r"(?:\d+(?:[.,]\d+)?|" + _alt(_NUMBER_WORDS) + ")"
_UNIT = "(?:" + _alt(_UNITS) + ")"

# Relative offsets: "in 2 hours", "2 tunnin päästä", "om 3 timmar", "tunnin kuluttua", "3 h päästä".
_REL = [
    re.compile(r"(?:in|within|om)\s+(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")" + _END),
    re.compile(r"(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")\s+(?:päästä|kuluttua|from now|framåt|senare)" + _END),
]
_DURATION = re.compile(r"^(?:(?:in|om|for|för)\s+)?(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")"
                       r"(?:\s+(?:päästä|kuluttua|from now|framåt|senare|ajaksi))?$")
_DAYWORD = re.compile("(?P<w>" + _alt(_DAY_WORDS) + ")" + _END)
_DAYPARTWORD = re.compile("(?P<w>" + _alt(_DAY_PARTS) + ")" + _END)
_NEXT = r"(?P<next>ensi|tulevana|tuleva|next|nästa|kommande|this|coming|tänä)"
_PREV = r"(?P<prev>viime|last|förra)"
_NEXTWEEK = r"(?P<nw>ensi viikon|next week's|next week|nästa veckas|nästa vecka|tulevan viikon)"
_WEEKDAY = re.compile(
    r"(?:" + _NEXTWEEK + r"\s+|" + _NEXT + r"\s+|" + _PREV + r"\s+)?(?:(?:on|på)\s+)?(?P<wd>" + _alt(WEEKDAY_WORDS)
    + r")\.?"
    r"(?:\s+(?P<nw2>ensi viikolla|next week|nästa vecka|tulevalla viikolla))?" + _END
)
_DATE_NUM = re.compile(
    r"(?:den\s+)?(?P<d>\d{1,2})\.(?P<m>\d{1,2})(?:\.(?P<y>\d{4}|\d{2})?|(?=\s+(?:klo|kl|kello|at)\b))" + _END
)
_DATE_ISO = re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _END)
_DATE_SLASH = re.compile(r"(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?" + _END)
_MONTH = "(?P<mn>" + _alt(MONTH_WORDS) + ")"
_DATE_NAMED = [
    re.compile(r"(?:den\s+|the\s+)?(?P<d>\d{1,2})(?:\.|:a|:e|st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH +
               r"(?:,?\s+(?P<y>\d{4}))?" + _END),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:\.|st|nd|rd|th)?(?:\s+(?:päivänä|pnä))?(?:,?\s+(?P<y>\d{4}))?" + _END),
]
_AMPM = r"(?P<ampm>a\.?m\.?|p\.?m\.?)"
_DAYPART = r"(?P<part>illalla|iltapäivällä|aamulla|aamupäivällä|på kvällen|på morgonen|på eftermiddagen|" \
           r"in the evening|in the morning|in the afternoon|tonight)"
_TIME = re.compile(
    r"(?:(?P<pre>klo|kl\.?|kello|at)\s*)?(?P<h>\d{1,2})(?:[.:](?P<min>\d{2}))?\s*(?:" + _AMPM + r")?"
    r"(?:\s+" + _DAYPART + r")?" + _END
)
_NOON = re.compile(r"(?:(?:at|klo|kl\.?|kello)\s+)?(?P<w>noon|midday|keskipäivällä|mitt på dagen|mitt på dan)" + _END)
# Swedish "i fredags" is last Friday
_SV_LAST_WEEKDAY = re.compile(r"i\s+(?P<wd>måndags|tisdags|onsdags|torsdags|fredags|lördags|söndags)" + _END)
# a part of the day on its own, before or after the time ("huomenna illalla klo 7", "tomorrow evening 7")
_DAYPART_ALONE = re.compile(_DAYPART.replace("tonight", "tonight|evening|night|kväll|kvällen") + _END)
_FILLER = re.compile(r"(?:on|the|den|på|päivänä|pnä|kello|,)" + _END)

_EVENING = {"illalla", "iltapäivällä", "på kvällen", "på eftermiddagen", "in the evening", "in the afternoon",
            "tonight", "evening", "night", "kväll", "kvällen"}


@dataclass
class _Parts:
    rel: timedelta | None = None
    rel_unit: str | None = None
    day_offset: int | None = None
    weekday: int | None = None
    weekday_mode: str = "next"  # next | nextweek | last
    day: int | None = None
    month: int | None = None
    year: int | None = None
    ambiguous_slash: bool = False
    hour: int | None = None
    minute: int = 0
    time_prefixed: bool = False
    ampm: str | None = None
    daypart: str | None = None
    seen: set[str] = field(default_factory=set)

    @property
    def has_date(self) -> bool:
        return bool(self.seen & {"dayword", "weekday", "date"}) or (self.rel is not None and self.rel_unit in (
            "days", "weeks"))


def _number(word: str | None) -> float:
    if not word:
        return 1
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    return float(word.replace(",", "."))


def _delta(n: float, unit: str) -> timedelta:
    return timedelta(**{unit: n})


def _normalize(text: str) -> str:
    text = text.casefold().replace("\u00a0", " ").strip()
    return re.sub(r"\s+", " ", text).strip(" ,;")


def _unknown(text: str) -> WhenError:
    return WhenError(
        _("I did not understand the time “{text}”. Write it for example as “Tue 1 Dec at 6pm”, "
          "“tomorrow at 17:30” or “in 2 hours”.").format(text=text),
        "unknown",
    )


def _tokenize(text: str) -> _Parts:
    parts = _Parts()
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " ,":
            pos += 1
        if pos >= n:
            break
        m = _match_any(text, pos, parts)
        if m is None:
            raise _unknown(text)
        pos = m
    if not parts.seen:
        raise _unknown(text)
    return parts


def _match_any(text: str, pos: int, p: _Parts) -> int | None:
    """Consume one token at ``pos``; return the new position or None."""
    if "rel" not in p.seen:
        for rx in _REL:
            m = rx.match(text, pos)
            if m:
                p.rel_unit = _UNITS[m["u"]]
                p.rel = _delta(_number(m["n"]), p.rel_unit)
                p.seen.add("rel")
                return m.end()
    if "dayword" not in p.seen:
        m = _DAYPARTWORD.match(text, pos)
        if m and p.daypart is None:
            p.day_offset, part = _DAY_PARTS[m["w"]]
            p.daypart = "evening" if part == "evening" else "aamulla"
            p.seen.add("dayword")
            return m.end()
        m = _DAYWORD.match(text, pos)
        if m:
            p.day_offset = _DAY_WORDS[m["w"]]
            p.seen.add("dayword")
            return m.end()
    if "date" not in p.seen:
        for rx in (_DATE_ISO, _DATE_NUM, *_DATE_NAMED):
            m = rx.match(text, pos)
            if m:
                p.day = int(m["d"])
                p.month = int(m["m"]) if "m" in m.groupdict() and m["m"] else MONTH_WORDS[m["mn"]]
                if m["y"]:
                    p.year = int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)
                p.seen.add("date")
                return m.end()
        m = _DATE_SLASH.match(text, pos)
        if m:
            a, b = int(m["a"]), int(m["b"])
            p.day, p.month = a, b
            p.ambiguous_slash = a != b and a <= 12 and b <= 12
            if m["y"]:
                p.year = int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)
            p.seen.add("date")
            return m.end()
    if "weekday" not in p.seen:
        m = _WEEKDAY.match(text, pos)
        if m and _weekday_ok(m, text):
            p.weekday = WEEKDAY_WORDS[m["wd"]]
            p.weekday_mode = "nextweek" if (m["nw"] or m["nw2"]) else "last" if m["prev"] else "next"
            p.seen.add("weekday")
            return m.end()
        m = _SV_LAST_WEEKDAY.match(text, pos)
        if m:
            p.weekday = WEEKDAY_WORDS[m["wd"]]
            p.weekday_mode = "last"
            p.seen.add("weekday")
            return m.end()
    if "time" not in p.seen:
        m = _NOON.match(text, pos)
        if m:
            p.hour, p.minute, p.time_prefixed = 12, 0, True
            p.seen.add("time")
            return m.end()
        m = _TIME.match(text, pos)
        if m and (m["pre"] or m["min"] or m["ampm"] or m["part"] or p.has_date or p.daypart):
            p.hour = int(m["h"])
            p.minute = int(m["min"] or 0)
            p.time_prefixed = bool(m["pre"] and m["pre"] != "at") or bool(m["min"])
            p.ampm = m["ampm"][0] if m["ampm"] else None
            p.daypart = m["part"] or p.daypart
            p.seen.add("time")
            return m.end()
    if p.daypart is None:
        m = _DAYPART_ALONE.match(text, pos)
        if m:
            p.daypart = m["part"]
            return m.end()
    m = _FILLER.match(text, pos)
    if m and m.end() > pos:
        return m.end()
    return None


def _weekday_ok(m: re.Match, text: str) -> bool:
    """Two-letter abbreviations like "to", "on", "må" only count with a date or time next to them."""
    word = m["wd"]
    if len(word) > 3 or m["next"] or m["nw"] or m["prev"]:
        return True
    rest = text[m.end():].lstrip(" ,")
    return bool(re.match(r"(\d|klo|kl|kello|at\s)", rest))


# --- resolution ------------------------------------------------------------------------------


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


def _resolve_time(p: _Parts, lang: str | None) -> time | None:
    if p.hour is None:
        return None
    hour = p.hour
    if p.ampm:
        if not 1 <= hour <= 12:
            raise WhenError(_("{hour} {ampm} is not a valid time.").format(hour=hour, ampm=p.ampm + "m"), "invalid")
        hour = hour % 12 + (12 if p.ampm == "p" else 0)
    elif p.daypart:
        if p.daypart in _EVENING and 1 <= hour < 12:
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


def _parse(text: str, now: datetime, lang: str | None, default_time: time | None) -> tuple[datetime, _Parts]:
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    original = " ".join(text.split())
    norm = _normalize(text)
    if not norm:
        raise WhenError(_("Please tell me when, for example “Tue 1 Dec at 6pm”."), "unknown")
    if len(norm) > 200:
        raise _unknown(original[:60] + "…")
    p = _tokenize(norm)
    try:
        return _resolve(p, now, lang, default_time, original), p
    except WhenError:
        raise
    except (ValueError, OverflowError):
        raise _unknown(original) from None


def _resolve(p: _Parts, now: datetime, lang: str | None, default_time: time | None, original: str) -> datetime:
    today = _local_date(now)
    # A pure offset in hours or minutes is an instant, not a wall-clock time.
    if p.rel is not None and p.rel_unit in ("hours", "minutes"):
        if len(p.seen) > 1:
            raise _unknown(original)
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
            if p.daypart in _EVENING and t < EVENING_TIME:  # "sulkeutuu tänä iltana": not at noon
                t = EVENING_TIME
        result = _wall(d, t)
    else:
        if t is None:
            raise _unknown(original)
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
        parts = _tokenize(_normalize(phrase))
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
    m = _DURATION.match(_normalize(text))
    if not m:
        return None
    try:
        value = _number(m["n"])
    except ValueError:
        return None
    delta = _delta(value, _UNITS[m["u"]])
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
    raise _unknown(" ".join(words[:6]))
