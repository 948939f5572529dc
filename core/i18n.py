"""gettext plumbing: catalogs per language, the locale per request in a ContextVar,
Babel formatting of dates and numbers in Europe/Helsinki.

Catalogs live in ``locales/<lang>/LC_MESSAGES/<domain>.po`` (one domain per feature module)
and are compiled to ``.mo`` by the install (``python -m bot.i18n_tool compile``). All domains
of a language are merged into one translation table.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
LOCALES_DIR = Path(os.environ.get("KEHRABOT_LOCALES_DIR", Path(__file__).resolve().parent.parent / "locales"))


def _load_domain(po: Path) -> Translations:
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return Translations(fh, domain=po.stem)
    # Not compiled yet (a checkout before install): compile in memory.
    with po.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=po.stem)


class Catalogs:
    """All languages' translations, loaded once by the composition root."""

    def __init__(self, directory: Path = LOCALES_DIR) -> None:
        self.directory = directory
        self._by_lang: dict[str, NullTranslations] = {}
        for lang in LANGUAGES:
            merged: Translations | None = None
            for po in sorted((directory / lang / "LC_MESSAGES").glob("*.po")):
                part = _load_domain(po)
                if merged is None:
                    merged = part
                else:
                    merged.merge(part)
            self._by_lang[lang] = merged or NullTranslations()

    def get(self, lang: str) -> NullTranslations:
        return self._by_lang.get(lang) or self._by_lang[DEFAULT_LANGUAGE]


@dataclass(frozen=True, slots=True)
class LocaleState:
    lang: str
    translations: NullTranslations
    tz: ZoneInfo


_current: ContextVar[LocaleState | None] = ContextVar("kehrabot_locale", default=None)
_HELSINKI = ZoneInfo("Europe/Helsinki")


def resolve_language(*choices: str | None) -> str:
    """First supported language among the choices (person, chat, platform hint), else Finnish."""
    for choice in choices:
        if not choice:
            continue
        code = choice.replace("_", "-").split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


@contextmanager
def use_locale(catalogs: Catalogs, lang: str, tz: ZoneInfo = _HELSINKI) -> Iterator[LocaleState]:
    state = LocaleState(lang, catalogs.get(lang), tz)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def current_language() -> str:
    state = _current.get()
    return state.lang if state else DEFAULT_LANGUAGE


def gettext(message: str) -> str:
    state = _current.get()
    return state.translations.gettext(message) if state else message


def ngettext(singular: str, plural: str, n: int) -> str:
    state = _current.get()
    if state is None:
        return singular if n == 1 else plural
    return state.translations.ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark a string for extraction; translate later with ``_()``."""
    return message


def _locale() -> Locale:
    return Locale.parse(current_language())


def _tz() -> ZoneInfo:
    state = _current.get()
    return state.tz if state else _HELSINKI


def local(dt: datetime) -> datetime:
    return dt.astimezone(_tz())


# Finnish convention "ti 1.12.2026 klo 18.00"; Swedish "tis 1.12.2026 kl. 18.00"; English "Tue 1 Dec 2026 18:00".
_DATETIME_PATTERNS = {
    "fi": "EEEEEE d.M.yyyy 'klo' H.mm",
    "sv": "EEE d.M.yyyy 'kl.' H.mm",
    "en": "EEE d MMM yyyy HH:mm",
}
_DATE_PATTERNS = {"fi": "EEEEEE d.M.yyyy", "sv": "EEE d.M.yyyy", "en": "EEE d MMM yyyy"}
_TIME_PATTERNS = {"fi": "H.mm", "sv": "H.mm", "en": "HH:mm"}


def format_datetime(dt: datetime) -> str:
    """Weekday, date and time in the current language, in Europe/Helsinki."""
    lang = current_language()
    text = babel_dates.format_datetime(local(dt), _DATETIME_PATTERNS[lang], locale=_locale())
    return text


def format_date(dt: datetime) -> str:
    lang = current_language()
    return babel_dates.format_datetime(local(dt), _DATE_PATTERNS[lang], locale=_locale())


def format_time(dt: datetime) -> str:
    """Time of day in the current language, in Europe/Helsinki."""
    return babel_dates.format_datetime(local(dt), _TIME_PATTERNS[current_language()], locale=_locale())


def format_number(value: float, digits: int = 0) -> str:
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return babel_numbers.format_decimal(value, format=fmt, locale=_locale())


def format_percent(share: float) -> str:
    return babel_numbers.format_percent(share, locale=_locale())
