"""What people type to the digest's commands, read into plain values (pure: no store, no
transport): a weekday and a time, an area's name, the open-data choices, a week. The words are
data (per language where they are shown back: see render.py)."""

from __future__ import annotations

import re
from datetime import datetime

from core import vocabulary
from core.i18n import _
from handlers.base import UserError
from handlers.digest.render import publish_label, time_example
from storage import digest as store


def _digits(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is True, but int() refuses it)."""
    return text.isascii() and text.isdigit()


#: the words are data (data/vocabulary/digest.toml): what an area publishes, the weekdays
PUBLISH_WORDS = vocabulary.entries("digest", "publish")
#: the weekly digest on / off (the names of the subcommands ``/kooste päälle|pois``)
OFF_WORDS = {"fi": ("pois",), "sv": ("av",), "en": ("off",)}
ON_WORDS = {"fi": ("päälle", "paalle"), "sv": ("på", "pa"), "en": ("on",)}
#: "/kooste näytä": this week so far (also the command alone)
SHOW_WORDS = {"fi": ("näytä", "nayta"), "sv": ("visa",), "en": ("show",)}
#: "/alue ei", "/julkaise ei": none (the names of those subcommands)
NONE_NAMES = {"fi": ("ei", "mitään"), "sv": ("inget", "ingenting"), "en": ("none", "nothing", "-")}
NONE_WORDS = tuple(name for names in NONE_NAMES.values() for name in names)
DAY_WORDS = tuple(vocabulary.entries("digest", "weekdays").values())
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def _no_time() -> UserError:
    return UserError(_("Give a weekday and a time, for example: {example}, or off / on.").format(
        example=time_example()), show_usage=True)


def parse_digest_time(args: str) -> tuple[int | None, str | None]:
    """A weekday, a time or both (``pe 16:00``, ``fredag 16.00``): (weekday 0=Monday, "HH:MM")."""
    words = args.casefold().split()
    if not words or len(words) > 2:
        raise _no_time()
    day, hhmm = None, None
    for word in words:
        found = next((n for n, names in enumerate(DAY_WORDS) if word.rstrip(".") in names), None)
        m = _TIME.match(word)
        if found is not None and day is None:
            day = found
        elif m and int(m[1]) < 24 and int(m[2]) < 60 and hhmm is None:
            hhmm = f"{int(m[1]):02d}:{m[2]}"
        else:
            raise _no_time()
    return day, hhmm


def nothing_more(rest: str) -> None:
    """``/kooste päälle|pois|näytä`` take no more words."""
    if rest.split():
        raise _no_time()


_AREA_OK = re.compile(r"^[\w][\w .'-]{0,99}$")


def _bad_area() -> UserError:
    return UserError(_("An area name is letters, digits, spaces, dots, hyphens; at most 100 characters."),
                     show_usage=True)


def parse_area(args: str) -> str | None:
    """An area's name; None when there is none (show the chat's area)."""
    name = " ".join(args.split())
    if not name:
        return None
    if not _AREA_OK.match(name):
        raise _bad_area()
    return name


def parse_no_area(rest: str) -> None:
    """``/alue ei`` (also ``ei mitään``): an area's name cannot begin with a word for none."""
    if not all(w in NONE_WORDS for w in rest.casefold().split()):
        raise _bad_area()


def _cannot_publish() -> UserError:
    return UserError(_("I can publish: {choices}, or none.").format(
        choices=", ".join(publish_label(c) for c in store.PUBLISHABLE)), show_usage=True)


def parse_publish(args: str) -> list[str] | None:
    words = [w.strip(",;") for w in args.casefold().split()]
    words = [w for w in words if w]
    if not words:
        return None
    if all(w in NONE_WORDS for w in words):
        return []
    choices = []
    for word in words:
        choice = next((c for c, names in PUBLISH_WORDS.items() if word in names), None)
        if choice is None:
            raise _cannot_publish()
        if choice not in choices:
            choices.append(choice)
    return [c for c in store.PUBLISHABLE if c in choices]



def parse_publish_none(rest: str) -> list[str]:
    """``/julkaise ei`` (also ``ei mitään``): nothing; a choice after it is a mistake."""
    if parse_publish(rest):
        raise _cannot_publish()
    return []


def parse_summary(args: str) -> str | None:
    word = args.strip()
    if not word:
        return None
    if _digits(word) and 1 <= int(word) <= 53:
        return word
    try:
        return store.parse_week(word)
    except ValueError:
        raise UserError(_("Give the week like 2026-W48 or 48."), show_usage=True) from None


def resolve_week(arg: str | None, now: datetime) -> str:
    current = store.week_of(now)
    if arg is None:
        return store.shift_week(current, -1)
    if _digits(arg):
        year = int(current[:4])
        if int(arg) > int(current.split("W")[1]):
            year -= 1
        try:
            return store.parse_week(f"{year}-W{int(arg):02d}")
        except ValueError:
            raise UserError(_("Give the week like 2026-W48 or 48.")) from None
    return arg
