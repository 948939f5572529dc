"""Parsing the words of /checklist subcommands: pure functions, no store, no transport."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core import vocabulary
from core.i18n import _, current_language
from handlers.base import UserError

#: the words are data (data/vocabulary/checklist.toml)
CLOSES_WORDS = vocabulary.words("checklist", "closes")
_SWITCH = vocabulary.entries("checklist", "switch")
ON_WORDS, OFF_WORDS = _SWITCH["on"], _SWITCH["off"]
_WHERE = vocabulary.entries("checklist", "where")
GROUP_WORDS, PRIVATE_WORDS = _WHERE["group"], _WHERE["private"]
RADAR_WORDS = vocabulary.words("checklist", "radar")


@dataclass(frozen=True)
class Args:
    action: str
    words: tuple[str, ...] = ()
    raw: str = ""


def args_for(action: str) -> Callable[[str], Args]:
    """The parser of subcommand ``action``: the words after it."""
    def parse(rest: str) -> Args:
        return Args(action, tuple(rest.split()), rest.strip())
    return parse


_REL = re.compile(r"^(\d{1,3})\s*(d|pv|päivä|päivää|paiva|paivaa|dag|dagar|day|days|"
                  r"w|vk|viikko|viikkoa|vecka|veckor|week|weeks|h|t|tunti|tuntia|timme|timmar|hour|hours)$")


def parse_when(text: str, now: datetime) -> datetime:
    """Compact offsets ("7d", "2 vk", "12h", "7 dagar"), else the shared fi/sv/en parser
    (handlers/when.py: "1.12.", "ensi perjantaina", "2026-12-01 18:00"); a date alone means 23:59."""
    from handlers import when

    m = _REL.match(" ".join(text.casefold().split()))
    if m:
        n, unit = int(m[1]), m[2]
        if unit[0] in "wv":
            return now + timedelta(weeks=n)
        if unit[0] in "htk" or unit.startswith("ti"):
            return now + timedelta(hours=n)
        return now + timedelta(days=n)
    return when.parse_when(text, now, current_language(), default_time=time(23, 59))


def parse_start(words: tuple[str, ...], now: datetime) -> tuple[str | None, datetime | None]:
    name, closes = None, None
    words = list(words)
    for i, word in enumerate(words):
        if word.casefold() in CLOSES_WORDS:
            closes = parse_when(" ".join(words[i + 1:]), now) if words[i + 1:] else None
            if closes is None:
                raise UserError(_("Write the closing time after the word {word}.").format(word=word))
            words = words[:i]
            break
    if words:
        name = words[0].casefold()
    if closes is not None and closes <= now:
        raise UserError(_("The closing time must be in the future."))
    return name, closes
