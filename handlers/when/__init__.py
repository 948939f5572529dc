"""Dates and times as people type them in Finnish, Swedish and English (not a feature)."""

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
