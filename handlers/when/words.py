"""The words of the date parser, per language (data/vocabulary/when.toml): weekdays with their
case endings, months, numbers, units of time, day words ("huomenna", "i morgon") and parts of the
day, as the lookup tables ``grammar`` builds its regular expressions from."""

from __future__ import annotations

from core import vocabulary
from core.i18n import LANGUAGES


def _names(key: str) -> dict[str, int]:
    """Each name with each of its language's endings, and the abbreviations: word -> index."""
    found: dict[str, int] = {}
    for lang in LANGUAGES:
        spec = vocabulary.table("when", f"{key}.{lang}")
        for i, (name, abbreviations) in enumerate(zip(spec["names"], spec["abbreviations"], strict=True)):
            for ending in spec["endings"]:
                found[name + ending] = i
            for abbreviation in abbreviations:
                found[abbreviation] = i
    return found


#: weekday word -> 0 (Monday) … 6
WEEKDAY_WORDS: dict[str, int] = _names("weekdays")
#: month word -> 1 (January) … 12
MONTH_WORDS: dict[str, int] = {word: i + 1 for word, i in _names("months").items()}
NUMBER_WORDS: dict[str, float] = vocabulary.mapping("when", "numbers")
#: unit word -> "minutes" | "hours" | "days" | "weeks"
UNITS: dict[str, str] = {word: unit for unit, words in vocabulary.entries("when", "units").items() for word in words}
#: day word -> days from today
DAY_WORDS: dict[str, int] = vocabulary.mapping("when", "days")
#: a day and a part of it in one phrase ("tänä iltana", "ikväll", "tonight"): today, in the evening
DAY_PARTS: dict[str, tuple[int, str]] = vocabulary.mapping("when", "day_parts")
#: parts of the day that make a bare hour p.m. ("klo 7 illalla" is 19.00)
EVENING_WORDS = frozenset(vocabulary.words("when", "evening"))
