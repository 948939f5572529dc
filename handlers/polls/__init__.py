"""Polls: create with settings in one message, vote (native or buttons), close on time once,
post the result, list, digest and export.

``commands`` declares the feature; ``parse`` and ``render`` are pure; ``flow`` creates and
manages polls, ``voting`` counts votes, ``jobs`` closes them, ``digest`` reports and exports."""

from handlers.polls.commands import FEATURE
from handlers.polls.digest import digest, export_polls, render_digest
from handlers.polls.parse import parse_poll

__all__ = ["FEATURE", "digest", "export_polls", "parse_poll", "render_digest"]
