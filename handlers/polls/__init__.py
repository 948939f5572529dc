"""Polls: create with settings in one message, vote (native or buttons), close on time once,
post the result, list, digest and export."""

from handlers.polls.flow import FEATURE, digest, export_polls, parse_poll, render_digest

__all__ = ["FEATURE", "digest", "export_polls", "parse_poll", "render_digest"]
