"""Recurrence in words and back: a leading phrase ("joka tiistai", "every other Monday", "varje
månads första onsdag", "joka päivä 10 kertaa") as an RFC 5545 RRULE value, and a rule described in
the current language. Pure functions: no store, no transport."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from core import vocabulary
from core.i18n import N_, _, current_language, format_number, ngettext
from handlers.base import UserError
from handlers.when import WEEKDAY_WORDS

RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

ORDINAL_LABELS = {1: N_("first"), 2: N_("second"), 3: N_("third"), 4: N_("fourth"), -1: N_("last")}

#: "ensimmäinen", "första", "last" … -> 1 … 4, -1 (data/vocabulary/meetings.toml)
_ORDINALS = vocabulary.mapping("meetings", "ordinals")


_alt = vocabulary.alternation


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
    for i, stem in enumerate(vocabulary.table("when", "weekdays.fi")["names"]):
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
