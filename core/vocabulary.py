"""The words people type, per language, as data: ``data/vocabulary/<topic>.toml`` beside
``data/themes.toml`` (weekdays and months, status words, yes/no/maybe, order words …). Each file is
read once; a feature asks for a table in the shape its code uses.

A table is per language: ``fi``, ``sv`` and ``en`` (every one of them, ``tests/test_vocabulary.py``
checks), plus ``any`` for what is the same in every language (digits, symbols)::

    [status.new]                       # entries(topic, "status") -> {"new": ("uusi", "ny", "new"), …}
    fi = ["uusi"]
    sv = ["ny"]
    en = ["new"]

    [page]                             # words(topic, "page") -> ("sivu", …, "page", "p")
    fi = ["sivu", "sivulla"]
    …

    [numbers.fi]                       # mapping(topic, "numbers") -> {"yksi": 1, …, "one": 1}
    yksi = 1

A fourth language is one more key in every table of these files."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from core.i18n import LANGUAGES

VOCABULARY_DIR = Path(__file__).resolve().parents[1] / "data" / "vocabulary"
#: the key of the words that are the same in every language
ANY = "any"
KEYS = (*LANGUAGES, ANY)


@cache
def topic(name: str) -> dict[str, Any]:
    """The file ``data/vocabulary/<name>.toml`` as read (once)."""
    return tomllib.loads((VOCABULARY_DIR / f"{name}.toml").read_text(encoding="utf-8"))


def table(name: str, key: str) -> dict[str, Any]:
    """Table ``key`` of topic ``name`` as read (a dotted key reaches into a table: "weekdays.fi")."""
    found: Any = topic(name)
    for part in key.split("."):
        found = found[part]
    return found


def _flat(by_language: dict[str, Any]) -> tuple[str, ...]:
    """The words of every language in the file's order, each once."""
    return tuple(dict.fromkeys(w for lang, ws in by_language.items() if lang in KEYS for w in ws))


def words(name: str, key: str) -> tuple[str, ...]:
    """A table of words per language, as one tuple."""
    return _flat(table(name, key))


def entries(name: str, key: str) -> dict[str, tuple[str, ...]]:
    """A table of entries (``[key.entry]``), each with words per language: entry -> all its words,
    in the entries' order."""
    return {entry: _flat(by_language) for entry, by_language in table(name, key).items()}


def by_language(name: str, key: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """A table of entries whose words are shown per language: entry -> language -> words."""
    return {entry: {lang: tuple(ws) for lang, ws in langs.items()} for entry, langs in table(name, key).items()}


def _value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def mapping(name: str, key: str) -> dict[str, Any]:
    """A table of word -> value per language (``[key.fi] word = value``), as one dict; a list
    value becomes a tuple."""
    return {word: _value(value) for lang, pairs in table(name, key).items() if lang in KEYS
            for word, value in pairs.items()}


def alternation(words) -> str:
    """The words as one regex alternation, longest first (so "tiistaina" wins over "tiistai")."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
