"""The log's page: "sivu 2", "sida 2", "page 2" or a bare number. Pure."""

from __future__ import annotations

from core import vocabulary
from core.i18n import _
from handlers.base import UserError

PAGE_WORDS = frozenset(vocabulary.words("core", "page"))  # data/vocabulary/core.toml, as every list


def parse_page(args: str) -> int:
    tokens = args.split()
    if tokens and tokens[0].casefold().rstrip(".:") in PAGE_WORDS:
        tokens = tokens[1:]
    if not tokens:
        return 1
    if len(tokens) == 1 and tokens[0].isdecimal() and 0 < int(tokens[0]) < 100_000:
        return int(tokens[0])
    raise UserError(_("Give a page number, for example 2."), show_usage=True)
