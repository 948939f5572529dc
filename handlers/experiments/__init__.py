"""Experiments: an idea tried out through the double diamond (Explore, Define, Develop, Deliver),
with a volunteer team, indicators and their values over time, scheduled value requests, charts,
digest and exports.

- ``commands.py`` the declarations: FEATURE, the command table, the actions after the number
- ``keys.py`` the button data and the job keys
- ``parse.py`` what people type, read into values (pure), with the words per language
- ``render.py`` how it looks in the chat (pure)
- ``flow.py`` the handlers: parse → store → render → reply
- ``jobs.py`` the scheduled value requests
- ``digest.py`` the weekly digest's facts and the raw export
"""

from handlers.experiments.commands import FEATURE
from handlers.experiments.jobs import next_ask
from handlers.experiments.parse import START_WORD, parse_measure, parse_value, parse_value_date
from handlers.experiments.render import fmt_value, render_digest, target_reached, trend

__all__ = ["FEATURE", "START_WORD", "fmt_value", "next_ask", "parse_measure", "parse_value", "parse_value_date",
           "render_digest", "target_reached", "trend"]
