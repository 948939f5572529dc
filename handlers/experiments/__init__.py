"""Experiments: an idea tried out through the double diamond, with a team, indicators and values.

The feature's declarations are ``FEATURE``; the names other code uses are re-exported here."""

from handlers.experiments.flow import (
    FEATURE,
    START_WORD,
    fmt_value,
    next_ask,
    parse_measure,
    parse_value,
    parse_value_date,
    render_digest,
    target_reached,
    trend,
)

__all__ = ["FEATURE", "START_WORD", "fmt_value", "next_ask", "parse_measure", "parse_value", "parse_value_date",
           "render_digest", "target_reached", "trend"]
