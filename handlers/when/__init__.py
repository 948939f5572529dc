"""Dates and times as people type them in Finnish, Swedish and English (not a feature).

A package of three parts: ``words`` (the word tables per language), ``grammar`` (regex tokens
consumed into parts) and ``resolve`` (parts to an instant, and the entry points re-exported here).

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

from handlers.when.resolve import (
    DEFAULT_TIME,
    EVENING_TIME,
    HELSINKI,
    MONTH_WORDS,
    WEEKDAY_WORDS,
    WhenError,
    clock_face,
    parse_duration,
    parse_when,
    split_when,
)

__all__ = ["DEFAULT_TIME", "EVENING_TIME", "HELSINKI", "MONTH_WORDS", "WEEKDAY_WORDS", "WhenError", "clock_face",
           "parse_duration", "parse_when", "split_when"]
