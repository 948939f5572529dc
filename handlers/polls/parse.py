"""Reading a poll command: the question, its options and the settings written after them, and
the closing time. Pure functions: no store, no transport."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import vocabulary
from core.i18n import _, current_language, format_datetime, format_number, ngettext
from handlers.base import UserError
from handlers.when import parse_duration, parse_when
from storage import polls as store

MIN_OPTIONS, MAX_OPTIONS = 2, 12
MAX_QUESTION_CHARS, MAX_OPTION_CHARS = 300, 100
DEFAULT_OPEN = timedelta(hours=24)
MIN_OPEN, MAX_OPEN = timedelta(minutes=1), timedelta(days=60)
#: the words are data (data/vocabulary/polls.toml)
_PRIVACY = vocabulary.entries("polls", "privacy")
ANON_WORDS = frozenset(_PRIVACY["anonymous"])
NAMED_WORDS = frozenset(_PRIVACY["named"])
HIDDEN_PHRASES = frozenset(vocabulary.words("polls", "hidden"))


_alt = vocabulary.alternation


_MULTI = re.compile(r"^(?:monivalinta|monta|flerval|flera|multiple(?: choice)?|multi)(?:\s+(\d{1,3}))?$")
# "monivalinta x", "multiple two": the setting with a count that is not one (the words of the first
# group are never an option's start; "multiple"/"monta"/"flera" only with one short word after them)
_MULTI_BAD = re.compile(r"^(?P<word>monivalinta|flerval|multiple choice)\s+(?P<rest>.+)$|"
                        r"^(?P<word2>multiple|multi|monta|flera)\s+(?P<rest2>\S+)$")
_COUNT_WORDS = vocabulary.mapping("polls", "counts")
_ALL_WORDS = frozenset(vocabulary.words("polls", "all"))
_CLOSE = re.compile(r"^(?:" + _alt(vocabulary.words("polls", "closes")) + r")\s+(.+)$")
_OPEN_FOR = re.compile(r"^(?:" + _alt(vocabulary.words("polls", "open_for")) + r")\s+(\d.*)$")
_IDEA = re.compile(r"^(?:" + _alt(vocabulary.words("polls", "idea")) + r")\s*#?(\d{1,9})$")
WHO_WORDS = vocabulary.entries("polls", "who")


@dataclass(frozen=True)
class NewPoll:
    question: str
    options: tuple[str, ...]
    multiple: bool = False
    max_choices: int = 1
    anonymous: bool = False
    hide_results: bool = False
    close_text: str | None = None
    idea_number: int | None = None


@dataclass(frozen=True)
class PollNumber:
    """A poll named by its number (``/poll 3``, ``/poll extend 3 2 days``) and what follows it."""

    number: int
    rest: str = ""


def _open_at_most() -> str:
    days = MAX_OPEN.days
    return ngettext("A poll can stay open at most {days} day.", "A poll can stay open at most {days} days.",
                    days).format(days=format_number(days))


def example() -> str:
    return _("Which evening suits? | Tuesday | Wednesday | Thursday | closes Friday 18:00")


def _clean(text: str) -> str:
    return " ".join(text.split())


def _setting(segment: str) -> dict | None:
    """The settings one trailing segment holds ("anonymous, multiple 2"), or None if it is an option."""
    found: dict = {}
    for part in (p.strip() for p in segment.split(",")):
        low = part.casefold()
        if not low:
            return None
        if low in ANON_WORDS:
            found["anonymous"] = True
        elif low in NAMED_WORDS:
            found["anonymous"] = False
        elif low in HIDDEN_PHRASES:
            found["hide_results"] = True
        elif m := _MULTI.match(low):
            found["multiple"] = int(m.group(1)) if m.group(1) else None  # None: as many as there are options
        elif m := _MULTI_BAD.match(low):
            word, rest = (m["word"], m["rest"]) if m["word"] else (m["word2"], m["rest2"])
            if m["word2"] and not (rest in _COUNT_WORDS or rest in _ALL_WORDS or len(rest) <= 3
                                   or rest[0] in "-0123456789"):
                return None  # "Multiple times", "Monta kertaa": an option
            if rest in _COUNT_WORDS:
                found["multiple"] = _COUNT_WORDS[rest]
            elif rest in _ALL_WORDS:
                found["multiple"] = None
            else:
                raise UserError(_("“{text}”: after “{word}” write how many options each person may choose, "
                                  "for example “{example}”.").format(text=part, word=word, example=f"{word} 2"),
                                show_usage=True)
        elif m := _CLOSE.match(low) or _OPEN_FOR.match(low):
            found["close_text"] = part[len(part) - len(m.group(1)):].strip()
        else:
            return None
    return found


def parse_poll(args: str) -> NewPoll | PollNumber:
    """A new poll, or the number of one to show. (Close, extend, cancel and settings are the
    command's subcommands, picked by the router before this.)"""
    text = args.strip()
    if not text:
        raise UserError(_("Write the question and at least two options separated by |, for example: {example}")
                        .format(example=example()), show_usage=True)
    if "|" not in text:
        words = text.split()
        first = words[0].casefold().lstrip("#")
        if first.isdecimal() and len(words) == 1:
            return PollNumber(int(first[:9]))
        raise UserError(_("Separate the question and the options with |, for example: {example}")
                        .format(example=example()), show_usage=True)
    segments = [_clean(s) for s in text.split("|")]
    idea_number = None
    if m := _IDEA.match(segments[0].casefold()):
        idea_number = int(m.group(1))
        segments = segments[1:]
    settings: dict = {}
    while len(segments) > 1 and (found := _setting(segments[-1])) is not None:
        segments.pop()
        for key, value in found.items():
            settings.setdefault(key, value)  # the later one in the message wins
    question, options = segments[0], [s for s in segments[1:]]
    if not question:
        raise UserError(_("The question is missing. Write it before the first |, for example: {example}")
                        .format(example=example()), show_usage=True)
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(ngettext("The question is too long: {count} character, at most {limit}.",
                                 "The question is too long: {count} characters, at most {limit}.",
                                 len(question)).format(count=format_number(len(question)),
                                                       limit=format_number(MAX_QUESTION_CHARS)))
    if any(not o for o in options):
        raise UserError(_("One of the options is empty. Check that there is text between every two |."),
                        show_usage=True)
    if len(options) < MIN_OPTIONS:
        raise UserError(ngettext("A poll needs at least {min} option, for example: {example}",
                                 "A poll needs at least {min} options, for example: {example}",
                                 MIN_OPTIONS).format(min=format_number(MIN_OPTIONS), example=example()),
                        show_usage=True)
    if len(options) > MAX_OPTIONS:
        raise UserError(_("Too many options: {count}, at most {max}.").format(
            count=format_number(len(options)), max=format_number(MAX_OPTIONS)))
    for option in options:
        if len(option) > MAX_OPTION_CHARS:
            raise UserError(ngettext("The option “{option}…” is too long: at most {limit} character.",
                                     "The option “{option}…” is too long: at most {limit} characters.",
                                     MAX_OPTION_CHARS).format(option=option[:30],
                                                              limit=format_number(MAX_OPTION_CHARS)))
    folded = [o.casefold() for o in options]
    if len(set(folded)) != len(folded):
        dup = next(o for i, o in enumerate(options) if folded.index(o.casefold()) != i)
        raise UserError(_("The option “{option}” appears twice.").format(option=dup))
    multiple = "multiple" in settings
    max_choices = 1
    if multiple:
        max_choices = len(options) if settings["multiple"] is None else settings["multiple"]
        if not 2 <= max_choices <= len(options):
            raise UserError(ngettext(
                "Multiple choice allows from 2 to {max} choice here (there is {max} option), for example: multiple 2",
                "Multiple choice allows from 2 to {max} choices here (there are {max} options), for example: multiple 2",
                len(options)).format(max=format_number(len(options))))
    return NewPoll(question=question, options=tuple(options), multiple=multiple, max_choices=max_choices,
                   anonymous=settings.get("anonymous", False), hide_results=settings.get("hide_results", False),
                   close_text=settings.get("close_text"), idea_number=idea_number)


def numbered(names: dict[str, tuple[str, ...]]) -> Callable[[str], PollNumber]:
    """The parser of a subcommand that manages a poll (``names``: the subcommand's): the poll's
    number first, then the rest."""

    def parse(rest: str) -> PollNumber:
        words = rest.split()
        if not words or not words[0].lstrip("#").isdecimal():
            word = (names.get(current_language()) or names["en"])[0]
            raise UserError(_("Give the poll's number, for example: {example}").format(example=f"{word} 3"),
                            show_usage=True)
        return PollNumber(int(words[0].lstrip("#")[:9]), " ".join(words[1:]))

    return parse


def parse_area(args: str) -> NewPoll:
    """``/poll area <question> | <option> | …``: a new poll, as :func:`parse_poll` reads it."""
    parsed = parse_poll(args)
    if not isinstance(parsed, NewPoll):
        raise UserError(_("Write the question and at least two options separated by |, for example: {example}")
                        .format(example=example()), show_usage=True)
    return parsed


def extension(text: str) -> str:
    """The new closing time of ``/poll extend N …`` without a leading "closes" or "open"."""
    m = _CLOSE.match(text.casefold()) or _OPEN_FOR.match(text.casefold())
    if m:
        text = text[len(text) - len(m.group(1)):]
    return text.strip()


def parse_who(rest: str) -> str | None:
    """``/poll settings everyone|admins``: "everyone", "admins", or None (say what it is now)."""
    word = rest.strip().casefold()
    return next((w for w, names in WHO_WORDS.items() if word in names), None)


def close_time(text: str | None, now: datetime, lang: str) -> datetime:
    if text is None:
        return now + DEFAULT_OPEN
    duration = parse_duration(text)  # a bare "2 päivää" / "3 h" means open for that long
    when = now + duration if duration is not None else parse_when(text, now, lang)
    if when < now + MIN_OPEN:
        raise UserError(_("The closing time {when} is not in the future.").format(when=format_datetime(when)))
    if when > now + MAX_OPEN:
        raise UserError(_open_at_most())
    return when


def extended_close(text: str, poll: store.Poll, now: datetime, lang: str) -> datetime:
    """The new closing time of an extended poll: a length ("2 päivää") is added to the current
    closing time; a time ("pe klo 18") must be later than it."""
    duration = parse_duration(text)
    when = poll.close_at + duration if duration is not None else parse_when(text, now, lang)
    if when <= poll.close_at:
        raise UserError(_("Poll #{number} already closes {current}, which is later than {when}. To extend it, "
                          "give a later time or a length to add, for example “{example}”.").format(
            number=poll.number, current=format_datetime(poll.close_at), when=format_datetime(when),
            example=_("2 days")))
    if when > now + MAX_OPEN:
        raise UserError(_open_at_most())
    return when
