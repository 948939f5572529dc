"""What people type to the experiments, read into plain values (pure: no store, no transport).

The words are data: the phases, the actions after an experiment's number (``/kokeilu 3 valmis …``),
how often to ask, which way is better, today and yesterday, each per language where a phrase is
shown back to people. Unit-tested as plain functions."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core import vocabulary
from core.i18n import N_, _, format_date, format_number, local, ngettext
from handlers.base import UserError
from handlers.ideas import parse_number
from handlers.when import HELSINKI, parse_when
from storage import experiments as store

MAX_NOTE_CHARS = 500
MAX_NAME_CHARS, MAX_UNIT_CHARS = 60, 20
MAX_ABS_VALUE = 1e12
#: values older than this are refused (typos such as 1.1.1926)
MAX_VALUE_AGE_DAYS = 5 * 366

PHASE_LABELS = {"explore": N_("Explore"), "define": N_("Define"), "develop": N_("Develop"), "deliver": N_("Deliver")}
#: the phases' words, the next phase, how often to ask, which way is better, today and
#: yesterday: data/vocabulary/experiments.toml
PHASE_WORDS = vocabulary.entries("experiments", "phases")
NEXT_WORDS = vocabulary.words("experiments", "next")
#: the actions after an experiment's number, per language (any case); the first name of a
#: language is the one shown in examples. The command table (commands.ACTIONS) declares each one
#: with these names, its handler, role and help.
ACTION_WORDS = {
    "start": {"fi": ("aloita", "käynnistä", "kaynnista"), "sv": ("starta", "börja", "borja", "påbörja", "paborja"),
              "en": ("start", "begin")},
    "show": {"fi": ("näytä", "nayta", "katso"), "sv": ("visa",), "en": ("show", "view")},
    "done": {"fi": ("valmis",), "sv": ("klar", "färdig", "fardig"), "en": ("done",)},
    "abandon": {"fi": ("keskeytä", "keskeyta", "lopeta"), "sv": ("avbryt", "överge", "overge"),
                "en": ("abandon", "abandoned")},
    "ask": {"fi": ("kysy", "muistuta"), "sv": ("fråga", "fraga", "påminn", "paminn"), "en": ("ask", "remind")},
}
#: the action words shown in examples, per language
START_WORD = {lang: names[0] for lang, names in ACTION_WORDS["start"].items()}
DONE_WORD = {lang: names[0] for lang, names in ACTION_WORDS["done"].items()}
ABANDON_WORD = {lang: names[0] for lang, names in ACTION_WORDS["abandon"].items()}
EVERY_WORDS = vocabulary.entries("experiments", "every")
_DIRECTIONS = vocabulary.entries("experiments", "direction")
DIRECTION_WORDS = {store.MORE: _DIRECTIONS["more"], store.LESS: _DIRECTIONS["less"]}
_DAYS = vocabulary.entries("experiments", "days")
TODAY_WORDS, YESTERDAY_WORDS = _DAYS["today"], _DAYS["yesterday"]
STATUS_LABELS = {store.ACTIVE: N_("active"), store.DONE: N_("done"), store.ABANDONED: N_("abandoned")}

_NUMBER = re.compile(r"^([+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+))((?![.,\d])\S*)$")
_DATE_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RANGE = re.compile(r"\s+(?:[-–—]|until|till)\s+|\s*[–—]\s*", re.I)


def phase_label(phase: str) -> str:
    return _(PHASE_LABELS.get(phase, phase))


def _clean(text: str) -> str:
    return " ".join(text.split())


def word_in(word: str, table: dict[str, tuple[str, ...]]) -> str | None:
    word = word.casefold()
    return next((key for key, words in table.items() if word in words), None)


# --- parsing (plain functions, unit-tested) ------------------------------------------------------


def parse_value(token: str) -> tuple[float, str]:
    """A number typed with a comma or a point and an optional unit glued on ("1,5", "12€", "3h")."""
    m = _NUMBER.match(token.strip())
    if not m or re.fullmatch(r"[eE][+-]?\d+", m[2]):
        raise UserError(_("“{text}” is not a number. Write for example 12 or 1,5.").format(text=token[:40]))
    value = float(m[1].replace(",", "."))
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise UserError(_("{text} is too large a number.").format(text=token[:40]))
    return value, m[2]


def looks_numeric(token: str) -> bool:
    return bool(_NUMBER.match(token)) or bool(re.fullmatch(r"[+-]?\d+[eE]\S*", token))


def parse_value_date(text: str, now: datetime) -> datetime:
    """The day a value was measured: today, yesterday, 1.11., 1.11.2026 or 2026-11-01 (noon, Helsinki).
    Future days and days more than five years back are refused."""
    word = text.strip().casefold()
    today = local(now).date()
    if word in TODAY_WORDS:
        day = today
    elif word in YESTERDAY_WORDS:
        day = today - timedelta(days=1)
    else:
        m, iso = _DATE_DMY.match(word), _DATE_ISO.match(word)
        try:
            if m:
                year = int(m[3]) if m[3] else today.year
                year = year + 2000 if year < 100 else year
                day = date(year, int(m[2]), int(m[1]))
                if not m[3] and day > today:  # "15.12." typed in January means last December
                    day = date(year - 1, day.month, day.day)
            elif iso:
                day = date(int(iso[1]), int(iso[2]), int(iso[3]))
            else:
                raise UserError(_("I don't understand the date “{text}”. Write for example 1.11.2026 or "
                                  "yesterday.").format(text=text[:40]))
        except ValueError:
            raise UserError(_("{text} is not a valid date.").format(text=text[:40])) from None
    moment = datetime.combine(day, time(12, 0), HELSINKI)
    if day > today:
        raise UserError(_("{date} is in the future; record values once they are measured.").format(
            date=format_date(moment)))
    if (today - day).days > MAX_VALUE_AGE_DAYS:
        raise UserError(_("{date} is too far back.").format(date=format_date(moment)))
    return moment


@dataclass(frozen=True)
class ExperimentArgs:
    number: int
    action: str = "show"  # show | start | done | abandon | ask
    text: str = ""


def action_args(action: str) -> Callable[[str], ExperimentArgs]:
    """The parser of an action after the number (the router picked the action, see
    commands.py): ``N [text]``. The number alone shows; starting is explicit (``N start
    [dates]``) or dates alone (``N 1.12. - 31.1.``)."""
    def parse(args: str) -> ExperimentArgs:
        head, _sep, rest = args.strip().partition(" ")
        return ExperimentArgs(parse_number(head), action, _clean(rest))
    return parse


def parse_dates(text: str, now: datetime, lang: str | None = None) -> tuple[datetime | None, datetime | None]:
    """"<start> - <end>", "- <end>" or "<start>" with the shared fi/sv/en parser."""
    text = text.strip()
    if not text:
        return None, None
    parts = _RANGE.split(" " + text + " " if text.startswith(("-", "–")) else text, maxsplit=1)
    start_text, end_text = (parts + [""])[:2] if len(parts) > 1 else (parts[0], "")
    start = parse_when(start_text, now, lang) if start_text.strip() else None
    end = parse_when(end_text, now, lang) if end_text.strip() else None
    if start and end and end <= start:
        raise UserError(_("The end ({end}) must be after the start ({start}).").format(
            end=format_date(end), start=format_date(start)))
    return start, end


def note_too_long() -> str:
    return ngettext("Keep the note under {limit} character.", "Keep the note under {limit} characters.",
                    MAX_NOTE_CHARS).format(limit=format_number(MAX_NOTE_CHARS))


def parse_phase(args: str) -> tuple[int, str, str]:
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    word, _sep, note = rest.strip().partition(" ")
    if not word:
        raise UserError(_("Say which phase: {phases}.").format(phases=", ".join(map(phase_label, store.PHASES))),
                        show_usage=True)
    phase = "next" if word.casefold() in NEXT_WORDS else word_in(word, PHASE_WORDS)
    if phase is None:
        raise UserError(_("Unknown phase “{word}”. Choose one of: {phases}.").format(
            word=word[:40], phases=", ".join(map(phase_label, store.PHASES))))
    note = _clean(note)
    if len(note) > MAX_NOTE_CHARS:
        raise UserError(note_too_long())
    return number, phase, note


@dataclass(frozen=True)
class IndicatorSpec:
    name: str
    unit: str = ""
    target: float | None = None
    direction: str = store.MORE


def parse_indicator(args: str) -> tuple[int, IndicatorSpec]:
    """<experiment> <name> | <unit> | <target> | <more/less>; everything after the name is optional."""
    head, _sep, rest = args.strip().partition(" ")
    number = parse_number(head)
    parts = [_clean(p) for p in rest.split("|")]
    name = parts[0]
    if not name:
        raise UserError(_("Give the indicator a name, for example: {example}").format(
            example=_("participants per event | people | 20 | more")), show_usage=True)
    if len(name) > MAX_NAME_CHARS or name.lstrip("#").isdigit():
        raise UserError(ngettext("An indicator's name must be words of at most {limit} character.",
                                 "An indicator's name must be words of at most {limit} characters.",
                                 MAX_NAME_CHARS).format(limit=format_number(MAX_NAME_CHARS)))
    unit = parts[1] if len(parts) > 1 else ""
    if len(unit) > MAX_UNIT_CHARS or looks_numeric(unit):
        raise UserError(_("The unit “{unit}” is not valid: use a short word such as people, € or h.").format(
            unit=unit[:40]))
    target = None
    if len(parts) > 2 and parts[2]:
        target, glued = parse_value(parts[2].split(" ", 1)[0])
        if glued and unit and glued.casefold() != unit.casefold():
            raise UserError(_("The target is in {given} but the unit is {unit}.").format(given=glued, unit=unit))
    direction = store.MORE
    if len(parts) > 3 and parts[3]:
        found = word_in(parts[3], DIRECTION_WORDS)
        if found is None:
            raise UserError(_("Say “more” or “less”: which way is better for this indicator?"))
        direction = found
    if len(parts) > 4:
        raise UserError(_("Too many parts: name | unit | target | more/less."), show_usage=True)
    return number, IndicatorSpec(name, unit, target, direction)


@dataclass(frozen=True)
class Measurement:
    number: int
    indicator: str
    value: float
    unit: str
    when: str


def parse_measure(args: str) -> Measurement:
    """<experiment> <indicator name or number> <value>[unit] [unit] [date]"""
    tokens = args.split()
    if not tokens:
        raise UserError(_("Give the experiment's number, the indicator and the value."), show_usage=True)
    number = parse_number(tokens[0])
    tokens = tokens[1:]
    idx = next((i for i, t in enumerate(tokens) if i > 0 and looks_numeric(t)), None)
    if idx is None:
        if len(tokens) >= 2:
            # the last word was meant as the value
            parse_value(tokens[-1])
        raise UserError(_("Give the indicator and the value, for example: {example}").format(
            example="1 12"), show_usage=True)
    value, unit = parse_value(tokens[idx])
    rest = tokens[idx + 1:]
    when = ""
    if rest and not unit and not _looks_like_date(rest[0]):
        unit, rest = rest[0], rest[1:]
    if rest:
        when = " ".join(rest)
    return Measurement(number, " ".join(tokens[:idx]), value, unit, when)


def _looks_like_date(token: str) -> bool:
    word = token.casefold()
    return bool(_DATE_DMY.match(word) or _DATE_ISO.match(word)) or word in TODAY_WORDS + YESTERDAY_WORDS


def same_unit(given: str, unit: str) -> bool:
    def norm(u: str) -> str:
        return u.casefold().replace(" ", "").rstrip(".")
    return norm(given) == norm(unit)
