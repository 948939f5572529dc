"""The grammar of time phrases: regex tokens built from ``words`` (relative offsets, day words,
weekdays with case endings, numeric and named dates, clock times), consumed left to right into
:class:`Parts`; each kind may appear once. No dates are resolved here (see ``resolve``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from core import vocabulary
from core.i18n import _
from handlers.base import UserError
from handlers.when.words import DAY_PARTS, DAY_WORDS, MONTH_WORDS, NUMBER_WORDS, UNITS, WEEKDAY_WORDS


class WhenError(UserError):
    """The phrase could not be turned into one future instant. ``kind`` is one of
    unknown, invalid, ambiguous, past, missing_time."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


_alt = vocabulary.alternation


_END = r"(?=$|[\s,;!?)])"
_NUM = r"(?:\d+(?:[.,]\d+)?|" + _alt(NUMBER_WORDS) + ")"
_UNIT = "(?:" + _alt(UNITS) + ")"

# Relative offsets: "in 2 hours", "2 tunnin päästä", "om 3 timmar", "tunnin kuluttua", "3 h päästä".
_REL = [
    re.compile(r"(?:in|within|om)\s+(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")" + _END),
    re.compile(r"(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")\s+(?:päästä|kuluttua|from now|framåt|senare)" + _END),
]
DURATION = re.compile(r"^(?:(?:in|om|for|för)\s+)?(?P<n>" + _NUM + r")?\s*(?P<u>" + _UNIT + r")"
                       r"(?:\s+(?:päästä|kuluttua|from now|framåt|senare|ajaksi))?$")
_DAYWORD = re.compile("(?P<w>" + _alt(DAY_WORDS) + ")" + _END)
_DAYPARTWORD = re.compile("(?P<w>" + _alt(DAY_PARTS) + ")" + _END)
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


@dataclass
class Parts:
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


def as_number(word: str | None) -> float:
    if not word:
        return 1
    if word in NUMBER_WORDS:
        return NUMBER_WORDS[word]
    return float(word.replace(",", "."))


#: a length of time is read as at most this long: any caller's own limit (a poll's 60 days, a meeting
#: at most MAX_YEARS_AHEAD away) is far below it, and adding it to now stays a valid datetime, where
#: "99999999999999999999 päivää" or "1e309 h" would overflow
LONGEST = timedelta(days=200 * 366)


def as_delta(n: float, unit: str) -> timedelta:
    """``n`` ``unit`` ("days", "hours" …) as a timedelta, its size at most LONGEST."""
    try:
        delta = timedelta(**{unit: n})
    except OverflowError:  # more than timedelta holds, or infinite
        return LONGEST if n > 0 else -LONGEST
    return max(-LONGEST, min(LONGEST, delta))


def normalize(text: str) -> str:
    text = text.casefold().replace("\u00a0", " ").strip()
    return re.sub(r"\s+", " ", text).strip(" ,;")


def unknown(text: str) -> WhenError:
    return WhenError(
        _("I did not understand the time “{text}”. Write it for example as “Tue 1 Dec at 6pm”, "
          "“tomorrow at 17:30” or “in 2 hours”.").format(text=text),
        "unknown",
    )


def tokenize(text: str) -> Parts:
    parts = Parts()
    pos = 0
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " ,":
            pos += 1
        if pos >= n:
            break
        m = _match_any(text, pos, parts)
        if m is None:
            raise unknown(text)
        pos = m
    if not parts.seen:
        raise unknown(text)
    return parts


def _match_any(text: str, pos: int, p: Parts) -> int | None:
    """Consume one token at ``pos``; return the new position or None."""
    if "rel" not in p.seen:
        for rx in _REL:
            m = rx.match(text, pos)
            if m:
                p.rel_unit = UNITS[m["u"]]
                p.rel = as_delta(as_number(m["n"]), p.rel_unit)
                p.seen.add("rel")
                return m.end()
    if "dayword" not in p.seen:
        m = _DAYPARTWORD.match(text, pos)
        if m and p.daypart is None:
            p.day_offset, part = DAY_PARTS[m["w"]]
            p.daypart = "evening" if part == "evening" else "aamulla"
            p.seen.add("dayword")
            return m.end()
        m = _DAYWORD.match(text, pos)
        if m:
            p.day_offset = DAY_WORDS[m["w"]]
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
