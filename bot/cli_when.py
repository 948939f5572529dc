"""``kehrabot when "<phrase>" --lang fi [--now ISO]``: how the bot reads a date/time phrase."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def cmd_when(args: argparse.Namespace) -> int:
    from core.i18n import Catalogs, resolve_language, use_locale
    from handlers.when import DEFAULT_TIME, HELSINKI, WhenError, parse_when

    lang = resolve_language(args.lang)
    if args.now:
        now = datetime.fromisoformat(args.now)
        if now.tzinfo is None:
            now = now.replace(tzinfo=HELSINKI)
    else:
        now = datetime.now(UTC)
    with use_locale(Catalogs(), lang):
        try:
            when = parse_when(args.phrase, now, lang, default_time=None if args.require_time else DEFAULT_TIME)
        except WhenError as err:
            print(err.message, file=sys.stderr)
            return 1
    print(when.astimezone(HELSINKI).isoformat())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("when", help="show how a date/time phrase is understood (ISO 8601) or why not")
    p.add_argument("phrase", help='e.g. "ensi tiistaina klo 18"')
    p.add_argument("--lang", default="fi", choices=["fi", "sv", "en"], help="language of the phrase and the error")
    p.add_argument("--now", help="reference time, ISO 8601 (naive = Helsinki); default: now")
    p.add_argument("--require-time", action="store_true", help="refuse dates without a time (as /meeting does)")
    p.set_defaults(func=cmd_when)
